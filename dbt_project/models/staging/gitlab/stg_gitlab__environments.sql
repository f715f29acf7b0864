with

source as (

    select * from {{ source_or_empty('gitlab', 'environments') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_bigint() }}) as environment_id,
        cast(project_id as {{ dbt.type_bigint() }}) as project_id,

        ---------- strings
        name as environment_name,
        tier,
        state as environment_state,

        ---------- booleans
        -- Production is the environment tier `production` (metrics.md §5).
        coalesce(tier = 'production', false) as is_production,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
