{#- Daily series per workflow and branch ('*' = all branches), by the UTC day of created_at,
    for the 90 days up to the report date (metrics.md §2, "Daily series"): the "build
    performance" chart (daily median duration per branch over 90 days) and the daily counts.
    Days older than that are not recomputed. -#}

{%- set run_columns = ['provider', 'project_slug', 'workflow_name', 'status', 'created_at',
                       'duration_seconds', 'queued_seconds', 'credits_used'] -%}

with

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}
    where created_at >= {{ ci_window_start(90) }}
        and created_at < {{ report_end_timestamp() }}

),

runs_by_branch_scope as (

    {{ branch_scopes('runs', run_columns) }}

),

runs_by_day as (

    select
        *,
        cast(created_at as date) as day,
        case when status in ('success', 'failed') then duration_seconds end as measured_duration_seconds

    from runs_by_branch_scope

),

daily as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        day,
        count(*) as total_runs,
        sum(case when status = 'success' then 1 else 0 end) as successful_runs,
        sum(case when status = 'failed' then 1 else 0 end) as failed_runs,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_runs,
        count(measured_duration_seconds) as duration_sample_size,
        {{ median('measured_duration_seconds') }} as duration_median_seconds,
        {{ percentile_cont('measured_duration_seconds', 0.95) }} as duration_p95_seconds,
        count(queued_seconds) as queued_sample_size,
        {{ median('queued_seconds') }} as queued_median_seconds,
        sum(credits_used) as credits_used

    from runs_by_day
    group by 1, 2, 3, 4, 5

),

final as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        day,
        cast(total_runs as {{ dbt.type_bigint() }}) as total_runs,
        cast(successful_runs as {{ dbt.type_bigint() }}) as successful_runs,
        cast(failed_runs as {{ dbt.type_bigint() }}) as failed_runs,
        cast(cancelled_runs as {{ dbt.type_bigint() }}) as cancelled_runs,
        cast(successful_runs as {{ type_double() }}) / nullif(successful_runs + failed_runs, 0) as success_rate,
        cast(duration_sample_size as {{ dbt.type_bigint() }}) as duration_sample_size,
        cast(duration_median_seconds as {{ type_double() }}) as duration_median_seconds,
        cast(duration_p95_seconds as {{ type_double() }}) as duration_p95_seconds,
        cast(queued_sample_size as {{ dbt.type_bigint() }}) as queued_sample_size,
        cast(queued_median_seconds as {{ type_double() }}) as queued_median_seconds,
        cast(credits_used as {{ type_double() }}) as credits_used

    from daily

)

select * from final
