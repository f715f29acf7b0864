with

source as (

    select * from {{ source_or_empty('gitlab', 'deployment_commits') }}

),

renamed as (

    select
        ---------- ids
        cast(deployment_id as {{ dbt.type_bigint() }}) as deployment_id,
        cast(project_id as {{ dbt.type_bigint() }}) as project_id,
        sha as commit_sha,
        from_sha as base_sha,
        to_sha as head_sha,

        ---------- strings
        environment as environment_name,
        title as commit_title,
        author_name,

        ---------- timestamps
        cast(authored_date as {{ dbt.type_timestamp() }}) as authored_at,
        cast(committed_date as {{ dbt.type_timestamp() }}) as committed_at

    from source

)

select * from renamed
