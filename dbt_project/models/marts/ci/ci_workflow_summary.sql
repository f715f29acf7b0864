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

    -- Only the 90 days the widest window needs (recoveries keep the full history: a streak
    -- may have started before the window).
    select * from {{ ref('fct_ci_workflow_runs') }}
    where created_at >= {{ ci_window_start(90) }}
        and created_at < {{ report_end_timestamp() }}

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

    {{ ci_runs_in_windows('runs_by_branch_scope', 'created_at') }}

),

run_metrics as (

    {{ ci_window_metrics('runs_in_windows', ['provider', 'project_slug', 'workflow_name', 'branch']) }}

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
        {{ ci_window_metric_columns('run_metrics') }},
        cast(recovery_metrics.mttr_seconds as {{ type_double() }}) as mttr_seconds,
        cast(coalesce(recovery_metrics.total_recoveries, 0) as {{ dbt.type_bigint() }}) as total_recoveries

    from run_metrics
    left join recovery_metrics
        on run_metrics.provider = recovery_metrics.provider
        and run_metrics.project_slug = recovery_metrics.project_slug
        and run_metrics.workflow_name = recovery_metrics.workflow_name
        and run_metrics.branch = recovery_metrics.branch
        and run_metrics.reporting_window = recovery_metrics.reporting_window

)

select * from final
