{#- One row per test execution, every provider in one shape (CircleCI job test metadata and
    GitLab pipeline test reports; GitHub has no test API). A test is keyed
    by classname::test_name::file; a test repeated inside one job is numbered 1..n in API order.
    executed_at is the job's stop time (metrics.md §5). Incremental: a daily run merges the
    executions within the lookback of executed_at (macro ci_fact_lookback) on the grain. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['provider', 'project_slug', 'job_id', 'test_key', 'execution_index'],
        on_schema_change='fail'
    )
}}

with

circleci_test_results as (

    select * from {{ ref('stg_circleci__test_results') }}

),

job_runs as (

    select * from {{ ref('fct_ci_job_runs') }}

),

workflow_runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}

),

circleci_numbered as (

    select
        *,
        {{ dbt.concat(["classname", "'::'", "test_name", "'::'", "file"]) }} as test_key,
        row_number() over (
            partition by job_id, classname, test_name, file order by position
        ) as execution_index

    from circleci_test_results

),

circleci_tests as (

    select
        job_runs.provider,
        circleci_numbered.project_slug,
        circleci_numbered.job_id,
        circleci_numbered.test_key,
        cast(circleci_numbered.execution_index as {{ dbt.type_bigint() }}) as execution_index,
        circleci_numbered.classname,
        circleci_numbered.test_name,
        circleci_numbered.file,
        circleci_numbered.result,
        circleci_numbered.run_time_seconds,
        workflow_runs.commit_sha,
        job_runs.branch,
        job_runs.stopped_at as executed_at,
        job_runs.run_id,
        job_runs.workflow_name,
        job_runs.job_name

    from circleci_numbered
    inner join job_runs
        on job_runs.provider = 'circleci'
        and circleci_numbered.job_id = job_runs.job_id
    inner join workflow_runs
        on workflow_runs.provider = job_runs.provider
        and workflow_runs.run_id = job_runs.run_id

),

gitlab_test_results as (

    select * from {{ ref('int_gitlab__test_results') }}

),

gitlab_tests as (

    select
        job_runs.provider,
        job_runs.project_slug,
        gitlab_test_results.job_id,
        gitlab_test_results.test_key,
        cast(gitlab_test_results.execution_index as {{ dbt.type_bigint() }}) as execution_index,
        gitlab_test_results.classname,
        gitlab_test_results.test_name,
        gitlab_test_results.file,
        gitlab_test_results.result,
        gitlab_test_results.run_time_seconds,
        workflow_runs.commit_sha,
        job_runs.branch,
        job_runs.stopped_at as executed_at,
        job_runs.run_id,
        job_runs.workflow_name,
        job_runs.job_name

    from gitlab_test_results
    inner join job_runs
        on job_runs.provider = 'gitlab'
        and gitlab_test_results.job_id = job_runs.job_id
    inner join workflow_runs
        on workflow_runs.provider = job_runs.provider
        and workflow_runs.run_id = job_runs.run_id

),

unioned as (

    select * from circleci_tests
    union all
    select * from gitlab_tests

),

final as (

    {{ ci_fact_lookback('unioned', 'executed_at') }}

)

select {{ contract_columns('final') }}

from final
