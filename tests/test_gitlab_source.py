"""The dlt GitLab CI source against the emulator, without Dagster: completeness, the request
budget, incremental loads, merges of status changes, retries, the 401 message, quarantine, and
the real recorded GitLab bodies."""

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

from ingestion.gitlab import (
    FINISHED_PIPELINE_STATUSES,
    JOB_COLUMNS,
    PIPELINE_COLUMNS,
    PIPELINE_REQUIRED,
    SourceAuthError,
    gitlab_is_configured,
    gitlab_source,
    job_rows,
    parse_list,
    report_case_rows,
)
from ingestion.quality import checked, problem_with
from sandbox import GitLabEmulator, GitLabOrganisation

from pipeline_support import AS_OF, environment, exception_chain, query

RECORDINGS = Path("/work/shared/real-recordings/gitlab")
SAMPLES = Path("/work/shared/api-samples/gitlab")

LIST = ("GET /projects/:id/pipelines", 200)
DETAIL = ("GET /projects/:id/pipelines/:pipeline_id", 200)
JOBS = ("GET /projects/:id/pipelines/:pipeline_id/jobs", 200)
REPORT = ("GET /projects/:id/pipelines/:pipeline_id/test_report", 200)
PROJECT = ("GET /projects/:id", 200)


@pytest.fixture(scope="module")
def small_org() -> GitLabOrganisation:
    return GitLabOrganisation(AS_OF, seed=7, days=20, project_count=2)


@pytest.fixture(scope="module")
def truth(small_org: GitLabOrganisation) -> dict[str, list[dict]]:
    pipelines = list(small_org.pipelines())
    finished = {p["pipeline_id"] for p in pipelines if p["status"] in FINISHED_PIPELINE_STATUSES}
    return {
        "pipelines": pipelines,
        "jobs": list(small_org.jobs()),
        # Test reports are read once a pipeline has finished (the last one is still running).
        "test_cases": [c for c in small_org.test_cases() if c["pipeline_id"] in finished],
        "finished": [p for p in pipelines if p["pipeline_id"] in finished],
    }


def load(
    emulator: GitLabEmulator, org: GitLabOrganisation, folder: Path, **overrides: object
) -> dlt.Pipeline:
    settings: dict[str, object] = {
        # One project by full path, one by numeric id: both are accepted.
        "projects": f"{org.projects[0].path_with_namespace},{org.projects[1].id}",
        "private_token": emulator.token,
        "base_url": emulator.base_url,
        "as_of": org.as_of,
        "initial_days": org.days,
        "backoff_factor": 0.01,
        **overrides,
    }
    pipeline = dlt.pipeline(
        pipeline_name="gitlab_test",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="raw_gitlab",
        pipelines_dir=str(folder / "dlt"),
    )
    # The CI resources only: deployments have their own tests (test_gitlab_deployments_source).
    source = gitlab_source(**settings).with_resources(
        "projects", "pipelines", "pipeline_jobs", "test_cases"
    )
    pipeline.run(source, loader_file_format="parquet")
    return pipeline


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def count(folder: Path, table: str) -> int:
    return rows(folder, f"select count(*) from raw_gitlab.{table}")[0][0]


def assert_complete(folder: Path, truth: dict[str, list[dict]]) -> None:
    assert count(folder, "pipelines") == len(truth["pipelines"])
    assert count(folder, "pipeline_jobs") == len(truth["jobs"])
    assert count(folder, "test_cases") == len(truth["test_cases"])


def minimum_requests(truth: dict[str, list[dict]], projects: int) -> Counter:
    """The fewest calls a full load can make: the project, the list pages, one detail per
    pipeline, the job pages of each pipeline and one test report per finished pipeline."""
    per_project = Counter(p["project_id"] for p in truth["pipelines"])
    per_pipeline = Counter(j["pipeline_id"] for j in truth["jobs"])
    return Counter(
        {
            PROJECT: projects,
            LIST: sum(max(1, math.ceil(n / 100)) for n in per_project.values()),
            DETAIL: len(truth["pipelines"]),
            JOBS: sum(
                max(1, math.ceil(per_pipeline[p["pipeline_id"]] / 100)) for p in truth["pipelines"]
            ),
            REPORT: len(truth["finished"]),
        }
    )


