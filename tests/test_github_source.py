"""The dlt GitHub Actions source against the emulator, without Dagster: completeness (every
attempt of every run, every job), request economy, incremental loads, merges, rate limits,
the 1,000-result cap, quarantine, the 401/403 message, and the real recorded responses."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import traceback
from collections import Counter
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion import github
from ingestion.github import (
    JOB_COLUMNS,
    RUN_COLUMNS,
    SourceAuthError,
    github_source,
    prepare_jobs,
    prepare_runs,
)
from sandbox.github_emulator import GitHubEmulator
from sandbox.github_org import GitHubOrganisation, RepoSpec

from pipeline_support import AS_OF, exception_chain, query

RECORDINGS = Path("/work/shared/real-recordings/github")
RUNS_LISTING = "GET /repos/{owner}/{repo}/actions/runs"
RUNS_NEXT_PAGE = "GET /repositories/{repository_id}/actions/runs"
ATTEMPT = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}"
ATTEMPT_JOBS = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs"
ATTEMPT_JOBS_NEXT = (
    "GET /repositories/{repository_id}/actions/runs/{run_id}/attempts/{attempt_number}/jobs"
)


@pytest.fixture(scope="module")
def small_org() -> GitHubOrganisation:
    return GitHubOrganisation(AS_OF, seed=5, days=20)


@pytest.fixture(scope="module")
def truth(small_org: GitHubOrganisation) -> dict[str, list[dict]]:
    return {"runs": list(small_org.workflow_runs()), "jobs": list(small_org.jobs())}


def load(
    emulator: GitHubEmulator,
    org: GitHubOrganisation,
    folder: Path,
    resources: tuple[str, ...] = ("repositories", "workflow_runs", "workflow_jobs"),
    **overrides: object,
) -> dlt.Pipeline:
    settings: dict[str, object] = {
        "repositories": ",".join(repo.full_name for repo in org.repositories),
        "access_token": emulator.token,
        "base_url": emulator.base_url,
        "as_of": org.as_of,
        "initial_days": org.days,
        "backoff_factor": 0.01,
        **overrides,
    }
    pipeline = dlt.pipeline(
        pipeline_name="github_test",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="raw_github",
        pipelines_dir=str(folder / "dlt"),
    )
    source = github_source(**settings)
    if resources:
        source = source.with_resources(*resources)
    pipeline.run(source, loader_file_format="parquet")
    return pipeline


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def count(folder: Path, table: str) -> int:
    return rows(folder, f"select count(*) from raw_github.{table}")[0][0]


def minimum_requests(org: GitHubOrganisation, runs: list[dict], jobs: list[dict]) -> int:
    """What the API cannot do with less: the repository GETs, ceil(runs / 100) listing pages per
    repository (one window each here), one GET per earlier attempt, and ceil(jobs / 100) (at
    least 1) job pages per attempt."""
    latest: dict[int, dict] = {}
    for run in runs:
        if run["run_id"] not in latest or run["run_attempt"] > latest[run["run_id"]]["run_attempt"]:
            latest[run["run_id"]] = run
    per_repo = Counter(run["repository"] for run in latest.values())
    listing = sum(max(1, math.ceil(n / 100)) for n in per_repo.values())
    earlier_attempts = len(runs) - len(latest)
    jobs_per_attempt = Counter((job["run_id"], job["run_attempt"]) for job in jobs)
    job_pages = sum(
        max(1, math.ceil(jobs_per_attempt[(run["run_id"], run["run_attempt"])] / 100))
        for run in runs
    )
    return len(org.repositories) + listing + earlier_attempts + job_pages


def test_full_load_has_every_attempt_and_job_once_with_minimal_requests(
    small_org: GitHubOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitHubEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        log = emulator.request_log
    runs, jobs = truth["runs"], truth["jobs"]
    assert any(run["run_attempt"] > 1 for run in runs)
    assert count(tmp_path, "repositories") == len(small_org.repositories)
    assert count(tmp_path, "workflow_runs") == len(runs)
    assert count(tmp_path, "workflow_jobs") == len(jobs)
    assert rows(
        tmp_path,
        "select count(distinct (id, run_attempt)) = count(*) from raw_github.workflow_runs",
    ) == [(True,)]
    loaded = set(
        rows(tmp_path, "select id, run_attempt, status, conclusion from raw_github.workflow_runs")
    )
    assert loaded == {
        (run["run_id"], run["run_attempt"], run["status"], run["conclusion"]) for run in runs
    }
    assert rows(tmp_path, "select default_branch from raw_github.repositories order by name") == [
        (repo.default_branch,) for repo in sorted(small_org.repositories, key=lambda r: r.name)
    ]
    # Each attempt's jobs are read once, from its own attempt endpoint.
    assert log[(ATTEMPT_JOBS, 200)] == len(runs)
    # Earlier attempts of re-runs are read one by one, each once.
    assert log[(ATTEMPT, 200)] == len(runs) - len({run["run_id"] for run in runs}) > 0
    total = sum(log.values())
    minimum = minimum_requests(small_org, runs, jobs)
    assert minimum <= total <= math.floor(minimum * 1.05), (total, minimum)
    # Nested objects stay single JSON columns, not child tables or dozens of columns.
    tables = {
        name
        for (name,) in rows(
            tmp_path,
            "select table_name from information_schema.tables where table_schema = 'raw_github'",
        )
    }
    assert not any(
        name.startswith("workflow_runs__") or name.startswith("workflow_jobs__") for name in tables
    )


def test_second_load_with_no_new_data_adds_nothing_and_makes_few_requests(
    small_org: GitHubOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitHubEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        emulator.request_log.clear()
        load(emulator, small_org, tmp_path)
        log = emulator.request_log
    assert count(tmp_path, "workflow_runs") == len(truth["runs"])
    assert count(tmp_path, "workflow_jobs") == len(truth["jobs"])
    # Per repository: its GET and one listing page of the lookback window (< 100 runs each);
    # runs in progress at the end of as_of have their jobs read again.
    in_progress = [run for run in truth["runs"] if run["status"] != "completed"]
    expected = 2 * len(small_org.repositories) + len(in_progress)
    assert sum(log.values()) == expected
    assert log[(RUNS_LISTING, 200)] == len(small_org.repositories)
    assert log[(ATTEMPT, 200)] == 0


def test_first_load_starts_initial_days_before_the_report_end(
    small_org: GitHubOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitHubEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path, resources=("workflow_runs",), initial_days=7)
    start = dt.datetime.combine(AS_OF + dt.timedelta(days=1 - 7), dt.time(), tzinfo=dt.UTC)
    expected = sum(1 for run in truth["runs"] if run["created_at"] >= start)
    assert 0 < expected < len(truth["runs"])
    assert count(tmp_path, "workflow_runs") == expected


def test_a_run_in_progress_then_finished_merges_to_one_row_with_the_final_status(
    small_org: GitHubOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    day = AS_OF - dt.timedelta(days=3)
    target = next(
        run for run in reversed(truth["runs"])
        if run["workflow_name"] == "CI" and run["conclusion"] == "success"
        and run["run_attempt"] == 1 and run["created_at"].date() == day
    )  # fmt: skip
    cutoff = target["run_started_at"] + dt.timedelta(minutes=1)
    earlier = list(small_org.workflow_runs(at=cutoff))
    with GitHubEmulator(small_org, at=cutoff) as emulator:
        load(emulator, small_org, tmp_path)
    assert count(tmp_path, "workflow_runs") == len(earlier) < len(truth["runs"])
    status = (
        "select status, conclusion, count(*) over () from raw_github.workflow_runs "
        f"where id = {target['run_id']}"
    )
    assert rows(tmp_path, status) == [("in_progress", None, 1)]
    jobs_then = rows(
        tmp_path,
        f"select count(*), count(completed_at) from raw_github.workflow_jobs where run_id = {target['run_id']}",
    )[0]

    with GitHubEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
    assert rows(tmp_path, status) == [("completed", "success", 1)]
    assert count(tmp_path, "workflow_runs") == len(truth["runs"])
    assert count(tmp_path, "workflow_jobs") == len(truth["jobs"])
    jobs_now = rows(
        tmp_path,
        f"select count(*), count(completed_at) from raw_github.workflow_jobs where run_id = {target['run_id']}",
    )[0]
    assert jobs_then[1] < jobs_now[1] == jobs_now[0]


def test_rate_limits_and_server_errors_are_retried_without_loss(
    small_org: GitHubOrganisation,
    truth: dict[str, list[dict]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(github, "_sleep", waits.append)
    with GitHubEmulator(small_org) as emulator:
        emulator.inject_rate_limit("primary", 2, status=429)
        emulator.inject_rate_limit("primary", 1, status=403)
        emulator.inject_rate_limit("secondary", 1, retry_after=7)
        emulator.inject_rate_limit("secondary", 1, status=429)
        emulator.inject_faults(502, 2, path_contains="/jobs")
        emulator.inject_faults(500, 1, path_contains="/attempts/")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
        log = emulator.request_log
    assert sum(n for (_, status), n in log.items() if status == 429) == 3
    assert sum(n for (_, status), n in log.items() if status == 403) == 2
    assert sum(n for (_, status), n in log.items() if status >= 500) == 3
    assert count(tmp_path, "workflow_runs") == len(truth["runs"])
    assert count(tmp_path, "workflow_jobs") == len(truth["jobs"])
    # The primary limit is waited out until x-ratelimit-reset (an hour ahead in the emulator),
    # the secondary one for its retry-after, or a minute (times backoff_factor here) without one.
    assert sum(1 for wait in waits if wait > 3000) == 3
    assert 7.0 in waits
    assert any(round(wait / 0.6, 6) in {1, 2, 4, 8, 16, 32} for wait in waits)


def test_cut_off_and_non_json_responses_are_retried_without_loss(
    small_org: GitHubOrganisation,
    truth: dict[str, list[dict]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(github, "_sleep", lambda seconds: None)
    with GitHubEmulator(small_org) as emulator:
        emulator.inject_truncated(2, path_contains="/actions/runs?")
        emulator.inject_malformed(2, path_contains="/jobs")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
    assert count(tmp_path, "workflow_runs") == len(truth["runs"])
    assert count(tmp_path, "workflow_jobs") == len(truth["jobs"])


@pytest.mark.parametrize(
    ("status", "inject"),
    [(401, "token"), (403, "forbidden")],
)
def test_unauthorized_names_the_variable_and_never_the_token(
    small_org: GitHubOrganisation,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    status: int,
    inject: str,
) -> None:
    secret = "ghp_wrongtoken5f2b9c"
    caplog.set_level(logging.DEBUG)
    with GitHubEmulator(small_org, token=secret if inject == "forbidden" else "right") as emulator:
        if inject == "forbidden":
            emulator.inject_faults(403, 1, path_contains="/actions/runs")
        with pytest.raises(PipelineStepFailed) as failure:
            load(emulator, small_org, tmp_path, access_token=secret)
    chain = exception_chain(failure.value)
    assert any(isinstance(error, SourceAuthError) for error in chain), chain
    text = "".join(traceback.format_exception(failure.value))
    assert f"GitHub rejected the access token (HTTP {status})" in text
    assert "SOURCES__GITHUB__ACCESS_TOKEN" in text
    assert secret not in text
    assert secret not in caplog.text


def test_a_window_past_the_1000_result_cap_is_split(tmp_path: Path) -> None:
    # A Wednesday-to-Friday of one very busy repository: about 1,200 runs in the first window.
    org = GitHubOrganisation(
        dt.date(2026, 3, 13), seed=5, days=3, repositories=(RepoSpec("busy", "main", 250.0),)
    )
    runs = list(org.workflow_runs())
    latest = len({run["run_id"] for run in runs})
    assert latest > 1000
    with GitHubEmulator(org) as emulator:
        load(emulator, org, tmp_path, resources=("workflow_runs",))
        log = emulator.request_log
    assert count(tmp_path, "workflow_runs") == len(runs)
    listing = log[(RUNS_LISTING, 200)] + log[(RUNS_NEXT_PAGE, 200)]
    # One discarded first page of the whole range, then each half paged in full.
    assert log[(RUNS_LISTING, 200)] == 3
    assert math.ceil(latest / 100) + 1 <= listing <= math.ceil(latest / 100) + 3


def test_a_malformed_record_is_quarantined_with_its_reason(
    small_org: GitHubOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    def drop_first_id(body: dict) -> dict:
        broken = dict(body["jobs"][0])
        del broken["id"]
        return {**body, "jobs": [broken, *body["jobs"][1:]]}

    with GitHubEmulator(small_org) as emulator:
        emulator.inject_body_change(drop_first_id, 1, path_contains="/jobs")
        load(emulator, small_org, tmp_path)
    assert count(tmp_path, "workflow_runs") == len(truth["runs"])
    assert count(tmp_path, "workflow_jobs") == len(truth["jobs"]) - 1
    quarantine = rows(
        tmp_path, "select resource, record_id, reason, record->>'$.name' from raw_github.quarantine"
    )
    assert len(quarantine) == 1
    resource, record_id, reason, name = quarantine[0]
    assert (resource, record_id, reason) == ("workflow_jobs", None, "missing required field 'id'")
    assert name in {job["name"] for job in truth["jobs"]}


def _recorded(kind: str) -> list[tuple[str, list[dict]]]:
    """(file, items) for every recorded runs or jobs body: listings and single objects."""
    found = []
    for path in sorted(RECORDINGS.glob("*.json")):
        if path.name.endswith(".headers.json"):
            continue
        body = json.loads(path.read_text())
        if kind == "runs":
            if isinstance(body, dict) and "workflow_runs" in body:
                found.append((path.name, body["workflow_runs"]))
            elif isinstance(body, dict) and "run_number" in body:
                found.append((path.name, [body]))
        elif isinstance(body, dict) and "jobs" in body:
            found.append((path.name, body["jobs"]))
        elif isinstance(body, dict) and "run_id" in body and "steps" in body:
            found.append((path.name, [body]))
    return found


def test_real_recorded_runs_and_jobs_load_without_loss(tmp_path: Path) -> None:
    recorded_runs, recorded_jobs = _recorded("runs"), _recorded("jobs")
    assert len(recorded_runs) == 10 and len(recorded_jobs) == 5
    run_rows, job_rows = [], []
    for name, items in recorded_runs:
        good, bad = prepare_runs(items, "recorded/repo")
        assert bad == [] and len(good) == len(items), name
        run_rows += good
    for name, items in recorded_jobs:
        good, bad = prepare_jobs(items, "recorded/repo", 1)
        assert bad == [] and len(good) == len(items), name
        job_rows += good
    pipeline = dlt.pipeline(
        pipeline_name="github_recordings",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="raw_github",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    runs_resource = dlt.resource(
        run_rows, name="workflow_runs", primary_key=["id", "run_attempt"],
        write_disposition="merge", columns=RUN_COLUMNS,
    )  # fmt: skip
    jobs_resource = dlt.resource(
        job_rows, name="workflow_jobs", primary_key="id", write_disposition="merge",
        columns=JOB_COLUMNS,
    )  # fmt: skip
    pipeline.run([runs_resource, jobs_resource], loader_file_format="parquet")
    distinct_runs = {(run["id"], run["run_attempt"]) for run in run_rows}
    assert count(tmp_path, "workflow_runs") == len(distinct_runs)
    assert count(tmp_path, "workflow_jobs") == len({job["id"] for job in job_rows})
    # Old-schema runs (no run_attempt / run_started_at) are attempt 1; every status survives.
    assert rows(
        tmp_path,
        "select count(*) from raw_github.workflow_runs where run_attempt is null or created_at is null or status is null",
    ) == [(0,)]
    assert rows(
        tmp_path, "select run_attempt from raw_github.workflow_runs where id = 686036126"
    ) == [(1,)]
    conclusions = {
        c for (c,) in rows(tmp_path, "select distinct conclusion from raw_github.workflow_runs")
    }
    assert {"success", "failure", "cancelled", "startup_failure", "action_required"} <= conclusions
    # A re-run attempt keeps its own number; its run_started_at may precede created_at.
    assert rows(
        tmp_path,
        "select count(*) from raw_github.workflow_runs where run_attempt = 2 and run_started_at < created_at",
    ) == [(1,)]
    assert rows(
        tmp_path, "select count(*) from raw_github.workflow_jobs where created_at is null"
    ) == [(4,)]
