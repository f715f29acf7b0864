with

source as (

    select * from {{ source_or_empty('circleci', 'job_details') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as job_id,
        project_slug,

        ---------- strings
        executor__type as executor,
        executor__resource_class as resource_class,

        ---------- numerics
        cast(number as {{ dbt.type_bigint() }}) as job_number,
        cast(parallelism as {{ dbt.type_bigint() }}) as parallelism,
        -- CircleCI reports job duration in milliseconds.
        cast(duration as {{ type_double() }}) / 1000 as reported_duration_seconds,

        ---------- timestamps
        cast(queued_at as {{ dbt.type_timestamp() }}) as queued_at,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(stopped_at as {{ dbt.type_timestamp() }}) as stopped_at

    from source

)

select * from renamed
