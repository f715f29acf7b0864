{#- Canonical CI status of GitLab pipelines and jobs (metrics.md §1, GitLab column). A status
    that is not in the table maps to NULL, which the staging not_null/accepted_values tests catch.
    A retried job keeps its own status: §1 lists no "retried" status for GitLab. -#}
{% macro gitlab_pipeline_status(column) -%}
    case
        when {{ column }} = 'success' then 'success'
        when {{ column }} = 'failed' then 'failed'
        when {{ column }} in ('canceled', 'canceling') then 'cancelled'
        when {{ column }} in ('skipped', 'manual') then 'skipped'
        when {{ column }} in ('created', 'pending', 'running', 'waiting_for_resource', 'preparing', 'scheduled') then 'in_progress'
    end
{%- endmacro %}

{% macro gitlab_job_status(column) -%}
    {{ gitlab_pipeline_status(column) }}
{%- endmacro %}

{#- Test case result (metrics.md §3): passed, failed (incl. error), skipped. -#}
{% macro gitlab_test_result(column) -%}
    case
        when {{ column }} = 'success' then 'passed'
        when {{ column }} in ('failed', 'error') then 'failed'
        when {{ column }} = 'skipped' then 'skipped'
    end
{%- endmacro %}
