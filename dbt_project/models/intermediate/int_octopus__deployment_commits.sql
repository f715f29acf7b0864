{#- The commits an Octopus deployment brought: its release's build-information commits, one row
    per (deployment, commit) (metrics.md §5: "Octopus uses the release's build information
    commits when present, else none"). Octopus's build information carries no commit time, so
    authored_at is NULL here; the unified model can fill it from a VCS source's commits. -#}

with

deployments as (

    select * from {{ ref('stg_octopus__deployments') }}

),

release_commits as (

    select * from {{ ref('stg_octopus__release_commits') }}

),

final as (

    select
        cast('octopus' as {{ dbt.type_string() }}) as provider,
        deployments.deployment_id,
        release_commits.commit_sha,
        deployments.release_id,
        deployments.project_id,
        release_commits.commit_position,
        release_commits.commit_url,
        release_commits.commit_message,
        cast(null as {{ dbt.type_timestamp() }}) as authored_at

    from deployments
    inner join release_commits
        on deployments.release_id = release_commits.release_id

)

select * from final
