with

source as (

    select * from {{ source_or_empty('octopus', 'releases') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as release_id,
        cast(space_id as {{ dbt.type_string() }}) as space_id,
        cast(project_id as {{ dbt.type_string() }}) as project_id,
        cast(channel_id as {{ dbt.type_string() }}) as channel_id,

        ---------- strings
        cast(version as {{ dbt.type_string() }}) as release_version,

        ---------- timestamps
        -- `Assembled` is the release's creation time.
        cast(assembled as {{ dbt.type_timestamp() }}) as created_at

    from source

)

select * from renamed
