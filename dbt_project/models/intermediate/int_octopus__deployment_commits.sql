{#- The commits a successful Octopus deployment brought: the build-information commits of every
    release it delivers (int_octopus__deployment_releases: the releases after the previous
    successful deployment's release up to its own), so the commit-based change lead time covers
    the same releases as the release-based lead time. The first successful deployment of a scope
    attributes none (its history is unknown), nor does a redeploy of the previous release; a
    failed deployment has none (its releases roll into the next success). Metrics.md §5: "Octopus
    uses the release's build information commits when present, else none". A commit listed by
    two of the releases counts once, for the older release. Octopus's build information carries
    no commit time, so authored_at is NULL. -#}

with

delivered_releases as (

    select * from {{ ref('int_octopus__deployment_releases') }}
    where has_previous_successful

),

release_commits as (

    select * from {{ ref('stg_octopus__release_commits') }}

),

joined as (

    select
        cast('octopus' as {{ dbt.type_string() }}) as provider,
        delivered_releases.deployment_id,
        release_commits.commit_sha,
        delivered_releases.release_id,
        release_commits.project_id,
        release_commits.commit_position,
        release_commits.commit_url,
        release_commits.commit_message,
        cast(null as {{ dbt.type_timestamp() }}) as authored_at,
        row_number() over (
            partition by delivered_releases.deployment_id, release_commits.commit_sha
            order by delivered_releases.release_created_at, delivered_releases.release_id
        ) as occurrence

    from delivered_releases
    inner join release_commits
        on delivered_releases.release_id = release_commits.release_id

),

final as (

    select
        provider,
        deployment_id,
        commit_sha,
        release_id,
        project_id,
        commit_position,
        commit_url,
        commit_message,
        authored_at

    from joined
    where occurrence = 1

)

select * from final
