{#- Continuous, linearly interpolated percentile (numpy's default), NULLs ignored.
    One macro so every warehouse computes the same number (metrics.md, "Percentiles"). -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'delivery_insights')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro bigquery__percentile_cont(expression, fraction) -%}
    {#- BigQuery only has the analytic form; approx_quantiles would not interpolate. -#}
    {{ exceptions.raise_compiler_error("percentile_cont needs a window on BigQuery; not supported yet") }}
{%- endmacro %}

{% macro median(expression) -%}
    {{ percentile_cont(expression, 0.5) }}
{%- endmacro %}
