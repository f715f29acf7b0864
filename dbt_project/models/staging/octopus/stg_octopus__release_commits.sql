with

source as (

    select * from {{ source_or_empty('octopus', 'release_commits') }}

),

renamed as (

    select
        cast(release_id as {{ dbt.type_string() }}) as release_id,
        cast(commit_sha as {{ dbt.type_string() }}) as commit_sha,
        cast(project_id as {{ dbt.type_string() }}) as project_id,
        cast(package_id as {{ dbt.type_string() }}) as package_id,
        -- Order inside the release's build information (newest commit first).
        cast(position as {{ dbt.type_bigint() }}) as commit_position,
        cast(link_url as {{ dbt.type_string() }}) as commit_url,
        cast(comment as {{ dbt.type_string() }}) as commit_message

    from source

)

select * from renamed
