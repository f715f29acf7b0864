{#- The DORA summary: one row per scope of the cube (project, environment, tenant, channel, each
    also '*') and reporting window (30d, 90d, 365d), with the DORA 2023 tier of each metric, an
    overall tier and Octopus's 28-day trends (metrics.md §4, §6). A scope has rows for all three
    windows when it completed at least one (successful or failed) deployment in the last 365
    days; in a window where it has none, counts are 0 and its frequency tier is low. -#}

{%- set scope = ['project', 'environment', 'tenant', 'channel'] -%}
{%- set deployment_columns = ['is_production', 'completed_at', 'is_success_flag', 'is_failure_flag',
                              'lead_time_seconds', 'time_to_recovery_seconds'] -%}
{%- set change_columns = ['deployed_at', 'change_lead_time_seconds'] -%}

with

windows as (

    {{ dora_reporting_windows() }}

),

trend_blocks as (

    {{ dora_trend_blocks() }}

),

week_blocks as (

    {{ dora_week_blocks() }}

),

measured_windows as (

    select * from windows
    union all
    select * from trend_blocks

),

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

deployments_in_windows as (

    select
        deployments_by_scope.*,
        measured_windows.reporting_window

    from deployments_by_scope
    inner join measured_windows
        on deployments_by_scope.completed_at >= measured_windows.window_start
        and deployments_by_scope.completed_at < measured_windows.window_end

),

changes_in_windows as (

    select
        changes_by_scope.*,
        measured_windows.reporting_window

    from changes_by_scope
    inner join measured_windows
        on changes_by_scope.deployed_at >= measured_windows.window_start
        and changes_by_scope.deployed_at < measured_windows.window_end

),

window_measures as (

    {{ dora_measures('deployments_in_windows', 'changes_in_windows', scope + ['reporting_window']) }}

),

-- The scopes that get rows: a completed deployment in the longest window.
scopes as (

    select
        {{ scope | join(', ') }},
        {{ dora_is_production('window_measures') }} as is_production

    from window_measures
    where reporting_window = '365d'

),

scope_windows as (

    select
        scopes.*,
        windows.reporting_window,
        windows.window_days,
        windows.window_weeks,
        windows.window_start,
        windows.window_end

    from scopes
    cross join windows

),

-- Distinct days with a successful deployment in each 7-day block counted back from as_of.
block_deployment_days as (

    select
        {% for column in scope -%}
        deployments_by_scope.{{ column }},
        {% endfor -%}
        week_blocks.block_index,
        count(distinct cast(deployments_by_scope.completed_at as date)) as deployment_days

    from deployments_by_scope
    inner join week_blocks
        on deployments_by_scope.completed_at >= week_blocks.block_start
        and deployments_by_scope.completed_at < week_blocks.block_end
    where deployments_by_scope.is_success_flag = 1
    group by {% for column in scope %}deployments_by_scope.{{ column }}, {% endfor %}week_blocks.block_index

),

-- Every whole block of the window, those without a deployment day counting as 0.
window_blocks as (

    select
        {% for column in scope -%}
        scope_windows.{{ column }},
        {% endfor -%}
        scope_windows.reporting_window,
        coalesce(block_deployment_days.deployment_days, 0) as deployment_days

    from scope_windows
    inner join week_blocks
        on week_blocks.block_index < scope_windows.window_weeks
    left join block_deployment_days
        on {% for column in scope -%}
        scope_windows.{{ column }} = block_deployment_days.{{ column }}
        and {% endfor -%}
        week_blocks.block_index = block_deployment_days.block_index

),

weekly_deployment_days as (

    select
        {{ scope | join(', ') }},
        reporting_window,
        {{ median('deployment_days') }} as median_deployment_days_per_week

    from window_blocks
    group by {{ scope | join(', ') }}, reporting_window

),

