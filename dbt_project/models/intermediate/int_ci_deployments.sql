{#- Deployments derived from CI runs, for an organisation without a deployment tool
    (docs/deployments.md, "Deployments from CI"). Off unless var('deployment_name_pattern') is
    set: then a run attempt whose status is success or failed is a deployment when its workflow
    name matches the pattern, or when one of its jobs whose status is success or failed has a
    matching name (a "deployment job"). The run's own status is the deployment's state (not the
    job's), as in DevLake.
    Environment: the match of var('deployment_environment_pattern') (its first capture group
    when it has one) on the workflow name; else on the deployment jobs' names, preferring a job
    whose environment matches var('production_environment_pattern'), then the job that finished
    last (then the highest job name); else ''.
    Times: created = the run's created_at, started = its started_at, else stopped_at minus its
    duration; completed = stopped_at. Reads the CI fact marts (they never depend on deployments,
    so there is no cycle). -#}

{%- set name_pattern = var('deployment_name_pattern', none) -%}
{%- set is_enabled = name_pattern is not none and (name_pattern | string | trim) != '' -%}
{%- set environment_pattern = var('deployment_environment_pattern', '(?i)(prod\\w*|staging|test\\w*)') -%}
{%- set production_pattern = var('production_environment_pattern', '(?i)prod') -%}

{%- if is_enabled -%}
    {%- set job_name_matches = 'coalesce(' ~ regex_matches('job_name', regex_literal(name_pattern)) ~ ', false)' -%}
    {%- set workflow_name_matches = 'coalesce(' ~ regex_matches('runs.workflow_name', regex_literal(name_pattern)) ~ ', false)' -%}
{%- else -%}
    {%- set job_name_matches = 'false' -%}
    {%- set workflow_name_matches = 'false' -%}
{%- endif -%}

with

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}
    where status in ('success', 'failed')

),

jobs as (

    select * from {{ ref('fct_ci_job_runs') }}
    where status in ('success', 'failed')

),

deployment_jobs as (

    select
        provider,
        project_slug,
        run_id,
        run_attempt,
        job_name,
        stopped_at,
        {{ regex_extract('job_name', environment_pattern) }} as job_environment

    from jobs
    where {{ job_name_matches }}

),

ranked_job_environments as (

    select
        provider,
        project_slug,
        run_id,
        run_attempt,
        job_environment,
        row_number() over (
            partition by provider, project_slug, run_id, run_attempt
            order by
                case
                    when coalesce({{ regex_matches('job_environment', regex_literal(production_pattern)) }}, false)
                        then 0
                    else 1
                end,
                case when stopped_at is null then 1 else 0 end,
                stopped_at desc,
                job_name desc
        ) as environment_rank

    from deployment_jobs
    where job_environment is not null and job_environment <> ''

),

runs_with_deployment_jobs as (

    select distinct provider, project_slug, run_id, run_attempt

    from deployment_jobs

),

deployment_runs as (

    select
        runs.*,
        {{ regex_extract('runs.workflow_name', environment_pattern) }} as run_environment

    from runs
    left join runs_with_deployment_jobs
        on runs.provider = runs_with_deployment_jobs.provider
        and runs.project_slug = runs_with_deployment_jobs.project_slug
        and runs.run_id = runs_with_deployment_jobs.run_id
        and runs.run_attempt = runs_with_deployment_jobs.run_attempt
    where {{ workflow_name_matches }}
        or runs_with_deployment_jobs.run_id is not null

),

shaped as (

    select
        -- The CI provider, spelt apart from the deployment APIs' github / gitlab.
        cast(
            case deployment_runs.provider
                when 'github' then 'github_actions'
                when 'gitlab' then 'gitlab_ci'
                else deployment_runs.provider
            end as {{ dbt.type_string() }}
        ) as provider,
        cast(
            deployment_runs.run_id || ':' || cast(deployment_runs.run_attempt as {{ dbt.type_string() }})
            as {{ dbt.type_string() }}
        ) as deployment_id,
        deployment_runs.project_slug as project,
        deployment_runs.project_slug as project_id,
        cast(
            coalesce(
                nullif(deployment_runs.run_environment, ''),
                ranked_job_environments.job_environment,
                ''
            ) as {{ dbt.type_string() }}
        ) as environment,
        deployment_runs.workflow_name,
        deployment_runs.commit_sha,
        deployment_runs.created_at,
        deployment_runs.started_at as run_started_at,
        deployment_runs.stopped_at,
        deployment_runs.duration_seconds as run_duration_seconds,
        deployment_runs.status,
        deployment_runs.provider_status

    from deployment_runs
    left join ranked_job_environments
        on deployment_runs.provider = ranked_job_environments.provider
        and deployment_runs.project_slug = ranked_job_environments.project_slug
        and deployment_runs.run_id = ranked_job_environments.run_id
        and deployment_runs.run_attempt = ranked_job_environments.run_attempt
        and ranked_job_environments.environment_rank = 1

),

timed as (

    select
        *,
        -- DevLake's fallback: no start time, but an end and a duration → end − duration.
        coalesce(
            run_started_at,
            case
                when stopped_at is not null and run_duration_seconds is not null
                    then {{ dbt.dateadd(
                        'millisecond',
                        'cast(round(-1000 * run_duration_seconds) as ' ~ dbt.type_bigint() ~ ')',
                        'stopped_at'
                    ) }}
            end
        ) as started_at

    from shaped

),

final as (

    select
        provider,
        deployment_id,
        project,
        project_id,
        environment,
        environment as environment_id,
        cast('' as {{ dbt.type_string() }}) as tenant,
        cast('' as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_string() }}) as release_id,
        -- No releases in CI: the "release" is the deployed commit (metrics.md §4).
        commit_sha as release_version,
        commit_sha,
        created_at,
        created_at as queued_at,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        stopped_at as completed_at,
        cast(status as {{ dbt.type_string() }}) as state,
        provider_status as provider_state,
        false as had_guided_failure,
        false as is_do_not_promote,
        coalesce({{ regex_matches('environment', regex_literal(production_pattern)) }}, false) as is_production,
        case
            when started_at is not null and created_at is not null and started_at >= created_at
                then {{ seconds_between('created_at', 'started_at') }}
        end as queue_seconds,
        case
            when started_at is not null and stopped_at is not null
                then {{ seconds_between('started_at', 'stopped_at') }}
        end as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as error_message,
        cast(null as {{ dbt.type_timestamp() }}) as release_created_at,
        workflow_name

    from timed

)

select * from final
