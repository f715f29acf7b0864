{#- Flaky tests (metrics.md §3): a test that both passed and failed on the same commit within the
    14 days up to the report date. A test stops being flaky after 14 days without a flake. -#}

with

executions as (

    select * from {{ ref('fct_ci_test_results') }}
    where executed_at >= cast({{ dbt.dateadd('day', -13, as_of_date()) }} as {{ dbt.type_timestamp() }})
        and executed_at < {{ report_end_timestamp() }}
        and result in ('passed', 'failed')
        and commit_sha is not null

),

per_commit as (

    select
        provider,
        project_slug,
        test_key,
        commit_sha,
        sum(case when result = 'passed' then 1 else 0 end) as passed_executions,
        sum(case when result = 'failed' then 1 else 0 end) as failed_executions,
        sum(case when result = 'failed' then run_time_seconds else 0 end) as failed_run_time_seconds,
        min(executed_at) as first_executed_at,
        max(executed_at) as last_executed_at

    from executions
    group by 1, 2, 3, 4

),

flaky_commits as (

    select * from per_commit
    where passed_executions > 0 and failed_executions > 0

),

names as (

    select provider, project_slug, test_key, max(classname) as classname, max(test_name) as test_name, max(file) as file
    from executions
    group by 1, 2, 3

),

final as (

    select
        flaky_commits.provider,
        flaky_commits.project_slug,
        flaky_commits.test_key,
        names.classname,
        names.test_name,
        names.file,
        cast(count(*) as {{ dbt.type_bigint() }}) as times_flaked,
        cast(sum(flaky_commits.failed_run_time_seconds) as {{ type_double() }}) as time_wasted_seconds,
        min(flaky_commits.first_executed_at) as first_flaked_at,
        max(flaky_commits.last_executed_at) as last_flaked_at,
        cast('passed and failed on the same commit within 14 days' as {{ dbt.type_string() }}) as flaky_reason

    from flaky_commits
    inner join names
        on flaky_commits.provider = names.provider
        and flaky_commits.project_slug = names.project_slug
        and flaky_commits.test_key = names.test_key
    group by 1, 2, 3, 4, 5, 6

)

select * from final
