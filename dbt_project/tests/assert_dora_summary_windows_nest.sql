-- A failing row is a dora_summary scope whose counts shrink from a shorter window to a longer
-- one (30d ⊂ 90d ⊂ 365d all end at the report date), or whose scope lacks one of the three
-- windows (every scope with a completed deployment in 365 days has all three).

with

summary as (

    select * from {{ ref('dora_summary') }}

),

by_scope as (

    select
        project,
        environment,
        tenant,
        channel,
        count(*) as windows,
        {%- for count in ['successful_deployments', 'failed_deployments', 'deployment_days', 'recoveries'] %}
        {%- for window in ['30d', '90d', '365d'] %}
        max(case when reporting_window = '{{ window }}' then {{ count }} end) as {{ count }}_{{ window }}{% if not loop.last %},{% endif %}
        {%- endfor %}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from summary
    group by 1, 2, 3, 4

)

select *
from by_scope
where windows <> 3
    {%- for count in ['successful_deployments', 'failed_deployments', 'deployment_days', 'recoveries'] %}
    or {{ count }}_30d > {{ count }}_90d
    or {{ count }}_90d > {{ count }}_365d
    {%- endfor %}