-- Each trend's statistic in the last 28 days (newer) and the 28 days before (older).
trend_statistics as (

    select
        {% for column in scope -%}
        scopes.{{ column }},
        {% endfor -%}
        {%- for block in ['newer', 'older'] %}
        {{ block }}.successful_deployments + {{ block }}.failed_deployments as {{ block }}_completed,
        {{ block }}.successful_deployments as {{ block }}_successful_deployments,
        {{ block }}.lead_time_median_seconds as {{ block }}_lead_time_median_seconds,
        cast({{ block }}.failed_deployments as {{ type_double() }})
            / nullif({{ block }}.successful_deployments + {{ block }}.failed_deployments, 0) as {{ block }}_failure_rate,
        {{ block }}.time_to_recovery_median_seconds as {{ block }}_time_to_recovery_median_seconds
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from scopes
    {%- for block in ['newer', 'older'] %}
    left join window_measures as {{ block }}
        on {% for column in scope -%}
        scopes.{{ column }} = {{ block }}.{{ column }}
        and {% endfor -%}
        {{ block }}.reporting_window = 'trend_{{ block }}'
    {%- endfor %}

),

trends as (

    select
        {{ scope | join(', ') }},
        {%- for metric, statistic in [
            ('deployment_frequency', 'successful_deployments'),
            ('lead_time', 'lead_time_median_seconds'),
            ('failure_rate', 'failure_rate'),
            ('time_to_recovery', 'time_to_recovery_median_seconds'),
        ] %}
        {{ dora_trend('older_' ~ statistic, 'newer_' ~ statistic, 'older_completed', 'newer_completed') }}
            as {{ metric }}_trend
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from trend_statistics

),

summary_rows as (

    select
        scope_windows.*,
        {% for measure in dora_measure_names() -%}
        window_measures.{{ measure }},
        {% endfor -%}
        weekly_deployment_days.median_deployment_days_per_week

    from scope_windows
    left join window_measures
        on {% for column in scope -%}
        scope_windows.{{ column }} = window_measures.{{ column }}
        and {% endfor -%}
        scope_windows.reporting_window = window_measures.reporting_window
    left join weekly_deployment_days
        on {% for column in scope -%}
        scope_windows.{{ column }} = weekly_deployment_days.{{ column }}
        and {% endfor -%}
        scope_windows.reporting_window = weekly_deployment_days.reporting_window

),

measured as (

    select
        project,
        environment,
        tenant,
        channel,
        reporting_window,
        window_start,
        window_end,
        cast(window_days as {{ dbt.type_bigint() }}) as window_days,
        is_production,
        {{ dora_measure_columns('summary_rows', 'window_days') }},
        cast(median_deployment_days_per_week as {{ type_double() }}) as median_deployment_days_per_week

    from summary_rows

),

tiered as (

    select
        *,
        {{ dora_deployment_frequency_tier('median_deployment_days_per_week', 'deployment_days', 'window_days') }}
            as deployment_frequency_tier,
        {{ dora_lead_time_tier('lead_time_median_seconds') }} as lead_time_tier,
        {{ dora_failure_rate_tier('failure_rate') }} as failure_rate_tier,
        {{ dora_time_to_recovery_tier('time_to_recovery_median_seconds') }} as time_to_recovery_tier

    from measured

),

final as (

    select
        tiered.*,
        {{ dora_overall_tier(['tiered.deployment_frequency_tier', 'tiered.lead_time_tier',
                              'tiered.failure_rate_tier', 'tiered.time_to_recovery_tier']) }} as overall_tier,
        {{ dora_tier_report_year() }} as tier_report_year,
        trends.deployment_frequency_trend,
        trends.lead_time_trend,
        trends.failure_rate_trend,
        trends.time_to_recovery_trend

    from tiered
    inner join trends
        on {% for column in scope -%}
        tiered.{{ column }} = trends.{{ column }}
        {%- if not loop.last %}
        and {% endif -%}
        {%- endfor %}

)

select * from final
