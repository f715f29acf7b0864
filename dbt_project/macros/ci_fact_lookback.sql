{#- The rows of `relation` an incremental CI fact re-processes. On a full build (or
    --full-refresh): every row. On an incremental run: per (provider, project_slug), only rows
    whose `timestamp_column` is at most var `fact_lookback_days` (default 7) days older than the
    newest one already in the fact, plus every row of a provider/project the fact has not seen
    yet (a source configured later still lands its whole history). The model merges these on its
    unique key, so a run whose status changed inside the lookback is updated in place; a change
    to a row older than that needs `dbt build --full-refresh` (docs/ci-metrics.md). -#}
{% macro ci_fact_lookback(relation, timestamp_column) -%}
    {%- if is_incremental() %}
    select {{ relation }}.*
    from {{ relation }}
    left join (
        select provider, project_slug, max({{ timestamp_column }}) as newest_loaded_at
        from {{ this }}
        group by provider, project_slug
    ) as already_loaded
        on {{ relation }}.provider = already_loaded.provider
        and {{ relation }}.project_slug = already_loaded.project_slug
    where already_loaded.newest_loaded_at is null
        or {{ relation }}.{{ timestamp_column }} is null
        or {{ relation }}.{{ timestamp_column }}
            >= {{ dbt.dateadd('day', -1 * (var('fact_lookback_days', 7) | int), 'already_loaded.newest_loaded_at') }}
    {%- else %}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}
