"""Every deployment source lands in the unified deployment model with exact counts, states and
completion times (the shared warehouse of the end-to-end tests, built from all sources)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from expected_deployments import (
    GITHUB_TERMINAL,
    GITLAB_STATE,
    OCTOPUS_STATE,
    expected_deployments,
)
from pipeline_support import BuiltWarehouse, query


def utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def loaded(built_warehouse: BuiltWarehouse, provider: str) -> dict[str, tuple]:
    rows = query(
        built_warehouse.path,
        "select deployment_id, state, completed_at from intermediate.int_deployments "
        f"where provider = '{provider}'",
    )
    return {deployment_id: (state, completed_at) for deployment_id, state, completed_at in rows}


def test_octopus_deployments_land_with_their_task_state(built_warehouse: BuiltWarehouse) -> None:
    expected = {
        d["id"]: (OCTOPUS_STATE[d["state"]], utc(d["completed_at"]))
        for d in built_warehouse.simulation.octopus.deployments()
    }
    assert loaded(built_warehouse, "octopus") == expected
    assert Counter(state for state, _ in expected.values())["failed"] > 0


def test_github_deployments_land_with_their_latest_terminal_status(
    built_warehouse: BuiltWarehouse,
) -> None:
    expected = {
        str(d["deployment_id"]): (
            GITHUB_TERMINAL.get(d["terminal_state"], "in_progress")
            if d["terminal_state"]
            else "in_progress",
            utc(d["completed_at"]),
        )
        for d in built_warehouse.simulation.github.deployments()
    }
    assert loaded(built_warehouse, "github") == expected


def test_gitlab_deployments_land_with_their_status(built_warehouse: BuiltWarehouse) -> None:
    actual = loaded(built_warehouse, "gitlab")
    expected = Counter(
        GITLAB_STATE[d["status"]] for d in built_warehouse.simulation.gitlab.deployments()
    )
    assert Counter(state for state, _ in actual.values()) == expected
    finished = {
        str(d["deployment_id"]): utc(d["finished_at"])
        for d in built_warehouse.simulation.gitlab.deployments()
        if d["status"] in ("success", "failed", "canceled")
    }
    assert {key: actual[key][1] for key in finished} == finished


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_deployments_bring_the_commits_since_the_previous_success(
    built_warehouse: BuiltWarehouse, provider: str
) -> None:
    rows = query(
        built_warehouse.path,
        "select count(*), count(distinct deployment_id), min(authored_at <= deployed_at) "
        f"from intermediate.int_deployment_commits where provider = '{provider}'",
    )
    commits, deployments, authored_first = rows[0]
    assert commits > deployments > 100
    assert authored_first


# --- fct_deployments and fct_deployment_changes against tests/expected_deployments.py ---------

MEASURES = (
    "previous_successful_deployment_id",
    "since_previous_successful_seconds",
    "lead_time_seconds",
    "lead_time_calculated_from",
    "time_to_recovery_seconds",
    "deployments_until_recovery",
    "recovery_from_deployment_id",
    "recovery_from_version",
)


def rounded(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value


@pytest.fixture(scope="module")
def expected(built_warehouse: BuiltWarehouse) -> dict[tuple[str, str], dict]:
    return expected_deployments(built_warehouse.simulation)


@pytest.mark.parametrize("provider", ["octopus", "github", "gitlab"])
def test_fct_deployments_match_an_independent_computation(
    built_warehouse: BuiltWarehouse, expected: dict[tuple[str, str], dict], provider: str
) -> None:
    rows = query(
        built_warehouse.path,
        f"select deployment_id, state, is_failure, is_successful, {', '.join(MEASURES)} "
        f"from marts.fct_deployments where provider = '{provider}'",
    )
    actual = {row[0]: tuple(rounded(value) for value in row[1:]) for row in rows}
    wanted = {
        deployment_id: (
            row["state"],
            row["is_failure"],
            row["is_successful"],
            *(rounded(row[measure]) for measure in MEASURES),
        )
        for (source, deployment_id), row in expected.items()
        if source == provider
    }
    assert actual == wanted
    # The data exercise every rule: recoveries after streaks, lead times, first deployments.
    mine = [row for (source, _), row in expected.items() if source == provider]
    assert sum(row["recovery_from_deployment_id"] is not None for row in mine) > 0
    assert sum(row["lead_time_seconds"] is not None for row in mine) > 10
    assert (
        any((row["deployments_until_recovery"] or 0) > 1 for row in mine) or provider != "octopus"
    )


@pytest.mark.parametrize("provider", ["octopus", "github", "gitlab"])
def test_fct_deployment_changes_match_an_independent_computation(
    built_warehouse: BuiltWarehouse, expected: dict[tuple[str, str], dict], provider: str
) -> None:
    rows = query(
        built_warehouse.path,
        "select deployment_id, commit_sha, authored_at, change_lead_time_seconds "
        f"from marts.fct_deployment_changes where provider = '{provider}'",
    )
    actual = {(d, sha): (authored, rounded(change)) for d, sha, authored, change in rows}
    wanted = {
        (deployment_id, sha): (authored, rounded(change))
        for (source, deployment_id), row in expected.items()
        if source == provider
        for sha, (authored, change) in row["changes"].items()
    }
    assert len(wanted) > 100
    assert actual == wanted
