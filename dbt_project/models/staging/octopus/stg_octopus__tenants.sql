with

source as (

    select * from {{ source_or_empty('octopus', 'tenants') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as tenant_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(name as {{ dbt.type_string() }}) as tenant_name

    from source

)

select * from renamed
