with

source as (

    select * from {{ source_or_empty('octopus', 'deployments') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as deployment_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(project_id as {{ dbt.type_string() }}) as project_id,
        cast(release_id as {{ dbt.type_string() }}) as release_id,
        cast(channel_id as {{ dbt.type_string() }}) as channel_id,
        cast(environment_id as {{ dbt.type_string() }}) as environment_id,
        -- NULL when the deployment is untenanted.
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(task_id as {{ dbt.type_string() }}) as task_id,

        ---------- strings
        cast(name as {{ dbt.type_string() }}) as deployment_name,
        cast(deployed_by as {{ dbt.type_string() }}) as deployed_by,

        ---------- timestamps
        cast(created as {{ dbt.type_timestamp() }}) as created_at

    from source

)

select * from renamed
