-- A failing row is a (provider, project, workflow, branch) whose daily series over the 7 days up
-- to the report date does not add up to its 7d summary: the two marts disagree about which runs
-- fall in the window, or how they are counted.

with

daily as (

    select
        provider,
        project_slug,
        workflow_name,
        branch,
        sum(total_runs) as total_runs,
        sum(successful_runs) as successful_runs,
        sum(failed_runs) as failed_runs

    from {{ ref('ci_workflow_daily') }}
    where day > {{ dbt.dateadd('day', -7, as_of_date()) }}
        and day <= {{ as_of_date() }}
    group by 1, 2, 3, 4

),

summary as (

    select provider, project_slug, workflow_name, branch, total_runs, successful_runs, failed_runs
    from {{ ref('ci_workflow_summary') }}
    where reporting_window = '7d'

)

select
    coalesce(daily.provider, summary.provider) as provider,
    coalesce(daily.project_slug, summary.project_slug) as project_slug,
    coalesce(daily.workflow_name, summary.workflow_name) as workflow_name,
    coalesce(daily.branch, summary.branch) as branch,
    daily.total_runs as daily_total_runs,
    summary.total_runs as summary_total_runs

from daily
full outer join summary
    on daily.provider = summary.provider
    and daily.project_slug = summary.project_slug
    and daily.workflow_name = summary.workflow_name
    and daily.branch = summary.branch
where coalesce(daily.total_runs, 0) <> coalesce(summary.total_runs, 0)
    or coalesce(daily.successful_runs, 0) <> coalesce(summary.successful_runs, 0)
    or coalesce(daily.failed_runs, 0) <> coalesce(summary.failed_runs, 0)
