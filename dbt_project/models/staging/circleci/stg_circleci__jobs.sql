with

source as (

    select * from {{ source_or_empty('circleci', 'jobs') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as job_id,
        cast(workflow_id as {{ dbt.type_string() }}) as workflow_id,
        project_slug,

        ---------- strings
        name as job_name,
        type as job_type,
        status as provider_status,
        {{ circleci_job_status('status') }} as status,

        ---------- numerics
        cast(job_number as {{ dbt.type_bigint() }}) as job_number,

        ---------- timestamps
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(stopped_at as {{ dbt.type_timestamp() }}) as stopped_at

    from source

)

select * from renamed
