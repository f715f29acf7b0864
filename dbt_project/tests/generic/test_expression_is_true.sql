{#- Every row satisfies a SQL boolean expression (dbt_utils' expression_is_true). -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
