{#- The DORA series: one row per scope of the cube (project, environment, tenant, channel, each
    also '*') and calendar period (week from Monday, month, quarter, year) with at least one
    completed (successful or failed) deployment, placed by completed_at (metrics.md §4, §6). -#}

{%- set deployment_columns = ['is_production', 'completed_at', 'is_success_flag', 'is_failure_flag',
                              'lead_time_seconds', 'time_to_recovery_seconds'] -%}
{%- set change_columns = ['deployed_at', 'change_lead_time_seconds'] -%}
{%- set report_end_date = 'cast(' ~ dbt.dateadd('day', 1, as_of_date()) ~ ' as date)' -%}
{%- set keys = ['project', 'environment', 'tenant', 'channel', 'period_grain', 'period_start', 'period_end'] -%}

with

deployments as (

    {{ dora_completed_deployments() }}

),

changes as (

    {{ dora_completed_changes() }}

),

deployments_by_scope as (

    {{ dora_scopes('deployments', deployment_columns) }}

),

changes_by_scope as (

    {{ dora_scopes('changes', change_columns) }}

),

deployments_in_periods as (

    {{ dora_in_periods('deployments_by_scope', 'completed_at') }}

),

changes_in_periods as (

    {{ dora_in_periods('changes_by_scope', 'deployed_at') }}

),

period_measures as (

    {{ dora_measures('deployments_in_periods', 'changes_in_periods', keys) }}

),

periods_counted_until as (

    select
        *,
        -- The current period counts only the days up to the report date.
        case
            when period_end > {{ report_end_date }} then {{ report_end_date }}
            else period_end
        end as counted_until

    from period_measures

),

periods_with_days as (

    select
        *,
        {{ dbt.datediff('period_start', 'counted_until', 'day') }} as days_in_period

    from periods_counted_until

),

final as (

    select
        project,
        environment,
        tenant,
        channel,
        period_grain,
        period_start,
        period_end,
        cast(days_in_period as {{ dbt.type_bigint() }}) as days_in_period,
        {{ dora_is_production('periods_with_days') }} as is_production,
        {{ dora_measure_columns('periods_with_days', 'days_in_period') }}

    from periods_with_days

)

select * from final
