with

source as (

    select * from {{ source_or_empty('github', 'deployment_commits') }}

),

renamed as (

    select
        ---------- ids
        cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(sha as {{ dbt.type_string() }}) as commit_sha,
        cast(repository_full_name as {{ dbt.type_string() }}) as project_slug,
        cast(previous_deployment_id as {{ dbt.type_string() }}) as previous_deployment_id,
        base_sha,
        head_sha,

        ---------- strings
        environment,
        author_name,

        ---------- timestamps
        cast(authored_at as {{ dbt.type_timestamp() }}) as authored_at,
        cast(committed_at as {{ dbt.type_timestamp() }}) as committed_at

    from source

)

select * from renamed
