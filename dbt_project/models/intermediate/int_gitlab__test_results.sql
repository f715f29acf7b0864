{#- GitLab pipeline test-report cases attributed to the job that ran them. GitLab names a
    report's suite after its job, and the report holds each job name's latest run, so a case
    belongs to the pipeline's latest (not retried) job of that name. -#}

with

test_cases as (

    select * from {{ ref('stg_gitlab__test_cases') }}

),

latest_jobs as (

    select * from {{ ref('stg_gitlab__jobs') }}
    where not is_retried

),

attributed as (

    select
        cast(latest_jobs.job_id as {{ dbt.type_string() }}) as job_id,
        test_cases.test_key,
        test_cases.execution_index,
        coalesce(test_cases.classname, '') as classname,
        test_cases.test_name,
        coalesce(test_cases.file, '') as file,
        test_cases.result,
        test_cases.run_time_seconds

    from test_cases
    inner join latest_jobs
        on test_cases.pipeline_id = latest_jobs.pipeline_id
        and test_cases.suite_name = latest_jobs.job_name

)

select * from attributed
