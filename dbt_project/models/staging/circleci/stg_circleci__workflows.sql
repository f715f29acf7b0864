with

source as (

    select * from {{ source_or_empty('circleci', 'workflows') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as workflow_id,
        cast(pipeline_id as {{ dbt.type_string() }}) as pipeline_id,
        project_slug,

        ---------- strings
        name as workflow_name,
        status as provider_status,
        {{ circleci_workflow_status('status') }} as status,

        ---------- numerics
        cast(pipeline_number as {{ dbt.type_bigint() }}) as pipeline_number,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(stopped_at as {{ dbt.type_timestamp() }}) as stopped_at

    from source

)

select * from renamed
