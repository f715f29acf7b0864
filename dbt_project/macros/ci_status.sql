{#- Canonical CI status (metrics.md §1). The raw provider status stays beside it in every fact. -#}
{% macro circleci_workflow_status(column) -%}
    case
        when {{ column }} = 'success' then 'success'
        when {{ column }} in ('failed', 'failing', 'error', 'unauthorized') then 'failed'
        when {{ column }} = 'canceled' then 'cancelled'
        when {{ column }} = 'not_run' then 'skipped'
        when {{ column }} in ('running', 'on_hold') then 'in_progress'
    end
{%- endmacro %}

{% macro circleci_job_status(column) -%}
    case
        when {{ column }} = 'success' then 'success'
        when {{ column }} in ('failed', 'infrastructure_fail', 'timedout', 'unauthorized', 'terminated-unknown') then 'failed'
        when {{ column }} in ('canceled', 'retried') then 'cancelled'
        when {{ column }} in ('not_run', 'blocked') then 'skipped'
        when {{ column }} in ('running', 'queued', 'not_running', 'on_hold') then 'in_progress'
    end
{%- endmacro %}
