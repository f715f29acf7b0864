{#- Best and worst projects per DORA metric and reporting window, with each project's change
    against the same-length window just before (metrics.md §6). Values come from dora_summary's
    project rows (environment, tenant and channel '*'); the previous window's values are
    computed here by the same macros. NULL values are not ranked; ties go by project name. -#}

{#- (metric, the dora_summary column that is its value, higher is better) -#}
{%- set metrics = [
    ('deployment_frequency', 'deployments_per_day', true),
    ('lead_time', 'lead_time_median_seconds', false),
    ('failure_rate', 'failure_rate', false),
    ('time_to_recovery', 'time_to_recovery_median_seconds', false),
] -%}

with

project_summary as (

    select * from {{ ref('dora_summary') }}
    where environment = '*'
        and tenant = '*'
        and channel = '*'
        and project <> '*'

),

previous_windows as (

    {{ dora_reporting_windows(windows_back=1) }}

),

deployments as (

    {{ dora_completed_deployments() }}

),

deployments_in_previous_windows as (

    select
        deployments.*,
        previous_windows.reporting_window

    from deployments
    inner join previous_windows
        on deployments.completed_at >= previous_windows.window_start
        and deployments.completed_at < previous_windows.window_end

),

previous_measures as (

    {{ dora_measures('deployments_in_previous_windows', none, ['project', 'reporting_window']) }}

),

previous_values as (

    select
        previous_measures.project,
        previous_measures.reporting_window,
        cast(previous_measures.successful_deployments as {{ type_double() }})
            / previous_windows.window_days as deployments_per_day,
        cast(previous_measures.lead_time_median_seconds as {{ type_double() }}) as lead_time_median_seconds,
        cast(previous_measures.failed_deployments as {{ type_double() }})
            / nullif(previous_measures.successful_deployments + previous_measures.failed_deployments, 0)
            as failure_rate,
        cast(previous_measures.time_to_recovery_median_seconds as {{ type_double() }})
            as time_to_recovery_median_seconds

    from previous_measures
    inner join previous_windows
        on previous_measures.reporting_window = previous_windows.reporting_window

),

metric_values as (

    {%- for metric, column, higher_is_better in metrics %}
    select
        project_summary.reporting_window,
        '{{ metric }}' as metric,
        project_summary.project,
        {{ 1 if higher_is_better else 0 }} as higher_is_better,
        project_summary.{{ column }} as value,
        previous_values.{{ column }} as previous_value

    from project_summary
    left join previous_values
        on project_summary.project = previous_values.project
        and project_summary.reporting_window = previous_values.reporting_window
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}

),

ranked as (

    select
        *,
        case when value is not null then row_number() over (
            partition by reporting_window, metric, case when value is null then 1 else 0 end
            order by case when higher_is_better = 1 then -value else value end, project
        ) end as rank_best,
        case when value is not null then row_number() over (
            partition by reporting_window, metric, case when value is null then 1 else 0 end
            order by case when higher_is_better = 1 then value else -value end, project
        ) end as rank_worst

    from metric_values

),

final as (

    select
        reporting_window,
        metric,
        project,
        cast(value as {{ type_double() }}) as value,
        cast(rank_best as {{ dbt.type_bigint() }}) as rank_best,
        cast(rank_worst as {{ dbt.type_bigint() }}) as rank_worst,
        cast(previous_value as {{ type_double() }}) as previous_value,
        case
            when value is null or previous_value is null or previous_value = 0 then null
            else cast(value as {{ type_double() }}) / previous_value - 1
        end as change_vs_previous_window

    from ranked

)

select * from final
