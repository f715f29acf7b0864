with

source as (

    select * from {{ source_or_empty('circleci', 'pipelines') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as pipeline_id,
        project_slug,
        vcs__revision as commit_sha,

        ---------- strings
        state as pipeline_state,
        -- A tag-triggered pipeline has a tag and no branch: branch '' and trigger 'tag' (metrics.md §5).
        coalesce(vcs__branch, '') as branch,
        vcs__tag as tag,
        case when vcs__tag is not null then 'tag' else trigger__type end as trigger,
        trigger__type as trigger_type,
        trigger__actor__login as actor_login,

        ---------- numerics
        cast(number as {{ dbt.type_bigint() }}) as pipeline_number,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
