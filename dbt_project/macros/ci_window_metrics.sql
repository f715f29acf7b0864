{#- The run statistics of metrics.md §2 for rows already placed in reporting windows, grouped by
    `key_columns` + the window. Shared by the workflow and the job summaries so both count,
    rate and measure the same way. `runs_in_windows` must carry status, is_first_attempt,
    measured_duration_seconds (success/failed only), queued_seconds, credits_used and the
    window columns (reporting_window, window_days, window_start, window_end). -#}
{% macro ci_window_metrics(runs_in_windows, key_columns) -%}
    select
        {{ key_columns | join(', ') }},
        reporting_window,
        window_days,
        window_start,
        window_end,
        count(*) as total_runs,
        sum(case when status in ('success', 'failed', 'cancelled', 'skipped') then 1 else 0 end) as completed_runs,
        sum(case when status = 'success' then 1 else 0 end) as successful_runs,
        sum(case when status = 'failed' then 1 else 0 end) as failed_runs,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_runs,
        sum(case when status = 'skipped' then 1 else 0 end) as skipped_runs,
        sum(case when is_first_attempt and status = 'success' then 1 else 0 end) as first_attempt_successful_runs,
        sum(case when is_first_attempt and status = 'failed' then 1 else 0 end) as first_attempt_failed_runs,
        sum(credits_used) as total_credits_used,
        count(measured_duration_seconds) as duration_sample_size,
        min(measured_duration_seconds) as duration_min_seconds,
        avg(measured_duration_seconds) as duration_mean_seconds,
        {{ median('measured_duration_seconds') }} as duration_median_seconds,
        {{ percentile_cont('measured_duration_seconds', 0.95) }} as duration_p95_seconds,
        max(measured_duration_seconds) as duration_max_seconds,
        stddev_samp(measured_duration_seconds) as duration_stddev_seconds,
        count(queued_seconds) as queued_sample_size,
        {{ median('queued_seconds') }} as queued_median_seconds,
        {{ percentile_cont('queued_seconds', 0.95) }} as queued_p95_seconds

    from {{ runs_in_windows }}
    group by {{ key_columns | join(', ') }}, reporting_window, window_days, window_start, window_end
{%- endmacro %}

{#- The typed public columns of a summary row built from ci_window_metrics() as `alias`. -#}
{% macro ci_window_metric_columns(alias) -%}
        {{ alias }}.reporting_window,
        {{ alias }}.window_start,
        {{ alias }}.window_end,
        cast({{ alias }}.total_runs as {{ dbt.type_bigint() }}) as total_runs,
        cast({{ alias }}.completed_runs as {{ dbt.type_bigint() }}) as completed_runs,
        cast({{ alias }}.successful_runs as {{ dbt.type_bigint() }}) as successful_runs,
        cast({{ alias }}.failed_runs as {{ dbt.type_bigint() }}) as failed_runs,
        cast({{ alias }}.cancelled_runs as {{ dbt.type_bigint() }}) as cancelled_runs,
        cast({{ alias }}.skipped_runs as {{ dbt.type_bigint() }}) as skipped_runs,
        cast({{ alias }}.successful_runs as {{ type_double() }})
            / nullif({{ alias }}.successful_runs + {{ alias }}.failed_runs, 0) as success_rate,
        cast({{ alias }}.first_attempt_successful_runs as {{ type_double() }})
            / nullif({{ alias }}.first_attempt_successful_runs + {{ alias }}.first_attempt_failed_runs, 0)
            as first_attempt_success_rate,
        cast({{ alias }}.total_runs as {{ type_double() }}) / {{ alias }}.window_days as throughput,
        cast({{ alias }}.total_credits_used as {{ type_double() }}) as total_credits_used,
        cast({{ alias }}.duration_sample_size as {{ dbt.type_bigint() }}) as duration_sample_size,
        cast({{ alias }}.duration_min_seconds as {{ type_double() }}) as duration_min_seconds,
        cast({{ alias }}.duration_mean_seconds as {{ type_double() }}) as duration_mean_seconds,
        cast({{ alias }}.duration_median_seconds as {{ type_double() }}) as duration_median_seconds,
        cast({{ alias }}.duration_p95_seconds as {{ type_double() }}) as duration_p95_seconds,
        cast({{ alias }}.duration_max_seconds as {{ type_double() }}) as duration_max_seconds,
        cast({{ alias }}.duration_stddev_seconds as {{ type_double() }}) as duration_stddev_seconds,
        cast({{ alias }}.queued_sample_size as {{ dbt.type_bigint() }}) as queued_sample_size,
        cast({{ alias }}.queued_median_seconds as {{ type_double() }}) as queued_median_seconds,
        cast({{ alias }}.queued_p95_seconds as {{ type_double() }}) as queued_p95_seconds
{%- endmacro %}

{#- Rows of `relation` placed in every reporting window their `created_at_column` falls in, with
    the duration that statistics use (success and failed only). Needs a `windows` CTE built by
    ci_reporting_windows() in the calling model. -#}
{% macro ci_runs_in_windows(relation, created_at_column) -%}
    select
        windows.reporting_window,
        windows.window_days,
        windows.window_start,
        windows.window_end,
        {{ relation }}.*,
        case
            when {{ relation }}.status in ('success', 'failed') then {{ relation }}.duration_seconds
        end as measured_duration_seconds

    from {{ relation }}
    inner join windows
        on {{ relation }}.{{ created_at_column }} >= windows.window_start
        and {{ relation }}.{{ created_at_column }} < windows.window_end
{%- endmacro %}

{#- Inclusive start of the N-day window ending with the report date: midnight UTC N - 1 days
    before as_of. Marts filter the facts with it so they read only the days their windows need. -#}
{% macro ci_window_start(days) -%}
    cast({{ dbt.dateadd('day', 1 - days, as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
