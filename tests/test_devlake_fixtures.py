"""The CI-derived deployment rule reproduces Apache DevLake's DORA e2e fixtures 1 and 2
(/work/shared/peer-fixtures/devlake-dora/, README there).

Mapping onto this project's inputs (the CI fact marts that int_ci_deployments reads):
- a DevLake `cicd_pipelines` row is a workflow run (one attempt), a `cicd_tasks` row a job of it;
- `type = DEPLOYMENT` stands for a name matching `deployment_name_pattern`: such a run or job is
  named "deploy", any other keeps its own name; a non-empty `environment` is appended to the name
  ("deploy PRODUCTION"), which the default `deployment_environment_pattern` extracts again;
- result SUCCESS/FAILURE/SKIPPED is the canonical status success/failed/skipped;
- DevLake pipelines here carry no start time: started_at is NULL, stopped_at = finished_date and
  the run's duration = duration_sec (so the "end - duration" fallback is exercised);
- a (cicd_scope_id, repo_url) pair is one project (fixture 2); rows of project2's scopes are left
  out, as the README says.
The tables are created in a scratch DuckDB warehouse, the real dbt models run on them (their own
target path, so the project's target/ is untouched), and the outputs are compared row by row.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path("/work/shared/peer-fixtures/devlake-dora/dora")
PROJECT1_SCOPES = {"cicd1", "cicd2"}  # project_mapping.csv: cicd3 belongs to project2
STATUS = {"SUCCESS": "success", "FAILURE": "failed", "SKIPPED": "skipped", "": "in_progress"}
DEVLAKE_RESULT = {"success": "SUCCESS", "failed": "FAILURE"}
VARS = {"deployment_name_pattern": "(?i)deploy"}  # the environment pattern keeps its default

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="DevLake fixtures not present")

RUN_COLUMNS = {
    "provider": "varchar",
    "project_slug": "varchar",
    "run_id": "varchar",
    "run_attempt": "bigint",
    "workflow_name": "varchar",
    "commit_sha": "varchar",
    "status": "varchar",
    "provider_status": "varchar",
    "created_at": "timestamp",
    "started_at": "timestamp",
    "stopped_at": "timestamp",
    "duration_seconds": "double",
}
JOB_COLUMNS = {
    "provider": "varchar",
    "project_slug": "varchar",
    "run_id": "varchar",
    "run_attempt": "bigint",
    "job_name": "varchar",
    "status": "varchar",
    "stopped_at": "timestamp",
}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def timestamp(text: str) -> dt.datetime | None:
    """DevLake's mixed formats ('2022-09-10 6:51:47', '...T06:51:47.000+00:00'), as naive UTC."""
    if not text:
        return None
    if "T" in text:
        value = dt.datetime.fromisoformat(text)
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def run_name(name: str, kind: str, environment: str) -> str:
    base = "deploy" if kind == "DEPLOYMENT" else name
    return f"{base} {environment}" if environment else base


