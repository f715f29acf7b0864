"""The dlt CircleCI source against the emulator, without Dagster: completeness, incremental
loads, merges, retries, failed loads that resume, and the 401 message."""

from __future__ import annotations

import datetime as dt
import logging
import math
import traceback
from collections import Counter
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.circleci import FINISHED_JOB_STATUSES, circleci_source
from ingestion.common import SourceAuthError, parse_list
from sandbox import CircleCIEmulator, Organisation, generate_organisation

from pipeline_support import AS_OF, exception_chain, query


@pytest.fixture(scope="module")
def small_org() -> Organisation:
    return generate_organisation(AS_OF, seed=5, days=20, pipelines_per_weekday=4)


def load(
    emulator: CircleCIEmulator, org: Organisation, folder: Path, **overrides: object
) -> dlt.Pipeline:
    settings: dict[str, object] = {
        "project_slugs": ",".join(project.slug for project in org.projects),
        "api_token": emulator.token,
        "base_url": emulator.base_url,
        "as_of": org.as_of,
        "initial_days": org.days,
        "backoff_factor": 0.01,
        **overrides,
    }
    pipeline = dlt.pipeline(
        pipeline_name="circleci_test",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="raw_circleci",
        pipelines_dir=str(folder / "dlt"),
    )
    pipeline.run(circleci_source(**settings), loader_file_format="parquet")
    return pipeline


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def count(folder: Path, table: str) -> int:
    return rows(folder, f"select count(*) from raw_circleci.{table}")[0][0]


def job_total(org: Organisation) -> int:
    return sum(len(jobs) for jobs in org.workflow_jobs.values())


def finished_build_jobs(
    org: Organisation, stopped_since: dict[str, dt.datetime] | None = None
) -> int:
    """Jobs whose details the source needs: numbered, finished, stopped since the given times."""
    return sum(
        1
        for job in org.job_runs()
        if job["job_number"] is not None
        and job["stopped_at"] is not None
        and job["status"] in FINISHED_JOB_STATUSES
        and (stopped_since is None or job["stopped_at"] >= stopped_since[job["project_slug"]])
    )


def test_full_load_has_every_record_once(small_org: Organisation, tmp_path: Path) -> None:
    with CircleCIEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        log = emulator.request_log
    assert count(tmp_path, "projects") == len(small_org.projects)
    assert count(tmp_path, "pipelines") == len(small_org.pipelines)
    assert count(tmp_path, "workflows") == len(small_org.workflows)
    assert count(tmp_path, "jobs") == job_total(small_org)
    assert rows(tmp_path, "select count(distinct id) = count(*) from raw_circleci.jobs") == [
        (True,)
    ]
    # One workflow listing per pipeline, one job listing per workflow and one details call per
    # finished build job: nothing fetched twice.
    assert log[("GET /pipeline/{pipeline-id}/workflow", 200)] == len(small_org.pipelines)
    assert log[("GET /workflow/{id}/job", 200)] == len(small_org.workflows)
    details = finished_build_jobs(small_org)
    assert 0 < details < job_total(small_org)
    assert log[("GET /project/{project-slug}/job/{job-number}", 200)] == details
    assert count(tmp_path, "job_details") == details
    assert rows(
        tmp_path, "select count(*) from raw_circleci.job_details where queued_at is null"
    ) == [(0,)]
    # Test results of every finished build job, and the insights feed's finished runs (credits).
    tests = sum(
        len(small_org.job_tests(job["project_slug"], job["job_number"]) or [])
        for job in small_org.job_runs()
        if job["job_number"] is not None and job["stopped_at"] is not None
    )
    assert 0 < count(tmp_path, "job_tests") == tests
    assert count(tmp_path, "insights_workflow_runs") == len(small_org.insights_workflow_runs)
    names = {(w["project_slug"], w["name"]) for w in small_org.workflows}
    assert log[("GET /insights/{project-slug}/workflows/{workflow-name}", 200)] >= len(names)
    # Free-form objects stay single JSON columns; tag-triggered pipelines keep their tag.
    columns = {
        name
        for (name,) in rows(
            tmp_path, "select column_name from information_schema.columns where table_name = 'jobs'"
        )
    }
    assert {"requires", "dependencies", "workflow_id"} <= columns
    assert not any(name.startswith("requires__") for name in columns)
    tags = rows(
        tmp_path,
        "select count(*) from raw_circleci.pipelines where vcs__tag is not null and vcs__branch is null",
    )
    assert tags[0][0] == sum(1 for p in small_org.pipelines if "tag" in p["vcs"])


