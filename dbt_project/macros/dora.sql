{#- DORA rules of metrics.md §4 and §6, written once for dora_metrics, dora_summary and
    dora_project_ranking: scope roll-ups, periods and windows, the measures, tiers and trends. -#}

{#- ---------------------------------------------------------------------------------------
    Scopes: every row under the 16 combinations of (project, environment, tenant, channel)
    with '*' for "all", so a single GROUP BY yields the whole cube without GROUPING SETS/CUBE
    (which not every warehouse has).
    --------------------------------------------------------------------------------------- -#}

{#- 16 rows of 0/1 flags, one per combination of the four scope columns rolled up or not. -#}
{% macro dora_scope_combinations() -%}
    {%- for combination in range(16) %}
    select
        {{ combination // 8 % 2 }} as all_projects,
        {{ combination // 4 % 2 }} as all_environments,
        {{ combination // 2 % 2 }} as all_tenants,
        {{ combination % 2 }} as all_channels
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{%- endmacro %}

{#- Every row of `relation` under each of the 16 scope combinations, with project, environment,
    tenant and channel replaced by '*' where the combination rolls them up; `columns` are
    carried along unchanged. A value that already is '*' stands for "all" and is not expanded
    a second time under its own name, so a row counts once per scope row (unit tests use this
    to keep their expectations to the scopes they are about). -#}
{% macro dora_scopes(relation, columns) -%}
    select
        {%- for column in columns %}
        {{ relation }}.{{ column }},
        {%- endfor %}
        case when scope_combinations.all_projects = 1 then '*' else {{ relation }}.project end as project,
        case when scope_combinations.all_environments = 1 then '*' else {{ relation }}.environment end as environment,
        case when scope_combinations.all_tenants = 1 then '*' else {{ relation }}.tenant end as tenant,
        case when scope_combinations.all_channels = 1 then '*' else {{ relation }}.channel end as channel

    from {{ relation }}
    cross join ({{ dora_scope_combinations() }}) as scope_combinations
    where (scope_combinations.all_projects = 1 or coalesce({{ relation }}.project, '') <> '*')
        and (scope_combinations.all_environments = 1 or coalesce({{ relation }}.environment, '') <> '*')
        and (scope_combinations.all_tenants = 1 or coalesce({{ relation }}.tenant, '') <> '*')
        and (scope_combinations.all_channels = 1 or coalesce({{ relation }}.channel, '') <> '*')
{%- endmacro %}

{#- ---------------------------------------------------------------------------------------
    Periods and windows.
    --------------------------------------------------------------------------------------- -#}

{#- The Monday (00:00 UTC) starting the week of a timestamp. -#}
{% macro dora_week_start(timestamp_expression) -%}
    {{ return(adapter.dispatch('dora_week_start', 'delivery_insights')(timestamp_expression)) }}
{%- endmacro %}

{#- DuckDB, Postgres and Redshift truncate weeks to ISO weeks (Monday). -#}
{% macro default__dora_week_start(timestamp_expression) -%}
    {{ dbt.date_trunc('week', timestamp_expression) }}
{%- endmacro %}

{% macro bigquery__dora_week_start(timestamp_expression) -%}
    timestamp_trunc({{ timestamp_expression }}, isoweek)
{%- endmacro %}

{#- Snowflake's week start depends on a session parameter; dayofweekiso does not. -#}
{% macro snowflake__dora_week_start(timestamp_expression) -%}
    dateadd('day', 1 - dayofweekiso({{ timestamp_expression }}), date_trunc('day', {{ timestamp_expression }}))
{%- endmacro %}

{#- The calendar periods of the DORA series: (grain, how its start is found, its length). -#}
{% macro dora_period_grains() -%}
    {{ return([
        ('week', 'week', 'day', 7),
        ('month', 'month', 'month', 1),
        ('quarter', 'quarter', 'month', 3),
        ('year', 'year', 'year', 1),
    ]) }}
{%- endmacro %}

{#- Rows of `relation` once per period grain, with the period holding `timestamp_column`:
    period_grain, period_start (date) and period_end (date, exclusive). -#}
{% macro dora_in_periods(relation, timestamp_column) -%}
    {%- for grain, truncate_to, length_unit, length in dora_period_grains() %}
    select
        {{ relation }}.*,
        '{{ grain }}' as period_grain,
        {%- if grain == 'week' %}
        cast({{ dora_week_start(relation ~ '.' ~ timestamp_column) }} as date) as period_start,
        cast({{ dbt.dateadd(length_unit, length, dora_week_start(relation ~ '.' ~ timestamp_column)) }} as date) as period_end
        {%- else %}
        cast({{ dbt.date_trunc(truncate_to, relation ~ '.' ~ timestamp_column) }} as date) as period_start,
        cast({{ dbt.dateadd(length_unit, length, dbt.date_trunc(truncate_to, relation ~ '.' ~ timestamp_column)) }} as date) as period_end
        {%- endif %}
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{%- endmacro %}

{#- The DORA summary windows as rows (reporting_window, window_days, window_start,
    window_end); a window of N days is [as_of + 1 day - N days, as_of + 1 day) (metrics.md).
    `windows_back` = 1 gives the same-length windows just before them (for the ranking's change
    against the previous window), keeping the names of the windows they precede. -#}
{% macro dora_reporting_windows(windows_back=0) -%}
    {%- for name, days in [('30d', 30), ('90d', 90), ('365d', 365)] %}
    select
        '{{ name }}' as reporting_window,
        {{ days }} as window_days,
        {{ days // 7 }} as window_weeks,
        cast({{ dbt.dateadd('day', 1 - days * (windows_back + 1), as_of_date()) }} as {{ dbt.type_timestamp() }}) as window_start,
        {%- if windows_back == 0 %}
        {{ report_end_timestamp() }} as window_end
        {%- else %}
        cast({{ dbt.dateadd('day', 1 - days * windows_back, as_of_date()) }} as {{ dbt.type_timestamp() }}) as window_end
        {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{%- endmacro %}

{#- The two 28-day blocks Octopus's trend compares, ending at the windows' end (as_of + 1 day),
    in the same shape as dora_reporting_windows(). -#}
{% macro dora_trend_blocks() -%}
    select
        'trend_newer' as reporting_window,
        28 as window_days,
        4 as window_weeks,
        cast({{ dbt.dateadd('day', -27, as_of_date()) }} as {{ dbt.type_timestamp() }}) as window_start,
        {{ report_end_timestamp() }} as window_end
    union all
    select
        'trend_older' as reporting_window,
        28 as window_days,
        4 as window_weeks,
        cast({{ dbt.dateadd('day', -55, as_of_date()) }} as {{ dbt.type_timestamp() }}) as window_start,
        cast({{ dbt.dateadd('day', -27, as_of_date()) }} as {{ dbt.type_timestamp() }}) as window_end
{%- endmacro %}

{#- The 7-day blocks counted back from the windows' end: block 0 is the 7 days up to as_of,
    block k the 7 days before block k - 1. 52 blocks cover the longest window (365d); a window
    of N days uses blocks 0 .. N // 7 - 1, so a leftover shorter block at its start is ignored. -#}
{% macro dora_week_blocks() -%}
    {%- for block in range(52) %}
    select
        {{ block }} as block_index,
        cast({{ dbt.dateadd('day', -6 - 7 * block, as_of_date()) }} as {{ dbt.type_timestamp() }}) as block_start,
        cast({{ dbt.dateadd('day', 1 - 7 * block, as_of_date()) }} as {{ dbt.type_timestamp() }}) as block_end
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{%- endmacro %}

{#- ---------------------------------------------------------------------------------------
    Measures (metrics.md §4).
    --------------------------------------------------------------------------------------- -#}

{#- Deployments that count for DORA: successful or failed (cancelled and in-progress count
    nowhere), completed before the report end. -#}
{% macro dora_completed_deployments() -%}
    select
        provider,
        deployment_id,
        project,
        environment,
        tenant,
        channel,
        is_production,
        completed_at,
        case when is_successful then 1 else 0 end as is_success_flag,
        case when is_failure then 1 else 0 end as is_failure_flag,
        case when is_successful then lead_time_seconds end as lead_time_seconds,
        case when is_successful then time_to_recovery_seconds end as time_to_recovery_seconds

    from {{ ref('fct_deployments') }}
    where completed_at < {{ report_end_timestamp() }}
        and (is_successful or is_failure)
{%- endmacro %}

{#- Commits successful deployments brought, placed by their deployment's completion. -#}
{% macro dora_completed_changes() -%}
    select
        project,
        environment,
        tenant,
        channel,
        deployed_at,
        change_lead_time_seconds

    from {{ ref('fct_deployment_changes') }}
    where deployed_at < {{ report_end_timestamp() }}
{%- endmacro %}

{#- The DORA measures per `keys` (scope columns + period or window columns) from completed
    deployments (dora_completed_deployments() with those keys) and their commits (from
    dora_completed_changes() with the same keys; none = no change lead time). One row per key
    with ≥ 1 completed deployment; the change lead time joins onto it. -#}
{% macro dora_measures(deployments, changes, keys) -%}
    select
        deployment_measures.*,
        {%- if changes is none %}
        cast(null as {{ dbt.type_bigint() }}) as change_lead_time_sample_size,
        cast(null as {{ type_double() }}) as change_lead_time_median_seconds
        {%- else %}
        change_measures.change_lead_time_sample_size,
        change_measures.change_lead_time_median_seconds
        {%- endif %}

    from (

        select
            {{ keys | join(', ') }},
            sum(is_success_flag) as successful_deployments,
            sum(is_failure_flag) as failed_deployments,
            count(distinct case when is_success_flag = 1 then cast(completed_at as date) end) as deployment_days,
            count(lead_time_seconds) as lead_time_sample_size,
            {{ median('lead_time_seconds') }} as lead_time_median_seconds,
            count(time_to_recovery_seconds) as recoveries,
            {{ median('time_to_recovery_seconds') }} as time_to_recovery_median_seconds,
            avg(time_to_recovery_seconds) as time_to_recovery_mean_seconds,
            min(case when is_production then 1 else 0 end) as all_production

        from {{ deployments }}
        group by {{ keys | join(', ') }}

    ) as deployment_measures
    {%- if changes is not none %}

    left join (

        select
            {{ keys | join(', ') }},
            count(change_lead_time_seconds) as change_lead_time_sample_size,
            {{ median('change_lead_time_seconds') }} as change_lead_time_median_seconds

        from {{ changes }}
        group by {{ keys | join(', ') }}

    ) as change_measures
        on {% for key in keys -%}
        deployment_measures.{{ key }} = change_measures.{{ key }}
        {%- if not loop.last %}
        and {% endif -%}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#- The raw columns dora_measures() adds to its keys. -#}
{% macro dora_measure_names() -%}
    {{ return(['successful_deployments', 'failed_deployments', 'deployment_days', 'lead_time_sample_size',
               'lead_time_median_seconds', 'recoveries', 'time_to_recovery_median_seconds',
               'time_to_recovery_mean_seconds', 'all_production', 'change_lead_time_sample_size',
               'change_lead_time_median_seconds']) }}
{%- endmacro %}

{#- is_production of a row from dora_measures() as `alias`: NULL where the environment is '*',
    else whether every deployment counted in it went to a production environment. -#}
{% macro dora_is_production(alias) -%}
    case when {{ alias }}.environment = '*' then null else {{ alias }}.all_production = 1 end
{%- endmacro %}

{#- The typed public measure columns of a row built from dora_measures() as `alias`;
    `days` is the number of days deployments_per_day divides by. Counts of a row that has no
    deployments (a left join that found none) are 0. -#}
{% macro dora_measure_columns(alias, days) -%}
        cast(coalesce({{ alias }}.successful_deployments, 0) as {{ dbt.type_bigint() }}) as successful_deployments,
        cast(coalesce({{ alias }}.failed_deployments, 0) as {{ dbt.type_bigint() }}) as failed_deployments,
        cast(coalesce({{ alias }}.successful_deployments, 0) as {{ type_double() }}) / {{ days }} as deployments_per_day,
        cast(coalesce({{ alias }}.deployment_days, 0) as {{ dbt.type_bigint() }}) as deployment_days,
        cast({{ alias }}.failed_deployments as {{ type_double() }})
            / nullif({{ alias }}.successful_deployments + {{ alias }}.failed_deployments, 0) as failure_rate,
        cast({{ alias }}.lead_time_median_seconds as {{ type_double() }}) as lead_time_median_seconds,
        cast(coalesce({{ alias }}.lead_time_sample_size, 0) as {{ dbt.type_bigint() }}) as lead_time_sample_size,
        cast({{ alias }}.change_lead_time_median_seconds as {{ type_double() }}) as change_lead_time_median_seconds,
        cast(coalesce({{ alias }}.change_lead_time_sample_size, 0) as {{ dbt.type_bigint() }}) as change_lead_time_sample_size,
        cast({{ alias }}.time_to_recovery_median_seconds as {{ type_double() }}) as time_to_recovery_median_seconds,
        cast({{ alias }}.time_to_recovery_mean_seconds as {{ type_double() }}) as time_to_recovery_mean_seconds,
        cast(coalesce({{ alias }}.recoveries, 0) as {{ dbt.type_bigint() }}) as recoveries
{%- endmacro %}

{#- ---------------------------------------------------------------------------------------
    Tiers (DORA 2023 as DevLake tabulates it; metrics.md §4 table and §6) and trends.
    --------------------------------------------------------------------------------------- -#}

{% macro dora_tier_report_year() -%}
    cast(2023 as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Elite ≥ 5 and high ≥ 1 median deployment days per week; medium when the window still has
    at least one deployment day per 28 days; else low. -#}
{% macro dora_deployment_frequency_tier(median_days_per_week, deployment_days, window_days) -%}
    case
        when {{ median_days_per_week }} is null then null
        when {{ median_days_per_week }} >= 5 then 'elite'
        when {{ median_days_per_week }} >= 1 then 'high'
        when {{ deployment_days }} * 28 >= {{ window_days }} then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- Median lead time: elite under a day, high under a week, medium under 30 days. -#}
{% macro dora_lead_time_tier(median_seconds) -%}
    case
        when {{ median_seconds }} is null then null
        when {{ median_seconds }} < 86400 then 'elite'
        when {{ median_seconds }} < 604800 then 'high'
        when {{ median_seconds }} < 2592000 then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- Failure rate: elite ≤ 5 %, high ≤ 10 %, medium ≤ 15 %. A rate computed as failures /
    completed is the double nearest its exact value, so 1/20 compares equal to 0.05. -#}
{% macro dora_failure_rate_tier(rate) -%}
    case
        when {{ rate }} is null then null
        when {{ rate }} <= 0.05 then 'elite'
        when {{ rate }} <= 0.10 then 'high'
        when {{ rate }} <= 0.15 then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- Median time to recovery: elite under an hour, high under a day, medium under a week. -#}
{% macro dora_time_to_recovery_tier(median_seconds) -%}
    case
        when {{ median_seconds }} is null then null
        when {{ median_seconds }} < 3600 then 'elite'
        when {{ median_seconds }} < 86400 then 'high'
        when {{ median_seconds }} < 604800 then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- The lowest of the given tier expressions that have a value; NULL when none has. -#}
{% macro dora_overall_tier(tiers) -%}
    case
        {%- for tier in ['low', 'medium', 'high', 'elite'] %}
        when '{{ tier }}' in ({{ tiers | join(', ') }}) then '{{ tier }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- Octopus's trend indicator: the statistic of the last 28 days (`newer`) against the 28 days
    before (`older`). none when either block has fewer than 10 completed (successful + failed)
    deployments or no value; steady within ±5 % of the older value; an older 0 gives up when
    the newer is above it; else the raw direction of the statistic (up = it grew). -#}
{% macro dora_trend(older, newer, older_completed, newer_completed) -%}
    case
        when coalesce({{ older_completed }}, 0) < 10 or coalesce({{ newer_completed }}, 0) < 10 then 'none'
        when {{ older }} is null or {{ newer }} is null then 'none'
        when {{ older }} = 0 then case when {{ newer }} > 0 then 'up' else 'steady' end
        when abs({{ newer }} - {{ older }}) * 20 <= abs({{ older }}) then 'steady'
        when {{ newer }} > {{ older }} then 'up'
        else 'down'
    end
{%- endmacro %}
