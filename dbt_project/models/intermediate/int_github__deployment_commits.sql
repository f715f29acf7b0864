{#- The commits each successful GitHub deployment brought (metrics.md §4–§5): the compare of the
    previous successful deployment's sha (same repository and environment, by completion) with
    its own, in every environment. The first deployment of a scope brings none. -#}

with

deployment_commits as (

    select * from {{ ref('stg_github__deployment_commits') }}

),

final as (

    select
        cast(deployment_id as {{ dbt.type_string() }}) as deployment_id,
        cast(commit_sha as {{ dbt.type_string() }}) as commit_sha,
        cast(authored_at as {{ dbt.type_timestamp() }}) as authored_at,
        cast(committed_at as {{ dbt.type_timestamp() }}) as committed_at,
        cast(project_slug as {{ dbt.type_string() }}) as project,
        cast(environment as {{ dbt.type_string() }}) as environment

    from deployment_commits

)

select * from final
