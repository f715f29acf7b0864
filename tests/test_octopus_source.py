"""The dlt Octopus Deploy source against the emulator, without Dagster: completeness and final
states against the ground truth, the request budget, incremental loads, a running deployment
merged to its final state, retries, the 401 message, quarantine, the real recorded task bodies,
and the dbt staging/intermediate models built on a loaded warehouse."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import subprocess
import sys
import traceback
from collections import Counter
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.octopus import (
    DEFECT_DAYS,
    TASK_COLUMNS,
    TASK_REQUIRED,
    TERMINAL_TASK_STATES,
    SourceAuthError,
    interruption_rows,
    octopus_is_configured,
    octopus_source,
    release_commit_rows,
    task_rows,
)
from ingestion.quality import problem_with
from sandbox import OctopusEmulator, OctopusOrganisation

from expected_deployments import expected_octopus_deployments
from pipeline_support import AS_OF, environment, exception_chain, query

RECORDINGS = Path("/work/shared/real-recordings/octopus")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DAYS = 60

DEPLOYMENTS = ("GET /api/{baseSpaceId}/deployments", 200)
TASKS = ("GET /api/{baseSpaceId}/tasks", 200)
RELEASES = ("GET /api/{baseSpaceId}/releases", 200)
DEFECTS = ("GET /api/{baseSpaceId}/releases/{id}/defects", 200)
INTERRUPTIONS = ("GET /api/{baseSpaceId}/interruptions", 200)
CATALOGUE = tuple(
    (f"GET /api/{{baseSpaceId}}/{path}", 200)
    for path in ("projects", "projectgroups", "environments", "channels", "tenants")
)


@pytest.fixture(scope="module")
def small_org() -> OctopusOrganisation:
    return OctopusOrganisation(AS_OF, seed=7, deploy_days=DAYS, projects=2)


@pytest.fixture(scope="module")
def truth(small_org: OctopusOrganisation) -> dict[str, list[dict]]:
    releases = list(small_org.releases())
    return {
        "deployments": list(small_org.deployments()),
        "releases": releases,
        "commits": [(r["id"], c["sha"]) for r in releases for c in r["commits"]],
        "interruptions": list(small_org.interruptions()),
        "defects": list(small_org.defects()),
    }


@pytest.fixture(scope="module")
def loaded(
    small_org: OctopusOrganisation, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Counter]:
    """One full load, shared by the completeness test and the dbt build (which only adds views)."""
    folder = tmp_path_factory.mktemp("octopus")
    with OctopusEmulator(small_org) as emulator:
        load(emulator, small_org, folder)
        return folder, Counter(emulator.request_log)


def load(
    emulator: OctopusEmulator, org: OctopusOrganisation, folder: Path, **overrides: object
) -> dlt.Pipeline:
    settings: dict[str, object] = {
        "api_key": emulator.api_key,
        "base_url": emulator.base_url,
        "as_of": org.as_of,
        "initial_days": DAYS,
        "backoff_factor": 0.01,
        **overrides,
    }
    pipeline = dlt.pipeline(
        pipeline_name="octopus_test",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="raw_octopus",
        pipelines_dir=str(folder / "dlt"),
    )
    pipeline.run(octopus_source(**settings), loader_file_format="parquet")
    return pipeline


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def count(folder: Path, table: str) -> int:
    return rows(folder, f"select count(*) from raw_octopus.{table}")[0][0]


def loaded_states(folder: Path) -> dict[str, tuple]:
    return {
        deployment: (state, completed)
        for deployment, state, completed in rows(
            folder,
            "select d.id, t.state, t.completed_time from raw_octopus.deployments d "
            "join raw_octopus.tasks t on t.id = d.task_id",
        )
    }


def expected_states(truth: dict[str, list[dict]]) -> dict[str, tuple]:
    return {d["id"]: (d["state"], d["completed_at"]) for d in truth["deployments"]}


def assert_complete(folder: Path, truth: dict[str, list[dict]]) -> None:
    assert count(folder, "deployments") == len(truth["deployments"])
    assert count(folder, "tasks") == len(truth["deployments"])
    assert count(folder, "releases") == len(truth["releases"])
    assert count(folder, "release_commits") == len(truth["commits"])
    assert count(folder, "interruptions") == len(truth["interruptions"])
    assert count(folder, "defects") == len(truth["defects"])
    assert loaded_states(folder) == expected_states(truth)


def test_full_load_has_every_record_once_with_final_states_and_few_requests(
    small_org: OctopusOrganisation, truth: dict[str, list[dict]], loaded: tuple[Path, Counter]
) -> None:
    tmp_path, log = loaded
    assert_complete(tmp_path, truth)
    assert count(tmp_path, "projects") == 2
    assert count(tmp_path, "project_groups") == 2
    assert count(tmp_path, "environments") == 4
    assert count(tmp_path, "channels") == len(list(small_org.channels()))
    assert count(tmp_path, "tenants") == 2
    # Ids, tenants, errors and guided failures match the ground truth.
    loaded = {
        row[0]: row[1:]
        for row in rows(
            tmp_path,
            "select d.id, d.release_id, d.environment_id, d.tenant_id, d.created, "
            "coalesce(t.error_message, ''), t.start_time from raw_octopus.deployments d "
            "join raw_octopus.tasks t on t.id = d.task_id",
        )
    }
    assert loaded == {
        d["id"]: (
            d["release_id"],
            d["environment_id"],
            d["tenant_id"],
            d["created_at"],
            d["error_message"],
            d["started_at"],
        )
        for d in truth["deployments"]
    }
    assert set(rows(tmp_path, "select deployment_id, task_id from raw_octopus.interruptions")) == {
        (i["deployment_id"], i["task_id"]) for i in truth["interruptions"]
    }
    assert set(rows(tmp_path, "select id, status from raw_octopus.defects")) == {
        (d["id"], d["status"]) for d in truth["defects"]
    }
    assert set(
        rows(tmp_path, "select release_id, commit_sha from raw_octopus.release_commits")
    ) == set(truth["commits"])
    # The request budget: catalogue 1 page each; deployment pages; one tasks call per page of
    # deployments; release pages; one defects call per release; one interruptions page.
    pages = math.ceil(len(truth["deployments"]) / 100)
    release_pages = math.ceil(len(truth["releases"]) / 100)
    expected = Counter({key: 1 for key in CATALOGUE})
    expected.update(
        {
            DEPLOYMENTS: pages,
            TASKS: pages,
            RELEASES: release_pages,
            DEFECTS: len(truth["releases"]),
            INTERRUPTIONS: 1,
        }
    )
    assert log == expected
    # Lists and objects stay single JSON columns: no child tables.
    tables = {
        name
        for (name,) in rows(
            tmp_path,
            "select table_name from information_schema.tables where table_schema = 'raw_octopus'",
        )
    }
    assert not any("__" in name for name in tables), tables


def test_a_second_load_adds_nothing_and_reads_only_the_lookback(
    small_org: OctopusOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with OctopusEmulator(small_org) as emulator:
        load(emulator, small_org, tmp_path)
        emulator.request_log.clear()
        load(emulator, small_org, tmp_path)
        log = Counter(emulator.request_log)
    assert_complete(tmp_path, truth)
    # One page of deployments (the lookback window) and its tasks; the releases of the last
    # 365 days and their defects (re-read on every run, metrics.md §5).
    recent = [
        r
        for r in truth["releases"]
        if r["created_at"] >= small_org.end - dt.timedelta(days=DEFECT_DAYS)
    ]
    assert log[DEPLOYMENTS] == 1 and log[TASKS] == 1 and log[INTERRUPTIONS] == 1
    assert log[DEFECTS] == len(recent)
    assert sum(log.values()) == len(CATALOGUE) + 3 + log[RELEASES] + len(recent)


def test_a_running_deployment_ends_as_one_row_with_its_final_state(
    small_org: OctopusOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    day = AS_OF - dt.timedelta(days=3)
    target = next(
        d for d in truth["deployments"]
        if d["state"] in TERMINAL_TASK_STATES and d["created_at"].date() == day and d["started_at"]
    )  # fmt: skip
    cutoff = target["started_at"] + dt.timedelta(seconds=1)
    assert cutoff < target["completed_at"]
    query = f"select state, completed_time is null from raw_octopus.tasks where id = '{target['task_id']}'"
    with OctopusEmulator(small_org) as emulator:
        emulator.at = cutoff
        load(emulator, small_org, tmp_path)
        assert rows(tmp_path, query) == [("Executing", True)]
        earlier = list(small_org.deployments(at=cutoff))
        assert count(tmp_path, "deployments") == len(earlier) < len(truth["deployments"])
        emulator.at = small_org.end
        load(emulator, small_org, tmp_path)
    assert rows(tmp_path, query) == [(target["state"], False)]
    assert rows(
        tmp_path, f"select count(*) from raw_octopus.deployments where id = '{target['id']}'"
    ) == [(1,)]
    assert_complete(tmp_path, truth)


def test_rate_limits_and_server_errors_are_retried_without_loss(
    small_org: OctopusOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    with OctopusEmulator(small_org) as emulator:
        emulator.inject_faults(429, 2, retry_after=0, path_contains="/deployments")
        emulator.inject_faults(503, 3, path_contains="/tasks")
        emulator.inject_faults(429, 2, retry_after=0, path_contains="/defects")
        emulator.inject_truncated(1, path_contains="/releases?")
        emulator.inject_malformed(1, path_contains="/interruptions")
        load(emulator, small_org, tmp_path)
        assert emulator.pending_faults() == 0
        log = Counter(emulator.request_log)
    assert log[("GET /api/{baseSpaceId}/deployments", 429)] == 2
    assert log[("GET /api/{baseSpaceId}/tasks", 503)] == 3
    assert_complete(tmp_path, truth)


def test_unauthorized_names_the_variable_and_never_the_key(
    small_org: OctopusOrganisation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "API-WRONGKEY5F2B9C"
    caplog.set_level(logging.DEBUG)
    with OctopusEmulator(small_org) as emulator, pytest.raises(PipelineStepFailed) as failure:
        load(emulator, small_org, tmp_path, api_key=secret)
    chain = exception_chain(failure.value)
    assert any(isinstance(error, SourceAuthError) for error in chain), chain
    text = "".join(traceback.format_exception(failure.value))
    assert "Octopus Deploy rejected the API key (HTTP 401)" in text
    assert "SOURCES__OCTOPUS__API_KEY" in text
    assert secret not in text
    assert secret not in caplog.text


def test_a_malformed_record_is_quarantined_with_its_reason(
    small_org: OctopusOrganisation, truth: dict[str, list[dict]], tmp_path: Path
) -> None:
    def drop_first_state(body: dict) -> dict:
        items = [dict(body["Items"][0]), *body["Items"][1:]]
        del items[0]["State"]
        return {**body, "Items": items}

    with OctopusEmulator(small_org) as emulator:
        emulator.inject_body_change(drop_first_state, 1, path_contains="/tasks")
        load(emulator, small_org, tmp_path)
    assert count(tmp_path, "tasks") == len(truth["deployments"]) - 1
    assert count(tmp_path, "deployments") == len(truth["deployments"])
    quarantine = rows(tmp_path, "select resource, record_id, reason from raw_octopus.quarantine")
    assert len(quarantine) == 1
    resource, record_id, reason = quarantine[0]
    assert (resource, reason) == ("tasks", "missing required field 'State'")
    assert record_id in {d["task_id"] for d in truth["deployments"]}


def test_real_recorded_tasks_load_without_loss(tmp_path: Path) -> None:
    """Every recorded task page (an older server: no SpaceId, `IsStale`, `Page.N` links) goes
    through the source's record handling and column hints into DuckDB without loss."""
    pages = [
        json.loads(path.read_text())
        for path in sorted(RECORDINGS.glob("octopusclients_machine_tasks_skip*.json"))
    ]
    assert len(pages) == 5
    items = [item for page in pages for item in page["Items"]]
    assert len(items) == pages[0]["TotalResults"]
    tasks, bad = task_rows(items, "Spaces-1")
    assert bad == [] and len(tasks) == len(items)
    assert all(problem_with(item, TASK_REQUIRED) is None for item in items)
    dlt.pipeline(
        pipeline_name="recorded_tasks",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="raw_octopus",
        pipelines_dir=str(tmp_path / "dlt"),
    ).run(
        dlt.resource(
            tasks, name="tasks", primary_key="id", write_disposition="merge", columns=TASK_COLUMNS
        )
    )
    expected_failed = sum(1 for item in items if item["State"] == "Failed")
    assert rows(
        tmp_path,
        "select count(*), count(distinct id), count(completed_time), count(start_time), "
        "sum(case when state = 'Failed' then 1 else 0 end), min(space_id) from raw_octopus.tasks",
    ) == [(len(items), len(items), len(items), len(items), expected_failed, "Spaces-1")]
    # Times keep their offsets: the first recorded task completed at 21:00:49.777 UTC.
    first = items[0]
    assert rows(
        tmp_path, f"select completed_time from raw_octopus.tasks where id = '{first['Id']}'"
    ) == [(dt.datetime(2017, 3, 20, 21, 0, 49, 777000, tzinfo=dt.UTC),)]


