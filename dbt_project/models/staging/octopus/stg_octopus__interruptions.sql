with

source as (

    select * from {{ source_or_empty('octopus', 'interruptions') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as interruption_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(type as {{ dbt.type_string() }}) as interruption_type,
        cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(task_id as {{ dbt.type_string() }}) as task_id,
        coalesce(is_pending, false) as is_pending,
        cast(created as {{ dbt.type_timestamp() }}) as created_at

    from source

)

select * from renamed
