{#- One row per CI project (CircleCI server's project overview): on the default branch over the
    90 days up to the report date, the median queue and build times, success rate, last build and
    median parallelism; and how many branches had runs in those 90 days (metrics.md §2). -#}

with

projects as (

    select * from {{ ref('int_ci_projects') }}

),

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}
    where created_at >= cast({{ dbt.dateadd('day', -89, as_of_date()) }} as {{ dbt.type_timestamp() }})
        and created_at < {{ report_end_timestamp() }}

),

jobs as (

    select * from {{ ref('fct_ci_job_runs') }}
    where run_created_at >= cast({{ dbt.dateadd('day', -89, as_of_date()) }} as {{ dbt.type_timestamp() }})
        and run_created_at < {{ report_end_timestamp() }}

),

default_branch_runs as (

    select runs.*
    from runs
    inner join projects
        on runs.provider = projects.provider
        and runs.project_slug = projects.project_slug
        and runs.branch = projects.default_branch

),

run_figures as (

    select
        provider,
        project_slug,
        count(*) as default_branch_runs,
        {{ median('queued_seconds') }} as median_queue_seconds,
        {{ median("case when status in ('success', 'failed') then duration_seconds end") }} as median_build_seconds,
        cast(sum(case when status = 'success' then 1 else 0 end) as {{ type_double() }})
            / nullif(sum(case when status in ('success', 'failed') then 1 else 0 end), 0) as success_rate,
        max(created_at) as last_build_at

    from default_branch_runs
    group by 1, 2

),

last_builds as (

    select
        provider,
        project_slug,
        status as last_build_status,
        row_number() over (
            partition by provider, project_slug order by created_at desc, run_id desc, run_attempt desc
        ) as recency

    from default_branch_runs

),

branch_counts as (

    select provider, project_slug, count(distinct branch) as branch_count
    from runs
    group by 1, 2

),

parallelism as (

    select
        jobs.provider,
        jobs.project_slug,
        {{ median('jobs.parallelism') }} as median_parallelism

    from jobs
    inner join projects
        on jobs.provider = projects.provider
        and jobs.project_slug = projects.project_slug
        and jobs.branch = projects.default_branch
    group by 1, 2

),

final as (

    select
        projects.provider,
        projects.project_slug,
        projects.default_branch,
        cast(run_figures.median_queue_seconds as {{ type_double() }}) as median_queue_seconds,
        cast(run_figures.median_build_seconds as {{ type_double() }}) as median_build_seconds,
        cast(coalesce(branch_counts.branch_count, 0) as {{ dbt.type_bigint() }}) as branch_count,
        run_figures.last_build_at,
        last_builds.last_build_status,
        cast(run_figures.success_rate as {{ type_double() }}) as success_rate,
        cast(parallelism.median_parallelism as {{ type_double() }}) as median_parallelism,
        cast(coalesce(run_figures.default_branch_runs, 0) as {{ dbt.type_bigint() }}) as default_branch_runs

    from projects
    left join run_figures
        on projects.provider = run_figures.provider and projects.project_slug = run_figures.project_slug
    left join last_builds
        on projects.provider = last_builds.provider and projects.project_slug = last_builds.project_slug
        and last_builds.recency = 1
    left join branch_counts
        on projects.provider = branch_counts.provider and projects.project_slug = branch_counts.project_slug
    left join parallelism
        on projects.provider = parallelism.provider and projects.project_slug = parallelism.project_slug

)

select * from final
