{#- CircleCI Insights' workflow summary for every provider: one row per (workflow, branch or '*',
    reporting window) that had at least one run created in the window (metrics.md §2). -#}

{%- set run_columns = ['provider', 'project_slug', 'workflow_name', 'status', 'is_first_attempt',
                       'created_at', 'duration_seconds', 'queued_seconds', 'credits_used'] -%}
{%- set recovery_columns = ['provider', 'project_slug', 'workflow_name', 'recovered_by_created_at',
                            'recovery_seconds'] -%}

with

windows as (

    {{ ci_reporting_windows() }}

),

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}

),

recoveries as (

    select * from {{ ref('int_ci_workflow_recoveries') }}

),

runs_by_branch_scope as (

    {{ branch_scopes('runs', run_columns) }}

),

recoveries_by_branch_scope as (

    {{ branch_scopes('recoveries', recovery_columns) }}

),

runs_in_windows as (

    select
        windows.reporting_window,
        windows.window_days,
        windows.window_start,
        windows.window_end,
        runs_by_branch_scope.*,
        -- Durations describe finished work: success and failed runs only.
        case
            when runs_by_branch_scope.status in ('success', 'failed')
                then runs_by_branch_scope.duration_seconds
        end as measured_duration_seconds

    from runs_by_branch_scope
    inner join windows
        on runs_by_branch_scope.created_at >= windows.window_start
        and runs_by_branch_scope.created_at < windows.window_end

),

run_metrics as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        reporting_window,
        window_days,
        window_start,
        window_end,
        count(*) as total_runs,
        sum(case when status in ('success', 'failed', 'cancelled', 'skipped') then 1 else 0 end) as completed_runs,
        sum(case when status = 'success' then 1 else 0 end) as successful_runs,
        sum(case when status = 'failed' then 1 else 0 end) as failed_runs,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_runs,
        sum(case when status = 'skipped' then 1 else 0 end) as skipped_runs,
        sum(case when is_first_attempt and status = 'success' then 1 else 0 end) as first_attempt_successful_runs,
        sum(case when is_first_attempt and status = 'failed' then 1 else 0 end) as first_attempt_failed_runs,
        sum(credits_used) as total_credits_used,
        count(measured_duration_seconds) as duration_sample_size,
        min(measured_duration_seconds) as duration_min_seconds,
        avg(measured_duration_seconds) as duration_mean_seconds,
        {{ median('measured_duration_seconds') }} as duration_median_seconds,
        {{ percentile_cont('measured_duration_seconds', 0.95) }} as duration_p95_seconds,
        max(measured_duration_seconds) as duration_max_seconds,
        stddev_samp(measured_duration_seconds) as duration_stddev_seconds,
        count(queued_seconds) as queued_sample_size,
        {{ median('queued_seconds') }} as queued_median_seconds,
        {{ percentile_cont('queued_seconds', 0.95) }} as queued_p95_seconds

    from runs_in_windows
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

recovery_metrics as (

    select
        recoveries_by_branch_scope.provider,
        recoveries_by_branch_scope.project_slug,
        recoveries_by_branch_scope.workflow_name,
        recoveries_by_branch_scope.branch,
        windows.reporting_window,
        count(*) as total_recoveries,
        avg(recoveries_by_branch_scope.recovery_seconds) as mttr_seconds

    from recoveries_by_branch_scope
    -- A recovery belongs to the window of the recovering run's created_at (metrics.md §3a).
    inner join windows
        on recoveries_by_branch_scope.recovered_by_created_at >= windows.window_start
        and recoveries_by_branch_scope.recovered_by_created_at < windows.window_end
    group by 1, 2, 3, 4, 5

),

final as (

    select
        run_metrics.provider,
        run_metrics.project_slug,
        run_metrics.workflow_name,
        run_metrics.branch,
        run_metrics.reporting_window,
        run_metrics.window_start,
        run_metrics.window_end,
        cast(run_metrics.total_runs as {{ dbt.type_bigint() }}) as total_runs,
        cast(run_metrics.completed_runs as {{ dbt.type_bigint() }}) as completed_runs,
        cast(run_metrics.successful_runs as {{ dbt.type_bigint() }}) as successful_runs,
        cast(run_metrics.failed_runs as {{ dbt.type_bigint() }}) as failed_runs,
        cast(run_metrics.cancelled_runs as {{ dbt.type_bigint() }}) as cancelled_runs,
        cast(run_metrics.skipped_runs as {{ dbt.type_bigint() }}) as skipped_runs,
        cast(run_metrics.successful_runs as {{ type_double() }})
            / nullif(run_metrics.successful_runs + run_metrics.failed_runs, 0) as success_rate,
        cast(run_metrics.first_attempt_successful_runs as {{ type_double() }})
            / nullif(run_metrics.first_attempt_successful_runs + run_metrics.first_attempt_failed_runs, 0)
            as first_attempt_success_rate,
        cast(run_metrics.total_runs as {{ type_double() }}) / run_metrics.window_days as throughput,
        cast(recovery_metrics.mttr_seconds as {{ type_double() }}) as mttr_seconds,
        cast(coalesce(recovery_metrics.total_recoveries, 0) as {{ dbt.type_bigint() }}) as total_recoveries,
        cast(run_metrics.total_credits_used as {{ type_double() }}) as total_credits_used,
        cast(run_metrics.duration_sample_size as {{ dbt.type_bigint() }}) as duration_sample_size,
        cast(run_metrics.duration_min_seconds as {{ type_double() }}) as duration_min_seconds,
        cast(run_metrics.duration_mean_seconds as {{ type_double() }}) as duration_mean_seconds,
        cast(run_metrics.duration_median_seconds as {{ type_double() }}) as duration_median_seconds,
        cast(run_metrics.duration_p95_seconds as {{ type_double() }}) as duration_p95_seconds,
        cast(run_metrics.duration_max_seconds as {{ type_double() }}) as duration_max_seconds,
        cast(run_metrics.duration_stddev_seconds as {{ type_double() }}) as duration_stddev_seconds,
        cast(run_metrics.queued_sample_size as {{ dbt.type_bigint() }}) as queued_sample_size,
        cast(run_metrics.queued_median_seconds as {{ type_double() }}) as queued_median_seconds,
        cast(run_metrics.queued_p95_seconds as {{ type_double() }}) as queued_p95_seconds

    from run_metrics
    left join recovery_metrics
        on run_metrics.provider = recovery_metrics.provider
        and run_metrics.project_slug = recovery_metrics.project_slug
        and run_metrics.workflow_name = recovery_metrics.workflow_name
        and run_metrics.branch = recovery_metrics.branch
        and run_metrics.reporting_window = recovery_metrics.reporting_window

)

select * from final
