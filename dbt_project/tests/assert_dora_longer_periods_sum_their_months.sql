-- A failing row is a dora_metrics quarter or year whose additive counts differ from the sum of
-- the month rows inside it (same scope), or a quarter/year without months, or months outside
-- any. The three grains place the same deployments by the same completed_at.

{%- set scope = ['project', 'environment', 'tenant', 'channel'] %}
{%- set counts = ['successful_deployments', 'failed_deployments', 'recoveries',
                  'lead_time_sample_size', 'change_lead_time_sample_size'] %}

with

months as (

    select * from {{ ref('dora_metrics') }}
    where period_grain = 'month'

),

longer_periods as (

    select * from {{ ref('dora_metrics') }}
    where period_grain in ('quarter', 'year')

),

month_sums as (

    select
        {% for column in scope -%}
        longer_periods.{{ column }},
        {% endfor -%}
        longer_periods.period_grain,
        longer_periods.period_start,
        {% for count in counts -%}
        sum(months.{{ count }}) as {{ count }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from longer_periods
    inner join months
        on {% for column in scope -%}
        longer_periods.{{ column }} = months.{{ column }}
        and {% endfor -%}
        months.period_start >= longer_periods.period_start
        and months.period_start < longer_periods.period_end
    group by {% for column in scope %}longer_periods.{{ column }}, {% endfor %}longer_periods.period_grain, longer_periods.period_start

)

select
    longer_periods.period_grain,
    longer_periods.period_start,
    longer_periods.successful_deployments,
    month_sums.successful_deployments as months_successful_deployments

from longer_periods
left join month_sums
    on {% for column in scope -%}
    longer_periods.{{ column }} = month_sums.{{ column }}
    and {% endfor -%}
    longer_periods.period_grain = month_sums.period_grain
    and longer_periods.period_start = month_sums.period_start
where month_sums.period_start is null
    {%- for count in counts %}
    or longer_periods.{{ count }} <> month_sums.{{ count }}
    {%- endfor %}