def test_record_helpers_pick_guided_failures_and_commits() -> None:
    guided = {
        "Id": "Interruptions-1",
        "Type": "GuidedFailure",
        "Created": "2024-08-02T05:07:42.445+00:00",
        "RelatedDocumentIds": ["Deployments-5", "ServerTasks-105", "Environments-3"],
    }
    manual = {**guided, "Id": "Interruptions-2", "Type": "ManualIntervention"}
    kept, bad = interruption_rows([guided, manual, {"Id": "Interruptions-3"}], "Spaces-1")
    assert [(r["Id"], r["deployment_id"], r["TaskId"]) for r in kept] == [
        ("Interruptions-1", "Deployments-5", "ServerTasks-105")
    ]
    assert len(bad) == 1
    release = {
        "Id": "Releases-1",
        "ProjectId": "Projects-1",
        "BuildInformation": [
            {"PackageId": "A", "Commits": [{"Id": "c2"}, {"Id": "c1"}]},
            {"PackageId": "B", "Commits": [{"Id": "c1"}]},
            {"PackageId": "C", "Commits": None},
        ],
    }
    assert [
        (r["commit_sha"], r["package_id"], r["position"]) for r in release_commit_rows(release)
    ] == [
        ("c2", "A", 0),
        ("c1", "A", 1),
    ]


