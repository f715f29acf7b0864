with

source as (

    select * from {{ source_or_empty('github', 'deployments') }}

),

environments as (

    select * from {{ source_or_empty('github', 'environments') }}

),

renamed as (

    select
        ---------- ids
        cast(source.id as {{ dbt.type_string() }}) as deployment_id,
        cast(source.repository_full_name as {{ dbt.type_string() }}) as project_slug,
        -- The environment's id from GET /environments (NULL when the repository does not list it,
        -- e.g. an environment only named by deployments).
        cast(environments.id as {{ dbt.type_string() }}) as environment_id,
        source.sha as commit_sha,

        ---------- strings
        source.ref,
        source.task,
        source.environment,
        source.original_environment,
        source.description,

        ---------- booleans
        coalesce(source.production_environment, false) as is_production,
        coalesce(source.transient_environment, false) as is_transient,

        ---------- timestamps
        cast(source.created_at as {{ dbt.type_timestamp() }}) as created_at,
        -- Moves whenever a status is added (inactive included): never a completion time.
        cast(source.updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source
    left join environments
        on lower(source.repository_full_name) = lower(environments.repository_full_name)
        and source.environment = environments.name

)

select * from renamed
