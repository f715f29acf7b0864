{#- The last 50 runs per (project, workflow, branch) by created_at, newest first, up to the
    report date (metrics.md §2, "Recent builds"). No window: a quiet branch's last builds may be
    old, so this reads every run (one ranked pass over the fact). -#}

with

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}
    where created_at < {{ report_end_timestamp() }}

),

ranked as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        row_number() over (
            partition by provider, project_slug, workflow_name, branch
            order by created_at desc, run_id desc, run_attempt desc
        ) as recency_rank,
        run_id,
        run_attempt,
        status,
        created_at,
        stopped_at,
        duration_seconds,
        commit_sha

    from runs

),

final as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        cast(recency_rank as {{ dbt.type_bigint() }}) as recency_rank,
        run_id,
        run_attempt,
        status,
        created_at,
        stopped_at,
        duration_seconds,
        commit_sha

    from ranked
    where recency_rank <= 50

)

select * from final
