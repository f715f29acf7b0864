{#- INTERFACE STUB (to be replaced): one row per commit a successful deployment brought, with
    its change lead time (metrics.md §4). Columns and types are final. -#}

with

commits as (

    select * from {{ ref('int_deployment_commits') }}

),

deployments as (

    select * from {{ ref('int_deployments') }}

)

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
    cast(null as {{ type_double() }}) as change_lead_time_seconds

from commits
inner join deployments
    on commits.provider = deployments.provider
    and commits.deployment_id = deployments.deployment_id
where false
