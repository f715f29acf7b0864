{#- Canonical deployment state of an Octopus task State (metrics.md §4). A state that is not
    in the table maps to NULL, which the staging not_null/accepted_values tests catch. -#}
{% macro octopus_deployment_state(column) -%}
    case
        when {{ column }} = 'Success' then 'success'
        when {{ column }} in ('Failed', 'TimedOut') then 'failed'
        when {{ column }} = 'Canceled' then 'cancelled'
        when {{ column }} in ('Executing', 'Queued', 'Cancelling') then 'in_progress'
    end
{%- endmacro %}

{#- True when `value` matches the regular expression `pattern` (a SQL string literal). Kept
    for its callers; it is the generic regex_matches of macros/regex.sql. -#}
{% macro octopus_regex_matches(value, pattern) -%}
    {{ regex_matches(value, pattern) }}
{%- endmacro %}
