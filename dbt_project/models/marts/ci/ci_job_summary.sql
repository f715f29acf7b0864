{#- The workflow summary one level down: per (workflow, job, branch or '*', window), the same
    counts, rates and statistics (no MTTR), placing each job by its run's created_at. -#}

{%- set job_columns = ['provider', 'project_slug', 'workflow_name', 'job_name', 'status', 'is_first_attempt',
                       'run_created_at', 'duration_seconds', 'queued_seconds', 'credits_used'] -%}

with

windows as (

    {{ ci_reporting_windows() }}

),

job_runs as (

    select * from {{ ref('fct_ci_job_runs') }}
    where run_created_at >= {{ ci_window_start(90) }}
        and run_created_at < {{ report_end_timestamp() }}

),

job_runs_by_branch_scope as (

    {{ branch_scopes('job_runs', job_columns) }}

),

job_runs_in_windows as (

    {{ ci_runs_in_windows('job_runs_by_branch_scope', 'run_created_at') }}

),

job_metrics as (

    {{ ci_window_metrics('job_runs_in_windows', ['provider', 'project_slug', 'workflow_name', 'job_name', 'branch']) }}

),

final as (

    select
        provider,
        project_slug,
        workflow_name,
        job_name,
        branch,
        {{ ci_window_metric_columns('job_metrics') }}

    from job_metrics

)

select * from final
