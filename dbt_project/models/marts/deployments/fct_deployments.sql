{#- INTERFACE STUB (to be replaced): one row per deployment with the Octopus CSV-export measures
    of metrics.md §4. Columns and types are final (see _deployments__models.yml). -#}

with

deployments as (

    select * from {{ ref('int_deployments') }}

)

select
    provider,
    deployment_id,
    project,
    is_production,
    release_version,
    channel,
    environment,
    tenant,
    commit_sha,
    created_at,
    started_at,
    completed_at,
    state,
    had_guided_failure,
    is_do_not_promote,
    is_failure,
    is_successful,
    cast(null as {{ type_double() }}) as lead_time_seconds,
    cast(null as {{ dbt.type_string() }}) as lead_time_calculated_from,
    cast(null as {{ type_double() }}) as since_previous_successful_seconds,
    cast(null as {{ dbt.type_string() }}) as previous_successful_deployment_id,
    cast(null as {{ type_double() }}) as time_to_recovery_seconds,
    cast(null as {{ dbt.type_bigint() }}) as deployments_until_recovery,
    cast(null as {{ dbt.type_string() }}) as recovery_from_deployment_id,
    cast(null as {{ dbt.type_string() }}) as recovery_from_version,
    cast(queue_seconds as {{ type_double() }}) as queue_seconds,
    cast(duration_seconds as {{ type_double() }}) as duration_seconds

from deployments