def test_first_load_starts_initial_days_before_the_report_end(
    small_org: Organisation, tmp_path: Path
) -> None:
    with CircleCIEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path, initial_days=7)
    start = dt.datetime.combine(AS_OF + dt.timedelta(days=1 - 7), dt.time(), tzinfo=dt.UTC)
    expected = sum(
        1 for p in small_org.pipelines if dt.datetime.fromisoformat(p["created_at"]) >= start
    )
    assert 0 < expected < len(small_org.pipelines)
    assert count(tmp_path, "pipelines") == expected


def test_daily_load_adds_new_runs_and_merges_status_changes(
    small_org: Organisation, tmp_path: Path
) -> None:
    # "Yesterday's" load sees the organisation as it was a minute into a build-test run that
    # later succeeded (the emulator's time travel), so that run is still running then.
    day = AS_OF - dt.timedelta(days=4)
    recent_success = next(
        w for w in reversed(small_org.workflows)
        if w["status"] == "success" and w["name"] == "build-test"
        and dt.datetime.fromisoformat(w["created_at"]).date() == day
    )  # fmt: skip
    cutoff = dt.datetime.fromisoformat(recent_success["created_at"]) + dt.timedelta(minutes=1)
    yesterday = small_org.observed_at(cutoff)
    with CircleCIEmulator(small_org, at=cutoff) as emulator:
        load(emulator, yesterday, tmp_path)
    assert count(tmp_path, "workflows") == len(yesterday.workflows) < len(small_org.workflows)
    status = f"select status, stopped_at is null from raw_circleci.workflows where id = '{recent_success['id']}'"
    assert rows(tmp_path, status) == [("running", True)]

    with CircleCIEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        log = emulator.request_log
    assert count(tmp_path, "pipelines") == len(small_org.pipelines)
    assert count(tmp_path, "workflows") == len(small_org.workflows)
    assert count(tmp_path, "jobs") == job_total(small_org)
    assert rows(tmp_path, status) == [("success", False)]
    # Per project, only the lookback window (7 days before the newest pipeline already loaded)
    # is read again, plus what is new.
    watermarks: dict[str, dt.datetime] = {}
    for pipeline in yesterday.pipelines:
        created = dt.datetime.fromisoformat(pipeline["created_at"])
        watermarks[pipeline["project_slug"]] = max(
            created, watermarks.get(pipeline["project_slug"], created)
        )
    reread = sum(
        1
        for p in small_org.pipelines
        if dt.datetime.fromisoformat(p["created_at"])
        >= watermarks[p["project_slug"]] - dt.timedelta(days=7)
    )
    assert log[("GET /pipeline/{pipeline-id}/workflow", 200)] == reread < len(small_org.pipelines)
    # Details only of jobs that stopped after the old watermark (less the 1-hour margin): the
    # others were finished, and fetched, yesterday.
    since = {slug: watermark - dt.timedelta(hours=1) for slug, watermark in watermarks.items()}
    assert log[("GET /project/{project-slug}/job/{job-number}", 200)] == finished_build_jobs(
        small_org, since
    )
    assert finished_build_jobs(small_org, since) < finished_build_jobs(small_org) / 4
    assert count(tmp_path, "job_details") == finished_build_jobs(small_org)


def test_rate_limits_and_server_errors_are_retried_without_loss(
    small_org: Organisation, tmp_path: Path
) -> None:
    with CircleCIEmulator(small_org) as emulator:
        emulator.inject_faults(429, 2, retry_after=0, path_contains="/pipeline?")
        emulator.inject_faults(429, 2, retry_after=0, path_contains="/pipeline?page-token")
        emulator.inject_faults(500, 3, path_contains="/workflow")
        emulator.inject_faults(503, 2, path_contains="/job")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
        log = emulator.request_log
    assert log[("GET /project/{project-slug}/pipeline", 429)] == 4
    assert (
        log[("GET /pipeline/{pipeline-id}/workflow", 500)] + log[("GET /workflow/{id}/job", 500)]
        == 3
    )
    assert count(tmp_path, "pipelines") == len(small_org.pipelines)
    assert count(tmp_path, "workflows") == len(small_org.workflows)
    assert count(tmp_path, "jobs") == job_total(small_org)


