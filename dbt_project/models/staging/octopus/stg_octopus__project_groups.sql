with

source as (

    select * from {{ source_or_empty('octopus', 'project_groups') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as project_group_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(name as {{ dbt.type_string() }}) as project_group_name,
        cast(description as {{ dbt.type_string() }}) as description

    from source

)

select * from renamed
