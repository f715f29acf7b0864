{#- The report date as a SQL date literal: var `as_of` (YYYY-MM-DD) or today in UTC. -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is none or as_of | string | trim == '' -%}
        {%- set as_of = run_started_at.strftime('%Y-%m-%d') -%}{#- run_started_at is UTC -#}
    {%- endif -%}
    cast('{{ as_of }}' as date)
{%- endmacro %}

{#- Exclusive end of every window: midnight UTC after the report date. -#}
{% macro report_end_timestamp() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The CI reporting windows of metrics.md as rows (reporting_window, window_days,
    window_start, window_end); a window of N days is [as_of + 1 day - N days, as_of + 1 day).
    `names` picks some of them (tests use 7d, 30d and 90d). -#}
{% macro ci_reporting_windows(names=none) -%}
    {%- set windows = [('24h', 1), ('7d', 7), ('30d', 30), ('60d', 60), ('90d', 90)]
        | selectattr(0, 'in', names or ['24h', '7d', '30d', '60d', '90d']) | list -%}
    {%- for name, days in windows %}
    select
        '{{ name }}' as reporting_window,
        {{ days }} as window_days,
        cast({{ dbt.dateadd('day', 1 - days, as_of_date()) }} as {{ dbt.type_timestamp() }}) as window_start,
        {{ report_end_timestamp() }} as window_end
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{%- endmacro %}
