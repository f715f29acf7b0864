with

source as (

    select * from {{ source_or_empty('octopus', 'tasks') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as task_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,

        ---------- strings
        cast(name as {{ dbt.type_string() }}) as task_name,
        cast(state as {{ dbt.type_string() }}) as provider_state,
        {{ octopus_deployment_state('state') }} as state,
        -- "" on success in Octopus: NULL here.
        cast(nullif(error_message, '') as {{ dbt.type_string() }}) as error_message,

        ---------- booleans
        coalesce(has_warnings_or_errors, false) as has_warnings_or_errors,
        coalesce(has_pending_interruptions, false) as has_pending_interruptions,

        ---------- timestamps (`Completed` is a display string: CompletedTime is used)
        cast(queue_time as {{ dbt.type_timestamp() }}) as queued_at,
        cast(start_time as {{ dbt.type_timestamp() }}) as started_at,
        cast(completed_time as {{ dbt.type_timestamp() }}) as completed_at

    from source

)

select * from renamed
