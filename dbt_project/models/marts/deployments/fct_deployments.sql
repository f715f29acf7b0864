{#- One row per deployment with the measures of Octopus's DevOps Insights CSV export
    (metrics.md §4), for every provider. The scope history (previous successful deployment,
    failure streaks) comes from int_deployment_history; this model adds the lead time:
    - Octopus (release-based): from the creation of the earliest release this successful
      deployment delivers (int_octopus__deployment_releases), calculated_from = its version;
    - GitHub, GitLab and CI-derived deployments (the "release" is the commit): from the earliest
      authored commit among those it brought (int_deployment_commits), calculated_from = its sha;
      NULL when it brought none (the first deployment of a scope, a redeploy of the same commit).
    Only successful deployments carry previous-successful, lead-time and recovery measures. -#}

with

history as (

    select * from {{ ref('int_deployment_history') }}

),

release_starts as (

    select
        provider,
        deployment_id,
        release_created_at as lead_time_start,
        release_version as lead_time_calculated_from,
        row_number() over (
            partition by provider, deployment_id
            order by release_created_at, release_id
        ) as release_rank

    from {{ ref('int_octopus__deployment_releases') }}

),

commit_starts as (

    select
        commits.provider,
        commits.deployment_id,
        commits.authored_at as lead_time_start,
        commits.commit_sha as lead_time_calculated_from,
        row_number() over (
            partition by commits.provider, commits.deployment_id
            order by commits.authored_at, commits.commit_sha
        ) as commit_rank

    from {{ ref('int_deployment_commits') }} as commits
    inner join history
        on commits.provider = history.provider
        and commits.deployment_id = history.deployment_id
    where commits.provider <> 'octopus'
        and commits.authored_at is not null
        and history.is_successful
        and history.previous_successful_deployment_id is not null

),

lead_time_starts as (

    select provider, deployment_id, lead_time_start, lead_time_calculated_from
    from release_starts
    where release_rank = 1

    union all

    select provider, deployment_id, lead_time_start, lead_time_calculated_from
    from commit_starts
    where commit_rank = 1

),

final as (

    select
        history.provider,
        history.deployment_id,
        history.project,
        history.is_production,
        history.release_version,
        history.channel,
        history.environment,
        history.tenant,
        history.commit_sha,
        history.created_at,
        history.started_at,
        history.completed_at,
        history.state,
        history.had_guided_failure,
        history.is_do_not_promote,
        history.is_failure,
        history.is_successful,
        case
            when history.is_successful and lead_time_starts.lead_time_start is not null
                then {{ seconds_between('lead_time_starts.lead_time_start', 'history.completed_at') }}
        end as lead_time_seconds,
        case
            when history.is_successful then lead_time_starts.lead_time_calculated_from
        end as lead_time_calculated_from,
        case
            when history.previous_successful_completed_at is not null
                then {{ seconds_between('history.previous_successful_completed_at', 'history.completed_at') }}
        end as since_previous_successful_seconds,
        history.previous_successful_deployment_id,
        case
            when history.recovery_from_completed_at is not null
                then {{ seconds_between('history.recovery_from_completed_at', 'history.completed_at') }}
        end as time_to_recovery_seconds,
        history.deployments_until_recovery,
        history.recovery_from_deployment_id,
        history.recovery_from_version,
        history.queue_seconds,
        history.duration_seconds

    from history
    left join lead_time_starts
        on history.provider = lead_time_starts.provider
        and history.deployment_id = lead_time_starts.deployment_id

)

select
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
    cast(project as {{ dbt.type_string() }}) as project,
    cast(is_production as {{ dbt.type_boolean() }}) as is_production,
    cast(release_version as {{ dbt.type_string() }}) as release_version,
    cast(channel as {{ dbt.type_string() }}) as channel,
    cast(environment as {{ dbt.type_string() }}) as environment,
    cast(tenant as {{ dbt.type_string() }}) as tenant,
    cast(commit_sha as {{ dbt.type_string() }}) as commit_sha,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
    cast(completed_at as {{ dbt.type_timestamp() }}) as completed_at,
    cast(state as {{ dbt.type_string() }}) as state,
    cast(had_guided_failure as {{ dbt.type_boolean() }}) as had_guided_failure,
    cast(is_do_not_promote as {{ dbt.type_boolean() }}) as is_do_not_promote,
    cast(is_failure as {{ dbt.type_boolean() }}) as is_failure,
    cast(is_successful as {{ dbt.type_boolean() }}) as is_successful,
    cast(lead_time_seconds as {{ type_double() }}) as lead_time_seconds,
    cast(lead_time_calculated_from as {{ dbt.type_string() }}) as lead_time_calculated_from,
    cast(since_previous_successful_seconds as {{ type_double() }}) as since_previous_successful_seconds,
    cast(previous_successful_deployment_id as {{ dbt.type_string() }}) as previous_successful_deployment_id,
    cast(time_to_recovery_seconds as {{ type_double() }}) as time_to_recovery_seconds,
    cast(deployments_until_recovery as {{ dbt.type_bigint() }}) as deployments_until_recovery,
    cast(recovery_from_deployment_id as {{ dbt.type_string() }}) as recovery_from_deployment_id,
    cast(recovery_from_version as {{ dbt.type_string() }}) as recovery_from_version,
    cast(queue_seconds as {{ type_double() }}) as queue_seconds,
    cast(duration_seconds as {{ type_double() }}) as duration_seconds

from final
