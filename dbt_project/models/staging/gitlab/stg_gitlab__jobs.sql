with

source as (

    select * from {{ source_or_empty('gitlab', 'pipeline_jobs') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_bigint() }}) as job_id,
        cast(pipeline_id as {{ dbt.type_bigint() }}) as pipeline_id,
        cast(project_id as {{ dbt.type_bigint() }}) as project_id,

        ---------- strings
        name as job_name,
        stage,
        status as provider_status,
        {{ gitlab_job_status('status') }} as status,
        failure_reason,
        runner__description as runner_description,
        runner__runner_type as runner_type,

        ---------- numerics
        cast(duration as {{ type_double() }}) as reported_duration_seconds,
        cast(queued_duration as {{ type_double() }}) as reported_queued_seconds,

        ---------- booleans
        coalesce(allow_failure, false) as allow_failure,
        -- A job is retried when a later job of the same name exists in its pipeline (GitLab
        -- lists it only with include_retried=true and marks it nowhere in the body).
        row_number() over (partition by pipeline_id, name order by id desc) > 1 as is_retried,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(finished_at as {{ dbt.type_timestamp() }}) as stopped_at

    from source

)

select * from renamed
