{#- One row per CI workflow run attempt, every provider in one shape. Each provider's
    intermediate model (int_<provider>__workflow_runs) maps its API onto these columns; this
    model only stacks them. Incremental: a daily run merges the runs created within the lookback
    (macro ci_fact_lookback) on the grain instead of rebuilding history. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['provider', 'project_slug', 'run_id', 'run_attempt'],
        on_schema_change='fail'
    )
}}

{%- set columns = ['provider', 'project_slug', 'run_id', 'run_attempt', 'workflow_name', 'branch',
                   'is_default_branch', 'commit_sha', 'trigger', 'status', 'provider_status',
                   'pipeline_id', 'pipeline_number', 'created_at', 'started_at', 'stopped_at',
                   'duration_seconds', 'queued_seconds', 'credits_used', 'is_first_attempt'] -%}

with

circleci_runs as (

    select {{ columns | join(', ') }} from {{ ref('int_circleci__workflow_runs') }}

),

gitlab_runs as (

    select {{ columns | join(', ') }} from {{ ref('int_gitlab__workflow_runs') }}

),

github_runs as (

    select {{ columns | join(', ') }} from {{ ref('int_github__workflow_runs') }}

),

unioned as (

    select * from circleci_runs
    union all
    select * from github_runs
    union all
    select * from gitlab_runs

),

final as (

    {{ ci_fact_lookback('unioned', 'created_at') }}

)

select {{ contract_columns('final') }}

from final
