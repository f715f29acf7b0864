{#- GitHub Actions jobs in the shape of fct_ci_job_runs: every job of every run attempt, with its
    attempt's attributes from int_github__workflow_runs. Queue time = started_at − created_at of
    the job (metrics.md §2); jobs that never ran (queued, skipped) have none. GitHub has no job
    numbers, job types or parallelism. Executor: `self-hosted` or `github-hosted` (from the runner
    labels); resource_class: the runner labels, e.g. `ubuntu-latest`. -#}

with

github_jobs as (

    select * from {{ ref('stg_github__workflow_jobs') }}

),

github_runs as (

    select * from {{ ref('int_github__workflow_runs') }}

),

github_job_runs as (

    select
        github_runs.provider,
        github_runs.project_slug,
        github_jobs.job_id,
        github_runs.run_id,
        github_runs.run_attempt,
        github_runs.workflow_name,
        github_jobs.job_name,
        github_runs.branch,
        {{ github_status('github_jobs.job_status', 'github_jobs.conclusion') }} as status,
        {{ github_provider_status('github_jobs.job_status', 'github_jobs.conclusion') }} as provider_status,
        cast(null as {{ dbt.type_bigint() }}) as job_number,
        cast(null as {{ dbt.type_string() }}) as job_type,
        case
            when github_jobs.is_self_hosted then 'self-hosted'
            when github_jobs.runner_labels is not null and github_jobs.runner_labels <> '' then 'github-hosted'
        end as executor,
        nullif(github_jobs.runner_labels, '') as resource_class,
        cast(null as {{ dbt.type_bigint() }}) as parallelism,
        github_jobs.created_at as queued_at,
        github_jobs.started_at,
        github_jobs.completed_at as stopped_at,
        {{ github_job_queued_seconds('github_jobs.created_at', 'github_jobs.started_at', 'github_jobs.job_status', 'github_jobs.conclusion') }} as queued_seconds,
        case
            when github_jobs.started_at is not null and github_jobs.completed_at is not null
                then {{ seconds_between('github_jobs.started_at', 'github_jobs.completed_at') }}
        end as duration_seconds,
        github_runs.created_at as run_created_at,
        github_runs.is_first_attempt

    from github_jobs
    inner join github_runs
        on github_jobs.run_id = github_runs.run_id
        and github_jobs.run_attempt = github_runs.run_attempt

),

final as (

    select
        provider,
        project_slug,
        job_id,
        run_id,
        run_attempt,
        workflow_name,
        job_name,
        branch,
        status,
        provider_status,
        job_number,
        job_type,
        executor,
        resource_class,
        parallelism,
        queued_at,
        started_at,
        stopped_at,
        cast(queued_seconds as {{ type_double() }}) as queued_seconds,
        cast(duration_seconds as {{ type_double() }}) as duration_seconds,
        cast(null as {{ type_double() }}) as credits_used,
        run_created_at,
        is_first_attempt

    from github_job_runs

)

select * from final
