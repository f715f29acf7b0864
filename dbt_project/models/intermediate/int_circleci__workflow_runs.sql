{#- CircleCI workflows in the shape of fct_ci_workflow_runs (one row per run attempt).
    CircleCI has no run attempts: a rerun is a new workflow in the same pipeline, so the
    attempt number is the run's rank by created_at among its pipeline's workflows of that name. -#}

with

circleci_workflows as (

    select * from {{ ref('stg_circleci__workflows') }}

),

circleci_pipelines as (

    select * from {{ ref('stg_circleci__pipelines') }}

),

circleci_projects as (

    select * from {{ ref('stg_circleci__projects') }}

),

circleci_insights_runs as (

    select * from {{ ref('stg_circleci__insights_workflow_runs') }}

),

circleci_job_runs as (

    select * from {{ ref('int_circleci__job_runs') }}

),

-- A run's queue time is its first job's: the one queued first among those with a queue time.
circleci_first_job_queues as (

    select
        workflow_id,
        queued_seconds,
        row_number() over (partition by workflow_id order by queued_at, job_id) as queue_order

    from circleci_job_runs
    where queued_seconds is not null

),

circleci_runs as (

    select
        cast('circleci' as {{ dbt.type_string() }}) as provider,
        circleci_workflows.project_slug,
        circleci_workflows.workflow_id as run_id,
        cast(row_number() over (
            partition by circleci_workflows.pipeline_id, circleci_workflows.workflow_name
            order by circleci_workflows.created_at, circleci_workflows.workflow_id
        ) as {{ dbt.type_bigint() }}) as run_attempt,
        circleci_workflows.workflow_name,
        circleci_pipelines.branch,
        coalesce(circleci_pipelines.branch = circleci_projects.default_branch, false) as is_default_branch,
        circleci_pipelines.commit_sha,
        circleci_pipelines.trigger,
        circleci_workflows.status,
        circleci_workflows.provider_status,
        circleci_workflows.pipeline_id,
        circleci_workflows.pipeline_number,
        circleci_workflows.created_at,
        -- CircleCI workflows have no start time of their own (metrics.md §5).
        circleci_workflows.created_at as started_at,
        circleci_workflows.stopped_at,
        circleci_first_job_queues.queued_seconds,
        circleci_insights_runs.credits_used

    from circleci_workflows
    left join circleci_pipelines
        on circleci_workflows.pipeline_id = circleci_pipelines.pipeline_id
    left join circleci_projects
        on circleci_workflows.project_slug = circleci_projects.project_slug
    left join circleci_insights_runs
        on circleci_workflows.workflow_id = circleci_insights_runs.workflow_id
    left join circleci_first_job_queues
        on circleci_workflows.workflow_id = circleci_first_job_queues.workflow_id
        and circleci_first_job_queues.queue_order = 1

),

final as (

    select
        provider,
        project_slug,
        run_id,
        run_attempt,
        workflow_name,
        branch,
        is_default_branch,
        commit_sha,
        trigger,
        status,
        provider_status,
        pipeline_id,
        pipeline_number,
        created_at,
        started_at,
        stopped_at,
        case
            when stopped_at is not null then {{ seconds_between('started_at', 'stopped_at') }}
        end as duration_seconds,
        cast(queued_seconds as {{ type_double() }}) as queued_seconds,
        -- Credits come from CircleCI's insights feed (finished runs of the last 90 days).
        cast(credits_used as {{ type_double() }}) as credits_used,
        run_attempt = 1 as is_first_attempt

    from circleci_runs

)

select * from final
