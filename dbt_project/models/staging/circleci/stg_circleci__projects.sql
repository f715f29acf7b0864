with

source as (

    select * from {{ source_or_empty('circleci', 'projects') }}

),

renamed as (

    select
        ---------- ids
        cast(slug as {{ dbt.type_string() }}) as project_slug,
        cast(id as {{ dbt.type_string() }}) as project_id,

        ---------- strings
        name as project_name,
        organization_name,
        vcs_info__default_branch as default_branch,
        vcs_info__vcs_url as vcs_url

    from source

)

select * from renamed
