{#- One row per CI job, every provider in one shape (CircleCI for now): every job the API lists,
    approval jobs and jobs that never ran included, with the attributes of the run it belongs to.
    Job-level windows use the run's created_at, so a run and its jobs fall in the same window. -#}

with

circleci_job_runs as (

    select * from {{ ref('int_circleci__job_runs') }}

),

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}

),

final as (

    select
        runs.provider,
        circleci_job_runs.project_slug,
        circleci_job_runs.job_id,
        runs.run_id,
        runs.run_attempt,
        runs.workflow_name,
        circleci_job_runs.job_name,
        runs.branch,
        circleci_job_runs.status,
        circleci_job_runs.provider_status,
        circleci_job_runs.job_number,
        circleci_job_runs.job_type,
        circleci_job_runs.executor,
        circleci_job_runs.resource_class,
        circleci_job_runs.parallelism,
        circleci_job_runs.queued_at,
        circleci_job_runs.started_at,
        circleci_job_runs.stopped_at,
        cast(circleci_job_runs.queued_seconds as {{ type_double() }}) as queued_seconds,
        cast(circleci_job_runs.duration_seconds as {{ type_double() }}) as duration_seconds,
        -- CircleCI's per-job credits come from the insights job feed, not ingested yet.
        cast(null as {{ type_double() }}) as credits_used,
        runs.created_at as run_created_at,
        runs.is_first_attempt

    from circleci_job_runs
    inner join runs
        on runs.provider = 'circleci'
        and circleci_job_runs.workflow_id = runs.run_id

)

select * from final
