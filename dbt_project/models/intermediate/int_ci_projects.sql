{#- Every CI project with its default branch, as its provider's project endpoint reports it. -#}

with

circleci_projects as (

    select 'circleci' as provider, project_slug, default_branch from {{ ref('stg_circleci__projects') }}

),

github_repositories as (

    select 'github' as provider, project_slug, default_branch from {{ ref('stg_github__repositories') }}

),

gitlab_projects as (

    select 'gitlab' as provider, project_slug, default_branch from {{ ref('stg_gitlab__projects') }}

),

unioned as (

    select * from circleci_projects
    union all
    select * from github_repositories
    union all
    select * from gitlab_projects

)

select * from unioned