def test_full_load_has_every_record_once_within_the_request_budget(
    small_org: GitLabOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitLabEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        log = Counter(emulator.request_log)
    assert count(tmp_path, "projects") == 2
    assert_complete(tmp_path, truth)
    assert rows(tmp_path, "select count(distinct id) = count(*) from raw_gitlab.pipeline_jobs") == [
        (True,)
    ]
    # Retried jobs are their own rows.
    retried = sum(1 for job in truth["jobs"] if job["retried"])
    assert retried > 0
    # Exactly the minimum here (the 5 % allowance is for real-world overlap while paging).
    minimum = minimum_requests(truth, 2)
    assert log == minimum
    assert sum(log.values()) <= 1.05 * sum(minimum.values())
    # Times come from the single-pipeline endpoint and match the ground truth.
    expected = {
        p["pipeline_id"]: (p["status"], p["started_at"], p["finished_at"], p["duration"])
        for p in truth["pipelines"]
    }
    loaded = {
        pid: (status, started, finished, duration)
        for pid, status, started, finished, duration in rows(
            tmp_path,
            "select id, status, started_at, finished_at, duration from raw_gitlab.pipelines",
        )
    }
    assert loaded == expected
    # Tag pipelines keep `tag`, unnamed pipelines have a null `name`.
    assert rows(tmp_path, "select count(*) from raw_gitlab.pipelines where tag") == [
        (sum(1 for p in truth["pipelines"] if p["tag"]),)
    ]
    # Lists stay single JSON columns: no child tables.
    tables = {
        name for (name,) in rows(tmp_path, "select table_name from information_schema.tables")
    }
    assert not any(name.startswith("pipeline_jobs__") for name in tables)


def test_a_second_load_without_new_data_adds_nothing_and_only_lists(
    small_org: GitLabOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitLabEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        emulator.request_log.clear()
        pipeline = load(emulator, small_org, tmp_path)
        log = Counter(emulator.request_log)
    assert_complete(tmp_path, truth)
    # Two projects, one list page each (the lookback window), nothing else.
    assert log == Counter({PROJECT: 2, LIST: 2})
    row_counts = pipeline.last_trace.last_normalize_info.row_counts
    assert not {"pipelines", "pipeline_jobs", "test_cases"} & set(row_counts), row_counts


def test_a_running_pipeline_is_merged_to_its_final_status(
    small_org: GitLabOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    day = AS_OF - dt.timedelta(days=3)
    target = next(
        p for p in reversed(truth["pipelines"])
        if p["status"] == "success" and p["created_at"].date() == day and p["started_at"]
    )  # fmt: skip
    cutoff = target["started_at"] + dt.timedelta(seconds=30)
    with GitLabEmulator(small_org) as emulator:
        emulator.at = cutoff
        load(emulator, small_org, tmp_path)
        status = f"select status, finished_at is null from raw_gitlab.pipelines where id = {target['pipeline_id']}"
        assert rows(tmp_path, status) == [("running", True)]
        before = count(tmp_path, "pipelines")
        assert before < len(truth["pipelines"])
        emulator.at = None
        emulator.request_log.clear()
        load(emulator, small_org, tmp_path)
        log = Counter(emulator.request_log)
    assert rows(tmp_path, status) == [("success", False)]
    assert rows(
        tmp_path, f"select count(*) from raw_gitlab.pipelines where id = {target['pipeline_id']}"
    ) == [(1,)]
    assert_complete(tmp_path, truth)
    # Only new or changed pipelines are read again: fewer details than pipelines, and no test
    # report twice (reports = finished pipelines that were not finished, or not there, before).
    assert 0 < log[DETAIL] < len(truth["pipelines"])
    assert log[REPORT] <= log[DETAIL]
    assert log[REPORT] < len(truth["finished"])


def test_rate_limits_and_server_errors_are_retried_without_loss(
    small_org: GitLabOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitLabEmulator(small_org) as emulator:
        emulator.inject_rate_limit(2, retry_after=0, path_contains="/pipelines?")
        emulator.inject_rate_limit(3, retry_after=0, path_contains="/jobs")
        emulator.inject_faults(500, 3, path_contains="/test_report")
        emulator.inject_faults(502, 2, path_contains="/pipelines/1")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
        log = Counter(emulator.request_log)
    assert log[("GET /projects/:id/pipelines", 429)] == 2
    assert log[("GET /projects/:id/pipelines/:pipeline_id/jobs", 429)] == 3
    assert log[("GET /projects/:id/pipelines/:pipeline_id/test_report", 500)] == 3
    assert_complete(tmp_path, truth)


def test_cut_off_and_non_json_responses_are_retried_without_loss(
    small_org: GitLabOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with GitLabEmulator(small_org) as emulator:
        emulator.inject_truncated(2, path_contains="/pipelines?")
        emulator.inject_malformed(2, path_contains="/jobs")
        emulator.inject_truncated(1, path_contains="/test_report")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
    assert_complete(tmp_path, truth)


def test_unauthorized_names_the_variable_and_never_the_token(
    small_org: GitLabOrganisation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "glpat-wrong-5f2b9c"
    caplog.set_level(logging.DEBUG)
    with GitLabEmulator(small_org) as emulator, pytest.raises(PipelineStepFailed) as failure:
        load(emulator, small_org, tmp_path, private_token=secret)
    chain = exception_chain(failure.value)
    assert any(isinstance(error, SourceAuthError) for error in chain), chain
    text = "".join(traceback.format_exception(failure.value))
    assert "GitLab rejected the access token (HTTP 401)" in text
    assert "SOURCES__GITLAB__PRIVATE_TOKEN" in text
    assert secret not in text
    assert secret not in caplog.text


def test_a_malformed_record_is_quarantined_with_its_reason(
    small_org: GitLabOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    def drop_first_status(body: list) -> list:
        broken = dict(body[0])
        del broken["status"]
        return [broken, *body[1:]]

    with GitLabEmulator(small_org) as emulator:
        emulator.inject_body_change(drop_first_status, 1, path_contains="/jobs")
        load(emulator, small_org, tmp_path)
    assert count(tmp_path, "pipeline_jobs") == len(truth["jobs"]) - 1
    quarantine = rows(
        tmp_path, "select resource, record_id, reason, record->>'$.name' from raw_gitlab.quarantine"
    )
    assert len(quarantine) == 1
    resource, record_id, reason, name = quarantine[0]
    assert (resource, reason) == ("pipeline_jobs", "missing required field 'status'")
    assert int(record_id) in {job["job_id"] for job in truth["jobs"]}
    assert name in {job["name"] for job in truth["jobs"]}


def test_real_recorded_bodies_load_without_loss(tmp_path: Path) -> None:
    """Every recorded GitLab body goes through the source's record handling and its column
    hints into DuckDB: nothing quarantined, nothing lost, odd values kept (string coverage,
    null updated_at, null name)."""
    listed = json.loads((RECORDINGS / "devlake_pipelines_list_items_extract.json").read_text())
    details = [
        json.loads(path.read_text()) for path in sorted(RECORDINGS.glob("devlake_pipeline_*.json"))
    ]
    assert len(details) == 3
    good, bad = checked("pipelines", listed, PIPELINE_REQUIRED)
    assert bad == [] and len(good) == len(listed)
    assert [problem_with(body, PIPELINE_REQUIRED) for body in details] == [None] * 3
    sample_jobs = json.loads((SAMPLES / "list-pipeline-jobs.json").read_text())
    pipeline = {"id": 6, "project_id": 1}
    jobs, bad_jobs = job_rows(sample_jobs, pipeline)
    assert bad_jobs == [] and len(jobs) == len(sample_jobs)
    cases, bad_cases = report_case_rows(
        {"test_suites": [{"name": "rspec", "build_ids": [66004], "test_cases": [
            {"status": "success", "name": "works", "classname": "spec.a", "file": None,
             "execution_time": 0.5, "system_output": None, "stack_trace": None},
            {"status": "failed", "name": "works", "classname": "spec.a",
             "execution_time": 1.25, "system_output": "boom", "stack_trace": None},
        ]}]},
        pipeline,
    )  # fmt: skip
    assert bad_cases == [] and [c["execution_index"] for c in cases] == [1, 2]

    def resource(name: str, data: list, columns: dict) -> object:
        return dlt.resource(
            data, name=name, primary_key="id", write_disposition="merge", columns=columns
        )

    destination = dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb"))
    for dataset, data in (("listed", good), ("details", details)):
        dlt.pipeline(
            pipeline_name=f"recorded_{dataset}",
            destination=destination,
            dataset_name=dataset,
            pipelines_dir=str(tmp_path / "dlt"),
        ).run(resource("pipelines", data, PIPELINE_COLUMNS))
    dlt.pipeline(
        pipeline_name="recorded_jobs",
        destination=destination,
        dataset_name="jobs",
        pipelines_dir=str(tmp_path / "dlt"),
    ).run(resource("pipeline_jobs", jobs, JOB_COLUMNS))
    assert rows(tmp_path, "select count(*), count(updated_at) from listed.pipelines") == [
        (len(listed), sum(1 for item in listed if item["updated_at"]))
    ]
    assert rows(
        tmp_path,
        "select count(*), count(started_at), count(duration), max(coverage), count(name) "
        "from details.pipelines",
    ) == [(3, 3, 3, "68.49", 0)]
    assert rows(
        tmp_path,
        "select detailed_status__group from details.pipelines where id = 1079558335",
    ) == [("success-with-warnings",)]
    assert rows(tmp_path, "select count(*), count(pipeline_id) from jobs.pipeline_jobs") == [
        (len(sample_jobs), len(sample_jobs))
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme/backend/orders-api", ["acme/backend/orders-api"]),
        ("acme/a, 27001013", ["acme/a", "27001013"]),
        ('["acme/a", 27001013]', ["acme/a", "27001013"]),
        ("", []),
    ],
)
def test_projects_accept_paths_or_ids_as_comma_or_json_lists(
    value: str, expected: list[str]
) -> None:
    assert parse_list(value) == expected


def test_is_configured_needs_the_token_and_projects() -> None:
    with environment(SOURCES__GITLAB__PRIVATE_TOKEN="t", SOURCES__GITLAB__PROJECTS="a/b"):
        assert gitlab_is_configured()
    with environment(SOURCES__GITLAB__PRIVATE_TOKEN="", SOURCES__GITLAB__PROJECTS="a/b"):
        assert not gitlab_is_configured()
