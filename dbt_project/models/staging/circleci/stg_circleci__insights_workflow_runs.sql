with

source as (

    select * from {{ source_or_empty('circleci', 'insights_workflow_runs') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as workflow_id,
        project_slug,

        ---------- strings
        workflow_name,
        status as insights_status,

        ---------- numerics
        cast(credits_used as {{ type_double() }}) as credits_used,
        cast(duration as {{ type_double() }}) as insights_duration_seconds,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(stopped_at as {{ dbt.type_timestamp() }}) as stopped_at

    from source

)

select * from renamed
