"""An independent, plain-Python computation of the deployment facts (metrics.md §4) from the
simulated organisation's ground truth (sandbox/ octopus_org, github_org, gitlab_org), for the
end-to-end tests. It restates the rules here on purpose instead of reading the dbt models.

Public API
----------
``expected_deployments(simulation) -> dict[(provider, deployment_id), dict]``
    One dict per deployment of the three deployment sources (providers ``octopus``, ``github``,
    ``gitlab``; deployment ids as text, as in the warehouse). Keys of each dict:

    scope            (provider, project key, environment key, tenant key) - ids, not names
    state            success / failed / cancelled / in_progress
    completed_at     naive UTC datetime, None while in progress
    is_failure       failed, or success with a guided failure or a do-not-promote release
    is_successful    success and not a failure
    is_production    None for Octopus (name pattern, decided in dbt), the provider's flag elsewhere
    previous_successful_deployment_id, since_previous_successful_seconds
    lead_time_seconds, lead_time_calculated_from
    time_to_recovery_seconds, deployments_until_recovery,
    recovery_from_deployment_id, recovery_from_version
    changes          {commit_sha: (authored_at or None, change_lead_time_seconds or None)} -
                     the rows fct_deployment_changes should hold for this deployment

The DORA marts' end-to-end test can aggregate these dicts (e.g. by completed_at period).

Rules restated: a scope is (provider, project, environment, tenant); completed deployments are
ordered by completed_at then deployment id. For a successful D, P = the previous successful one
of its scope. Octopus lead time starts at the earliest release of the project created after P's
release and not after D's (D's own without P); GitHub/GitLab at the earliest authored commit of
those D brought (git log P.sha..D.sha; none without P). A failure streak starts at its first
failure F and ends at the next success R: on R, time to recovery = R - F and
deployments_until_recovery = deployments of the scope completed after F up to R, any state.
Changes: only successful deployments with a P; Octopus attributes the build-information commits
of the same releases its lead time covers, with no authored time (Octopus sends none).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

OCTOPUS_STATE = {
    "Success": "success",
    "Failed": "failed",
    "TimedOut": "failed",
    "Canceled": "cancelled",
    "Executing": "in_progress",
    "Queued": "in_progress",
    "Cancelling": "in_progress",
}
GITHUB_TERMINAL = {
    "success": "success",
    "failure": "failed",
    "error": "failed",
    "inactive": "success",
}
GITLAB_STATE = {
    "success": "success",
    "failed": "failed",
    "canceled": "cancelled",
    "skipped": "cancelled",
    "running": "in_progress",
    "created": "in_progress",
    "blocked": "in_progress",
}

Key = tuple[str, str]


def utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def seconds(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds()


def _blank(provider: str, deployment_id: str, scope: tuple, state: str, completed_at, **extra):
    is_failure = state == "failed" or (
        state == "success" and (extra.get("guided") or extra.get("do_not_promote"))
    )
    return {
        "provider": provider,
        "deployment_id": deployment_id,
        "scope": scope,
        "state": state,
        "completed_at": completed_at,
        "is_failure": bool(is_failure),
        "is_successful": state == "success" and not is_failure,
        "is_production": extra.get("is_production"),
        "release_version": extra.get("release_version"),
        "release": extra.get("release"),  # Octopus: (created_at, release_id); else the sha
        "previous_successful_deployment_id": None,
        "since_previous_successful_seconds": None,
        "lead_time_seconds": None,
        "lead_time_calculated_from": None,
        "time_to_recovery_seconds": None,
        "deployments_until_recovery": None,
        "recovery_from_deployment_id": None,
        "recovery_from_version": None,
        "changes": {},
    }


def _walk_scopes(deployments: dict[Key, dict]) -> dict[Key, dict | None]:
    """Fill previous-successful and recovery fields; return each successful D's P."""
    scopes: dict[tuple, list[dict]] = defaultdict(list)
    for row in deployments.values():
        if row["completed_at"] is not None:
            scopes[row["scope"]].append(row)
    previous_of: dict[Key, dict | None] = {}
    for rows in scopes.values():
        rows.sort(key=lambda r: (r["completed_at"], r["deployment_id"]))
        previous, first_failure = None, None  # first_failure: (position, row)
        for position, row in enumerate(rows):
            if row["is_failure"] and first_failure is None:
                first_failure = (position, row)
            if not row["is_successful"]:
                continue
            previous_of[(row["provider"], row["deployment_id"])] = previous
            if previous is not None:
                row["previous_successful_deployment_id"] = previous["deployment_id"]
                row["since_previous_successful_seconds"] = seconds(
                    previous["completed_at"], row["completed_at"]
                )
            if first_failure is not None:
                failed_at, failure = first_failure
                row["recovery_from_deployment_id"] = failure["deployment_id"]
                row["recovery_from_version"] = failure["release_version"]
                row["time_to_recovery_seconds"] = seconds(
                    failure["completed_at"], row["completed_at"]
                )
                row["deployments_until_recovery"] = position - failed_at
            previous, first_failure = row, None
    return previous_of


def _octopus(simulation) -> dict[Key, dict]:
    return expected_octopus_deployments(simulation.octopus)


