{#- GitLab deployments in the canonical deployment shape (the columns every provider's
    int_<provider>__deployments shares). GitLab has no releases, tenants or channels: the
    "release" is the deployed commit (metrics.md §4), tenant and channel are ''. State per
    metrics.md §4-§5: success/failed as is, canceled and skipped -> cancelled, running/created/
    blocked -> in_progress (an unknown status maps to NULL, which the not_null test catches).
    Start = the deployable job's started_at, else created_at; queue = start − created;
    completed_at = the job's finished_at once the deployment has finished; production = the
    environment's tier `production`. -#}

with

deployments as (

    select * from {{ ref('stg_gitlab__deployments') }}

),

projects as (

    select * from {{ ref('stg_gitlab__projects') }}

),

environments as (

    select * from {{ ref('stg_gitlab__environments') }}

),

gitlab_deployments as (

    select
        deployments.*,
        projects.project_slug,
        environments.tier,
        case
            when deployments.provider_status = 'success' then 'success'
            when deployments.provider_status = 'failed' then 'failed'
            when deployments.provider_status in ('canceled', 'skipped') then 'cancelled'
            when deployments.provider_status in ('running', 'created', 'blocked') then 'in_progress'
        end as state,
        coalesce(deployments.job_started_at, deployments.created_at) as effective_started_at,
        case
            when deployments.provider_status in ('success', 'failed', 'canceled', 'skipped')
                then deployments.job_finished_at
        end as effective_completed_at

    from deployments
    left join projects
        on deployments.project_id = projects.project_id
    -- By id; by project and name when the deployment body had no environment id.
    left join environments
        on coalesce(
            deployments.environment_id = environments.environment_id,
            deployments.project_id = environments.project_id
            and deployments.environment_name = environments.environment_name
        )

),

final as (

    select
        cast('gitlab' as {{ dbt.type_string() }}) as provider,
        cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(project_slug as {{ dbt.type_string() }}) as project,
        cast(project_id as {{ dbt.type_string() }}) as project_id,
        cast(environment_name as {{ dbt.type_string() }}) as environment,
        cast(environment_id as {{ dbt.type_string() }}) as environment_id,
        cast('' as {{ dbt.type_string() }}) as tenant,
        cast('' as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_string() }}) as release_id,
        cast(commit_sha as {{ dbt.type_string() }}) as release_version,
        cast(commit_sha as {{ dbt.type_string() }}) as commit_sha,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(created_at as {{ dbt.type_timestamp() }}) as queued_at,
        cast(effective_started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(effective_completed_at as {{ dbt.type_timestamp() }}) as completed_at,
        cast(state as {{ dbt.type_string() }}) as state,
        cast(provider_status as {{ dbt.type_string() }}) as provider_state,
        false as had_guided_failure,
        false as is_do_not_promote,
        coalesce(tier = 'production', false) as is_production,
        {{ seconds_between('created_at', 'effective_started_at') }} as queue_seconds,
        case
            when effective_completed_at is not null
                then {{ seconds_between('effective_started_at', 'effective_completed_at') }}
        end as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as error_message,
        cast(null as {{ dbt.type_timestamp() }}) as release_created_at

    from gitlab_deployments

)

select * from final
