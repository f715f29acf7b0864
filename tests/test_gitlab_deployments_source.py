"""The GitLab source's deployment resources against the emulator: environments with their tier,
deployments merged to their final state, the commits each successful deployment brought (one
compare per pair of successive successful deployments), incremental loads, and the dbt models
built on the loaded warehouse."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dlt
import duckdb
import pytest

from ingestion.gitlab import gitlab_source
from sandbox import GitLabEmulator, GitLabOrganisation

from pipeline_support import AS_OF, query

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
DEPLOYMENT_RESOURCES = ("projects", "environments", "deployments", "deployment_commits")

PROJECT = ("GET /projects/:id", 200)
ENVIRONMENTS = ("GET /projects/:id/environments", 200)
DEPLOYMENTS = ("GET /projects/:id/deployments", 200)
COMPARE = ("GET /projects/:id/repository/compare", 200)


@pytest.fixture(scope="module")
def org() -> GitLabOrganisation:
    return GitLabOrganisation(AS_OF, seed=5, days=20, deploy_days=60, project_count=2)


def successful_pairs(deployments: list[dict]) -> list[tuple[dict, dict]]:
    """(previous, this) for each successful deployment after the first of its scope, in the
    order of their finish (metrics.md §4-§5)."""
    scopes: dict[tuple[int, str], list[dict]] = {}
    for deployment in deployments:
        if deployment["status"] == "success":
            key = (deployment["project_id"], deployment["environment"])
            scopes.setdefault(key, []).append(deployment)
    pairs = []
    for successes in scopes.values():
        successes.sort(key=lambda d: (d["finished_at"], d["deployment_id"]))
        pairs.extend(itertools.pairwise(successes))
    return pairs


@pytest.fixture(scope="module")
def truth(org: GitLabOrganisation) -> dict:
    deployments = list(org.deployments())
    pairs = successful_pairs(deployments)
    commits = {}
    for previous, current in pairs:
        project = org.project(current["project_id"])
        for commit in org.commits_between(project, previous["sha"], current["sha"]):
            # Git (and so the compare API) keeps whole seconds.
            authored = commit.authored_at.replace(microsecond=0)
            commits[(current["deployment_id"], commit.sha)] = authored
    return {
        "deployments": deployments,
        "environments": list(org.environments()),
        # Each distinct (from, to) pair of different shas in a scope needs one compare (a
        # redeploy of the same sha brings nothing and needs none).
        "compares": {
            (c["project_id"], c["environment"], p["sha"], c["sha"])
            for p, c in pairs
            if p["sha"] != c["sha"]
        },
        "commits": commits,
    }


def load(
    emulator: GitLabEmulator,
    org: GitLabOrganisation,
    folder: Path,
    resources: tuple[str, ...] | None = DEPLOYMENT_RESOURCES,
) -> dlt.Pipeline:
    source = gitlab_source(
        projects=f"{org.projects[0].path_with_namespace},{org.projects[1].id}",
        private_token=emulator.token,
        base_url=emulator.base_url,
        as_of=org.as_of,
        initial_days=org.days,
        deployment_initial_days=org.deploy_days,
        backoff_factor=0.01,
    )
    if resources is not None:
        source = source.with_resources(*resources)
    pipeline = dlt.pipeline(
        pipeline_name="gitlab_deployments_test",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="raw_gitlab",
        pipelines_dir=str(folder / "dlt"),
    )
    pipeline.run(source, loader_file_format="parquet")
    return pipeline


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def loaded_deployments(folder: Path) -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in rows(
            folder,
            "select id, status, environment__name, sha, deployable__id, deployable__started_at,"
            " deployable__finished_at from raw_gitlab.deployments",
        )
    }


def expected_deployments(truth: dict) -> dict[int, tuple]:
    return {
        d["deployment_id"]: (
            d["status"],
            d["environment"],
            d["sha"],
            d["job_id"],
            d["started_at"],
            d["finished_at"],
        )
        for d in truth["deployments"]
    }


@pytest.fixture(scope="module")
def full_load(
    org: GitLabOrganisation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Counter]]:
    """The whole source (CI resources too) loaded once, and its request log."""
    folder = tmp_path_factory.mktemp("gitlab_deployments")
    with GitLabEmulator(org) as emulator:
        load(emulator, org, folder, resources=None)
        yield folder, Counter(emulator.request_log)


def test_deployments_and_environments_are_complete_with_their_final_states(
    full_load: tuple[Path, Counter], truth: dict
) -> None:
    folder, log = full_load
    assert len(truth["deployments"]) > 300
    assert rows(folder, "select count(*), count(distinct id) from raw_gitlab.deployments") == [
        (len(truth["deployments"]), len(truth["deployments"]))
    ]
    assert loaded_deployments(folder) == expected_deployments(truth)
    statuses = Counter(status for status, *_ in loaded_deployments(folder).values())
    assert statuses == Counter(d["status"] for d in truth["deployments"])
    assert {"success", "failed", "skipped"} <= set(statuses)
    environments = {
        (env_id, project_id, name, tier)
        for env_id, project_id, name, tier in rows(
            folder, "select id, project_id, name, tier from raw_gitlab.environments"
        )
    }
    assert environments == {
        (e["environment_id"], e["project_id"], e["name"], e["tier"]) for e in truth["environments"]
    }
    per_project = Counter(d["project_id"] for d in truth["deployments"])
    assert log[DEPLOYMENTS] == sum(math.ceil(n / 100) for n in per_project.values())
    assert log[ENVIRONMENTS] == 2
    assert log[PROJECT] == 2  # shared by every resource that needs the numeric project id


def test_compare_is_called_once_per_pair_and_brings_the_commits_between_the_shas(
    full_load: tuple[Path, Counter], truth: dict
) -> None:
    folder, log = full_load
    assert len(truth["compares"]) > 100
    assert log[COMPARE] == len(truth["compares"])
    assert sum(count for (route, _), count in log.items() if "compare" in route) == log[COMPARE]
    loaded = {
        (deployment_id, sha): authored
        for deployment_id, sha, authored in rows(
            folder, "select deployment_id, sha, authored_date from raw_gitlab.deployment_commits"
        )
    }
    assert loaded == truth["commits"]
    assert rows(folder, "select count(*) from raw_gitlab.deployment_commits") == [
        (len(truth["commits"]),)
    ]
    # The first success of each scope brings nothing; only successes bring commits.
    brought = {deployment_id for deployment_id, _ in loaded}
    statuses = {d["deployment_id"]: d["status"] for d in truth["deployments"]}
    assert {statuses[deployment_id] for deployment_id in brought} == {"success"}


def test_a_second_load_adds_nothing_and_only_lists(
    org: GitLabOrganisation, truth: dict, tmp_path: Path
) -> None:
    with GitLabEmulator(org) as emulator:
        load(emulator, org, tmp_path)
        emulator.request_log.clear()
        pipeline = load(emulator, org, tmp_path)
        log = Counter(emulator.request_log)
    # Two projects: the project, one environments page and one deployments page (the lookback).
    assert log == Counter({PROJECT: 2, ENVIRONMENTS: 2, DEPLOYMENTS: 2})
    row_counts = pipeline.last_trace.last_normalize_info.row_counts
    assert not {"deployments", "environments", "deployment_commits"} & set(row_counts)
    assert rows(tmp_path, "select count(*) from raw_gitlab.deployments") == [
        (len(truth["deployments"]),)
    ]
    assert rows(tmp_path, "select count(*) from raw_gitlab.deployment_commits") == [
        (len(truth["commits"]),)
    ]


def test_a_running_deployment_is_merged_to_its_final_state(
    org: GitLabOrganisation, truth: dict, tmp_path: Path
) -> None:
    target = next(
        d for d in reversed(truth["deployments"])
        if d["status"] == "success" and d["created_at"].date() == AS_OF - dt.timedelta(days=3)
        and d["started_at"] and d["finished_at"] > d["started_at"]
    )  # fmt: skip
    cutoff = target["started_at"] + (target["finished_at"] - target["started_at"]) / 2
    status = f"select status, deployable__finished_at is null from raw_gitlab.deployments where id = {target['deployment_id']}"
    with GitLabEmulator(org) as emulator:
        emulator.at = cutoff
        load(emulator, org, tmp_path)
        assert rows(tmp_path, status) == [("running", True)]
        assert rows(tmp_path, "select count(*) from raw_gitlab.deployments")[0][0] < len(
            truth["deployments"]
        )
        emulator.at = None
        load(emulator, org, tmp_path)
        log = Counter(emulator.request_log)
    assert rows(tmp_path, status) == [("success", False)]
    assert loaded_deployments(tmp_path) == expected_deployments(truth)
    # Over both loads: still one compare per pair, and the same commits as one full load.
    assert log[COMPARE] == len(truth["compares"])
    assert {
        (deployment_id, sha)
        for deployment_id, sha in rows(
            tmp_path, "select deployment_id, sha from raw_gitlab.deployment_commits"
        )
    } == set(truth["commits"])


def test_dbt_builds_the_gitlab_deployment_models(
    full_load: tuple[Path, Counter], truth: dict, tmp_path: Path
) -> None:
    folder, _ = full_load
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes((folder / "warehouse.duckdb").read_bytes())
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "build", "--select", "staging.gitlab", "int_gitlab__deployments",
         "int_gitlab__deployment_commits", "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        cwd=DBT_PROJECT,
        env={**os.environ, "INSIGHTS_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        states = dict(
            connection.execute(
                "select state, count(*) from intermediate.int_gitlab__deployments group by 1"
            ).fetchall()
        )
        production = connection.execute(
            "select count(*) from intermediate.int_gitlab__deployments where is_production"
        ).fetchone()[0]
        commits = connection.execute(
            "select count(*) from intermediate.int_gitlab__deployment_commits"
        ).fetchone()[0]
    canonical = {"success": "success", "failed": "failed", "canceled": "cancelled",
                 "skipped": "cancelled", "running": "in_progress", "created": "in_progress",
                 "blocked": "in_progress"}  # fmt: skip
    assert states == Counter(canonical[d["status"]] for d in truth["deployments"])
    assert production == sum(1 for d in truth["deployments"] if d["environment"] == "production")
    assert commits == len(truth["commits"])
