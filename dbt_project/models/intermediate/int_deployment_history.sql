{#- Every deployment placed in its scope's history (metrics.md §4): the scope is (provider,
    project, environment, tenant) — provider too, because deployment ids are unique only within
    a provider and a repository can reach us both from a deployment API and from CI. Completed
    deployments are numbered 1..n in the scope by completed_at, ties broken by deployment_id;
    in-progress ones (no completed_at) get no number and no measures.

    For each successful deployment D: the previous successful deployment P of the scope (with its
    completion time, release and commit), and, when failures came after P, the failure streak D
    ends: its first failure F, and how many deployments of the scope completed after F up to
    and including D, whatever their state. Both marts of the deployment layer read this. -#}

with

deployments as (

    select * from {{ ref('int_deployments') }}

),

sequenced as (

    select
        provider,
        deployment_id,
        project,
        environment,
        tenant,
        completed_at,
        release_id,
        release_version,
        release_created_at,
        commit_sha,
        is_successful,
        is_failure,
        row_number() over (
            partition by provider, project, environment, tenant
            order by completed_at, deployment_id
        ) as scope_sequence

    from deployments
    where completed_at is not null

),

streaks as (

    -- Streak number = successful deployments of the scope before this one: a success and the
    -- deployments since the success before it share a number.
    select
        *,
        coalesce(
            sum(case when is_successful then 1 else 0 end) over (
                partition by provider, project, environment, tenant
                order by scope_sequence
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as streak_number

    from sequenced

),

first_failures as (

    select
        provider,
        project,
        environment,
        tenant,
        streak_number,
        min(case when is_failure then scope_sequence end) as first_failure_sequence

    from streaks
    group by provider, project, environment, tenant, streak_number

),

successes as (

    select
        provider,
        deployment_id,
        lag(deployment_id) over (
            partition by provider, project, environment, tenant
            order by scope_sequence
        ) as previous_successful_deployment_id,
        lag(completed_at) over (
            partition by provider, project, environment, tenant
            order by scope_sequence
        ) as previous_successful_completed_at,
        lag(release_id) over (
            partition by provider, project, environment, tenant
            order by scope_sequence
        ) as previous_successful_release_id,
        lag(release_created_at) over (
            partition by provider, project, environment, tenant
            order by scope_sequence
        ) as previous_successful_release_created_at,
        lag(commit_sha) over (
            partition by provider, project, environment, tenant
            order by scope_sequence
        ) as previous_successful_commit_sha

    from sequenced
    where is_successful

),

recoveries as (

    select
        streaks.provider,
        streaks.deployment_id,
        failures.deployment_id as recovery_from_deployment_id,
        failures.release_version as recovery_from_version,
        failures.completed_at as recovery_from_completed_at,
        streaks.scope_sequence - failures.scope_sequence as deployments_until_recovery

    from streaks
    inner join first_failures
        on streaks.provider = first_failures.provider
        and streaks.project = first_failures.project
        and streaks.environment = first_failures.environment
        and streaks.tenant = first_failures.tenant
        and streaks.streak_number = first_failures.streak_number
    inner join sequenced as failures
        on first_failures.provider = failures.provider
        and first_failures.project = failures.project
        and first_failures.environment = failures.environment
        and first_failures.tenant = failures.tenant
        and first_failures.first_failure_sequence = failures.scope_sequence
    where streaks.is_successful

),

final as (

    select
        deployments.*,
        sequenced.scope_sequence,
        successes.previous_successful_deployment_id,
        successes.previous_successful_completed_at,
        successes.previous_successful_release_id,
        successes.previous_successful_release_created_at,
        successes.previous_successful_commit_sha,
        recoveries.recovery_from_deployment_id,
        recoveries.recovery_from_version,
        recoveries.recovery_from_completed_at,
        cast(recoveries.deployments_until_recovery as {{ dbt.type_bigint() }}) as deployments_until_recovery

    from deployments
    left join sequenced
        on deployments.provider = sequenced.provider
        and deployments.deployment_id = sequenced.deployment_id
    left join successes
        on deployments.provider = successes.provider
        and deployments.deployment_id = successes.deployment_id
    left join recoveries
        on deployments.provider = recoveries.provider
        and deployments.deployment_id = recoveries.deployment_id

)

select * from final
