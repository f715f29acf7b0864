{#- GitLab pipelines in the shape of fct_ci_workflow_runs (the columns of
    int_circleci__workflow_runs, same names, order and types). GitLab has one attempt per
    pipeline (a retried job stays inside it), so run_attempt is 1; the run id is the pipeline
    id as decimal text. Times come from the single-pipeline endpoint (metrics.md §5); the run's
    queue time is its first job's started_at − created_at (metrics.md §2). -#}

with

pipelines as (

    select * from {{ ref('stg_gitlab__pipelines') }}

),

projects as (

    select * from {{ ref('stg_gitlab__projects') }}

),

jobs as (

    select * from {{ ref('stg_gitlab__jobs') }}

),

-- The run's first job: created first, then started first, among jobs that started.
first_job_queues as (

    select
        pipeline_id,
        {{ seconds_between('created_at', 'started_at') }} as queued_seconds,
        row_number() over (
            partition by pipeline_id order by created_at, started_at, job_id
        ) as queue_order

    from jobs
    where started_at is not null and created_at is not null

),

gitlab_runs as (

    select
        cast('gitlab' as {{ dbt.type_string() }}) as provider,
        projects.project_slug,
        cast(pipelines.pipeline_id as {{ dbt.type_string() }}) as run_id,
        cast(1 as {{ dbt.type_bigint() }}) as run_attempt,
        cast(coalesce(pipelines.pipeline_name, 'pipeline') as {{ dbt.type_string() }}) as workflow_name,
        -- A tag pipeline has no branch: branch '' and trigger 'tag' (metrics.md §5).
        case when pipelines.is_tag then '' else pipelines.ref end as branch,
        coalesce(not pipelines.is_tag and pipelines.ref = projects.default_branch, false) as is_default_branch,
        pipelines.commit_sha,
        case when pipelines.is_tag then 'tag' else pipelines.pipeline_source end as trigger,
        {{ gitlab_pipeline_status('pipelines.provider_status') }} as status,
        pipelines.provider_status,
        cast(pipelines.pipeline_id as {{ dbt.type_string() }}) as pipeline_id,
        pipelines.pipeline_number,
        pipelines.created_at,
        pipelines.started_at,
        pipelines.finished_at as stopped_at,
        first_job_queues.queued_seconds

    from pipelines
    left join projects
        on pipelines.project_id = projects.project_id
    left join first_job_queues
        on pipelines.pipeline_id = first_job_queues.pipeline_id
        and first_job_queues.queue_order = 1

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
            when started_at is not null and stopped_at is not null
                then {{ seconds_between('started_at', 'stopped_at') }}
        end as duration_seconds,
        cast(queued_seconds as {{ type_double() }}) as queued_seconds,
        -- Credits are CircleCI's; GitLab has none (metrics.md §2).
        cast(null as {{ type_double() }}) as credits_used,
        run_attempt = 1 as is_first_attempt

    from gitlab_runs

)

select * from final
