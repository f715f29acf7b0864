{#- GitLab pipeline jobs in the shape of fct_ci_job_runs (the columns of its circleci_jobs CTE,
    same names, order and types), with the attributes of the pipeline run they belong to.
    Every job the API lists is a row: retried jobs (include_retried=true) are their own rows
    and keep their own status (metrics.md §1 has no "retried" status for GitLab).
    Queue time = started_at − created_at (metrics.md §2), so queued_at is the job's created_at. -#}

with

jobs as (

    select * from {{ ref('stg_gitlab__jobs') }}

),

runs as (

    select * from {{ ref('int_gitlab__workflow_runs') }}

),

gitlab_jobs as (

    select
        runs.provider,
        runs.project_slug,
        cast(jobs.job_id as {{ dbt.type_string() }}) as job_id,
        runs.run_id,
        runs.run_attempt,
        runs.workflow_name,
        jobs.job_name,
        runs.branch,
        {{ gitlab_job_status('jobs.provider_status') }} as status,
        jobs.provider_status,
        -- GitLab jobs have a global id, not a per-project build number.
        cast(null as {{ dbt.type_bigint() }}) as job_number,
        cast('build' as {{ dbt.type_string() }}) as job_type,
        cast(null as {{ dbt.type_string() }}) as executor,
        cast(null as {{ dbt.type_string() }}) as resource_class,
        cast(null as {{ dbt.type_bigint() }}) as parallelism,
        jobs.created_at as queued_at,
        jobs.started_at,
        jobs.stopped_at,
        cast(case
            when jobs.started_at is not null and jobs.created_at is not null
                then {{ seconds_between('jobs.created_at', 'jobs.started_at') }}
        end as {{ type_double() }}) as queued_seconds,
        cast(case
            when jobs.started_at is not null and jobs.stopped_at is not null
                then {{ seconds_between('jobs.started_at', 'jobs.stopped_at') }}
        end as {{ type_double() }}) as duration_seconds,
        cast(null as {{ type_double() }}) as credits_used,
        runs.created_at as run_created_at,
        runs.is_first_attempt

    from jobs
    inner join runs
        on cast(jobs.pipeline_id as {{ dbt.type_string() }}) = runs.run_id

)

select * from gitlab_jobs
