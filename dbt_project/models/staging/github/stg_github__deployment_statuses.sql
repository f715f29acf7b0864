with

source as (

    select * from {{ source_or_empty('github', 'deployment_statuses') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as status_id,
        cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(repository_full_name as {{ dbt.type_string() }}) as project_slug,

        ---------- strings
        -- error, failure, inactive, pending, success, queued, in_progress (api-samples §1).
        state,
        description,
        environment,
        target_url,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at

    from source

)

select * from renamed
