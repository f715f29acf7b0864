"""GitHub Deployments in the dlt GitHub source, against the emulator: every deployment and status
once with its final state, merges across loads, the compare API called once per pair of
successive successful deployments with the ground-truth commits, few requests on a load with no
new data, the real recorded responses, and the dbt staging/intermediate models on the result."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
import pytest

from ingestion.github import (
    DEPLOYMENT_COLUMNS,
    DEPLOYMENT_STATUS_COLUMNS,
    deployment_outcome,
    github_source,
    prepare_deployments,
    prepare_statuses,
)
from sandbox.github_emulator import GitHubEmulator
from sandbox.github_org import GitHubOrganisation

from pipeline_support import AS_OF, query

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = Path("/work/shared/real-recordings/github")
DEPLOYMENTS = "GET /repos/{owner}/{repo}/deployments"
DEPLOYMENTS_NEXT = "GET /repositories/{repository_id}/deployments"
STATUSES = "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
COMPARE = "GET /repos/{owner}/{repo}/compare/{basehead}"
DEPLOYMENT_RESOURCES = ("deployments", "deployment_statuses", "deployment_commits")
# Actions runs and jobs are covered by test_github_source.py; left out here to stay quick.
ALL_BUT_ACTIONS = ("repositories", "environments", *DEPLOYMENT_RESOURCES)
CANONICAL = {"success": "success", "failure": "failed", "error": "failed", None: "in_progress"}


@pytest.fixture(scope="module")
def org() -> GitHubOrganisation:
    return GitHubOrganisation(AS_OF, seed=5, days=20, deploy_days=60)


def load(
    emulator: GitHubEmulator,
    org: GitHubOrganisation,
    folder: Path,
    resources: tuple[str, ...] = (),
) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="github_deployments_test",
        destination=dlt.destinations.duckdb(str(folder / "warehouse.duckdb")),
        dataset_name="raw_github",
        pipelines_dir=str(folder / "dlt"),
    )
    source = github_source(
        repositories=",".join(repo.full_name for repo in org.repositories),
        access_token=emulator.token,
        base_url=emulator.base_url,
        as_of=org.as_of,
        initial_days=org.days,
        deployment_initial_days=org.deploy_days,
        backoff_factor=0.01,
    )
    if resources:
        source = source.with_resources(*resources)
    pipeline.run(source, loader_file_format="parquet")


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def successive_successes(deployments: list[dict]) -> list[tuple[dict, dict]]:
    """(previous, deployment) for each successful deployment after the first of its scope
    (repository, environment), ordered by completion (metrics.md §4)."""
    scopes: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for deployment in deployments:
        if deployment["terminal_state"] == "success":
            key = (deployment["repository"], deployment["environment"])
            scopes[key].append(deployment)
    pairs = []
    for successes in scopes.values():
        successes.sort(key=lambda d: (d["completed_at"], d["deployment_id"]))
        pairs += list(itertools.pairwise(successes))
    return pairs


def commits_between(org: GitHubOrganisation) -> dict[tuple[str, str, str], set[str]]:
    """Ground truth of `base...head`: commits reachable from head and not from base."""
    parents = {(c["repository"], c["sha"]): c["parents"] for c in org.commits()}
    ancestry: dict[tuple[str, str], set[str]] = {}

    def ancestors(repo: str, sha: str) -> set[str]:
        if (repo, sha) not in ancestry:
            seen, stack = set(), [sha]
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                stack += parents.get((repo, current), [])
            ancestry[(repo, sha)] = seen
        return ancestry[(repo, sha)]

    class Between(dict):
        def __missing__(self, key: tuple[str, str, str]) -> set[str]:
            repo, base, head = key
            self[key] = ancestors(repo, head) - ancestors(repo, base)
            return self[key]

    return Between()


@dataclass
class Loaded:
    folder: Path
    first_log: dict
    second_log: dict
    seconds: float


@pytest.fixture(scope="module")
def loaded(org: GitHubOrganisation, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A full load (every resource but Actions runs and jobs), then one with no new data."""
    import time

    folder = tmp_path_factory.mktemp("github_deployments")
    with GitHubEmulator(org) as emulator:
        started = time.monotonic()
        load(emulator, org, folder, ALL_BUT_ACTIONS)
        seconds = time.monotonic() - started
        first = dict(emulator.request_log)
        emulator.request_log.clear()
        load(emulator, org, folder, ALL_BUT_ACTIONS)
        second = dict(emulator.request_log)
    return Loaded(folder, first, second, seconds)