def build(tmp_path: Path, runs: list[dict], jobs: list[dict]) -> Path:
    """Create the CI fact tables with these rows and run the deployment models on them."""
    warehouse = tmp_path / "fixture.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts")
        for table, columns, rows in (
            ("fct_ci_workflow_runs", RUN_COLUMNS, runs),
            ("fct_ci_job_runs", JOB_COLUMNS, jobs),
        ):
            connection.execute(
                f"create table marts.{table} ("
                + ", ".join(f"{name} {kind}" for name, kind in columns.items())
                + ")"
            )
            if rows:
                connection.executemany(
                    f"insert into marts.{table} values ({', '.join('?' * len(columns))})",
                    [[row[name] for name in columns] for row in rows],
                )
    dbt = Path(sys.executable).parent / "dbt"
    completed = subprocess.run(
        [str(dbt), "run", "--select", "+fct_deployments",
         "--exclude", "fct_ci_workflow_runs", "fct_ci_job_runs",
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
         "--profiles-dir", ".", "--vars", json.dumps(VARS)],
        cwd=PROJECT_ROOT / "dbt_project",
        env={**os.environ, "INSIGHTS_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:]
    return warehouse


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_fixture_1_which_pipelines_are_deployments_with_environment_and_times(
    tmp_path: Path,
) -> None:
    folder = FIXTURES / "deployment_generator"
    pipelines = read_csv(folder / "cicd_pipelines.csv")
    commits = {row["pipeline_id"]: row for row in read_csv(folder / "cicd_pipeline_commits.csv")}
    scope_of = {row["id"]: row["cicd_scope_id"] for row in pipelines}
    runs = [
        {
            "provider": "gitlab",
            "project_slug": row["cicd_scope_id"],
            "run_id": row["id"],
            "run_attempt": 1,
            "workflow_name": run_name(row["name"], row["type"], row["environment"]),
            "commit_sha": commits[row["id"]]["commit_sha"] if row["id"] in commits else None,
            "status": STATUS[row["result"]],
            "provider_status": row["result"],
            "created_at": timestamp(row["created_date"]),
            "started_at": None,
            "stopped_at": timestamp(row["finished_date"]),
            "duration_seconds": float(row["duration_sec"]) if row["duration_sec"] else None,
        }
        for row in pipelines
        if row["cicd_scope_id"] in PROJECT1_SCOPES
    ]
    jobs = [
        {
            "provider": "gitlab",
            "project_slug": scope_of[row["pipeline_id"]],
            "run_id": row["pipeline_id"],
            "run_attempt": 1,
            "job_name": run_name(row["name"], row["type"], row["environment"]),
            "status": STATUS[row["result"]],
            "stopped_at": timestamp(row["finished_date"]),
        }
        for row in read_csv(folder / "cicd_tasks.csv")
        if row["pipeline_id"] in scope_of
    ]
    warehouse = build(tmp_path, runs, jobs)
    actual = {
        (deployment_id.removesuffix(":1"), commit_sha): {
            "cicd_scope_id": project,
            "result": DEVLAKE_RESULT[state],
            "environment": environment,
            "started_date": started_at,
            "finished_date": completed_at,
        }
        for deployment_id, commit_sha, project, state, environment, started_at, completed_at in query(
            warehouse,
            "select deployment_id, commit_sha, project, state, environment, started_at, "
            "completed_at from intermediate.int_deployments where provider = 'gitlab_ci'",
        )
    }
    expected_rows = read_csv(folder / "cicd_deployment_commits.csv")
    expected = {
        (row["cicd_deployment_id"], row["commit_sha"]): {
            "cicd_scope_id": row["cicd_scope_id"],
            "result": row["result"],
            "environment": row["environment"],
            "started_date": timestamp(row["started_date"]),
            "finished_date": timestamp(row["finished_date"]),
        }
        for row in expected_rows
    }
    assert len(expected) == 6
    assert actual == expected
    # DevLake's row id is the pipeline id and the repository: the same pipelines, row by row.
    repo_of = {pipeline_id: row["repo_url"] for pipeline_id, row in commits.items()}
    assert sorted(f"{pipeline_id}:{repo_of[pipeline_id]}" for pipeline_id, _ in actual) == sorted(
        row["id"] for row in expected_rows
    )
    # The worked case of the README: no start time, so started = finished - 289 s.
    assert actual[
        ("gitlab:GitlabPipeline:1:485877118", "09f81b1b2d083411c0bfecd32d7728479b594503")
    ]["started_date"] == dt.datetime(2022, 3, 7, 8, 22, 49, 364000)


def test_fixture_2_previous_successful_deployment_chain(tmp_path: Path) -> None:
    folder = FIXTURES / "prev_success_deployment_commit"
    before = [
        row
        for row in read_csv(folder / "cicd_deployment_commits_before.csv")
        if row["cicd_scope_id"] in PROJECT1_SCOPES
    ]
    runs = []
    for row in before:
        started, finished = timestamp(row["started_date"]), timestamp(row["finished_date"])
        runs.append(
            {
                "provider": "gitlab",
                "project_slug": f"{row['cicd_scope_id']}|{row['repo_url']}",
                "run_id": row["id"],
                "run_attempt": 1,
                "workflow_name": run_name("build", "DEPLOYMENT", row["environment"]),
                "commit_sha": row["commit_sha"],
                "status": STATUS[row["result"]],
                "provider_status": row["result"],
                "created_at": timestamp(row["created_date"]),
                "started_at": started,
                "stopped_at": finished,
                "duration_seconds": (finished - started).total_seconds(),
            }
        )
    warehouse = build(tmp_path, runs, [])
    actual = {
        deployment_id.removesuffix(":1"): (
            project,
            environment,
            DEVLAKE_RESULT[state],
            started_at,
            completed_at,
            (previous or "").removesuffix(":1"),
        )
        for deployment_id, project, environment, state, started_at, completed_at, previous in query(
            warehouse,
            "select deployment_id, project, environment, state, started_at, completed_at, "
            "previous_successful_deployment_id from marts.fct_deployments "
            "where provider = 'gitlab_ci'",
        )
    }
    expected = {
        row["id"]: (
            f"{row['cicd_scope_id']}|{row['repo_url']}",
            row["environment"],
            row["result"],
            timestamp(row["started_date"]),
            timestamp(row["finished_date"]),
            row["prev_success_deployment_commit_id"],
        )
        for row in read_csv(folder / "cicd_deployment_commits_after.csv")
        if row["cicd_scope_id"] in PROJECT1_SCOPES
    }
    assert len(expected) == 13
    assert actual == expected
    # The chains of the README, e.g. cicd2/REPO111/PRODUCTION 3 → 13 (the failed 11 skipped).
    assert actual["13"][-1] == "3" and actual["11"][-1] == ""
