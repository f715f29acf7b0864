-- A failing row is a dora_metrics row rolled up over one scope column ('*') whose additive
-- counts differ from the sum of the rows that name that column's values (the other scope
-- columns and the period equal), or a roll-up without such rows, or rows without a roll-up.
-- Each deployment is in exactly one project, environment, tenant and channel, so the cube's
-- '*' rows must be sums; deployment_days and the medians are not additive and are not checked.

{%- set scope = ['project', 'environment', 'tenant', 'channel'] %}
{%- set counts = ['successful_deployments', 'failed_deployments', 'recoveries',
                  'lead_time_sample_size', 'change_lead_time_sample_size'] %}

with

metrics as (

    select * from {{ ref('dora_metrics') }}

),

{% for rolled in scope %}
summed_over_{{ rolled }} as (

    select
        '{{ rolled }}' as rolled_up_column,
        {% for column in scope if column != rolled -%}
        {{ column }},
        {% endfor -%}
        period_grain,
        period_start,
        {% for count in counts -%}
        sum({{ count }}) as {{ count }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from metrics
    where {{ rolled }} <> '*'
    group by {% for column in scope if column != rolled %}{{ column }}, {% endfor %}period_grain, period_start

),

rolled_up_{{ rolled }} as (

    select
        '{{ rolled }}' as rolled_up_column,
        {% for column in scope if column != rolled -%}
        {{ column }},
        {% endfor -%}
        period_grain,
        period_start,
        {% for count in counts -%}
        {{ count }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from metrics
    where {{ rolled }} = '*'

),

mismatches_{{ rolled }} as (

    select
        coalesce(summed.rolled_up_column, rolled_up.rolled_up_column) as rolled_up_column,
        coalesce(summed.period_grain, rolled_up.period_grain) as period_grain,
        coalesce(summed.period_start, rolled_up.period_start) as period_start,
        summed.successful_deployments as summed_successful_deployments,
        rolled_up.successful_deployments as rolled_up_successful_deployments

    from summed_over_{{ rolled }} as summed
    full outer join rolled_up_{{ rolled }} as rolled_up
        on {% for column in scope if column != rolled -%}
        summed.{{ column }} = rolled_up.{{ column }}
        and {% endfor -%}
        summed.period_grain = rolled_up.period_grain
        and summed.period_start = rolled_up.period_start
    where summed.rolled_up_column is null
        or rolled_up.rolled_up_column is null
        {%- for count in counts %}
        or summed.{{ count }} <> rolled_up.{{ count }}
        {%- endfor %}

){% if not loop.last %},{% endif %}

{% endfor %}

{%- for rolled in scope %}
select * from mismatches_{{ rolled }}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