def test_full_load_has_every_deployment_and_status_once_with_final_states(
    org: GitHubOrganisation, loaded: Loaded
) -> None:
    truth = list(org.deployments())
    statuses = list(org.deployment_statuses())
    folder = loaded.folder
    assert rows(folder, "select count(*), count(distinct id) from raw_github.deployments") == [
        (len(truth), len(truth))
    ]
    assert rows(
        folder, "select count(*), count(distinct id) from raw_github.deployment_statuses"
    ) == [(len(statuses), len(statuses))]
    assert set(rows(folder, "select id, deployment_id, state from raw_github.deployment_statuses")) == {
        (s["status_id"], s["deployment_id"], s["state"]) for s in statuses
    }  # fmt: skip
    assert {"inactive", "success", "failure", "error", "in_progress"} <= {
        s["state"] for s in statuses
    }
    assert rows(folder, "select count(*) from raw_github.environments") == [
        (2 * len(org.repositories),)
    ]
    # Every deployment's outcome as the source decides it (and as the dbt model does).
    by_deployment: dict[int, list[dict]] = defaultdict(list)
    for row in rows(
        folder, "select deployment_id, id, state, created_at from raw_github.deployment_statuses"
    ):
        by_deployment[row[0]].append(
            {"id": row[1], "state": row[2], "created_at": row[3].isoformat()}
        )  # fmt: skip
    for deployment in truth:
        state, completed = deployment_outcome(by_deployment[deployment["deployment_id"]])
        assert state == CANONICAL[deployment["terminal_state"]], deployment
        expected = deployment["completed_at"]
        assert (completed and dt.datetime.fromisoformat(completed)) == expected, deployment
    # Each deployment's statuses were read once, and nothing was listed twice.
    assert loaded.first_log[(STATUSES, 200)] == len(truth)
    per_repo = [sum(1 for d in truth if d["repository"] == r.full_name) for r in org.repositories]
    assert loaded.first_log[(DEPLOYMENTS, 200)] == len(org.repositories)
    assert loaded.first_log.get((DEPLOYMENTS_NEXT, 200), 0) == sum(
        -(-n // 100) - 1 for n in per_repo
    )


def test_compare_is_called_once_per_pair_and_brings_the_commits_between_the_shas(
    org: GitHubOrganisation, loaded: Loaded
) -> None:
    truth = list(org.deployments())
    pairs = successive_successes(truth)
    between = commits_between(org)
    sha_pairs = {(d["repository"], p["sha"], d["sha"]) for p, d in pairs if p["sha"] != d["sha"]}
    assert len(sha_pairs) > 100
    # Pairs of successive deployments with the same shas (staging then production) share a call.
    assert loaded.first_log[(COMPARE, 200)] == len(sha_pairs)
    expected = {
        (d["deployment_id"], sha)
        for p, d in pairs
        for sha in between[(d["repository"], p["sha"], d["sha"])]
    }
    loaded_rows = rows(
        loaded.folder, "select deployment_id, sha, base_sha, head_sha from raw_github.deployment_commits"
    )  # fmt: skip
    assert len(loaded_rows) == len(expected) > 0
    assert {(r[0], r[1]) for r in loaded_rows} == expected
    # The first successful deployment of each scope brings no commits.
    firsts = {d["deployment_id"] for d in truth if d["terminal_state"] == "success"} - {
        d["deployment_id"] for _, d in pairs
    }
    assert len(firsts) == 2 * len(org.repositories)
    assert not firsts & {r[0] for r in loaded_rows}
    # The API gives whole seconds.
    commit_times = {c["sha"]: c["authored_at"].replace(microsecond=0) for c in org.commits()}
    assert all(
        authored == commit_times[sha]
        for sha, authored in rows(
            loaded.folder, "select sha, authored_at from raw_github.deployment_commits"
        )
    )


def test_second_load_with_no_new_data_adds_nothing_and_makes_few_requests(
    org: GitHubOrganisation, loaded: Loaded
) -> None:
    truth = list(org.deployments())
    statuses = list(org.deployment_statuses())
    assert rows(loaded.folder, "select count(*) from raw_github.deployments") == [(len(truth),)]
    assert rows(loaded.folder, "select count(*) from raw_github.deployment_statuses") == [
        (len(statuses),)
    ]
    in_progress = sum(1 for d in truth if d["terminal_state"] is None)
    log = loaded.second_log
    # Per repository: its GET, one deployments page and the environments; only deployments
    # still in progress have their statuses read again; nothing is compared again.
    assert log[(STATUSES, 200)] == in_progress >= 1
    assert log.get((COMPARE, 200), 0) == 0
    assert log[(DEPLOYMENTS, 200)] == len(org.repositories)
    assert sum(log.values()) == 3 * len(org.repositories) + in_progress


def test_a_deployment_in_progress_then_finished_ends_as_one_row_with_its_final_state(
    tmp_path: Path,
) -> None:
    org = GitHubOrganisation(AS_OF, seed=5, days=5, deploy_days=20)
    truth = list(org.deployments())
    # The latest successful deployment (weekends have none): in progress one second after it
    # started, finished at the end.
    target = max(
        (d for d in truth if d["terminal_state"] == "success"), key=lambda d: d["created_at"]
    )
    assert target["created_at"].date() >= AS_OF - dt.timedelta(days=4)
    cutoff = target["started_at"] + dt.timedelta(seconds=1)
    earlier = list(org.deployments(at=cutoff))
    with GitHubEmulator(org, at=cutoff) as emulator:
        load(emulator, org, tmp_path, DEPLOYMENT_RESOURCES)
    state = (
        "select d.id, count(s.id), max(s.id), count(*) over () from raw_github.deployments d "
        f"join raw_github.deployment_statuses s on s.deployment_id = d.id where d.id = {target['deployment_id']} "
        "group by d.id"
    )
    assert rows(tmp_path, state)[0][1:] == (2, target["deployment_id"] * 10 + 1, 1)
    assert rows(tmp_path, "select count(*) from raw_github.deployments") == [(len(earlier),)]

    with GitHubEmulator(org) as emulator:
        load(emulator, org, tmp_path, DEPLOYMENT_RESOURCES)
        log = emulator.request_log
    assert rows(tmp_path, "select count(*) from raw_github.deployments") == [(len(truth),)]
    assert rows(tmp_path, state)[0][1:] == (3, target["deployment_id"] * 10 + 2, 1)
    # Compare: only the pairs whose later deployment succeeded after the first load, once each.
    pairs = [(p, d) for p, d in successive_successes(truth) if d["completed_at"] > cutoff]
    new_pairs = {(d["repository"], p["sha"], d["sha"]) for p, d in pairs if p["sha"] != d["sha"]}
    assert log[(COMPARE, 200)] == len(new_pairs)
    between = commits_between(org)
    expected = {
        (d["deployment_id"], sha)
        for p, d in successive_successes(truth)
        for sha in between[(d["repository"], p["sha"], d["sha"])]
    }
    assert set(rows(tmp_path, "select deployment_id, sha from raw_github.deployment_commits")) == (
        expected
    )


def _recorded(kind: str) -> list[tuple[str, list[dict]]]:
    found = []
    for path in sorted(RECORDINGS.glob("*deployment*.json")):
        if path.name.endswith(".headers.json"):
            continue
        body = json.loads(path.read_text())
        is_status = "statuses" in path.name
        if (kind == "statuses") == is_status:
            found.append((path.name, body if isinstance(body, list) else [body]))
    return found


def test_real_recorded_deployments_and_statuses_load_without_loss(tmp_path: Path) -> None:
    recorded_deployments, recorded_statuses = _recorded("deployments"), _recorded("statuses")
    assert len(recorded_deployments) == 3 and len(recorded_statuses) == 3
    deployment_rows, status_rows = [], []
    for name, items in recorded_deployments:
        good, bad = prepare_deployments(items, "recorded/repo")
        assert bad == [] and len(good) == len(items), name
        deployment_rows += good
    outcomes = {}
    for index, (name, items) in enumerate(recorded_statuses):
        good, bad = prepare_statuses(items, "recorded/repo", index)
        assert bad == [] and len(good) == len(items), name
        status_rows += good
        outcomes[name] = deployment_outcome(good)
    # Five statuses, the latest a success; queued only; none at all.
    assert outcomes == {
        "octokitrb_deployment_statuses_empty.json": ("in_progress", None),
        "pygithub_deployment_statuses_2020-07_success_failure.json": (
            "success",
            "2020-07-02T00:58:36Z",
        ),
        "pygithub_deployment_statuses_queued.json": ("in_progress", None),
    }
    pipeline = dlt.pipeline(
        pipeline_name="github_deployment_recordings",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="raw_github",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    resources = [
        dlt.resource(
            deployment_rows, name="deployments", primary_key="id", write_disposition="merge",
            columns=DEPLOYMENT_COLUMNS,
        ),
        dlt.resource(
            status_rows, name="deployment_statuses", primary_key="id", write_disposition="merge",
            columns=DEPLOYMENT_STATUS_COLUMNS,
        ),
    ]  # fmt: skip
    pipeline.run(resources, loader_file_format="parquet")
    assert rows(tmp_path, "select count(*) from raw_github.deployments") == [
        (len({row["id"] for row in deployment_rows}),)
    ]
    assert rows(tmp_path, "select count(*) from raw_github.deployment_statuses") == [
        (len(status_rows),)
    ]
    # The free-form payload (mixed-type list, null) survives as JSON; no child tables.
    payload = rows(tmp_path, "select payload from raw_github.deployments where id = 178653229")
    assert json.loads(payload[0][0]) == {
        "custom1": 1, "custom2": "two", "custom3": ["3", 3, "three"], "custom4": None,
    }  # fmt: skip
    tables = {
        name
        for (name,) in rows(
            tmp_path,
            "select table_name from information_schema.tables where table_schema = 'raw_github'",
        )
    }
    assert not any("__" in name for name in tables if not name.startswith("_dlt"))


def test_dbt_models_build_on_the_loaded_warehouse(
    org: GitHubOrganisation, loaded: Loaded, tmp_path: Path
) -> None:
    warehouse = tmp_path / "dbt.duckdb"
    warehouse.write_bytes((loaded.folder / "warehouse.duckdb").read_bytes())
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [
            str(dbt), "build", "--select",
            "staging.github", "int_github__deployments", "int_github__deployment_commits",
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        ],
        cwd=ROOT / "dbt_project",
        env={**os.environ, "INSIGHTS_WAREHOUSE": str(warehouse), "INSIGHTS_AS_OF": AS_OF.isoformat()},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    truth = list(org.deployments())
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        states = dict(
            connection.execute(
                "select deployment_id, state from intermediate.int_github__deployments"
            ).fetchall()
        )
        commits = connection.execute(
            "select count(*) from intermediate.int_github__deployment_commits"
        ).fetchone()
    assert states == {str(d["deployment_id"]): CANONICAL[d["terminal_state"]] for d in truth}
    assert commits == rows(loaded.folder, "select count(*) from raw_github.deployment_commits")[0]
