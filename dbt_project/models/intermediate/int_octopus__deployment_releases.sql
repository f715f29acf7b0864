{#- The releases each successful Octopus deployment D delivers (metrics.md §4): the releases of
    its project created after the release of the previous successful deployment P of the same
    scope and not after D's own release (by release creation time) — releases that were never
    deployed to this scope roll into the next successful deployment. Without a P: D's own
    release only (has_previous_successful = false). Redeploying P's release, or deploying an
    older one, delivers nothing. The release-based lead time starts at the earliest of these;
    the commit-based change lead time attributes their build-information commits (only when
    there is a P: the first deployment of a scope attributes no commits). -#}

with

history as (

    select * from {{ ref('int_deployment_history') }}
    where provider = 'octopus'
        and is_successful

),

releases as (

    select * from {{ ref('stg_octopus__releases') }}

),

final as (

    select
        history.provider,
        history.deployment_id,
        releases.release_id,
        releases.release_version,
        releases.created_at as release_created_at,
        releases.release_id = history.release_id as is_deployed_release,
        history.previous_successful_deployment_id is not null as has_previous_successful

    from history
    inner join releases
        on history.project_id = releases.project_id
        and releases.created_at <= history.release_created_at
        and (
            (
                history.previous_successful_deployment_id is null
                and releases.release_id = history.release_id
            )
            or (
                history.previous_successful_deployment_id is not null
                and releases.created_at > history.previous_successful_release_created_at
            )
        )

)

select * from final
