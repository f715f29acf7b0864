{#- Every provider's deployments in one shape (metrics.md §4): one row per deployment with its
    scope (project, environment, tenant), channel, release or commit, times, canonical state and
    the two rules that turn a success into a failure (a guided failure, a release marked
    "do not promote"). Deployments derived from CI runs (int_ci_deployments, providers circleci,
    github_actions, gitlab_ci) join them when var('deployment_name_pattern') is set. The DORA
    marts build on this. -#}

{%- set columns = ['provider', 'deployment_id', 'project', 'project_id', 'environment',
                   'environment_id', 'tenant', 'channel', 'release_id', 'release_version',
                   'commit_sha', 'created_at', 'queued_at', 'started_at', 'completed_at', 'state',
                   'provider_state', 'had_guided_failure', 'is_do_not_promote', 'is_production',
                   'queue_seconds', 'duration_seconds', 'error_message', 'release_created_at'] -%}

with

octopus_deployments as (

    select {{ columns | join(', ') }} from {{ ref('int_octopus__deployments') }}

),

github_deployments as (

    select {{ columns | join(', ') }} from {{ ref('int_github__deployments') }}

),

gitlab_deployments as (

    select {{ columns | join(', ') }} from {{ ref('int_gitlab__deployments') }}

),

ci_deployments as (

    select {{ columns | join(', ') }} from {{ ref('int_ci_deployments') }}

),

unioned as (

    select * from octopus_deployments
    union all
    select * from github_deployments
    union all
    select * from gitlab_deployments
    union all
    select * from ci_deployments

),

final as (

    select
        *,
        -- A failure: it failed, or it "succeeded" through a guided failure, or its release is
        -- marked do-not-promote. Cancelled and in-progress deployments are neither.
        (
            state = 'failed'
            or (state = 'success' and (had_guided_failure or is_do_not_promote))
        ) as is_failure,
        (state = 'success' and not had_guided_failure and not is_do_not_promote) as is_successful

    from unioned

)

select * from final
