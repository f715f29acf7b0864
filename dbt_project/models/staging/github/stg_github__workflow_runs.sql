with

source as (

    select * from {{ source_or_empty('github', 'workflow_runs') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as run_id,
        cast(repository_full_name as {{ dbt.type_string() }}) as project_slug,
        cast(workflow_id as {{ dbt.type_string() }}) as workflow_id,
        head_sha as commit_sha,

        ---------- strings
        -- `name` falls back to the workflow file path when GitHub cannot parse the workflow.
        name as workflow_name,
        path as workflow_path,
        head_branch,
        event,
        status as run_status,
        conclusion,
        {{ github_provider_status('status', 'conclusion') }} as provider_status,
        {{ github_status('status', 'conclusion') }} as status,
        html_url,

        ---------- numerics
        -- Old API versions omit run_attempt; the source loads those runs as attempt 1.
        cast(run_attempt as {{ dbt.type_bigint() }}) as run_attempt,
        cast(run_number as {{ dbt.type_bigint() }}) as run_number,

        ---------- timestamps
        -- created_at is the run's (every attempt repeats it); run_started_at is the attempt's.
        cast(created_at as {{ dbt.type_timestamp() }}) as run_created_at,
        cast(run_started_at as {{ dbt.type_timestamp() }}) as run_started_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
