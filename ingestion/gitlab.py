"""dlt source for GitLab CI (REST API v4): projects, pipelines, pipeline jobs and test cases,
plus environments, deployments and the commits each successful deployment brought.

Shapes follow GitLab's published API (see shared/api-samples/gitlab). The pipeline list has no
start or finish times, so every pipeline that is new or changed since the last load is read
again from the single-pipeline endpoint, and only those have their jobs (retried ones included,
`include_retried=true`) re-read. A finished pipeline's test report is read once (again only if
the pipeline changes after that, e.g. a job retried after it finished).

Incremental: per project, the list is asked for pipelines `updated_after` the newest
`updated_at` already loaded minus `lookback_days`, newest update first. The resource state
keeps a fingerprint (`status|updated_at`) of every pipeline read within that window, so a
pipeline listed again unchanged costs no further request. Rows merge on their primary keys.

Deployments: per project, the list is asked for deployments `updated_after` the newest
`updated_at` already loaded minus `lookback_days` (first load: `deployment_initial_days` back),
with the same fingerprints, so a deployment that was running and finishes later is yielded again
and merged on `id`. The list body is the whole record (deployable job, commit, environment):
no detail request. Environments (with their `tier`) are listed whole on every load. For each
successful deployment, the repository compare API (`from` = the previous successful
deployment's sha in the same project and environment, ordered by finish time, `to` = its sha)
gives the commits it brought (a pair that comes back after a roll-back gives them again), the first
successful deployment of a scope attributes no commits (metrics.md §4-§5).

Configuration (dlt resolution: env vars or .dlt/*.toml, section `sources.gitlab`):
    SOURCES__GITLAB__PRIVATE_TOKEN   personal/project/group access token (`PRIVATE-TOKEN` header)
    SOURCES__GITLAB__BASE_URL        default https://gitlab.com/api/v4
    SOURCES__GITLAB__PROJECTS        full paths or numeric ids, comma or JSON list
    SOURCES__GITLAB__INITIAL_DAYS    history on the first load (default 90)
    SOURCES__GITLAB__LOOKBACK_DAYS   re-read window on later loads (default 7)
    SOURCES__GITLAB__DEPLOYMENT_INITIAL_DAYS  deployment history on the first load (default 400)
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator
from requests import HTTPError

from .common import (
    SourceAuthError,
    declared_columns,
    http_session,
    parse_list,
    parse_timestamp,
    raise_if_rejected,
    settings_present,
)
from .quality import checked, is_page, problem_with, quarantined
from .settings import report_date, report_end

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://gitlab.com/api/v4"
TOKEN_VARIABLE = "SOURCES__GITLAB__PRIVATE_TOKEN"
PER_PAGE = 100
DETAIL_WORKERS = 8

__all__ = [
    "SourceAuthError",
    "gitlab_is_configured",
    "gitlab_source",
    "parse_list",
]


# Declared types for every column the dbt staging models read (declared columns exist even when
# a load has no value for them); lists and free-form objects stay single JSON columns.
PROJECT_COLUMNS = declared_columns(
    id="bigint",
    name="text",
    path_with_namespace="text",
    default_branch="text",
    web_url="text",
    avatar_url="text",
    namespace__avatar_url="text",
    configured_as="text",
)
PIPELINE_COLUMNS = declared_columns(
    id="bigint",
    iid="bigint",
    project_id="bigint",
    name="text",
    sha="text",
    ref="text",
    tag="bool",
    status="text",
    source="text",
    created_at="timestamp",
    updated_at="timestamp",
    started_at="timestamp",
    finished_at="timestamp",
    duration="bigint",
    queued_duration="bigint",
    coverage="text",  # GitLab sends a string ("68.49") or null
    yaml_errors="text",
    before_sha="text",
    web_url="text",
    committed_at="timestamp",
    user__username="text",
    detailed_status__group="text",
    detailed_status__illustration="json",
)
JOB_COLUMNS = declared_columns(
    id="bigint",
    pipeline_id="bigint",
    project_id="bigint",
    name="text",
    stage="text",
    status="text",
    ref="text",
    tag="bool",
    allow_failure="bool",
    failure_reason="text",
    created_at="timestamp",
    started_at="timestamp",
    finished_at="timestamp",
    erased_at="timestamp",
    duration="double",
    queued_duration="double",
    coverage="double",
    runner__id="bigint",
    runner__description="text",
    runner__runner_type="text",
    runner__ip_address="text",
    user__location="text",
    commit__id="text",
    artifacts="json",
    tag_list="json",
)
TEST_CASE_COLUMNS = declared_columns(
    pipeline_id="bigint",
    project_id="bigint",
    suite="text",
    classname="text",
    name="text",
    file="text",
    execution_index="bigint",
    status="text",
    execution_time="double",
    job_ids="json",
    system_output="text",
    stack_trace="text",
    attachment_url="text",
)

ENVIRONMENT_COLUMNS = declared_columns(
    id="bigint",
    project_id="bigint",
    name="text",
    slug="text",
    tier="text",
    state="text",
    external_url="text",
    created_at="timestamp",
    updated_at="timestamp",
)
DEPLOYMENT_COLUMNS = declared_columns(
    id="bigint",
    iid="bigint",
    project_id="bigint",
    status="text",
    ref="text",
    sha="text",
    created_at="timestamp",
    updated_at="timestamp",
    environment__id="bigint",
    environment__name="text",
    deployable__id="bigint",
    deployable__name="text",
    deployable__stage="text",
    deployable__status="text",
    deployable__created_at="timestamp",
    deployable__started_at="timestamp",
    deployable__finished_at="timestamp",
    deployable__pipeline__id="bigint",
    user__username="text",
)
DEPLOYMENT_COMMIT_COLUMNS = declared_columns(
    deployment_id="bigint",
    project_id="bigint",
    environment="text",
    from_sha="text",
    to_sha="text",
    sha="text",
    short_id="text",
    title="text",
    author_name="text",
    author_email="text",
    authored_date="timestamp",
    committed_date="timestamp",
    parent_ids="json",
    trailers="json",
    extended_trailers="json",
)

# Fields the models rely on: a record without them goes to the quarantine table instead.
PIPELINE_REQUIRED = {"id": int, "project_id": int, "status": str, "created_at": "timestamp"}
JOB_REQUIRED = {"id": int, "name": str, "status": str, "created_at": "timestamp"}
TEST_CASE_REQUIRED = {"name": str, "status": str}
ENVIRONMENT_REQUIRED = {"id": int, "name": str}
DEPLOYMENT_REQUIRED = {
    "id": int,
    "status": str,
    "sha": str,
    "created_at": "timestamp",
    "environment.name": str,
}
COMMIT_REQUIRED = {"id": str, "authored_date": "timestamp", "committed_date": "timestamp"}

# Pipeline statuses after which nothing more happens unless someone acts (retry, play): the
# canonical status (metrics.md §1) is not in_progress, so the test report is complete.
FINISHED_PIPELINE_STATUSES = frozenset({"success", "failed", "canceled", "skipped", "manual"})


# Deployment statuses after which the deployment does not change (metrics.md §4).
FINISHED_DEPLOYMENT_STATUSES = frozenset({"success", "failed", "canceled", "skipped"})


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def fingerprint(pipeline: dict[str, Any]) -> str:
    """What changes whenever a pipeline (or any of its jobs) changes."""
    return f"{pipeline.get('status')}|{pipeline.get('updated_at')}"


def pipeline_updated_at(pipeline: dict[str, Any]) -> dt.datetime:
    """`updated_at`, which real GitLab leaves null on some external pipelines: then created_at."""
    return parse_timestamp(pipeline.get("updated_at") or pipeline["created_at"])


def job_rows(page: list[Any], pipeline: dict[str, Any]) -> tuple[list[dict], list[Any]]:
    """(rows, quarantine rows) of one page of a pipeline's jobs; the pipeline and project ids
    are carried over from the pipeline, so a job body without `pipeline` still lands."""
    good, bad = checked("pipeline_jobs", page, JOB_REQUIRED)
    rows = [
        {**job, "pipeline_id": pipeline["id"], "project_id": pipeline["project_id"]} for job in good
    ]
    return rows, bad


def report_case_rows(report: Any, pipeline: dict[str, Any]) -> tuple[list[dict], list[Any]]:
    """One row per test case of a pipeline's test report, and quarantine rows.

    A case repeated inside one suite gets `execution_index` 1..n in API order (metrics.md §5).
    `classname` and `file` are '' when GitLab has none, since they are part of the key.
    """
    if not isinstance(report, dict) or not isinstance(report.get("test_suites"), list):
        return [], [quarantined("test_cases", report, "test report without a test_suites list")]
    rows: list[dict] = []
    bad: list[Any] = []
    for suite in report["test_suites"]:
        if not isinstance(suite, dict) or not isinstance(suite.get("name"), str):
            bad.append(quarantined("test_cases", suite, "test suite without a name"))
            continue
        good, rejected = checked("test_cases", suite.get("test_cases") or [], TEST_CASE_REQUIRED)
        bad.extend(rejected)
        seen: dict[tuple[str, str, str], int] = {}
        for case in good:
            key = (case.get("classname") or "", case["name"], case.get("file") or "")
            seen[key] = seen.get(key, 0) + 1
            rows.append(
                {
                    **case,
                    "pipeline_id": pipeline["id"],
                    "project_id": pipeline["project_id"],
                    "suite": suite["name"],
                    "classname": key[0],
                    "file": key[2],
                    "execution_index": seen[key],
                    "job_ids": suite.get("build_ids"),
                }
            )
    return rows, bad


def environment_fingerprint(environment: dict[str, Any]) -> str:
    """What changes when an environment is renamed, re-tiered, stopped or updated."""
    return "|".join(
        str(environment.get(field)) for field in ("name", "tier", "state", "updated_at")
    )


def deployment_finished_at(deployment: dict[str, Any]) -> dt.datetime:
    """When a deployment finished: its job's `finished_at`, else its `updated_at` (a success
    stops changing when it finishes), else `created_at`; orders successes within a scope."""
    deployable = deployment.get("deployable") or {}
    value = deployable.get("finished_at") or deployment.get("updated_at")
    return parse_timestamp(value or deployment["created_at"])


def deployment_commit_rows(
    compare: Any, deployment: dict[str, Any], from_sha: str
) -> tuple[list[dict], list[Any]]:
    """One row per commit a compare body lists (`from`..`to`], keyed by (deployment_id, sha)."""
    if not isinstance(compare, dict) or not isinstance(compare.get("commits"), list):
        return [], [quarantined("deployment_commits", compare, "compare without a commits list")]
    good, bad = checked("deployment_commits", compare["commits"], COMMIT_REQUIRED)
    rows = [
        {
            **commit,
            "sha": commit["id"],
            "deployment_id": deployment["id"],
            "project_id": deployment["project_id"],
            "environment": deployment["environment"]["name"],
            "from_sha": from_sha,
            "to_sha": deployment["sha"],
        }
        for commit in good
    ]
    for row in rows:
        row.pop("id")
    return rows, bad


@dlt.source(name="gitlab", section="gitlab", max_table_nesting=2)
def gitlab_source(
    projects: str = dlt.config.value,
    private_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    initial_days: int = 90,
    lookback_days: int = 7,
    as_of: dt.date | None = None,
    max_attempts: int = 6,
    backoff_factor: float = 1.0,
    deployment_initial_days: int = 400,
) -> Sequence[DltResource]:
    """GitLab projects, pipelines (with their times), pipeline jobs, test cases, environments,
    deployments and the commits each successful deployment brought.

    Args:
        projects: project full paths (`group/sub/project`) or numeric ids, comma or JSON list.
        private_token: a GitLab access token with `read_api`.
        base_url: API root, e.g. `https://gitlab.example.com/api/v4` for self-managed GitLab.
        initial_days: days of history on the first load, counted back from the report date.
        lookback_days: on later loads, pipelines updated up to this many days before the newest
            update already loaded are listed again (changed ones are re-read).
        as_of: report date (default `INSIGHTS_AS_OF` or today, UTC).
        max_attempts, backoff_factor: retry policy for 429/5xx/timeouts.
        deployment_initial_days: days of deployment history on the first load (DORA windows
            reach back a year, CI history need not).
    """
    project_keys = parse_list(projects)
    end = report_end(as_of or report_date())
    first_load_start = end - dt.timedelta(days=initial_days)
    first_deployment_start = end - dt.timedelta(days=deployment_initial_days)
    client = RESTClient(
        base_url=base_url.rstrip("/"),
        auth=APIKeyAuth(name="PRIVATE-TOKEN", api_key=private_token, location="header"),
        paginator=HeaderLinkPaginator(),
        session=http_session(max_attempts, backoff_factor),
    )

    def get(path: str) -> Any:
        try:
            return client.get(path).json()
        except HTTPError as exc:
            _raise_auth_error(exc)
            raise

    def paginate(path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        try:
            yield from client.paginate(path, params=params)
        except HTTPError as exc:
            _raise_auth_error(exc)
            raise

    def project_path(key: str) -> str:
        return f"/projects/{urllib.parse.quote(key, safe='')}"

    project_bodies: dict[str, Any] = {}
    project_lock = threading.Lock()

    def project_body(key: str) -> Any:
        """GET /projects/:id once per load, shared by every resource that needs the numeric id."""
        with project_lock:
            if key not in project_bodies:
                project_bodies[key] = get(project_path(key))
            return project_bodies[key]

    @dlt.resource(
        name="projects", primary_key="id", write_disposition="merge", columns=PROJECT_COLUMNS
    )
    def project_rows() -> Iterator[dict[str, Any]]:
        """One row per configured project: `path_with_namespace`, `default_branch`."""
        for key in project_keys:
            yield {**project_body(key), "configured_as": key}

    @dlt.resource(primary_key="id", write_disposition="merge", columns=PIPELINE_COLUMNS)
    def pipelines() -> Iterator[Any]:
        """Pipelines new or changed since the last load, each as the single-pipeline body.

        State per project: `watermark` (newest `updated_at` loaded) and `seen` (fingerprint of
        every pipeline read since watermark - lookback). dlt commits the state with the load
        package, so a failed load re-reads the same range and the merge removes duplicates.
        """
        state = dlt.current.resource_state().setdefault("projects", {})
        with ThreadPoolExecutor(DETAIL_WORKERS, thread_name_prefix="gitlab-details") as pool:
            for key in project_keys:
                project_state = state.setdefault(key, {"watermark": None, "seen": {}})
                seen: dict[str, str] = project_state["seen"]
                previous, start = _listing_window(project_state, lookback_days, first_load_start)
                params = _updated_since(start)
                newest = previous
                listed = fetched = pages = 0
                for page in paginate(f"{project_path(key)}/pipelines", params):
                    pages += 1
                    good, bad = checked("pipelines", page, PIPELINE_REQUIRED)
                    yield from bad
                    changed = []
                    for pipeline in good:
                        listed += 1
                        updated = pipeline_updated_at(pipeline)
                        newest = updated if newest is None else max(newest, updated)
                        if seen.get(str(pipeline["id"])) != fingerprint(pipeline):
                            changed.append(pipeline)
                    details = list(pool.map(_detail, changed))
                    rows = []
                    for listed_row, body in zip(changed, details, strict=True):
                        reason = problem_with(body, PIPELINE_REQUIRED)
                        if reason is not None:
                            yield quarantined("pipelines", body, reason)
                            continue
                        # The list's fingerprint: the next listing compares against it.
                        seen[str(listed_row["id"])] = fingerprint(listed_row)
                        rows.append(body)
                    fetched += len(rows)
                    if rows:
                        yield rows
                _advance_watermark(project_state, newest, lookback_days)
                log.info(
                    "gitlab %s: %d pipelines listed since %s (%d pages), %d new or changed",
                    key,
                    listed,
                    start.isoformat(),
                    pages,
                    fetched,
                )

    def _detail(pipeline: dict[str, Any]) -> Any:
        return get(f"/projects/{pipeline['project_id']}/pipelines/{pipeline['id']}")

    @dlt.transformer(
        data_from=pipelines,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=JOB_COLUMNS,
    )
    def pipeline_jobs(pipeline_page: list[dict[str, Any]]) -> Iterator[Any]:
        """Every job of each new or changed pipeline, retried ones included (their own rows)."""
        if not is_page(pipeline_page):
            return
        for pipeline in pipeline_page:
            path = f"/projects/{pipeline['project_id']}/pipelines/{pipeline['id']}/jobs"
            for page in paginate(path, {"include_retried": "true", "per_page": PER_PAGE}):
                rows, bad = job_rows(page, pipeline)
                yield from bad
                if rows:
                    yield rows

    @dlt.transformer(
        data_from=pipelines,
        primary_key=["pipeline_id", "suite", "classname", "name", "file", "execution_index"],
        write_disposition="merge",
        parallelized=True,
        columns=TEST_CASE_COLUMNS,
    )
    def test_cases(pipeline_page: list[dict[str, Any]]) -> Iterator[Any]:
        """The test cases of each finished pipeline's test report (read when it finishes)."""
        if not is_page(pipeline_page):
            return
        for pipeline in pipeline_page:
            if pipeline["status"] not in FINISHED_PIPELINE_STATUSES:
                continue
            report = get(
                f"/projects/{pipeline['project_id']}/pipelines/{pipeline['id']}/test_report"
            )
            rows, bad = report_case_rows(report, pipeline)
            yield from bad
            if rows:
                yield rows

    @dlt.resource(primary_key="id", write_disposition="merge", columns=ENVIRONMENT_COLUMNS)
    def environments() -> Iterator[Any]:
        """Every environment of each project, with its `tier`. Listed whole on every load (one
        page a project); only environments new or changed since the last load are yielded."""
        seen = dlt.current.resource_state().setdefault("seen", {})
        for key in project_keys:
            project_id = project_body(key)["id"]
            path = f"{project_path(key)}/environments"
            for page in paginate(path, {"per_page": PER_PAGE}):
                good, bad = checked("environments", page, ENVIRONMENT_REQUIRED)
                yield from bad
                rows = []
                for environment in good:
                    mark = environment_fingerprint(environment)
                    if seen.get(str(environment["id"])) != mark:
                        rows.append({**environment, "project_id": project_id})
                if rows:
                    yield rows
                    for row in rows:
                        seen[str(row["id"])] = environment_fingerprint(row)

    @dlt.resource(primary_key="id", write_disposition="merge", columns=DEPLOYMENT_COLUMNS)
    def deployments() -> Iterator[Any]:
        """Deployments new or changed since the last load (the list body, with `project_id`).

        State per project as for pipelines: `watermark` and `seen` fingerprints. A project's
        changed deployments are yielded as one item after its listing, oldest finish first, so that
        `deployment_commits` sees each scope's successes in order.
        """
        state = dlt.current.resource_state().setdefault("projects", {})
        for key in project_keys:
            project_id = project_body(key)["id"]
            project_state = state.setdefault(key, {"watermark": None, "seen": {}})
            seen: dict[str, str] = project_state["seen"]
            previous, start = _listing_window(project_state, lookback_days, first_deployment_start)
            params = _updated_since(start)
            newest = previous
            listed = pages = 0
            changed: dict[int, dict[str, Any]] = {}
            for page in paginate(f"{project_path(key)}/deployments", params):
                pages += 1
                good, bad = checked("deployments", page, DEPLOYMENT_REQUIRED)
                yield from bad
                for deployment in good:
                    listed += 1
                    updated = pipeline_updated_at(deployment)
                    newest = updated if newest is None else max(newest, updated)
                    if seen.get(str(deployment["id"])) != fingerprint(deployment):
                        changed[deployment["id"]] = {**deployment, "project_id": project_id}
            ordered = sorted(changed.values(), key=lambda d: (deployment_finished_at(d), d["id"]))
            # One item per project: dlt does not promise to hand a transformer the items of
            # one resource in the order they were yielded when other resources run beside it
            # (chunks of one project arrived swapped), and `deployment_commits` needs each
            # scope's successes in completion order.
            if ordered:
                yield ordered
                for deployment in ordered:
                    seen[str(deployment["id"])] = fingerprint(deployment)
            _advance_watermark(project_state, newest, lookback_days)
            log.info(
                "gitlab %s: %d deployments listed since %s (%d pages), %d new or changed",
                key,
                listed,
                start.isoformat(),
                pages,
                len(ordered),
            )

    @dlt.transformer(
        data_from=deployments,
        primary_key=["deployment_id", "sha"],
        write_disposition="merge",
        columns=DEPLOYMENT_COMMIT_COLUMNS,
    )
    def deployment_commits(deployment_page: list[dict[str, Any]]) -> Iterator[Any]:
        """The commits each successful deployment brought: compare(previous success's sha, its sha).

        State per scope `project_id|environment`: `last` ([sha, finished_at, deployment id] of
        the latest success seen); a success that finished before it was chained in an earlier
        load and costs no request. Within a load each (from, to) pair of a scope is compared once, and a
        pair that comes back (roll back, then forward again) gives its commits to every
        deployment that needed it; a pair with from == to brings nothing.
        """
        if not is_page(deployment_page):
            return
        scopes = dlt.current.resource_state().setdefault("scopes", {})
        work: list[tuple[dict[str, Any], str]] = []
        ordered = sorted(deployment_page, key=lambda d: (deployment_finished_at(d), d["id"]))
        for deployment in ordered:
            if deployment["status"] != "success":
                continue
            scope_key = f"{deployment['project_id']}|{deployment['environment']['name']}"
            scope = scopes.setdefault(scope_key, {"last": None})
            scope.pop("done", None)  # kept by earlier versions; no longer used
            finished = deployment_finished_at(deployment)
            last = scope["last"]
            if last is not None:
                if (parse_timestamp(last[1]), last[2]) >= (finished, deployment["id"]):
                    continue  # already processed (or older than what has been)
                if last[0] != deployment["sha"]:
                    work.append((deployment, last[0]))
            # The first success of a scope has no previous one: it attributes no commits.
            scope["last"] = [deployment["sha"], finished.isoformat(), deployment["id"]]
        if not work:
            return

        def compare(pair: tuple[int, str, str, str]) -> tuple[Any, str | None]:
            project_id, _, from_sha, to_sha = pair
            path = f"/projects/{project_id}/repository/compare"
            try:
                return client.get(path, params={"from": from_sha, "to": to_sha}).json(), None
            except HTTPError as exc:
                _raise_auth_error(exc)
                status = exc.response.status_code if exc.response is not None else None
                if status == 404:  # a sha no longer in the repository (force-push, deletion)
                    return None, f"compare {from_sha}..{to_sha}: HTTP 404"
                raise

        def pair(deployment: dict[str, Any], from_sha: str) -> tuple[int, str, str, str]:
            environment = deployment["environment"]["name"]
            return (deployment["project_id"], environment, from_sha, deployment["sha"])

        pairs = list(dict.fromkeys(pair(deployment, base) for deployment, base in work))
        with ThreadPoolExecutor(DETAIL_WORKERS, thread_name_prefix="gitlab-compare") as pool:
            compared = dict(zip(pairs, pool.map(compare, pairs), strict=True))
        for deployment, from_sha in work:
            body, problem = compared[pair(deployment, from_sha)]
            if problem is not None:
                yield quarantined(
                    "deployment_commits",
                    {"id": deployment["id"], "from": from_sha, "to": deployment["sha"]},
                    problem,
                )
                continue
            rows, bad = deployment_commit_rows(body, deployment, from_sha)
            yield from bad
            if rows:
                yield rows

    return (
        project_rows,
        pipelines,
        pipeline_jobs,
        test_cases,
        environments,
        deployments,
        deployment_commits,
    )


