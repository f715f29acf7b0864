with

source as (

    select * from {{ source_or_empty('octopus', 'defects') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as defect_id,
        cast(release_id as {{ dbt.type_string() }}) as release_id,
        cast(description as {{ dbt.type_string() }}) as description,
        -- Unresolved | Resolved
        cast(status as {{ dbt.type_string() }}) as defect_status,
        status = 'Unresolved' as is_unresolved,
        cast(last_modified_by as {{ dbt.type_string() }}) as last_modified_by,
        cast(last_modified_on as {{ dbt.type_timestamp() }}) as last_modified_at

    from source

)

select * from renamed
