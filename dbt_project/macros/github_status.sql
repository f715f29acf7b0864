{#- Canonical CI status of a GitHub Actions run or job (metrics.md §1, GitHub column): the
    conclusion decides once the status is `completed`; `action_required` (waiting for approval)
    counts as in progress. An unknown value gives NULL, which the not_null tests catch. -#}
{% macro github_status(status_column, conclusion_column) -%}
    case
        when {{ status_column }} = 'completed' then
            case
                when {{ conclusion_column }} = 'success' then 'success'
                when {{ conclusion_column }} in ('failure', 'timed_out', 'startup_failure') then 'failed'
                when {{ conclusion_column }} = 'cancelled' then 'cancelled'
                when {{ conclusion_column }} in ('skipped', 'neutral', 'stale') then 'skipped'
                when {{ conclusion_column }} = 'action_required' then 'in_progress'
            end
        when {{ status_column }} in ('queued', 'in_progress', 'waiting', 'pending', 'requested') then 'in_progress'
    end
{%- endmacro %}

{#- The raw provider status kept beside the canonical one: the conclusion once there is one
    (`success`, `timed_out`, …), else the status (`in_progress`, `queued`, …). -#}
{% macro github_provider_status(status_column, conclusion_column) -%}
    coalesce({{ conclusion_column }}, {{ status_column }})
{%- endmacro %}

{#- A job's queue time, started_at − created_at (metrics.md §2), for jobs that ran: a queued job
    reports its creation time as started_at and a skipped one never queued, so both get NULL. -#}
{% macro github_job_queued_seconds(created_at, started_at, status, conclusion) -%}
    case
        when {{ status }} <> 'queued'
            and coalesce({{ conclusion }}, '') <> 'skipped'
            and {{ created_at }} is not null
            and {{ started_at }} is not null
            then {{ seconds_between(created_at, started_at) }}
    end
{%- endmacro %}
