{#- One row per CI job, every provider in one shape: every job the API lists, approval jobs and
    jobs that never ran included, with the attributes of the run it belongs to. Job-level
    windows use the run's created_at, so a run and its jobs fall in the same window.
    Incremental: a daily run merges the jobs of runs created within the lookback (macro
    ci_fact_lookback) on the grain. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['provider', 'project_slug', 'job_id'],
        on_schema_change='fail'
    )
}}

{%- set columns = ['provider', 'project_slug', 'job_id', 'run_id', 'run_attempt', 'workflow_name',
                   'job_name', 'branch', 'status', 'provider_status', 'job_number', 'job_type',
                   'executor', 'resource_class', 'parallelism', 'queued_at', 'started_at',
                   'stopped_at', 'queued_seconds', 'duration_seconds', 'credits_used',
                   'run_created_at', 'is_first_attempt'] -%}

with

circleci_job_runs as (

    select * from {{ ref('int_circleci__job_runs') }}

),

circleci_runs as (

    select * from {{ ref('int_circleci__workflow_runs') }}

),

circleci_jobs as (

    select
        circleci_runs.provider,
        circleci_job_runs.project_slug,
        circleci_job_runs.job_id,
        circleci_runs.run_id,
        circleci_runs.run_attempt,
        circleci_runs.workflow_name,
        circleci_job_runs.job_name,
        circleci_runs.branch,
        circleci_job_runs.status,
        circleci_job_runs.provider_status,
        circleci_job_runs.job_number,
        circleci_job_runs.job_type,
        circleci_job_runs.executor,
        circleci_job_runs.resource_class,
        circleci_job_runs.parallelism,
        circleci_job_runs.queued_at,
        circleci_job_runs.started_at,
        circleci_job_runs.stopped_at,
        cast(circleci_job_runs.queued_seconds as {{ type_double() }}) as queued_seconds,
        cast(circleci_job_runs.duration_seconds as {{ type_double() }}) as duration_seconds,
        -- CircleCI's per-job credits come from the insights job feed, not ingested yet.
        cast(null as {{ type_double() }}) as credits_used,
        circleci_runs.created_at as run_created_at,
        circleci_runs.is_first_attempt

    from circleci_job_runs
    inner join circleci_runs
        on circleci_job_runs.workflow_id = circleci_runs.run_id

),

gitlab_jobs as (

    select {{ columns | join(', ') }} from {{ ref('int_gitlab__job_runs') }}

),

github_jobs as (

    select {{ columns | join(', ') }} from {{ ref('int_github__job_runs') }}

),

unioned as (

    select {{ columns | join(', ') }} from circleci_jobs
    union all
    select * from github_jobs
    union all
    select * from gitlab_jobs

),

final as (

    {{ ci_fact_lookback('unioned', 'run_created_at') }}

)

select {{ contract_columns('final') }}

from final