def test_a_failed_load_resumes_without_duplicates_or_gaps(
    small_org: Organisation, tmp_path: Path
) -> None:
    with CircleCIEmulator(small_org) as emulator:
        # Past the retry budget: the load dies part-way through the job listings.
        emulator.inject_faults(500, 40, path_contains="/job")
        with pytest.raises(PipelineStepFailed):
            load(emulator, small_org, tmp_path, max_attempts=2)
        emulator.clear_faults()
        load(emulator, small_org, tmp_path)
    assert count(tmp_path, "pipelines") == len(small_org.pipelines)
    assert count(tmp_path, "workflows") == len(small_org.workflows)
    assert count(tmp_path, "jobs") == job_total(small_org)
    assert rows(tmp_path, "select count(distinct id) = count(*) from raw_circleci.workflows") == [
        (True,)
    ]


def test_unauthorized_names_the_variable_and_never_the_token(
    small_org: Organisation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-token-5f2b9c"
    caplog.set_level(logging.DEBUG)
    with CircleCIEmulator(small_org) as emulator, pytest.raises(PipelineStepFailed) as failure:
        load(emulator, small_org, tmp_path, api_token=secret)
    chain = exception_chain(failure.value)
    assert any(isinstance(error, SourceAuthError) for error in chain), chain
    text = "".join(traceback.format_exception(failure.value))
    assert "CircleCI rejected the API token (HTTP 401)" in text
    assert "SOURCES__CIRCLECI__API_TOKEN" in text
    assert secret not in text
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gh/a/b", ["gh/a/b"]),
        ("gh/a/b, gh/a/c", ["gh/a/b", "gh/a/c"]),
        ('["gh/a/b", "circleci/x/y"]', ["gh/a/b", "circleci/x/y"]),
        ("", []),
        (["gh/a/b"], ["gh/a/b"]),
    ],
)
def test_project_slugs_accept_comma_or_json_lists(value: object, expected: list[str]) -> None:
    assert parse_list(value) == expected


def test_a_malformed_record_is_quarantined_with_its_reason(
    small_org: Organisation, tmp_path: Path
) -> None:
    def drop_first_id(body: dict) -> dict:
        broken = dict(body["items"][0])
        del broken["id"]
        return {**body, "items": [broken, *body["items"][1:]]}

    with CircleCIEmulator(small_org) as emulator:
        emulator.inject_body_change(drop_first_id, 1, path_contains="/workflow")
        load(emulator, small_org, tmp_path)
    assert count(tmp_path, "workflows") == len(small_org.workflows) - 1
    quarantine = rows(
        tmp_path,
        "select resource, record_id, reason, record->>'$.name' from raw_circleci.quarantine",
    )
    assert len(quarantine) == 1
    resource, record_id, reason, name = quarantine[0]
    assert (resource, record_id, reason) == ("workflows", None, "missing required field 'id'")
    assert name in {workflow["name"] for workflow in small_org.workflows}


def test_cut_off_and_non_json_responses_are_retried_without_loss(
    small_org: Organisation, tmp_path: Path
) -> None:
    with CircleCIEmulator(small_org) as emulator:
        emulator.inject_truncated(2, path_contains="/workflow")
        emulator.inject_malformed(2, path_contains="/job")
        emulator.inject_slow(0.2, 2, path_contains="/pipeline")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
    assert count(tmp_path, "workflows") == len(small_org.workflows)
    assert count(tmp_path, "jobs") == job_total(small_org)


def test_a_full_load_stays_within_5_percent_of_the_minimum_requests(
    small_org: Organisation, tmp_path: Path
) -> None:
    """The minimum the API allows: one pipeline page per 20 pipelines, one workflow listing per
    pipeline, one job listing per workflow, details and test pages of each finished build job,
    and the insights pages of each (project, workflow name)."""
    page = 20

    def pages(items: int) -> int:
        return max(1, math.ceil(items / page))

    pipelines = Counter(p["project_slug"] for p in small_org.pipelines)
    finished = [
        job for job in small_org.job_runs()
        if job["job_number"] is not None and job["stopped_at"] is not None
        and job["status"] in FINISHED_JOB_STATUSES
    ]  # fmt: skip
    feed = Counter(
        (run["project_slug"], run["workflow_name"]) for run in small_org.insights_workflow_runs
    )
    names = {(w["project_slug"], w["name"]) for w in small_org.workflows}
    minimum = (
        len(small_org.projects)
        + sum(pages(n) for n in pipelines.values())
        + len(small_org.pipelines)
        + len(small_org.workflows)
        + len(finished)
        + sum(
            pages(len(small_org.job_tests(j["project_slug"], j["job_number"]) or []))
            for j in finished
        )
        + sum(pages(feed[name]) for name in names)
    )
    with CircleCIEmulator(small_org, page_size=page) as emulator:
        load(emulator, small_org, tmp_path)
        made = sum(emulator.request_log.values())
    assert minimum <= made <= minimum * 1.05
