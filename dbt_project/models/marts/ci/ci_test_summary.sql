{#- Per test and window (7d, 30d, 90d up to the report date): executions, failures, failure rate,
    p95 run time, whether it is currently flaky, and its most-failed and slowest rank within the
    project (metrics.md §3, §3a). Executions are placed by executed_at (the job's stop time). -#}

with

windows as (

    {{ ci_reporting_windows(['7d', '30d', '90d']) }}

),

executions as (

    select * from {{ ref('fct_ci_test_results') }}
    where executed_at >= {{ ci_window_start(90) }}
        and executed_at < {{ report_end_timestamp() }}

),

flaky as (

    select provider, project_slug, test_key from {{ ref('ci_flaky_tests') }}

),

in_windows as (

    select windows.reporting_window, executions.*
    from executions
    inner join windows
        on executions.executed_at >= windows.window_start
        and executions.executed_at < windows.window_end

),

per_test as (

    select
        provider,
        project_slug,
        test_key,
        reporting_window,
        max(classname) as classname,
        max(test_name) as test_name,
        max(file) as file,
        count(*) as total_runs,
        sum(case when result = 'failed' then 1 else 0 end) as failed_runs,
        sum(case when result in ('passed', 'failed') then 1 else 0 end) as decided_runs,
        {{ percentile_cont("case when result in ('passed', 'failed') then run_time_seconds end", 0.95) }}
            as p95_run_time_seconds

    from in_windows
    group by 1, 2, 3, 4

),

rated as (

    select
        *,
        cast(failed_runs as {{ type_double() }}) / nullif(decided_runs, 0) as failure_rate

    from per_test

),

ranked as (

    select
        rated.*,
        row_number() over (
            partition by provider, project_slug, reporting_window
            order by failed_runs desc, coalesce(failure_rate, -1) desc, test_key
        ) as most_failed_rank,
        row_number() over (
            partition by provider, project_slug, reporting_window
            order by coalesce(p95_run_time_seconds, -1) desc, test_key
        ) as slowest_rank

    from rated

),

final as (

    select
        ranked.provider,
        ranked.project_slug,
        ranked.test_key,
        ranked.reporting_window,
        ranked.classname,
        ranked.test_name,
        ranked.file,
        cast(ranked.total_runs as {{ dbt.type_bigint() }}) as total_runs,
        cast(ranked.failed_runs as {{ dbt.type_bigint() }}) as failed_runs,
        cast(ranked.failure_rate as {{ type_double() }}) as failure_rate,
        cast(ranked.p95_run_time_seconds as {{ type_double() }}) as p95_run_time_seconds,
        flaky.test_key is not null as is_flaky,
        cast(ranked.most_failed_rank as {{ dbt.type_bigint() }}) as most_failed_rank,
        cast(ranked.slowest_rank as {{ dbt.type_bigint() }}) as slowest_rank

    from ranked
    left join flaky
        on ranked.provider = flaky.provider
        and ranked.project_slug = flaky.project_slug
        and ranked.test_key = flaky.test_key

)

select * from final
