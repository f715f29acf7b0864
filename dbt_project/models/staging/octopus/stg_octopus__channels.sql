with

source as (

    select * from {{ source_or_empty('octopus', 'channels') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as channel_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(project_id as {{ dbt.type_string() }}) as project_id,
        cast(name as {{ dbt.type_string() }}) as channel_name,
        coalesce(is_default, false) as is_default

    from source

)

select * from renamed
