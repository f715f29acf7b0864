"""GitHub Actions and GitLab CI land in the unified CI facts with exact counts and statuses
(the same warehouse as test_pipeline_end_to_end, built from all sources at once)."""

from __future__ import annotations

from collections import Counter

from pipeline_support import BuiltWarehouse, query

# metrics.md §1, restated here on purpose (not imported from the dbt macros).
GITHUB_CANONICAL = {
    "success": "success",
    "failure": "failed",
    "timed_out": "failed",
    "startup_failure": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "neutral": "skipped",
    "stale": "skipped",
}
GITLAB_CANONICAL = {
    "success": "success",
    "failed": "failed",
    "canceled": "cancelled",
    "canceling": "cancelled",
    "skipped": "skipped",
    "manual": "skipped",
}


def github_status(run: dict) -> str:
    if run["status"] != "completed":
        return "in_progress"
    return GITHUB_CANONICAL.get(run["conclusion"], "in_progress")  # action_required waits


def facts(built_warehouse: BuiltWarehouse, table: str, provider: str) -> Counter:
    rows = query(
        built_warehouse.path,
        f"select project_slug, status, count(*) from marts.{table} where provider = '{provider}' group by 1, 2",
    )
    return Counter({(project, status): count for project, status, count in rows})


def test_every_github_run_attempt_lands_with_its_canonical_status(
    built_warehouse: BuiltWarehouse,
) -> None:
    github = built_warehouse.simulation.github
    expected = Counter((run["repository"], github_status(run)) for run in github.workflow_runs())
    assert facts(built_warehouse, "fct_ci_workflow_runs", "github") == expected
    assert sum(expected.values()) > 1000
    attempts = query(
        built_warehouse.path,
        "select max(run_attempt), count(*) filter (where not is_first_attempt) "
        "from marts.fct_ci_workflow_runs where provider = 'github'",
    )[0]
    assert attempts == (
        max(run["run_attempt"] for run in github.workflow_runs()),
        sum(1 for run in github.workflow_runs() if run["run_attempt"] > 1),
    )
    jobs = query(
        built_warehouse.path, "select count(*) from marts.fct_ci_job_runs where provider = 'github'"
    )
    assert jobs == [(sum(1 for _ in github.jobs()),)]


def test_every_gitlab_pipeline_lands_with_its_canonical_status(
    built_warehouse: BuiltWarehouse,
) -> None:
    gitlab = built_warehouse.simulation.gitlab
    expected = Counter(
        (pipeline["project_path"], GITLAB_CANONICAL.get(pipeline["status"], "in_progress"))
        for pipeline in gitlab.pipelines()
    )
    assert facts(built_warehouse, "fct_ci_workflow_runs", "gitlab") == expected
    assert sum(expected.values()) > 1000
    jobs = query(
        built_warehouse.path, "select count(*) from marts.fct_ci_job_runs where provider = 'gitlab'"
    )
    assert jobs == [(sum(1 for _ in gitlab.jobs()),)]  # retried jobs are rows of their own


def test_summaries_cover_every_provider(built_warehouse: BuiltWarehouse) -> None:
    rows = query(
        built_warehouse.path,
        "select provider, sum(total_runs) from marts.ci_workflow_summary "
        "where branch = '*' and reporting_window = '90d' group by 1 order by 1",
    )
    totals = dict(
        query(
            built_warehouse.path,
            "select provider, count(*) from marts.fct_ci_workflow_runs group by 1",
        )
    )
    assert [provider for provider, _ in rows] == ["circleci", "github", "gitlab"]
    # Every run of the 90-day history is in the 90-day window exactly once.
    assert {provider: total for provider, total in rows} == totals


def test_gitlab_test_cases_land_with_the_job_that_ran_them(built_warehouse: BuiltWarehouse) -> None:
    gitlab = built_warehouse.simulation.gitlab
    finished = {
        pipeline["pipeline_id"]
        for pipeline in gitlab.pipelines()
        if pipeline["status"] in ("success", "failed", "canceled", "skipped", "manual")
    }
    results = {"success": "passed", "failed": "failed", "error": "failed", "skipped": "skipped"}
    expected = Counter(
        (str(case["job_id"]), results[case["status"]])
        for case in gitlab.test_cases()
        if case["pipeline_id"] in finished
    )
    rows = query(
        built_warehouse.path,
        "select job_id, result, count(*) from marts.fct_ci_test_results "
        "where provider = 'gitlab' group by 1, 2",
    )
    assert Counter({(job_id, result): n for job_id, result, n in rows}) == expected
    assert sum(expected.values()) > 1000
