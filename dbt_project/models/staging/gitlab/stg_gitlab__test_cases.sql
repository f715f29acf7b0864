with

source as (

    select * from {{ source_or_empty('gitlab', 'test_cases') }}

),

renamed as (

    select
        ---------- ids
        cast(pipeline_id as {{ dbt.type_bigint() }}) as pipeline_id,
        cast(project_id as {{ dbt.type_bigint() }}) as project_id,
        -- test_key = classname::test_name::file (metrics.md §5).
        {{ dbt.concat(["coalesce(classname, '')", "'::'", "name", "'::'", "coalesce(file, '')"]) }} as test_key,

        ---------- strings
        suite as suite_name,
        nullif(classname, '') as classname,
        name as test_name,
        nullif(file, '') as file,
        status as provider_status,
        {{ gitlab_test_result('status') }} as result,
        -- Job ids of the suite when the report carries them (a JSON list), else NULL.
        cast(job_ids as {{ dbt.type_string() }}) as job_ids,

        ---------- numerics
        cast(execution_index as {{ dbt.type_bigint() }}) as execution_index,
        cast(execution_time as {{ type_double() }}) as run_time_seconds

    from source

)

select * from renamed
