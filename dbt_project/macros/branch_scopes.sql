{#- Every row twice: once under its own branch and once under '*' ("all branches"), so one
    GROUP BY yields both the per-branch rows and the roll-up row a BI filter picks with '*'. -#}
{% macro branch_scopes(relation, columns) -%}
    select {{ columns | join(', ') }}, branch from {{ relation }}
    union all
    select {{ columns | join(', ') }}, '*' as branch from {{ relation }}
{%- endmacro %}