def _listing_window(
    project_state: dict[str, Any], lookback_days: int, first_start: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime]:
    """(previous watermark, where this listing starts): the watermark minus the lookback, or
    `first_start` on a project's first load."""
    if project_state["watermark"]:
        previous = parse_timestamp(project_state["watermark"])
        return previous, previous - dt.timedelta(days=lookback_days)
    return None, first_start


def _updated_since(start: dt.datetime) -> dict[str, Any]:
    """List parameters: everything updated since `start`, newest first."""
    return {
        "updated_after": _iso(start),
        "order_by": "updated_at",
        "sort": "desc",
        "per_page": PER_PAGE,
    }


def _advance_watermark(
    project_state: dict[str, Any], newest: dt.datetime | None, lookback_days: int
) -> None:
    """Move the watermark to the newest `updated_at` listed and forget the fingerprints of
    records the next listing cannot return unchanged (older than its lookback)."""
    if newest is None:
        return
    project_state["watermark"] = newest.isoformat()
    cutoff = newest - dt.timedelta(days=lookback_days)
    project_state["seen"] = {
        record_id: mark
        for record_id, mark in project_state["seen"].items()
        if _fingerprint_time(mark) is None or _fingerprint_time(mark) > cutoff
    }


def _fingerprint_time(mark: str) -> dt.datetime | None:
    value = mark.split("|", 1)[-1]
    if value in ("", "None"):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _raise_auth_error(exc: HTTPError) -> None:
    raise_if_rejected(
        exc,
        "GitLab rejected the access token",
        f"Set {TOKEN_VARIABLE} to a valid GitLab access token with the read_api scope on the "
        "configured projects.",
    )


def gitlab_is_configured() -> bool:
    """True when both the token and at least one project resolve from env or .dlt/ files."""
    return settings_present("gitlab", "private_token", "projects")
