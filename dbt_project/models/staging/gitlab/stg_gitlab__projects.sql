with

source as (

    select * from {{ source_or_empty('gitlab', 'projects') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_bigint() }}) as project_id,
        -- The full path is the project's slug everywhere (metrics.md §5).
        cast(path_with_namespace as {{ dbt.type_string() }}) as project_slug,

        ---------- strings
        name as project_name,
        default_branch,
        web_url

    from source

)

select * from renamed
