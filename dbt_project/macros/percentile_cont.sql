{#- Continuous, linearly interpolated percentile (numpy's default), NULLs ignored.
    One macro so every warehouse computes the same number (metrics.md, "Percentiles"). -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'delivery_insights')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{#- Postgres's percentile_cont interpolates as lo + (hi - lo) * d, DuckDB's quantile_cont as
    lo * (1 - d) + hi * d: equal in exact arithmetic, apart in the last bit of a double (the p95 of
    100, 200, 300, 400, 900 is 799.9999999999999 against 800.0). Interpolating DuckDB's way here,
    from the sorted values, gives the same number on both. The array_agg has only outer columns,
    so it aggregates the calling query's group. -#}
{% macro postgres__percentile_cont(expression, fraction) -%}
    (
        select
            case when sorted.numbers is not null then
                sorted.numbers[floor(sorted.position)::integer + 1] * (1 - (sorted.position - floor(sorted.position)))
                + sorted.numbers[ceil(sorted.position)::integer + 1] * (sorted.position - floor(sorted.position))
            end
        from (
            select aggregated.numbers, {{ fraction }}::double precision * (cardinality(aggregated.numbers) - 1) as position
            from (
                select array_agg(cast({{ expression }} as double precision) order by {{ expression }})
                    filter (where {{ expression }} is not null) as numbers
            ) as aggregated
        ) as sorted
    )
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
