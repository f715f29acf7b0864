{#- CircleCI workflow jobs with their details: the listing has every job (approvals and jobs that
    never ran included), the details add queue time, executor and parallelism for build jobs
    that finished. Queue time = started_at − queued_at of the details (metrics.md §2). -#}

with

jobs as (

    select * from {{ ref('stg_circleci__jobs') }}

),

job_details as (

    select * from {{ ref('stg_circleci__job_details') }}

),

joined as (

    select
        jobs.job_id,
        jobs.workflow_id,
        jobs.project_slug,
        jobs.job_number,
        jobs.job_name,
        jobs.job_type,
        jobs.status,
        jobs.provider_status,
        job_details.executor,
        job_details.resource_class,
        job_details.parallelism,
        job_details.queued_at,
        jobs.started_at,
        jobs.stopped_at,
        case
            when job_details.queued_at is not null and job_details.started_at is not null
                then {{ seconds_between('job_details.queued_at', 'job_details.started_at') }}
        end as queued_seconds,
        case
            when jobs.started_at is not null and jobs.stopped_at is not null
                then {{ seconds_between('jobs.started_at', 'jobs.stopped_at') }}
        end as duration_seconds

    from jobs
    left join job_details
        on jobs.job_id = job_details.job_id

)

select * from joined
