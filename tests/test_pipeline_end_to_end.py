"""The demo pipeline end to end: CircleCI emulator → dlt → DuckDB → dbt → marts, compared with
expectations computed in Python from the generator's own records."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ingestion.settings import PROJECT_ROOT

from expected_metrics import (
    executions_frame,
    expected_daily,
    expected_job_runs,
    expected_job_summary,
    expected_project_overview,
    expected_recent_builds,
    expected_runs,
    expected_summary,
    expected_test_summary,
    first_job_queues,
)
from pipeline_support import BuiltWarehouse, environment, query, table_counts

APPROX = {"rel": 1e-9, "abs": 1e-9}

SUMMARY_COLUMNS = [
    "window_start", "window_end", "total_runs", "completed_runs", "successful_runs", "failed_runs",
    "cancelled_runs", "success_rate", "first_attempt_success_rate", "throughput", "mttr_seconds",
    "total_recoveries", "duration_sample_size", "duration_min_seconds", "duration_mean_seconds",
    "duration_median_seconds", "duration_p95_seconds", "duration_max_seconds", "duration_stddev_seconds",
    "queued_sample_size", "queued_median_seconds", "queued_p95_seconds", "total_credits_used",
]  # fmt: skip
DAILY_COLUMNS = [
    "total_runs", "successful_runs", "failed_runs", "success_rate", "duration_median_seconds",
    "duration_p95_seconds", "credits_used",
]  # fmt: skip


def rows_by_key(
    warehouse: Path, table: str, key_columns: list[str], value_columns: list[str]
) -> dict[tuple, dict]:
    rows = query(
        warehouse,
        f"select {', '.join(key_columns + value_columns)} from marts.{table} where provider = 'circleci'",
    )
    width = len(key_columns)
    return {row[:width]: dict(zip(value_columns, row[width:], strict=True)) for row in rows}


def assert_same(actual: dict, expected: dict, context: object) -> None:
    for column, value in expected.items():
        if isinstance(value, float):
            assert actual[column] == pytest.approx(value, **APPROX), (context, column)
        else:
            assert actual[column] == value, (context, column)


def test_every_workflow_lands_once_with_its_canonical_status(
    built_warehouse: BuiltWarehouse,
) -> None:
    expected = {
        run["workflow_id"]: run for run in expected_runs(built_warehouse.org.workflow_runs())
    }
    rows = query(
        built_warehouse.path,
        "select run_id, run_attempt, status, provider_status, branch, is_default_branch, trigger, "
        "created_at, stopped_at, duration_seconds from marts.fct_ci_workflow_runs "
        "where provider = 'circleci'",
    )
    assert len(rows) == len(expected) == len(built_warehouse.org.workflows)
    default_branch = {
        project.slug: project.default_branch for project in built_warehouse.org.projects
    }
    for (
        run_id,
        attempt,
        status,
        provider_status,
        branch,
        is_default,
        trigger,
        created,
        stopped,
        duration,
    ) in rows:
        run = expected[run_id]
        assert (attempt, status, provider_status, branch) == (
            run["run_attempt"], run["canonical_status"], run["status"], run["branch"],
        )  # fmt: skip
        assert is_default == (run["branch"] == default_branch[run["project_slug"]])
        assert trigger == ("tag" if run["tag"] else run["trigger_type"])
        assert (created, stopped) == (run["created_at"], run["stopped_at"])
        assert duration == (
            None
            if run["duration_seconds"] is None
            else pytest.approx(run["duration_seconds"], **APPROX)
        )
    # The organisation really exercises the rules: reruns, tags and unfinished runs are present.
    assert {row[1] for row in rows} >= {1, 2}
    assert {row[2] for row in rows} >= {"success", "failed", "cancelled", "in_progress"}
    assert any(row[6] == "tag" and row[4] == "" for row in rows)


def credits_by_run(org) -> dict[str, float]:
    """Credits of every run the insights feed lists (the feed keeps 90 days of finished runs)."""
    return {run["id"]: run["credits_used"] for run in org.insights_workflow_runs}


def expected_jobs(org) -> list[dict]:
    return expected_job_runs(org.job_runs(), org.job_details, expected_runs(org.workflow_runs()))


def test_workflow_summary_matches_independent_computation(built_warehouse: BuiltWarehouse) -> None:
    org = built_warehouse.org
    expected = expected_summary(
        org.workflow_runs(), org.as_of, first_job_queues(expected_jobs(org)), credits_by_run(org)
    )
    actual = rows_by_key(
        built_warehouse.path,
        "ci_workflow_summary",
        ["project_slug", "workflow_name", "branch", "reporting_window"],
        SUMMARY_COLUMNS,
    )
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert_same(actual[key], values, key)
    # Every rule is exercised on real numbers somewhere in the organisation.
    assert any(values["total_recoveries"] > 0 for values in expected.values())
    assert any(values["cancelled_runs"] > 0 for values in expected.values())
    assert {key[3] for key in expected} == {"24h", "7d", "30d", "60d", "90d"}


def test_every_job_lands_with_its_queue_time_and_duration(built_warehouse: BuiltWarehouse) -> None:
    expected = {row["job_id"]: row for row in expected_jobs(built_warehouse.org)}
    rows = query(
        built_warehouse.path,
        "select job_id, run_id, run_attempt, status, queued_seconds, duration_seconds, run_created_at "
        "from marts.fct_ci_job_runs where provider = 'circleci'",
    )
    assert len(rows) == len(expected)
    for job_id, run_id, attempt, status, queued, duration, run_created_at in rows:
        job = expected[job_id]
        assert (run_id, attempt, status, run_created_at) == (
            job["workflow_id"],
            job["run_attempt"],
            job["canonical_status"],
            job["run_created_at"],
        )
        assert queued == (
            None
            if job["queued_seconds"] is None
            else pytest.approx(job["queued_seconds"], **APPROX)
        )
        assert duration == (
            None
            if job["duration_seconds"] is None
            else pytest.approx(job["duration_seconds"], **APPROX)
        )
    assert sum(1 for row in rows if row[4] is not None) > len(rows) / 2


def test_job_summary_matches_independent_computation(built_warehouse: BuiltWarehouse) -> None:
    org = built_warehouse.org
    expected = expected_job_summary(expected_jobs(org), org.as_of)
    actual = rows_by_key(
        built_warehouse.path,
        "ci_job_summary",
        ["project_slug", "workflow_name", "job_name", "branch", "reporting_window"],
        [
            column
            for column in SUMMARY_COLUMNS
            if column not in ("mttr_seconds", "total_recoveries")
        ],
    )
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert_same(actual[key], values, key)


def test_every_test_result_of_a_finished_job_lands_once(built_warehouse: BuiltWarehouse) -> None:
    org = built_warehouse.org
    expected: Counter[str] = Counter()
    for job in org.job_runs():
        if job["job_number"] is None or job["stopped_at"] is None:
            continue
        for test in org.job_tests(job["project_slug"], job["job_number"]) or []:
            expected[
                {"success": "passed", "failure": "failed"}.get(test["result"], test["result"])
            ] += 1
    actual = dict(
        query(
            built_warehouse.path,
            "select result, count(*) from marts.fct_ci_test_results where provider = 'circleci' group by 1",
        )
    )
    assert actual == dict(expected)
    assert expected["failed"] > 0 and expected["passed"] > expected["failed"]


def test_workflow_daily_matches_independent_computation(built_warehouse: BuiltWarehouse) -> None:
    org = built_warehouse.org
    expected = expected_daily(org.workflow_runs(), org.as_of, credits_by_run(org))
    actual = rows_by_key(
        built_warehouse.path,
        "ci_workflow_daily",
        ["project_slug", "workflow_name", "branch", "day"],
        DAILY_COLUMNS,
    )
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert_same(actual[key], values, key)


def test_marts_are_in_schema_marts_with_their_contract_types(
    built_warehouse: BuiltWarehouse,
) -> None:
    types = dict(
        query(
            built_warehouse.path,
            "select table_name || '.' || column_name, data_type from information_schema.columns "
            "where table_schema = 'marts'",
        )
    )
    assert types["ci_workflow_summary.success_rate"] == "DOUBLE"
    assert types["ci_workflow_summary.total_runs"] == "BIGINT"
    assert types["ci_workflow_summary.window_start"] == "TIMESTAMP"
    assert types["fct_ci_workflow_runs.is_first_attempt"] == "BOOLEAN"
    assert types["ci_workflow_daily.day"] == "DATE"
    # Columns whose data arrives with later sources are present from the start (NULL for now).
    assert {
        "ci_workflow_summary.queued_median_seconds",
        "ci_workflow_summary.total_credits_used",
    } <= set(types)


def test_second_run_on_unchanged_data_changes_no_row_count(built_warehouse: BuiltWarehouse) -> None:
    from orchestration.cli import run_pipeline

    before = table_counts(built_warehouse.path)
    assert before["raw_circleci.workflows"] == len(built_warehouse.org.workflows)
    assert before["raw_circleci.jobs"] == sum(
        len(jobs) for jobs in built_warehouse.org.workflow_jobs.values()
    )
    pipeline_requests = built_warehouse.emulator.request_log.copy()
    with environment(**built_warehouse.env):
        assert run_pipeline(["circleci"], log_level="WARNING")
    assert table_counts(built_warehouse.path) == before
    # The rerun read back only the lookback window, not the whole history.
    second = built_warehouse.emulator.request_log - pipeline_requests
    workflow_listings = second[("GET /pipeline/{pipeline-id}/workflow", 200)]
    assert 0 < workflow_listings < len(built_warehouse.org.pipelines) / 4


def test_dbt_unit_tests_pass_against_the_built_warehouse(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    with environment(**built_warehouse.env):
        completed = subprocess.run(
            [str(dbt), "test", "--select", "test_type:unit", "--target-path", str(tmp_path), "--vars",
             json.dumps({"as_of": built_warehouse.org.as_of.isoformat()})],
            cwd=PROJECT_ROOT / "dbt_project",
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:]
    results = json.loads((tmp_path / "run_results.json").read_text())["results"]
    statuses = {result["unique_id"].split(".")[-1]: result["status"] for result in results}
    defined = {
        test["name"]
        for path in (PROJECT_ROOT / "dbt_project" / "models").rglob("*.yml")
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }
    assert len(defined) >= 6
    assert statuses == dict.fromkeys(defined, "pass")


def test_the_api_tokens_are_stored_nowhere(built_warehouse: BuiltWarehouse) -> None:
    emulators = built_warehouse.emulators
    tokens = [
        emulators.circleci.token.encode(),
        emulators.github.token.encode(),
        emulators.gitlab.token.encode(),
    ]
    folder = built_warehouse.path.parent  # the warehouse file and dlt's working folder beside it
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert built_warehouse.path in files and len(files) > 1
    assert not [path for path in files for token in tokens if token in path.read_bytes()]


def test_flaky_tests_match_the_same_commit_rule(built_warehouse: BuiltWarehouse) -> None:
    """ci_flaky_tests recomputed from the generator's records: a test that both passed and failed
    on one commit in the 14 days up to the report date (metrics.md §3)."""
    org = built_warehouse.org
    revision = {run["workflow_id"]: run["revision"] for run in org.workflow_runs()}
    end = dt.datetime.combine(org.as_of + dt.timedelta(days=1), dt.time())
    start = end - dt.timedelta(days=14)
    results = {"success": "passed", "failure": "failed", "error": "failed"}
    outcomes: dict[tuple[str, str], dict[str, list[float]]] = {}
    for job in org.job_runs():
        if job["job_number"] is None or job["stopped_at"] is None:
            continue
        executed_at = job["stopped_at"].astimezone(dt.UTC).replace(tzinfo=None)
        if not start <= executed_at < end:
            continue
        for test in org.job_tests(job["project_slug"], job["job_number"]) or []:
            result = results.get(test["result"])
            if result is None:
                continue
            key = f"{test['classname'] or ''}::{test['name']}::{test['file'] or ''}"
            per_result = outcomes.setdefault(
                (key, revision[job["workflow_id"]]), {"passed": [], "failed": []}
            )
            per_result[result].append(test["run_time"] or 0.0)
    expected: dict[str, tuple[int, float]] = {}
    for (key, _commit), per_result in outcomes.items():
        if per_result["passed"] and per_result["failed"]:
            flaked, wasted = expected.get(key, (0, 0.0))
            expected[key] = (flaked + 1, wasted + sum(per_result["failed"]))
    rows = query(
        built_warehouse.path,
        "select test_key, times_flaked, time_wasted_seconds from marts.ci_flaky_tests where provider = 'circleci'",
    )
    assert {key: (flaked, pytest.approx(wasted)) for key, flaked, wasted in rows} == expected
    assert expected, "the simulated organisation has flaky tests in the last 14 days"


def test_recent_builds_match_independent_computation(built_warehouse: BuiltWarehouse) -> None:
    """ci_recent_builds recomputed with pandas: the newest 50 runs per workflow and branch."""
    org = built_warehouse.org
    expected = expected_recent_builds(expected_runs(org.workflow_runs()), org.as_of)
    actual = rows_by_key(
        built_warehouse.path,
        "ci_recent_builds",
        ["project_slug", "workflow_name", "branch", "recency_rank"],
        ["run_id", "run_attempt", "status", "created_at", "stopped_at", "duration_seconds",
         "commit_sha"],
    )  # fmt: skip
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert_same(actual[key], values, key)
    # The cap is exercised: some workflow and branch had more than 50 runs.
    assert max(key[3] for key in expected) == 50


def test_project_overview_matches_independent_computation(built_warehouse: BuiltWarehouse) -> None:
    """ci_project_overview recomputed with pandas/numpy (median = numpy's linear p50)."""
    org = built_warehouse.org
    jobs = expected_jobs(org)
    expected = expected_project_overview(
        expected_runs(org.workflow_runs(), first_job_queues(jobs)),
        jobs,
        {project.slug: project.default_branch for project in org.projects},
        org.as_of,
    )
    actual = rows_by_key(
        built_warehouse.path,
        "ci_project_overview",
        ["project_slug"],
        list(next(iter(expected.values()))),
    )
    assert set(actual) == {(project,) for project in expected}
    for project, values in expected.items():
        assert_same(actual[(project,)], values, project)
    assert all(values["median_parallelism"] is not None for values in expected.values())


def test_test_summary_matches_independent_computation(built_warehouse: BuiltWarehouse) -> None:
    """ci_test_summary recomputed with pandas/numpy from every test the finished jobs report."""
    org = built_warehouse.org
    revisions = {run["workflow_id"]: run["revision"] for run in org.workflow_runs()}
    expected = expected_test_summary(
        executions_frame(org.job_runs(), org.job_tests, revisions), org.as_of
    )
    actual = rows_by_key(
        built_warehouse.path,
        "ci_test_summary",
        ["project_slug", "test_key", "reporting_window"],
        ["total_runs", "failed_runs", "failure_rate", "p95_run_time_seconds", "is_flaky",
         "most_failed_rank", "slowest_rank"],
    )  # fmt: skip
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert_same(actual[key], values, key)
    assert any(values["is_flaky"] for values in expected.values())
    assert {key[2] for key in expected} == {"7d", "30d", "90d"}
