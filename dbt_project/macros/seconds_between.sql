{#- Elapsed seconds between two timestamps, with millisecond precision (CircleCI times carry
    milliseconds; a whole-second datediff would count boundaries, not elapsed time). -#}
{% macro seconds_between(start_timestamp, end_timestamp) -%}
    (cast({{ dbt.datediff(start_timestamp, end_timestamp, 'millisecond') }} as {{ type_double() }}) / 1000)
{%- endmacro %}

{#- 8-byte float on every warehouse (dbt.type_float() is 4-byte `float` on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'delivery_insights')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}

{% macro bigquery__type_double() -%}float64{%- endmacro %}
