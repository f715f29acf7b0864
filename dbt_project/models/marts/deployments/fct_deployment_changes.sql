{#- One row per commit a successful deployment brought, with its commit-based change lead time
    (metrics.md §4): deployed_at (the deployment's completed_at) minus the commit's authored_at,
    never negative, NULL when the source gives no authored time (Octopus build information).
    Commits come from int_deployment_commits: GitHub and GitLab compare the previous successful
    deployment's commit with this one; Octopus attributes the build-information commits of every
    release the deployment delivers (after the previous successful deployment's release, up to
    its own), the same releases its release-based lead time covers. Only successful deployments
    with a previous successful deployment in their scope attribute commits: the first one of a
    scope attributes none (its history is unknown). -#}

with

commits as (

    select * from {{ ref('int_deployment_commits') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}
    where is_successful
        and previous_successful_deployment_id is not null

),

joined as (

    select
        commits.provider,
        commits.deployment_id,
        commits.commit_sha,
        deployments.project,
        deployments.environment,
        deployments.tenant,
        deployments.channel,
        deployments.is_production,
        commits.authored_at,
        deployments.completed_at as deployed_at,
        {{ seconds_between('commits.authored_at', 'deployments.completed_at') }} as raw_lead_time_seconds

    from commits
    inner join deployments
        on commits.provider = deployments.provider
        and commits.deployment_id = deployments.deployment_id

),

final as (

    select
        cast(provider as {{ dbt.type_string() }}) as provider,
        cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(commit_sha as {{ dbt.type_string() }}) as commit_sha,
        cast(project as {{ dbt.type_string() }}) as project,
        cast(environment as {{ dbt.type_string() }}) as environment,
        cast(tenant as {{ dbt.type_string() }}) as tenant,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(is_production as {{ dbt.type_boolean() }}) as is_production,
        cast(authored_at as {{ dbt.type_timestamp() }}) as authored_at,
        cast(deployed_at as {{ dbt.type_timestamp() }}) as deployed_at,
        cast(
            case
                when raw_lead_time_seconds is null then null
                when raw_lead_time_seconds < 0 then 0
                else raw_lead_time_seconds
            end as {{ type_double() }}
        ) as change_lead_time_seconds

    from joined

)

select * from final
