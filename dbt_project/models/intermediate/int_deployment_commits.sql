{#- The commits each deployment brought, every provider in one shape, for the commit-based
    (DORA) change lead time: GitHub and GitLab compare the previous successful deployment's
    commit with this one; Octopus lists the release's build-information commits. -#}

{%- set columns = ['deployment_id', 'commit_sha', 'authored_at'] -%}

with

deployments as (

    select * from {{ ref('int_deployments') }}

),

commits as (

    select 'octopus' as provider, {{ columns | join(', ') }} from {{ ref('int_octopus__deployment_commits') }}
    union all
    select 'github' as provider, {{ columns | join(', ') }} from {{ ref('int_github__deployment_commits') }}
    union all
    select 'gitlab' as provider, {{ columns | join(', ') }} from {{ ref('int_gitlab__deployment_commits') }}

),

final as (

    select
        commits.provider,
        commits.deployment_id,
        commits.commit_sha,
        deployments.project,
        deployments.environment,
        deployments.tenant,
        commits.authored_at,
        deployments.completed_at as deployed_at

    from commits
    inner join deployments
        on commits.provider = deployments.provider
        and commits.deployment_id = deployments.deployment_id

)

select * from final
