with

source as (

    select * from {{ source_or_empty('github', 'workflow_jobs') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as job_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(repository_full_name as {{ dbt.type_string() }}) as project_slug,

        ---------- strings
        name as job_name,
        status as job_status,
        conclusion,
        {{ github_provider_status('status', 'conclusion') }} as provider_status,
        {{ github_status('status', 'conclusion') }} as status,
        runner_name,
        runner_group_name,
        -- Runner labels as a comma list (`ubuntu-latest`, `self-hosted,linux,x64`).
        {{ json_string_array_join('labels', ',') }} as runner_labels,
        coalesce({{ json_string_array_contains('labels', 'self-hosted') }}, false) as is_self_hosted,

        ---------- numerics
        cast(run_attempt as {{ dbt.type_bigint() }}) as run_attempt,
        cast(runner_group_id as {{ dbt.type_bigint() }}) as runner_group_id,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        -- A queued job reports its creation time as started_at: it has not started.
        case
            when status <> 'queued' then cast(started_at as {{ dbt.type_timestamp() }})
        end as started_at,
        cast(completed_at as {{ dbt.type_timestamp() }}) as completed_at

    from source

)

select * from renamed
