with

source as (

    select * from {{ source_or_empty('octopus', 'environments') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as environment_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(name as {{ dbt.type_string() }}) as environment_name,
        cast(sort_order as {{ dbt.type_bigint() }}) as sort_order,
        coalesce(use_guided_failure, false) as uses_guided_failure

    from source

)

select * from renamed
