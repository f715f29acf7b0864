with

source as (

    select * from {{ source_or_empty('github', 'repositories') }}

),

renamed as (

    select
        ---------- ids
        cast(full_name as {{ dbt.type_string() }}) as project_slug,
        cast(id as {{ dbt.type_string() }}) as repository_id,

        ---------- strings
        name as repository_name,
        owner_login,
        default_branch,
        html_url

    from source

)

select * from renamed
