{#- A JSON array of strings held in one column (dlt loads nested lists such as GitHub's runner
    labels as JSON). Dispatched: DuckDB reads it with from_json, Postgres with its jsonb
    functions. A NULL array gives NULL; an empty one '' and false. -#}

{#- The elements in array order, joined by `separator` (a Jinja string). -#}
{% macro json_string_array_join(column, separator) -%}
    {{ return(adapter.dispatch('json_string_array_join', 'delivery_insights')(column, separator)) }}
{%- endmacro %}

{% macro default__json_string_array_join(column, separator) -%}
    array_to_string(from_json({{ column }}, '["VARCHAR"]'), '{{ separator }}')
{%- endmacro %}

{% macro postgres__json_string_array_join(column, separator) -%}
    case
        when {{ column }} is not null then coalesce((
            select string_agg(elements.element, '{{ separator }}' order by elements.position)
            from jsonb_array_elements_text(cast({{ column }} as jsonb))
                with ordinality as elements (element, position)
        ), '')
    end
{%- endmacro %}

{#- True when the array holds the string `value` (a Jinja string); NULL for a NULL array. -#}
{% macro json_string_array_contains(column, value) -%}
    {{ return(adapter.dispatch('json_string_array_contains', 'delivery_insights')(column, value)) }}
{%- endmacro %}

{% macro default__json_string_array_contains(column, value) -%}
    list_contains(from_json({{ column }}, '["VARCHAR"]'), '{{ value }}')
{%- endmacro %}

{% macro postgres__json_string_array_contains(column, value) -%}
    (cast({{ column }} as jsonb) @> jsonb_build_array(cast('{{ value }}' as text)))
{%- endmacro %}
