"""dlt source for the Octopus Deploy REST API: the space catalogue (projects, project groups,
environments, channels, tenants), releases with their build-information commits, deployments,
their server tasks, guided-failure interruptions and release defects ("do not promote").

Shapes follow Octopus Server 2024.x (see shared/api-samples/octopus). Every collection is paged
with `skip`/`take`, following `Links["Page.Next"]` until it is absent or `Items` is empty.

Incremental, per space:
* Deployments come newest first with no date filter: each load pages back only until it passes
  the newest `Created` already loaded minus `lookback_days` (first load: `initial_days` before
  the end of the report date). A deployment has no status; its task has. The tasks of each page
  of deployments read are fetched with one `tasks?ids=...` call, so a deployment still running at
  one load is re-read (and merged to its final state) at the next while it is in the lookback.
  A task still unfinished more than `lookback_days` after its deployment was created is missed
  until a full reload (metrics.md §5).
* Releases come newest first: each load lists those created in the last 365 days (and on the
  first load, from `RELEASE_MARGIN` before the first deployment read), because their defects
  are re-read on every run (a release is marked "do not promote" after the fact, and later
  resolved). `release_commits` flattens each release's build-information commits (no request).
* Interruptions come newest first: the guided failures (`Type == "GuidedFailure"`) created since
  the interruption watermark minus `lookback_days` (an answer to a pending one is picked up while
  it is in the lookback).
* Rows merge on their primary keys, so a re-read never duplicates.

Configuration (dlt resolution: env vars or .dlt/*.toml, section `sources.octopus`):
    SOURCES__OCTOPUS__API_KEY         API key (`X-Octopus-ApiKey` header)
    SOURCES__OCTOPUS__BASE_URL        server root, e.g. https://octopus.example.com (or .../api)
    SOURCES__OCTOPUS__SPACE_ID        space id(s), comma or JSON list (default Spaces-1)
    SOURCES__OCTOPUS__INITIAL_DAYS    deployment history on the first load (default 400)
    SOURCES__OCTOPUS__LOOKBACK_DAYS   re-read window on later loads (default 7)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.helpers.rest_client.paginators import BaseNextUrlPaginator
from requests import HTTPError, Response

from .common import (
    SourceAuthError,
    declared_columns,
    http_session,
    parse_list,
    parse_timestamp,
    raise_if_rejected,
    settings_present,
)
from .quality import checked as _checked_by_id
from .quality import is_page
from .settings import report_date, report_end

log = logging.getLogger(__name__)

KEY_VARIABLE = "SOURCES__OCTOPUS__API_KEY"
DEFAULT_SPACE_ID = "Spaces-1"
TAKE = 100
DEFECT_DAYS = 365
RELEASE_MARGIN = dt.timedelta(days=30)
TERMINAL_TASK_STATES = frozenset({"Success", "Failed", "Canceled", "TimedOut"})

__all__ = [
    "SourceAuthError",
    "octopus_is_configured",
    "octopus_source",
]


# Declared types for every column the dbt staging models read (names after dlt's snake_case
# naming: `CompletedTime` lands as `completed_time`). The source keeps nested objects and lists
# as single JSON columns (max_table_nesting=0), so there are no child tables.
PROJECT_COLUMNS = declared_columns(
    id="text",
    space_id="text",
    name="text",
    slug="text",
    project_group_id="text",
    lifecycle_id="text",
    tenanted_deployment_mode="text",
    is_disabled="bool",
)
PROJECT_GROUP_COLUMNS = declared_columns(
    id="text", space_id="text", name="text", description="text"
)
ENVIRONMENT_COLUMNS = declared_columns(
    id="text", space_id="text", name="text", sort_order="bigint", use_guided_failure="bool"
)
CHANNEL_COLUMNS = declared_columns(
    id="text", space_id="text", project_id="text", name="text", is_default="bool"
)
TENANT_COLUMNS = declared_columns(id="text", space_id="text", name="text", tenant_tags="json")
RELEASE_COLUMNS = declared_columns(
    id="text",
    space_id="text",
    project_id="text",
    channel_id="text",
    version="text",
    assembled="timestamp",
    build_information="json",
    selected_packages="json",
)
RELEASE_COMMIT_COLUMNS = declared_columns(
    release_id="text",
    commit_sha="text",
    space_id="text",
    project_id="text",
    package_id="text",
    position="bigint",
    link_url="text",
    comment="text",
    vcs_root="text",
    branch="text",
)
DEPLOYMENT_COLUMNS = declared_columns(
    id="text",
    space_id="text",
    project_id="text",
    release_id="text",
    channel_id="text",
    environment_id="text",
    tenant_id="text",
    task_id="text",
    name="text",
    created="timestamp",
    deployed_by="text",
    failure_encountered="bool",
)
TASK_COLUMNS = declared_columns(
    id="text",
    space_id="text",
    name="text",
    description="text",
    state="text",
    queue_time="timestamp",
    start_time="timestamp",
    completed_time="timestamp",
    last_updated_time="timestamp",
    error_message="text",
    has_warnings_or_errors="bool",
    has_pending_interruptions="bool",
    is_completed="bool",
    finished_successfully="bool",
    arguments="json",
)
INTERRUPTION_COLUMNS = declared_columns(
    id="text",
    space_id="text",
    type="text",
    title="text",
    created="timestamp",
    is_pending="bool",
    task_id="text",
    deployment_id="text",
    related_document_ids="json",
    form="json",
)
DEFECT_COLUMNS = declared_columns(
    id="text",
    release_id="text",
    space_id="text",
    description="text",
    status="text",
    last_modified_on="timestamp",
    last_modified_by="text",
)

# Fields the models rely on: a record without them goes to the quarantine table instead.
CATALOGUE_REQUIRED = {"Id": str, "Name": str}
CHANNEL_REQUIRED = {"Id": str, "Name": str, "ProjectId": str}
RELEASE_REQUIRED = {"Id": str, "ProjectId": str, "Version": str, "Assembled": "timestamp"}
DEPLOYMENT_REQUIRED = {
    "Id": str,
    "ProjectId": str,
    "ReleaseId": str,
    "EnvironmentId": str,
    "TaskId": str,
    "Created": "timestamp",
}
TASK_REQUIRED = {"Id": str, "State": str, "QueueTime": "timestamp"}
INTERRUPTION_REQUIRED = {"Id": str, "Type": str, "Created": "timestamp"}
DEFECT_REQUIRED = {"Id": str, "Status": str}


def checked(
    resource: str, records: list[Any], required: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    """`quality.checked`, with the quarantine row's `record_id` taken from Octopus's `Id` (the
    shared helper looks for a lower-case `id`)."""
    good, bad = _checked_by_id(resource, records, required)
    for row in bad:
        record = row.data.get("record")
        if row.data.get("record_id") is None and isinstance(record, dict) and record.get("Id"):
            row.data["record_id"] = str(record["Id"])
    return good, bad


class OctopusPaginator(BaseNextUrlPaginator):
    """Follows `Links["Page.Next"]` of an Octopus collection until it is absent or a page is
    empty (the official clients' loop)."""

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        links = body.get("Links") if isinstance(body, dict) else None
        items = body.get("Items") if isinstance(body, dict) else None
        following = links.get("Page.Next") if isinstance(links, dict) else None
        self._next_reference = following if following and items else None


def _root(base_url: str) -> str:
    """The server root: `https://host` and `https://host/api` are both accepted."""
    root = base_url.rstrip("/")
    return root[: -len("/api")] if root.endswith("/api") else root


def task_rows(page: list[Any], space_id: str) -> tuple[list[dict], list[Any]]:
    """(rows, quarantine rows) of a page of server tasks; `SpaceId` is filled in when the server
    omits it (older servers, e.g. the recorded 2017 tasks)."""
    good, bad = checked("tasks", page, TASK_REQUIRED)
    return [{**task, "SpaceId": task.get("SpaceId") or space_id} for task in good], bad


def interruption_rows(page: list[Any], space_id: str) -> tuple[list[dict], list[Any]]:
    """Guided failures only (a manual intervention is not a failure), with the deployment they
    are about picked from `RelatedDocumentIds`."""
    good, bad = checked("interruptions", page, INTERRUPTION_REQUIRED)
    rows = []
    for item in good:
        if item["Type"] != "GuidedFailure":
            continue
        related = [i for i in item.get("RelatedDocumentIds") or [] if isinstance(i, str)]
        deployment = next((i for i in related if i.startswith("Deployments-")), None)
        task = item.get("TaskId") or next(
            (i for i in related if i.startswith("ServerTasks-")), None
        )
        rows.append(
            {
                **item,
                "SpaceId": item.get("SpaceId") or space_id,
                "deployment_id": deployment,
                "TaskId": task,
            }
        )
    return rows, bad


def release_commit_rows(release: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per commit of a release's build information (first occurrence wins when two
    packages of the release carry the same commit)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for build in release.get("BuildInformation") or []:
        if not isinstance(build, dict):
            continue
        for commit in build.get("Commits") or []:
            sha = commit.get("Id") if isinstance(commit, dict) else None
            if not isinstance(sha, str) or not sha or sha in seen:
                continue
            seen.add(sha)
            rows.append(
                {
                    "release_id": release["Id"],
                    "commit_sha": sha,
                    "space_id": release.get("SpaceId"),
                    "project_id": release.get("ProjectId"),
                    "package_id": build.get("PackageId"),
                    "position": len(rows),
                    "link_url": commit.get("LinkUrl"),
                    "comment": commit.get("Comment"),
                    "vcs_root": build.get("VcsRoot"),
                    "branch": build.get("Branch"),
                }
            )
    return rows


@dlt.source(name="octopus", section="octopus", max_table_nesting=0)
def octopus_source(
    api_key: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    space_id: str = DEFAULT_SPACE_ID,
    initial_days: int = 400,
    lookback_days: int = 7,
    as_of: dt.date | None = None,
    max_attempts: int = 6,
    backoff_factor: float = 1.0,
) -> Sequence[DltResource]:
    """Octopus Deploy catalogue, releases (+ commits), deployments, tasks, guided failures and
    defects of the configured space(s).

    Args:
        api_key: an Octopus API key (`API-...`) with read access to the space(s).
        base_url: the server root, e.g. `https://octopus.example.com` (a trailing `/api` is fine).
        space_id: one space id or several (comma or JSON list), default `Spaces-1`.
        initial_days: days of deployment history on the first load, back from the report date.
        lookback_days: on later loads, deployments and interruptions created up to this many days
            before the newest one already loaded are read again (their tasks may have finished).
        as_of: report date (default `INSIGHTS_AS_OF` or today, UTC).
        max_attempts, backoff_factor: retry policy for 429/5xx/timeouts/cut-off bodies.
    """
    spaces = parse_list(space_id) or [DEFAULT_SPACE_ID]
    end = report_end(as_of or report_date())
    first_load_start = end - dt.timedelta(days=initial_days)
    defect_start = end - dt.timedelta(days=DEFECT_DAYS)
    client = RESTClient(
        base_url=_root(base_url or "http://unused"),
        auth=APIKeyAuth(name="X-Octopus-ApiKey", api_key=api_key, location="header"),
        paginator=OctopusPaginator(),
        data_selector="Items",
        session=http_session(max_attempts, backoff_factor),
    )

    def paginate(path: str, params: dict[str, Any] | None = None) -> Iterator[list[Any]]:
        try:
            yield from client.paginate(path, params={"take": TAKE, **(params or {})})
        except HTTPError as exc:
            _raise_auth_error(exc)
            raise

    def window_start(state: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime]:
        if state.get("watermark"):
            previous = parse_timestamp(state["watermark"])
            return previous, previous - dt.timedelta(days=lookback_days)
        return None, first_load_start

    def catalogue(name: str, path: str, columns: dict, required: dict) -> DltResource:
        def rows() -> Iterator[Any]:
            for space in spaces:
                for page in paginate(f"/api/{space}/{path}"):
                    good, bad = checked(name, page, required)
                    yield from bad
                    if good:
                        yield [{**item, "SpaceId": item.get("SpaceId") or space} for item in good]

        rows.__doc__ = (
            f"Every {name[:-1].replace('_', ' ')} of the space(s): GET /api/{{space}}/{path}."
        )
        return dlt.resource(
            rows, name=name, primary_key="id", write_disposition="merge", columns=columns
        )

    @dlt.resource(primary_key="id", write_disposition="merge", columns=DEPLOYMENT_COLUMNS)
    def deployments() -> Iterator[Any]:
        """Deployments created since the watermark minus the lookback (first load: since
        `initial_days` before the report end), newest first; state per space: `watermark`."""
        state = dlt.current.resource_state().setdefault("spaces", {})
        for space in spaces:
            space_state = state.setdefault(space, {"watermark": None})
            previous, start = window_start(space_state)
            newest, listed, pages = previous, 0, 0
            for page in paginate(f"/api/{space}/deployments"):
                pages += 1
                good, bad = checked("deployments", page, DEPLOYMENT_REQUIRED)
                yield from bad
                rows, passed = [], False
                for item in good:
                    created = parse_timestamp(item["Created"])
                    if created < start:
                        passed = True
                        continue
                    newest = created if newest is None else max(newest, created)
                    rows.append({**item, "SpaceId": item.get("SpaceId") or space})
                listed += len(rows)
                if rows:
                    yield rows
                if passed:
                    break
            if newest is not None:
                space_state["watermark"] = newest.isoformat()
            log.info(
                "octopus %s: %d deployments since %s (%d pages)",
                space,
                listed,
                start.isoformat(),
                pages,
            )

    @dlt.transformer(
        data_from=deployments,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=TASK_COLUMNS,
    )
    def tasks(deployment_page: list[dict[str, Any]]) -> Iterator[Any]:
        """The server task of each deployment read (one `tasks?ids=` call per page): its state,
        queue/start/completion times, error message and warnings flag."""
        if not is_page(deployment_page):
            return
        by_space: dict[str, list[str]] = {}
        for deployment in deployment_page:
            by_space.setdefault(deployment["SpaceId"], []).append(deployment["TaskId"])
        for space, ids in by_space.items():
            for page in paginate(f"/api/{space}/tasks", {"ids": ",".join(ids)}):
                rows, bad = task_rows(page, space)
                yield from bad
                if rows:
                    yield rows

    @dlt.resource(primary_key="id", write_disposition="merge", columns=RELEASE_COLUMNS)
    def releases() -> Iterator[Any]:
        """Releases of the last 365 days (their defects are re-read each run) and, on the first
        load, back to `RELEASE_MARGIN` before the first deployment read; newest first."""
        state = dlt.current.resource_state().setdefault("spaces", {})
        for space in spaces:
            space_state = state.setdefault(space, {"first_load_done": False})
            start = defect_start
            if not space_state["first_load_done"]:
                start = min(start, first_load_start - RELEASE_MARGIN)
            for page in paginate(f"/api/{space}/releases"):
                good, bad = checked("releases", page, RELEASE_REQUIRED)
                yield from bad
                rows = [
                    {**item, "SpaceId": item.get("SpaceId") or space}
                    for item in good
                    if parse_timestamp(item["Assembled"]) >= start
                ]
                if rows:
                    yield rows
                if len(rows) < len(good):
                    break
            space_state["first_load_done"] = True

    @dlt.transformer(
        data_from=releases,
        primary_key=["release_id", "commit_sha"],
        write_disposition="merge",
        columns=RELEASE_COMMIT_COLUMNS,
    )
    def release_commits(release_page: list[dict[str, Any]]) -> Iterator[Any]:
        """The commits of each release's build information (no request)."""
        if not is_page(release_page):
            return
        rows = [row for release in release_page for row in release_commit_rows(release)]
        if rows:
            yield rows

    @dlt.transformer(
        data_from=releases,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=DEFECT_COLUMNS,
    )
    def defects(release_page: list[dict[str, Any]]) -> Iterator[Any]:
        """Defects of every release of the last 365 days, re-read on every run."""
        if not is_page(release_page):
            return
        for release in release_page:
            if parse_timestamp(release["Assembled"]) < defect_start:
                continue
            space = release["SpaceId"]
            for page in paginate(f"/api/{space}/releases/{release['Id']}/defects"):
                good, bad = checked("defects", page, DEFECT_REQUIRED)
                yield from bad
                rows = [{**item, "release_id": release["Id"], "SpaceId": space} for item in good]
                if rows:
                    yield rows

    @dlt.resource(primary_key="id", write_disposition="merge", columns=INTERRUPTION_COLUMNS)
    def interruptions() -> Iterator[Any]:
        """Guided failures created since the watermark minus the lookback, newest first."""
        state = dlt.current.resource_state().setdefault("spaces", {})
        for space in spaces:
            space_state = state.setdefault(space, {"watermark": None})
            previous, start = window_start(space_state)
            newest = previous
            for page in paginate(f"/api/{space}/interruptions"):
                good, bad = checked("interruptions", page, INTERRUPTION_REQUIRED)
                yield from bad
                kept, passed = [], False
                for item in good:
                    created = parse_timestamp(item["Created"])
                    if created < start:
                        passed = True
                        continue
                    newest = created if newest is None else max(newest, created)
                    kept.append(item)
                rows, rejected = interruption_rows(kept, space)
                yield from rejected
                if rows:
                    yield rows
                if passed:
                    break
            if newest is not None:
                space_state["watermark"] = newest.isoformat()

    return (
        catalogue("projects", "projects", PROJECT_COLUMNS, CATALOGUE_REQUIRED),
        catalogue("project_groups", "projectgroups", PROJECT_GROUP_COLUMNS, CATALOGUE_REQUIRED),
        catalogue("environments", "environments", ENVIRONMENT_COLUMNS, CATALOGUE_REQUIRED),
        catalogue("channels", "channels", CHANNEL_COLUMNS, CHANNEL_REQUIRED),
        catalogue("tenants", "tenants", TENANT_COLUMNS, CATALOGUE_REQUIRED),
        deployments,
        tasks,
        releases,
        release_commits,
        defects,
        interruptions,
    )


def _raise_auth_error(exc: HTTPError) -> None:
    raise_if_rejected(
        exc,
        "Octopus Deploy rejected the API key",
        f"Set {KEY_VARIABLE} to a valid Octopus API key with read access to the configured "
        "space(s) (SOURCES__OCTOPUS__SPACE_ID).",
    )


def octopus_is_configured() -> bool:
    """True when both the API key and the base URL resolve from env or .dlt/ files."""
    return settings_present("octopus", "api_key", "base_url")
