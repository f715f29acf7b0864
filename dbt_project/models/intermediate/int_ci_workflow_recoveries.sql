{#- One row per recovery: a successful run that ends a failure streak (metrics.md §2, MTTR).
    Per (provider, project, workflow, branch), completed success/failed runs are ordered by
    stopped_at; a streak starts at a failed run whose predecessor succeeded (or that has none)
    and ends at the next success. recovery_seconds = success.stopped_at - first failure.stopped_at. -#}

with

outcomes as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        run_id,
        status,
        created_at,
        stopped_at,
        lag(status) over (
            partition by provider, project_slug, workflow_name, branch
            order by stopped_at, created_at, run_id
        ) as previous_status

    from {{ ref('fct_ci_workflow_runs') }}
    where status in ('success', 'failed')
        and stopped_at is not null

),

streaks_numbered as (

    select
        *,
        -- Each streak start opens a new group; the group's first row is that first failure.
        sum(case when status = 'failed' and coalesce(previous_status, 'success') = 'success' then 1 else 0 end)
            over (
                partition by provider, project_slug, workflow_name, branch
                order by stopped_at, created_at, run_id
                rows between unbounded preceding and current row
            ) as streak_number

    from outcomes

),

streaks_started as (

    select
        *,
        min(case when status = 'failed' then stopped_at end) over (
            partition by provider, project_slug, workflow_name, branch, streak_number
        ) as streak_started_at

    from streaks_numbered

),

recoveries as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        run_id as recovered_by_run_id,
        created_at as recovered_by_created_at,
        streak_started_at as failed_since,
        stopped_at as recovered_at,
        {{ seconds_between('streak_started_at', 'stopped_at') }} as recovery_seconds

    from streaks_started
    where status = 'success'
        and previous_status = 'failed'

)

select * from recoveries
