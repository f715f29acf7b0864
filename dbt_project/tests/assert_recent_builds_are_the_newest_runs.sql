-- A failing row is a recent build older than a run of the same (provider, project, workflow,
-- branch) that is missing from the mart: the 50 kept must be the newest ones.

with

recent as (

    select * from {{ ref('ci_recent_builds') }}

),

oldest_kept as (

    select provider, project_slug, workflow_name, branch, min(created_at) as oldest_created_at
    from recent
    group by 1, 2, 3, 4

),

runs as (

    select * from {{ ref('fct_ci_workflow_runs') }}
    where created_at < {{ report_end_timestamp() }}

)

select runs.provider, runs.project_slug, runs.workflow_name, runs.branch, runs.run_id
from runs
inner join oldest_kept
    on runs.provider = oldest_kept.provider
    and runs.project_slug = oldest_kept.project_slug
    and runs.workflow_name = oldest_kept.workflow_name
    and runs.branch = oldest_kept.branch
left join recent
    on runs.provider = recent.provider
    and runs.project_slug = recent.project_slug
    and runs.run_id = recent.run_id
    and runs.run_attempt = recent.run_attempt
where runs.created_at > oldest_kept.oldest_created_at
    and recent.run_id is null
