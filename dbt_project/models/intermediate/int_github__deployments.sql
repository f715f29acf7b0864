{#- GitHub deployments in the canonical deployment shape (one row per deployment). The outcome
    is the latest terminal status (metrics.md §4, §5): success → success, failure/error →
    failed; `inactive` after a success keeps the success, and a deployment whose only terminal
    status is `inactive` is a success; otherwise (queued, pending, in_progress, no status yet)
    in_progress. completed_at = that status's created_at, never the deployment's updated_at
    (which moves when the deployment goes inactive). started_at = the first in_progress status,
    else created_at; queue = started − created. -#}

with

deployments as (

    select * from {{ ref('stg_github__deployments') }}

),

statuses as (

    select * from {{ ref('stg_github__deployment_statuses') }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

ranked_statuses as (

    select
        deployment_id,
        state,
        description,
        created_at,
        case
            when state in ('success', 'failure', 'error') then 'outcome'
            when state = 'inactive' then 'inactive'
            else 'progress'
        end as kind,
        -- Latest first in the API's order (newest first): status ids grow with every status
        -- (an `inactive` mark can carry an earlier created_at than the success it follows).
        row_number() over (
            partition by deployment_id
            order by cast(status_id as {{ dbt.type_bigint() }}) desc, created_at desc
        ) as recency

    from statuses

),

latest_by_kind as (

    select
        *,
        row_number() over (partition by deployment_id, kind order by recency) as kind_recency

    from ranked_statuses

),

status_summary as (

    select
        deployment_id,
        max(case when recency = 1 then state end) as provider_state,
        max(case when kind = 'outcome' and kind_recency = 1 then state end) as outcome_state,
        max(case when kind = 'outcome' and kind_recency = 1 then created_at end) as outcome_at,
        max(case when kind = 'outcome' and kind_recency = 1 then description end) as outcome_description,
        max(case when kind = 'inactive' and kind_recency = 1 then created_at end) as inactive_at,
        min(case when state = 'in_progress' then created_at end) as first_in_progress_at

    from latest_by_kind
    group by deployment_id

),

outcomes as (

    select
        deployments.*,
        status_summary.provider_state,
        status_summary.outcome_description,
        case
            when status_summary.outcome_state = 'success' then 'success'
            when status_summary.outcome_state in ('failure', 'error') then 'failed'
            when status_summary.inactive_at is not null then 'success'
            else 'in_progress'
        end as state,
        coalesce(status_summary.outcome_at, status_summary.inactive_at) as completed_at,
        coalesce(status_summary.first_in_progress_at, deployments.created_at) as started_at

    from deployments
    left join status_summary
        on deployments.deployment_id = status_summary.deployment_id

),

final as (

    select
        cast('github' as {{ dbt.type_string() }}) as provider,
        cast(outcomes.deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(outcomes.project_slug as {{ dbt.type_string() }}) as project,
        cast(repositories.repository_id as {{ dbt.type_string() }}) as project_id,
        cast(outcomes.environment as {{ dbt.type_string() }}) as environment,
        cast(outcomes.environment_id as {{ dbt.type_string() }}) as environment_id,
        cast('' as {{ dbt.type_string() }}) as tenant,
        cast('' as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_string() }}) as release_id,
        -- No releases on GitHub: the "release" is the deployed commit (metrics.md §4).
        cast(outcomes.commit_sha as {{ dbt.type_string() }}) as release_version,
        cast(outcomes.commit_sha as {{ dbt.type_string() }}) as commit_sha,
        cast(outcomes.created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(outcomes.created_at as {{ dbt.type_timestamp() }}) as queued_at,
        cast(outcomes.started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(case when outcomes.state <> 'in_progress' then outcomes.completed_at end as {{ dbt.type_timestamp() }}) as completed_at,
        cast(outcomes.state as {{ dbt.type_string() }}) as state,
        cast(outcomes.provider_state as {{ dbt.type_string() }}) as provider_state,
        false as had_guided_failure,
        false as is_do_not_promote,
        cast(outcomes.is_production as boolean) as is_production,
        {{ seconds_between('outcomes.created_at', 'outcomes.started_at') }} as queue_seconds,
        case
            when outcomes.state <> 'in_progress' then {{ seconds_between('outcomes.started_at', 'outcomes.completed_at') }}
        end as duration_seconds,
        cast(
            case when outcomes.state = 'failed' then nullif(trim(outcomes.outcome_description), '') end
            as {{ dbt.type_string() }}
        ) as error_message,
        cast(null as {{ dbt.type_timestamp() }}) as release_created_at

    from outcomes
    left join repositories
        on lower(outcomes.project_slug) = lower(repositories.project_slug)

)

select * from final
