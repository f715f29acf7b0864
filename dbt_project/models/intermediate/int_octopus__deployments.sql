{#- One row per Octopus deployment in the provider-neutral deployment shape (metrics.md §4–§5).
    A deployment has no status: its task's State gives the canonical state and its
    Queue/Start/CompletedTime the times. had_guided_failure: a GuidedFailure interruption was
    raised on the deployment (or its task), whatever the answer. is_do_not_promote: the release
    has an Unresolved defect *now* (as of the last load, which re-reads the defects of the last
    365 days): "while a release has an Unresolved defect, every deployment of it is a failure",
    so resolving the defect clears the flag for all its deployments, earlier ones included.
    is_production: the environment name matches var('production_environment_pattern'). -#}

with

deployments as (

    select * from {{ ref('stg_octopus__deployments') }}

),

tasks as (

    select * from {{ ref('stg_octopus__tasks') }}

),

projects as (

    select * from {{ ref('stg_octopus__projects') }}

),

environments as (

    select * from {{ ref('stg_octopus__environments') }}

),

tenants as (

    select * from {{ ref('stg_octopus__tenants') }}

),

channels as (

    select * from {{ ref('stg_octopus__channels') }}

),

releases as (

    select * from {{ ref('stg_octopus__releases') }}

),

guided_failures as (

    select distinct deployments.deployment_id

    from deployments
    inner join {{ ref('stg_octopus__interruptions') }} as interruptions
        on interruptions.deployment_id = deployments.deployment_id
        or interruptions.task_id = deployments.task_id
    where interruptions.interruption_type = 'GuidedFailure'

),

do_not_promote as (

    select distinct release_id

    from {{ ref('stg_octopus__defects') }}
    where is_unresolved

),

joined as (

    select
        cast('octopus' as {{ dbt.type_string() }}) as provider,
        deployments.deployment_id,
        projects.project_name as project,
        deployments.project_id,
        environments.environment_name as environment,
        deployments.environment_id,
        -- '' when untenanted (metrics.md §4); the id if the tenant itself is not loaded.
        cast(
            case
                when deployments.tenant_id is null then ''
                else coalesce(tenants.tenant_name, deployments.tenant_id)
            end as {{ dbt.type_string() }}
        ) as tenant,
        channels.channel_name as channel,
        deployments.release_id,
        releases.release_version,
        cast(null as {{ dbt.type_string() }}) as commit_sha,
        deployments.created_at,
        tasks.queued_at,
        tasks.started_at,
        tasks.completed_at,
        {{ octopus_deployment_state('tasks.provider_state') }} as state,
        tasks.provider_state,
        guided_failures.deployment_id is not null as had_guided_failure,
        do_not_promote.release_id is not null as is_do_not_promote,
        coalesce(
            {{ octopus_regex_matches(
                'environments.environment_name',
                "'" ~ var('production_environment_pattern', '(?i)prod') ~ "'"
            ) }},
            false
        ) as is_production,
        tasks.error_message,
        releases.created_at as release_created_at

    from deployments
    left join tasks
        on deployments.task_id = tasks.task_id
    left join projects
        on deployments.project_id = projects.project_id
    left join environments
        on deployments.environment_id = environments.environment_id
    left join tenants
        on deployments.tenant_id = tenants.tenant_id
    left join channels
        on deployments.channel_id = channels.channel_id
    left join releases
        on deployments.release_id = releases.release_id
    left join guided_failures
        on deployments.deployment_id = guided_failures.deployment_id
    left join do_not_promote
        on deployments.release_id = do_not_promote.release_id

),

final as (

    select
        provider,
        deployment_id,
        project,
        project_id,
        environment,
        environment_id,
        tenant,
        channel,
        release_id,
        release_version,
        commit_sha,
        created_at,
        queued_at,
        started_at,
        completed_at,
        state,
        provider_state,
        had_guided_failure,
        is_do_not_promote,
        is_production,
        case
            when queued_at is not null and started_at is not null
                then {{ seconds_between('queued_at', 'started_at') }}
        end as queue_seconds,
        case
            when started_at is not null and completed_at is not null
                then {{ seconds_between('started_at', 'completed_at') }}
        end as duration_seconds,
        error_message,
        release_created_at

    from joined

)

select * from final
