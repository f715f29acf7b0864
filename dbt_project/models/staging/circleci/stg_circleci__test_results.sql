with

source as (

    select * from {{ source_or_empty('circleci', 'job_tests') }}

),

renamed as (

    select
        ---------- ids
        cast(job_id as {{ dbt.type_string() }}) as job_id,
        project_slug,

        ---------- strings
        coalesce(classname, '') as classname,
        name as test_name,
        coalesce(file, '') as file,
        -- CircleCI results are free text; observed: success, failure, skipped (and error).
        case
            when result = 'success' then 'passed'
            when result in ('failure', 'error', 'failed') then 'failed'
            when result = 'skipped' then 'skipped'
        end as result,
        result as provider_result,
        message,

        ---------- numerics
        cast(job_number as {{ dbt.type_bigint() }}) as job_number,
        cast(position as {{ dbt.type_bigint() }}) as position,
        cast(run_time as {{ type_double() }}) as run_time_seconds

    from source

)

select * from renamed