def test_is_configured_needs_the_key_and_base_url() -> None:
    with environment(SOURCES__OCTOPUS__API_KEY="API-X", SOURCES__OCTOPUS__BASE_URL="http://o"):
        assert octopus_is_configured()
    with environment(SOURCES__OCTOPUS__API_KEY="", SOURCES__OCTOPUS__BASE_URL="http://o"):
        assert not octopus_is_configured()


def test_dbt_models_build_on_a_loaded_warehouse(
    truth: dict[str, list[dict]], loaded: tuple[Path, Counter], small_org: OctopusOrganisation
) -> None:
    tmp_path = loaded[0]
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--select",
            # Everything the Octopus models read: its staging, and (for the scope history
            # behind releases and commits) int_deployments with its other, empty, inputs.
            "staging.octopus +int_octopus__deployment_commits",
            "--indirect-selection",
            "cautious",
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=PROJECT_ROOT / "dbt_project",
        env={**os.environ, "INSIGHTS_WAREHOUSE": str(tmp_path / "warehouse.duckdb")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    canonical = {
        "Success": "success",
        "Failed": "failed",
        "TimedOut": "failed",
        "Canceled": "cancelled",
        "Queued": "in_progress",
        "Executing": "in_progress",
        "Cancelling": "in_progress",
    }
    unresolved = {d["release_id"] for d in truth["defects"] if d["status"] == "Unresolved"}
    guided = {i["deployment_id"] for i in truth["interruptions"]}
    expected = {
        d["id"]: (
            canonical[d["state"]],
            d["tenant_name"] or "",
            d["environment_name"],
            d["release_version"],
            d["id"] in guided,
            d["release_id"] in unresolved,
            "prod" in d["environment_name"].lower(),
        )
        for d in truth["deployments"]
    }
    loaded = {
        row[0]: row[1:]
        for row in rows(
            tmp_path,
            "select deployment_id, state, tenant, environment, release_version, "
            "had_guided_failure, is_do_not_promote, is_production "
            "from intermediate.int_octopus__deployments",
        )
    }
    assert loaded == expected
    assert any(v[4] for v in expected.values()) and any(v[5] for v in expected.values())
    # Commits: those of every release a successful deployment delivers (tests/expected_deployments).
    expected_commits = {
        (deployment_id, sha)
        for (_, deployment_id), row in expected_octopus_deployments(small_org).items()
        for sha in row["changes"]
    }
    loaded_commits = set(
        rows(
            tmp_path,
            "select deployment_id, commit_sha from intermediate.int_octopus__deployment_commits",
        )
    )
    assert loaded_commits == expected_commits and len(expected_commits) > 50
