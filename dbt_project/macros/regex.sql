{#- Cross-database regular expressions. dbt ships no regex macro, so these dispatch per adapter.
    Patterns are RE2-style (what DuckDB and BigQuery use); an inline `(?i)` at the start works on
    DuckDB, BigQuery and Postgres alike.

    regex_literal(pattern)            the pattern (a Jinja string) as a SQL string literal
    regex_matches(value, pattern_sql) true when the pattern matches anywhere in value
    regex_extract(value, pattern)     the match, or its first capture group when the pattern has
                                      one; NULL when it does not match (pattern: a Jinja string,
                                      because whether it has a group is decided at compile time)
-#}

{% macro regex_literal(pattern) -%}
    {{ return(adapter.dispatch('regex_literal', 'delivery_insights')(pattern)) }}
{%- endmacro %}

{% macro default__regex_literal(pattern) -%}
    '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{#- BigQuery treats a backslash in a plain literal as an escape: use a raw string. -#}
{% macro bigquery__regex_literal(pattern) -%}
    r"""{{ pattern }}"""
{%- endmacro %}


{% macro regex_matches(value, pattern_sql) -%}
    {{ return(adapter.dispatch('regex_matches', 'delivery_insights')(value, pattern_sql)) }}
{%- endmacro %}

{% macro default__regex_matches(value, pattern_sql) -%}
    regexp_matches({{ value }}, {{ pattern_sql }})
{%- endmacro %}

{% macro postgres__regex_matches(value, pattern_sql) -%}
    ({{ value }} ~ {{ pattern_sql }})
{%- endmacro %}

{% macro bigquery__regex_matches(value, pattern_sql) -%}
    regexp_contains({{ value }}, {{ pattern_sql }})
{%- endmacro %}


{#- Number of capture groups of a pattern, counted at compile time with Python's `re` (its
    syntax agrees with RE2 for the patterns this project expects). -#}
{% macro regex_group_count(pattern) -%}
    {{ return(modules.re.compile(pattern).groups) }}
{%- endmacro %}

{% macro regex_extract(value, pattern) -%}
    {{ return(adapter.dispatch('regex_extract', 'delivery_insights')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_extract(value, pattern) -%}
    {%- set group = 1 if regex_group_count(pattern) > 0 else 0 -%}
    case
        when {{ regex_matches(value, regex_literal(pattern)) }}
            then regexp_extract({{ value }}, {{ regex_literal(pattern) }}, {{ group }})
    end
{%- endmacro %}

{#- substring(... from pattern) already returns the first group when there is one, else the
    whole match, and NULL without a match. -#}
{% macro postgres__regex_extract(value, pattern) -%}
    substring({{ value }} from {{ regex_literal(pattern) }})
{%- endmacro %}

{#- BigQuery's regexp_extract returns the (single allowed) group or the whole match, NULL
    without a match. -#}
{% macro bigquery__regex_extract(value, pattern) -%}
    regexp_extract({{ value }}, {{ regex_literal(pattern) }})
{%- endmacro %}
