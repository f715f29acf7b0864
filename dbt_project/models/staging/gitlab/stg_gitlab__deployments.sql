with

source as (

    select * from {{ source_or_empty('gitlab', 'deployments') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_bigint() }}) as deployment_id,
        cast(project_id as {{ dbt.type_bigint() }}) as project_id,
        cast(environment__id as {{ dbt.type_bigint() }}) as environment_id,
        cast(deployable__id as {{ dbt.type_bigint() }}) as job_id,
        cast(deployable__pipeline__id as {{ dbt.type_bigint() }}) as pipeline_id,
        sha as commit_sha,

        ---------- strings
        environment__name as environment_name,
        ref,
        status as provider_status,
        deployable__name as job_name,
        deployable__status as job_status,
        user__username as actor_login,

        ---------- numerics
        cast(iid as {{ dbt.type_bigint() }}) as deployment_number,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(deployable__started_at as {{ dbt.type_timestamp() }}) as job_started_at,
        cast(deployable__finished_at as {{ dbt.type_timestamp() }}) as job_finished_at

    from source

)

select * from renamed
