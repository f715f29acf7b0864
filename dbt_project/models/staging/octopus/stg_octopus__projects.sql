with

source as (

    select * from {{ source_or_empty('octopus', 'projects') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as project_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(project_group_id as {{ dbt.type_string() }}) as project_group_id,
        cast(lifecycle_id as {{ dbt.type_string() }}) as lifecycle_id,

        ---------- strings
        cast(name as {{ dbt.type_string() }}) as project_name,
        cast(slug as {{ dbt.type_string() }}) as project_slug,
        cast(tenanted_deployment_mode as {{ dbt.type_string() }}) as tenanted_deployment_mode,

        ---------- booleans
        coalesce(is_disabled, false) as is_disabled

    from source

)

select * from renamed
