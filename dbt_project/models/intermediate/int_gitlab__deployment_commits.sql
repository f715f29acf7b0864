{#- The commits each successful GitLab deployment brought (metrics.md §5): the compare of the
    previous successful deployment's sha in the same project and environment with its own. The
    first successful deployment of a scope has none. Ids are text, times UTC timestamps. -#}

with

deployment_commits as (

    select * from {{ ref('stg_gitlab__deployment_commits') }}

),

projects as (

    select * from {{ ref('stg_gitlab__projects') }}

),

final as (

    select
        cast(deployment_commits.deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(deployment_commits.commit_sha as {{ dbt.type_string() }}) as commit_sha,
        cast(deployment_commits.authored_at as {{ dbt.type_timestamp() }}) as authored_at,
        cast(deployment_commits.committed_at as {{ dbt.type_timestamp() }}) as committed_at,
        cast(projects.project_slug as {{ dbt.type_string() }}) as project,
        cast(deployment_commits.environment_name as {{ dbt.type_string() }}) as environment

    from deployment_commits
    left join projects
        on deployment_commits.project_id = projects.project_id

)

select * from final
