{#- GitHub Actions run attempts in the shape of fct_ci_workflow_runs (one row per run attempt).
    Every attempt of a re-run is its own row, `run_attempt` as GitHub numbers it. An attempt
    after the first takes its run_started_at as created_at (metrics.md §3a); started_at is
    run_started_at and stopped_at the latest job completed_at of the attempt, once the attempt
    is completed (§5: a run has no completion time and updated_at moves). -#}

with

github_runs as (

    select * from {{ ref('stg_github__workflow_runs') }}

),

github_jobs as (

    select * from {{ ref('stg_github__workflow_jobs') }}

),

github_repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

job_queues as (

    select
        run_id,
        run_attempt,
        job_id,
        created_at,
        completed_at,
        {{ github_job_queued_seconds('created_at', 'started_at', 'job_status', 'conclusion') }} as queued_seconds

    from github_jobs

),

attempt_jobs as (

    select
        run_id,
        run_attempt,
        max(completed_at) as last_job_completed_at

    from job_queues
    group by run_id, run_attempt

),

-- A run's queue time is its first job's: the one created first among those with a queue time.
first_job_queues as (

    select
        run_id,
        run_attempt,
        queued_seconds,
        row_number() over (
            partition by run_id, run_attempt order by created_at, job_id
        ) as queue_order

    from job_queues
    where queued_seconds is not null

),

github_attempts as (

    select
        cast('github' as {{ dbt.type_string() }}) as provider,
        github_runs.project_slug,
        github_runs.run_id,
        github_runs.run_attempt,
        -- A workflow GitHub could not parse is named by its file path; use the workflow's name
        -- from its other runs when there is one.
        coalesce(
            case
                when github_runs.workflow_name = github_runs.workflow_path then max(
                    case when github_runs.workflow_name <> github_runs.workflow_path then github_runs.workflow_name end
                ) over (partition by github_runs.project_slug, github_runs.workflow_id)
            end,
            github_runs.workflow_name,
            github_runs.workflow_path,
            'workflow ' || github_runs.workflow_id
        ) as workflow_name,
        coalesce(github_runs.head_branch, '') as branch,
        coalesce(github_runs.head_branch = github_repositories.default_branch, false) as is_default_branch,
        github_runs.commit_sha,
        github_runs.event as trigger,
        {{ github_status('github_runs.run_status', 'github_runs.conclusion') }} as status,
        {{ github_provider_status('github_runs.run_status', 'github_runs.conclusion') }} as provider_status,
        cast(null as {{ dbt.type_string() }}) as pipeline_id,
        github_runs.run_number as pipeline_number,
        -- metrics.md §3a: an attempt after the first happened when it started.
        case
            when github_runs.run_attempt > 1 and github_runs.run_started_at is not null
                then github_runs.run_started_at
            else github_runs.run_created_at
        end as created_at,
        -- Old API versions have no run_started_at: the run's creation is the best start known.
        coalesce(github_runs.run_started_at, github_runs.run_created_at) as started_at,
        case
            when github_runs.run_status = 'completed' then attempt_jobs.last_job_completed_at
        end as stopped_at,
        first_job_queues.queued_seconds

    from github_runs
    left join github_repositories
        on lower(github_runs.project_slug) = lower(github_repositories.project_slug)
    left join attempt_jobs
        on github_runs.run_id = attempt_jobs.run_id
        and github_runs.run_attempt = attempt_jobs.run_attempt
    left join first_job_queues
        on github_runs.run_id = first_job_queues.run_id
        and github_runs.run_attempt = first_job_queues.run_attempt
        and first_job_queues.queue_order = 1

),

final as (

    select
        provider,
        project_slug,
        run_id,
        run_attempt,
        workflow_name,
        branch,
        is_default_branch,
        commit_sha,
        trigger,
        status,
        provider_status,
        pipeline_id,
        pipeline_number,
        created_at,
        started_at,
        stopped_at,
        case
            when stopped_at is not null then {{ seconds_between('started_at', 'stopped_at') }}
        end as duration_seconds,
        cast(queued_seconds as {{ type_double() }}) as queued_seconds,
        -- GitHub reports no credits (metrics.md §2).
        cast(null as {{ type_double() }}) as credits_used,
        run_attempt = 1 as is_first_attempt

    from github_attempts

)

select * from final