def expected_octopus_deployments(org) -> dict[Key, dict]:
    """The Octopus part on its own, for an OctopusOrganisation (the source tests build one)."""
    releases = {r["id"]: r for r in org.releases()}
    unresolved = {d["release_id"] for d in org.defects() if d["status"] == "Unresolved"}
    guided = {i["deployment_id"] for i in org.interruptions() if i["type"] == "GuidedFailure"}
    out: dict[Key, dict] = {}
    for d in org.deployments():
        release = releases.get(d["release_id"])
        out[("octopus", d["id"])] = _blank(
            "octopus",
            d["id"],
            ("octopus", d["project_id"], d["environment_id"], d["tenant_id"] or ""),
            OCTOPUS_STATE[d["state"]],
            utc(d["completed_at"]),
            guided=d["id"] in guided,
            do_not_promote=d["release_id"] in unresolved,
            release_version=d["release_version"],
            release=(utc(release["created_at"]), release["id"]) if release else None,
        )
    by_project: dict[str, list[dict]] = defaultdict(list)
    for r in releases.values():
        by_project[r["project_id"]].append(r)
    previous_of = _walk_scopes(out)
    for key, previous in previous_of.items():
        row = out[key]
        if row["release"] is None:
            continue
        project = row["scope"][1]
        own_at, own_id = row["release"]
        if previous is None:
            delivered = [releases[own_id]]
        else:
            after = previous["release"][0] if previous["release"] else None
            delivered = [
                r
                for r in by_project[project]
                if after is not None and after < utc(r["created_at"]) <= own_at
            ]
        delivered.sort(key=lambda r: (utc(r["created_at"]), r["id"]))
        if delivered:
            row["lead_time_seconds"] = seconds(utc(delivered[0]["created_at"]), row["completed_at"])
            row["lead_time_calculated_from"] = delivered[0]["version"]
        if previous is not None:
            for r in delivered:
                for commit in r["commits"]:
                    row["changes"].setdefault(commit["sha"], (None, None))
    return out


def _ancestors(parents: dict[str, list[str]], sha: str) -> set[str]:
    seen: set[str] = set()
    stack = [sha]
    while stack:
        current = stack.pop()
        if current in seen or current not in parents:
            continue
        seen.add(current)
        stack.extend(parents[current])
    return seen


def _commit_based(
    out: dict[Key, dict], shas: dict[Key, str], commits: dict[str, dict[str, dict]]
) -> None:
    """GitHub/GitLab: the commits P.sha..D.sha with lead time and change lead time."""
    previous_of = _walk_scopes(out)
    for key, previous in previous_of.items():
        if previous is None:
            continue
        row = out[key]
        repo = commits[row["scope"][1]]
        parents = {sha: c["parents"] for sha, c in repo.items()}
        brought = _ancestors(parents, shas[key]) - _ancestors(
            parents, shas[(previous["provider"], previous["deployment_id"])]
        )
        for sha in brought:
            # GitHub's and GitLab's APIs send commit times in whole seconds.
            authored = utc(repo[sha]["authored_at"])
            authored = None if authored is None else authored.replace(microsecond=0)
            change = None if authored is None else max(0.0, seconds(authored, row["completed_at"]))
            row["changes"][sha] = (authored, change)
        dated = sorted((a, sha) for sha, (a, _) in row["changes"].items() if a is not None)
        if dated:
            row["lead_time_seconds"] = seconds(dated[0][0], row["completed_at"])
            row["lead_time_calculated_from"] = dated[0][1]


def _by_repository(rows: Iterable[dict], field: str) -> dict[str, dict[str, dict]]:
    repos: dict[str, dict[str, dict]] = defaultdict(dict)
    for c in rows:
        repos[str(c[field])][c["sha"]] = c
    return repos


def _github(simulation) -> dict[Key, dict]:
    out: dict[Key, dict] = {}
    shas: dict[Key, str] = {}
    for d in simulation.github.deployments():
        key = ("github", str(d["deployment_id"]))
        terminal = d["terminal_state"]
        state = GITHUB_TERMINAL.get(terminal, "in_progress") if terminal else "in_progress"
        out[key] = _blank(
            "github",
            key[1],
            ("github", d["repository"], d["environment"], ""),
            state,
            utc(d["completed_at"]),
            is_production=d["production_environment"],
            release_version=d["sha"],
        )
        shas[key] = d["sha"]
    _commit_based(out, shas, _by_repository(simulation.github.commits(), "repository"))
    return out


def _gitlab(simulation) -> dict[Key, dict]:
    out: dict[Key, dict] = {}
    shas: dict[Key, str] = {}
    for d in simulation.gitlab.deployments():
        key = ("gitlab", str(d["deployment_id"]))
        state = GITLAB_STATE[d["status"]]
        finished = d["finished_at"] if state in ("success", "failed", "cancelled") else None
        out[key] = _blank(
            "gitlab",
            key[1],
            ("gitlab", str(d["project_id"]), d["environment"], ""),
            state,
            utc(finished),
            release_version=d["sha"],
        )
        shas[key] = d["sha"]
    _commit_based(out, shas, _by_repository(simulation.gitlab.commits(), "project_id"))
    return out


def expected_deployments(simulation) -> dict[Key, dict]:
    """Per-deployment facts of every deployment source, keyed by (provider, deployment_id)."""
    return {**_octopus(simulation), **_github(simulation), **_gitlab(simulation)}
