with

source as (

    select * from {{ source_or_empty('gitlab', 'pipelines') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_bigint() }}) as pipeline_id,
        cast(project_id as {{ dbt.type_bigint() }}) as project_id,
        sha as commit_sha,

        ---------- strings
        name as pipeline_name,
        ref,
        case when coalesce(tag, false) then ref end as tag,
        source as pipeline_source,
        status as provider_status,
        {{ gitlab_pipeline_status('status') }} as status,
        user__username as actor_login,

        ---------- numerics
        cast(iid as {{ dbt.type_bigint() }}) as pipeline_number,
        cast(duration as {{ dbt.type_bigint() }}) as reported_duration_seconds,
        cast(queued_duration as {{ dbt.type_bigint() }}) as reported_queued_seconds,
        -- GitLab sends coverage as a string ("68.49").
        cast(coverage as {{ type_double() }}) as coverage,

        ---------- booleans
        coalesce(tag, false) as is_tag,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(finished_at as {{ dbt.type_timestamp() }}) as finished_at

    from source

)

select * from renamed
