"""dlt source for GitHub Actions: repositories, workflow runs (every attempt) and their jobs.

Shapes follow GitHub's REST API (see shared/api-samples/README.md §1). The runs listing takes a
`created` filter but then pages to at most 1,000 results, so each load lists runs per repository
in `created` windows and splits a window in halves while its `total_count` passes the cap. The
listing shows each run once, as its latest attempt: earlier attempts of a re-run are read one by
one (`/actions/runs/{id}/attempts/{n}`), and jobs are read per attempt
(`/actions/runs/{id}/attempts/{n}/jobs`). Every attempt is its own row, keyed (id, run_attempt).

Incremental loads list runs created since the repository's watermark (newest `created_at`
loaded) minus the lookback window. A run that was already loaded completed, with the same latest
attempt and `updated_at`, has nothing new: its attempts and jobs are not read again, so a load
with no new data makes one request per repository plus one per 100 runs in the lookback window
(and the jobs of runs still in progress). A re-run of a run older than the lookback is missed
until a full reload (metrics.md §5).

Deployments (`/repos/{o}/{r}/deployments`, a bare array paged by `link`, newest first, with no
date filter): each load pages back until it passes the repository's deployment watermark (newest
`created_at` loaded) minus the lookback window, or `deployment_initial_days` on the first load.
Every status of a listed deployment is read (`/deployments/{id}/statuses`) unless the deployment
was already loaded finished with the same `updated_at` (which moves when a status is added, e.g.
`inactive`), so statuses of finished deployments are not re-read. A deployment's outcome is its
latest terminal status (metrics.md §4). For each successful deployment, the commits it brought
come from `/compare/{previous successful sha}...{its sha}`, the previous successful deployment
being the one completed just before it in the same repository and environment; the last
successful deployment per (repository, environment) is kept in resource state so the next load
continues the chain, and each deployment pair is compared once (the first deployment of a scope
brings none). Environments (`/repos/{o}/{r}/environments`) are read whole on every load.

Configuration (dlt resolution: env vars or .dlt/*.toml, section `sources.github`):
    SOURCES__GITHUB__ACCESS_TOKEN    token sent as `Authorization: Bearer ...`
    SOURCES__GITHUB__BASE_URL        default https://api.github.com (GHES: https://HOST/api/v3)
    SOURCES__GITHUB__REPOSITORIES    owner/name, as a comma list or JSON list
    SOURCES__GITHUB__INITIAL_DAYS    history on the first load (default 90)
    SOURCES__GITHUB__DEPLOYMENT_INITIAL_DAYS  deployment history on the first load (default 400)
    SOURCES__GITHUB__LOOKBACK_DAYS   re-read window on later loads (default 7)
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dlt
import requests
import requests.hooks
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator
from requests import HTTPError

from .common import (
    RETRYABLE_EXCEPTIONS,
    SourceAuthError,
    declared_columns,
    is_malformed_json,
    parse_list,
    parse_timestamp,
    settings_present,
)
from .quality import checked, is_page
from .settings import report_date, report_end

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.github.com"
TOKEN_VARIABLE = "SOURCES__GITHUB__ACCESS_TOKEN"
API_VERSION = "2022-11-28"
PER_PAGE = 100
# With a `created` filter the runs listing pages to at most this many results.
RESULT_CAP = 1000
# A primary rate limit is waited out until `x-ratelimit-reset` (at most an hour ahead).
MAX_RATE_LIMIT_WAIT = 3660.0
# A secondary limit without `retry-after`: wait at least a minute, then back off (GitHub docs).
SECONDARY_LIMIT_WAIT = 60.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# The Deployments resources (a load of Actions alone: `source.with_resources(...)` without them).
DEPLOYMENT_RESOURCES = ("deployments", "deployment_statuses", "environments", "deployment_commits")

__all__ = [
    "SourceAuthError",
    "deployment_outcome",
    "github_is_configured",
    "github_source",
    "prepare_compare_commits",
    "prepare_deployments",
    "prepare_environments",
    "prepare_jobs",
    "prepare_runs",
    "prepare_statuses",
]


# Declared types for every column staging reads (they exist even when a load has no value for
# them, e.g. `run_started_at` in an old-schema body), and single JSON columns for nested objects
# and lists, so an actor or a pull request does not become dozens of columns or a child table.
REPOSITORY_COLUMNS = declared_columns(
    id="bigint",
    node_id="text",
    name="text",
    full_name="text",
    owner_login="text",
    default_branch="text",
    private="bool",
    visibility="text",
    archived="bool",
    html_url="text",
    created_at="timestamp",
    updated_at="timestamp",
    pushed_at="timestamp",
)
RUN_COLUMNS = declared_columns(
    id="bigint",
    run_attempt="bigint",
    repository_full_name="text",
    head_repository_full_name="text",
    name="text",
    path="text",
    display_title="text",
    workflow_id="bigint",
    run_number="bigint",
    event="text",
    status="text",
    conclusion="text",
    head_branch="text",
    head_sha="text",
    check_suite_id="bigint",
    html_url="text",
    previous_attempt_url="text",
    created_at="timestamp",
    updated_at="timestamp",
    run_started_at="timestamp",
    actor="json",
    triggering_actor="json",
    head_commit="json",
    pull_requests="json",
    referenced_workflows="json",
)
JOB_COLUMNS = declared_columns(
    id="bigint",
    run_id="bigint",
    run_attempt="bigint",
    repository_full_name="text",
    workflow_name="text",
    head_branch="text",
    head_sha="text",
    name="text",
    status="text",
    conclusion="text",
    created_at="timestamp",
    started_at="timestamp",
    completed_at="timestamp",
    runner_id="bigint",
    runner_name="text",
    runner_group_id="bigint",
    runner_group_name="text",
    html_url="text",
    labels="json",
    steps="json",
)

DEPLOYMENT_COLUMNS = declared_columns(
    id="bigint",
    repository_full_name="text",
    node_id="text",
    sha="text",
    ref="text",
    task="text",
    environment="text",
    original_environment="text",
    description="text",
    created_at="timestamp",
    updated_at="timestamp",
    transient_environment="bool",
    production_environment="bool",
    url="text",
    payload="json",
    creator="json",
    performed_via_github_app="json",
)
DEPLOYMENT_STATUS_COLUMNS = declared_columns(
    id="bigint",
    deployment_id="bigint",
    repository_full_name="text",
    node_id="text",
    state="text",
    description="text",
    environment="text",
    target_url="text",
    log_url="text",
    environment_url="text",
    created_at="timestamp",
    updated_at="timestamp",
    creator="json",
    performed_via_github_app="json",
)
ENVIRONMENT_COLUMNS = declared_columns(
    id="bigint",
    repository_full_name="text",
    node_id="text",
    name="text",
    html_url="text",
    created_at="timestamp",
    updated_at="timestamp",
    protection_rules="json",
    deployment_branch_policy="json",
)
DEPLOYMENT_COMMIT_COLUMNS = declared_columns(
    deployment_id="bigint",
    sha="text",
    repository_full_name="text",
    environment="text",
    base_sha="text",
    head_sha="text",
    previous_deployment_id="bigint",
    author_name="text",
    author_email="text",
    authored_at="timestamp",
    committed_at="timestamp",
    message="text",
    html_url="text",
)

# Fields the models rely on: a record without them goes to the quarantine table instead. Older
# API versions lack `run_attempt`, `run_started_at` and jobs' `created_at`: those are tolerated.
RUN_REQUIRED = {"id": int, "status": str, "created_at": "timestamp"}
JOB_REQUIRED = {"id": int, "run_id": int, "name": str, "status": str}
DEPLOYMENT_REQUIRED = {"id": int, "sha": str, "environment": str, "created_at": "timestamp"}
STATUS_REQUIRED = {"id": int, "state": str, "created_at": "timestamp"}
ENVIRONMENT_REQUIRED = {"id": int, "name": str}
COMMIT_REQUIRED = {"sha": str}

# Deployment status states (api-samples §1) that end a deployment; `inactive` only marks one
# superseded by a later success (or, alone, a deployment that never reported an outcome).
_OUTCOME_STATES = {"success": "success", "failure": "failed", "error": "failed"}

# Nested objects of a run body that repeat the whole repository (≈80 URL fields): only the full
# name is kept.
_REPOSITORY_OBJECTS = ("repository", "head_repository")


# -- HTTP ------------------------------------------------------------------------------------


def _sleep(seconds: float) -> None:
    """Every wait of the source goes through here (tests replace it to stay fast)."""
    time.sleep(seconds)


def _header(response: requests.Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.strip() if isinstance(value, str) else None


def _rate_limit_wait(
    response: requests.Response, attempt: int, backoff_factor: float
) -> float | None:
    """Seconds to wait before retrying a rate-limited response, None when it is not one.

    GitHub: primary limit = 403/429 with `x-ratelimit-remaining: 0` (wait until
    `x-ratelimit-reset`, epoch seconds); secondary limit = 403/429 with `retry-after` (wait that
    long) or a message about a secondary rate limit (at least a minute, growing).
    """
    if response.status_code not in (403, 429):
        return None
    retry_after = _header(response, "retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    if _header(response, "x-ratelimit-remaining") == "0":
        try:
            reset = float(_header(response, "x-ratelimit-reset") or "")
        except ValueError:
            reset = time.time() + SECONDARY_LIMIT_WAIT
        return min(MAX_RATE_LIMIT_WAIT, max(1.0, reset - time.time() + 1.0))
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text[:500]
    if "rate limit" in message.lower() or response.status_code == 429:
        return SECONDARY_LIMIT_WAIT * backoff_factor * 2**attempt
    return None  # a 403 that is not a rate limit: the token lacks access


class _RetryingSession(requests.Session):
    """A session that retries GitHub rate limits (waiting as GitHub asks), 5xx and network
    errors, up to `max_attempts` tries per request; other responses are returned as they are."""

    def __init__(self, max_attempts: int, backoff_factor: float, timeout: float = 60) -> None:
        super().__init__()
        self.max_attempts = max(1, max_attempts)
        self.backoff_factor = backoff_factor
        self.timeout = timeout
        self.headers.update(
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        path = requests.utils.urlparse(request.url or "").path
        # Response hooks (RESTClient's raise-for-status) run once, on the final response only.
        hooks, request.hooks = request.hooks, {"response": []}
        try:
            response = self._send_with_retries(request, path, **kwargs)
        finally:
            request.hooks = hooks
        return requests.hooks.dispatch_hook("response", hooks, response, **kwargs)

    def _send_with_retries(
        self, request: requests.PreparedRequest, path: str, **kwargs: Any
    ) -> requests.Response:
        for attempt in range(self.max_attempts):
            last = attempt == self.max_attempts - 1
            try:
                response = super().send(request, **kwargs)
            except RETRYABLE_EXCEPTIONS as exc:
                if last:
                    raise
                wait = self.backoff_factor * 2**attempt
                log.warning("github %s: %s; retrying in %.1fs", path, type(exc).__name__, wait)
                _sleep(wait)
                continue
            wait = _rate_limit_wait(response, attempt, self.backoff_factor)
            if wait is None and (
                response.status_code in RETRY_STATUSES or is_malformed_json(response)
            ):
                wait = self.backoff_factor * 2**attempt
            if wait is None or last:
                return response
            log.warning(
                "github %s: HTTP %d (%s); retrying in %.1fs",
                path,
                response.status_code,
                "rate limit" if response.status_code in (403, 429) else "server error or bad body",
                wait,
            )
            response.close()
            _sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def _raise_auth_error(exc: HTTPError) -> None:
    status = exc.response.status_code if exc.response is not None else None
    if status in (401, 403):
        # A 403 that reaches here is not a rate limit (those are retried): missing access.
        raise SourceAuthError(
            f"GitHub rejected the access token (HTTP {status}). Set {TOKEN_VARIABLE} to a valid "
            "GitHub token with read access to Actions on the configured repositories."
        ) from None


# -- records ---------------------------------------------------------------------------------


def _timestamp_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare_runs(
    runs: Sequence[Any], repository: str, attempt: int | None = None
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Runs of one listing page (or one attempt body) ready to load: (rows, quarantine rows).

    Adds `repository_full_name` (owner/repo) and `head_repository_full_name` in place of the
    repository objects, and `run_attempt` = 1 (or `attempt`) where an old API version omits it.
    """
    good, bad = checked("workflow_runs", runs, RUN_REQUIRED)
    rows = []
    for run in good:
        row = {key: value for key, value in run.items() if key not in _REPOSITORY_OBJECTS}
        repo = run.get("repository")
        head = run.get("head_repository")
        row["repository_full_name"] = (
            repo.get("full_name")
            if isinstance(repo, Mapping) and repo.get("full_name")
            else repository
        )
        row["head_repository_full_name"] = (
            head.get("full_name") if isinstance(head, Mapping) else None
        )
        if not isinstance(row.get("run_attempt"), int) or row["run_attempt"] < 1:
            row["run_attempt"] = attempt or 1
        rows.append(row)
    return rows, bad


def prepare_jobs(
    jobs: Sequence[Any], repository: str, attempt: int
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Jobs of one page of an attempt's jobs: (rows, quarantine rows). Old API versions omit
    `run_attempt`: it is the attempt the jobs were read for."""
    good, bad = checked("workflow_jobs", jobs, JOB_REQUIRED)
    rows = []
    for job in good:
        row = {**job, "repository_full_name": repository}
        if not isinstance(row.get("run_attempt"), int):
            row["run_attempt"] = attempt
        rows.append(row)
    return rows, bad


def prepare_deployments(
    deployments: Sequence[Any], repository: str
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Deployments of one listing page (or a single deployment body): (rows, quarantine rows),
    with `repository_full_name` added."""
    good, bad = checked("deployments", deployments, DEPLOYMENT_REQUIRED)
    return [{**row, "repository_full_name": repository} for row in good], bad


def prepare_statuses(
    statuses: Sequence[Any], repository: str, deployment_id: int
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Statuses of one deployment: (rows, quarantine rows), with `deployment_id` (the bodies only
    carry it inside `deployment_url`) and `repository_full_name`."""
    good, bad = checked("deployment_statuses", statuses, STATUS_REQUIRED)
    rows = [
        {**row, "deployment_id": deployment_id, "repository_full_name": repository} for row in good
    ]
    return rows, bad


def prepare_environments(
    environments: Sequence[Any], repository: str
) -> tuple[list[dict[str, Any]], list[Any]]:
    good, bad = checked("environments", environments, ENVIRONMENT_REQUIRED)
    return [{**row, "repository_full_name": repository} for row in good], bad


def prepare_compare_commits(
    commits: Sequence[Any], deployment: Mapping[str, Any], base: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Commits of a compare response attributed to `deployment` (its previous successful
    deployment `base`): one row per (deployment_id, sha)."""
    good, bad = checked("deployment_commits", commits, COMMIT_REQUIRED)
    rows = []
    for commit in good:
        detail = commit.get("commit") if isinstance(commit.get("commit"), Mapping) else {}
        author = detail.get("author") if isinstance(detail.get("author"), Mapping) else {}
        committer = detail.get("committer") if isinstance(detail.get("committer"), Mapping) else {}
        rows.append(
            {
                "deployment_id": deployment["id"],
                "sha": commit["sha"],
                "repository_full_name": deployment["repository_full_name"],
                "environment": deployment["environment"],
                "base_sha": base["sha"],
                "head_sha": deployment["sha"],
                "previous_deployment_id": base["id"],
                "author_name": author.get("name"),
                "author_email": author.get("email"),
                "authored_at": author.get("date"),
                "committed_at": committer.get("date"),
                "message": detail.get("message"),
                "html_url": commit.get("html_url"),
            }
        )
    return rows, bad


def deployment_outcome(statuses: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """(state, completed_at) of a deployment from its statuses (metrics.md §4, §5), as the dbt
    model computes it: the latest success/failure/error decides (failure and error → failed) and
    its created_at is the completion; `inactive` after a success keeps the success, and a
    deployment whose only terminal status is `inactive` is a success completed then; otherwise
    (queued, pending, in_progress, no status yet) it is in progress."""
    # The API's order (newest first) is by status id, which grows with every status.
    ordered = sorted(statuses, key=lambda s: (s["id"], parse_timestamp(s["created_at"])))
    for status in reversed(ordered):
        if status["state"] in _OUTCOME_STATES:
            return _OUTCOME_STATES[status["state"]], status["created_at"]
    for status in reversed(ordered):
        if status["state"] == "inactive":
            return "success", status["created_at"]
    return "in_progress", None


def _repository_row(body: Mapping[str, Any]) -> dict[str, Any]:
    owner = body.get("owner")
    row = {name: body.get(name) for name in REPOSITORY_COLUMNS if name != "owner_login"}
    row["owner_login"] = owner.get("login") if isinstance(owner, Mapping) else None
    return row


# -- the source ------------------------------------------------------------------------------


@dlt.source(name="github", section="github", max_table_nesting=2)
def github_source(
    repositories: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    initial_days: int = 90,
    lookback_days: int = 7,
    as_of: dt.date | None = None,
    max_attempts: int = 6,
    backoff_factor: float = 1.0,
    deployment_initial_days: int = 400,
) -> Sequence[DltResource]:
    """GitHub repositories, Actions workflow runs (every attempt) and workflow jobs, Deployments
    with every status, environments, and the commits each successful deployment brought.

    Args:
        repositories: `owner/name` list, comma separated or JSON.
        access_token: a GitHub token (fine-grained: Actions read, Metadata read).
        base_url: API root, e.g. `https://github.example.com/api/v3` for GitHub Enterprise Server.
        initial_days: days of history on the first load, counted back from the report end.
        lookback_days: on later loads, runs created this many days before the newest one already
            loaded are listed again, so re-runs and late status changes land.
        as_of: report date (default `INSIGHTS_AS_OF` or today, UTC); runs are listed up to its end.
        max_attempts, backoff_factor: retry policy for rate limits, 5xx and network errors.
        deployment_initial_days: days of deployment history on the first load (deployments
            are listed newest first back to this; later loads back to the lookback window).
    """
    names = parse_list(repositories)
    end = report_end(as_of or report_date())
    first_load_start = end - dt.timedelta(days=initial_days)
    first_deployment_start = end - dt.timedelta(days=deployment_initial_days)
    # (run id, attempt) pairs whose jobs must be read; filled by `workflow_runs` before it
    # yields the page that holds them, read by `workflow_jobs`.
    jobs_needed: set[tuple[int, int]] = set()
    client = RESTClient(
        base_url=base_url.rstrip("/"),
        auth=BearerTokenAuth(token=access_token),
        paginator=HeaderLinkPaginator(),
        session=_RetryingSession(max_attempts, backoff_factor),
    )

    def get(path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return client.get(path, params=params).json()
        except HTTPError as exc:
            _raise_auth_error(exc)
            raise

    def paginate(path: str, params: dict[str, Any], data_selector: str) -> Iterator[Any]:
        try:
            yield from client.paginate(path, params=params, data_selector=data_selector)
        except HTTPError as exc:
            _raise_auth_error(exc)
            raise

    @dlt.resource(
        name="repositories", primary_key="id", write_disposition="merge", columns=REPOSITORY_COLUMNS
    )
    def repositories_resource() -> Iterator[dict[str, Any]]:
        """One row per configured repository, with its `default_branch`."""
        for name in names:
            yield _repository_row(get(f"/repos/{name}"))

    def list_runs(name: str, start: dt.datetime, stop: dt.datetime) -> Iterator[list[dict]]:
        """Pages of runs created in [start, stop), in windows that stay under the 1,000 cap."""
        windows = [(start, stop)]
        while windows:
            low, high = windows.pop(0)
            created = f"{_timestamp_text(low)}..{_timestamp_text(high - dt.timedelta(seconds=1))}"
            params = {"created": created, "per_page": PER_PAGE}
            for number, page in enumerate(
                paginate(f"/repos/{name}/actions/runs", params, "workflow_runs")
            ):
                if number == 0:
                    total = int(page.response.json().get("total_count") or 0)
                    if total > RESULT_CAP and high - low > dt.timedelta(seconds=2):
                        middle = low + (high - low) / 2
                        middle = middle.replace(microsecond=0)
                        log.info(
                            "github %s: %d runs in %s, splitting the window", name, total, created
                        )
                        windows[:0] = [(low, middle), (middle, high)]
                        break
                yield list(page)

    @dlt.resource(
        name="workflow_runs",
        primary_key=["id", "run_attempt"],
        write_disposition="merge",
        columns=RUN_COLUMNS,
    )
    def workflow_runs() -> Iterator[Any]:
        """Every attempt of every run created since the repository's watermark minus lookback.

        State per repository (committed with the load package, so a failed load re-reads the
        same range): the watermark, and for completed runs in the lookback range their latest
        attempt and `updated_at` as loaded, which is how an unchanged run is recognised.
        """
        state: dict[str, Any] = dlt.current.resource_state().setdefault("repositories", {})
        for name in names:
            repo_state = state.setdefault(name, {})
            known: dict[str, list[Any]] = repo_state.setdefault("runs", {})
            watermark = repo_state.get("created_at")
            if watermark is not None:
                start = parse_timestamp(watermark) - dt.timedelta(days=lookback_days)
            else:
                start = first_load_start
            # Runs older than the range are not listed again; forget them.
            for run_id in [k for k, v in known.items() if parse_timestamp(v[2]) < start]:
                del known[run_id]
            newest: dt.datetime | None = None
            listed = attempts_read = unchanged = pages = 0
            for page in list_runs(name, start, end):
                pages += 1
                rows, bad = prepare_runs(page, name)
                yield from bad
                out: list[dict[str, Any]] = []
                for run in rows:
                    listed += 1
                    created = parse_timestamp(run["created_at"])
                    newest = created if newest is None else max(newest, created)
                    latest = run["run_attempt"]
                    done = run["status"] == "completed"
                    memo = known.get(str(run["id"]))
                    if done and memo is not None and memo[:2] == [latest, run.get("updated_at")]:
                        unchanged += 1
                        out.append(run)  # merges onto itself; its attempts and jobs are final
                        continue
                    # Attempts up to a completed one already loaded are final.
                    first_missing = memo[0] + 1 if memo is not None and memo[3] else 1
                    for number in range(first_missing, latest):
                        body = get(f"/repos/{name}/actions/runs/{run['id']}/attempts/{number}")
                        attempts_read += 1
                        earlier, broken = prepare_runs([body], name, number)
                        yield from broken
                        for row in earlier:
                            jobs_needed.add((row["id"], row["run_attempt"]))
                            out.append(row)
                    jobs_needed.add((run["id"], latest))
                    out.append(run)
                    if done:
                        known[str(run["id"])] = [
                            latest,
                            run.get("updated_at"),
                            run["created_at"],
                            True,
                        ]
                    else:
                        known.pop(str(run["id"]), None)
                if out:
                    yield out
            log.info(
                "github %s: %d runs since %s (%d pages, %d earlier attempts read, %d unchanged)",
                name,
                listed,
                start.isoformat(),
                pages,
                attempts_read,
                unchanged,
            )
            if newest is not None and (watermark is None or newest > parse_timestamp(watermark)):
                repo_state["created_at"] = newest.isoformat()

    @dlt.transformer(
        data_from=workflow_runs,
        name="workflow_jobs",
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=JOB_COLUMNS,
    )
    def workflow_jobs(run_page: list[dict[str, Any]]) -> Iterator[Any]:
        """Jobs of each run attempt that is new or may have changed since the last load."""
        if not is_page(run_page):
            return
        for run in run_page:
            key = (run["id"], run["run_attempt"])
            if key not in jobs_needed:
                continue
            name = run["repository_full_name"]
            path = f"/repos/{name}/actions/runs/{run['id']}/attempts/{run['run_attempt']}/jobs"
            for page in paginate(path, {"per_page": PER_PAGE}, "jobs"):
                rows, bad = prepare_jobs(list(page), name, run["run_attempt"])
                yield from bad
                if rows:
                    yield rows

    # Filled by `deployments` per repository, read by its transformers: the statuses read in
    # this load per deployment id, and each listed deployment's outcome (state, completed_at).
    statuses_read: dict[int, list[dict[str, Any]]] = {}
    outcomes: dict[int, tuple[str, str | None]] = {}

    def list_deployments(name: str, start: dt.datetime) -> Iterator[list[Any]]:
        """Listing pages, newest first, up to the first page that reaches back past `start`."""
        for page in paginate(f"/repos/{name}/deployments", {"per_page": PER_PAGE}, "$"):
            items = list(page)
            yield items
            times = [
                parse_timestamp(item["created_at"])
                for item in items
                if isinstance(item, Mapping) and isinstance(item.get("created_at"), str)
            ]
            if not items or (times and min(times) < start):
                return

    def read_statuses(name: str, deployment_id: int) -> tuple[list[dict[str, Any]], list[Any]]:
        rows: list[dict[str, Any]] = []
        bad: list[Any] = []
        path = f"/repos/{name}/deployments/{deployment_id}/statuses"
        for page in paginate(path, {"per_page": PER_PAGE}, "$"):
            good, broken = prepare_statuses(list(page), name, deployment_id)
            rows += good
            bad += broken
        return rows, bad

    @dlt.resource(
        name="deployments",
        primary_key="id",
        write_disposition="merge",
        columns=DEPLOYMENT_COLUMNS,
    )
    def deployments() -> Iterator[Any]:
        """Deployments created since the repository's deployment watermark minus the lookback
        (first load: `deployment_initial_days`), one list per repository.

        State per repository: the watermark, and for deployments in that range loaded finished
        their `updated_at`, created_at and outcome, so an unchanged one is not re-read.
        """
        state: dict[str, Any] = dlt.current.resource_state().setdefault("repositories", {})
        for name in names:
            repo_state = state.setdefault(name, {})
            known: dict[str, list[Any]] = repo_state.setdefault("deployments", {})
            watermark = repo_state.get("created_at")
            if watermark is not None:
                start = parse_timestamp(watermark) - dt.timedelta(days=lookback_days)
            else:
                start = first_deployment_start
            for deployment_id in [k for k, v in known.items() if parse_timestamp(v[1]) < start]:
                del known[deployment_id]
            newest: dt.datetime | None = None
            out: list[dict[str, Any]] = []
            seen: set[int] = set()
            pages = read = 0
            for page in list_deployments(name, start):
                pages += 1
                rows, bad = prepare_deployments(page, name)
                yield from bad
                for row in rows:
                    created = parse_timestamp(row["created_at"])
                    if created < start or created >= end or row["id"] in seen:
                        continue
                    seen.add(row["id"])
                    newest = created if newest is None else max(newest, created)
                    memo = known.get(str(row["id"]))
                    if memo is not None and memo[0] == row.get("updated_at"):
                        outcomes[row["id"]] = (memo[2], memo[3])
                    else:
                        statuses, broken = read_statuses(name, row["id"])
                        read += 1
                        yield from broken
                        statuses_read[row["id"]] = statuses
                        outcome = deployment_outcome(statuses)
                        outcomes[row["id"]] = outcome
                        if outcome[0] != "in_progress":
                            known[str(row["id"])] = [
                                row.get("updated_at"),
                                row["created_at"],
                                *outcome,
                            ]
                        else:
                            known.pop(str(row["id"]), None)
                    out.append(row)
            log.info(
                "github %s: %d deployments since %s (%d pages, statuses of %d read)",
                name,
                len(out),
                start.isoformat(),
                pages,
                read,
            )
            if out:
                yield out
            if newest is not None and (watermark is None or newest > parse_timestamp(watermark)):
                repo_state["created_at"] = newest.isoformat()

    @dlt.transformer(
        data_from=deployments,
        name="deployment_statuses",
        primary_key="id",
        write_disposition="merge",
        columns=DEPLOYMENT_STATUS_COLUMNS,
    )
    def deployment_statuses(deployment_page: list[dict[str, Any]]) -> Iterator[Any]:
        """Every status of each deployment whose statuses were read in this load."""
        if not is_page(deployment_page):
            return
        rows: list[dict[str, Any]] = []
        for deployment in deployment_page:
            rows += statuses_read.pop(deployment["id"], [])
        if rows:
            yield rows

    @dlt.transformer(
        data_from=deployments,
        name="deployment_commits",
        primary_key=["deployment_id", "sha"],
        write_disposition="merge",
        columns=DEPLOYMENT_COMMIT_COLUMNS,
    )
    def deployment_commits(deployment_page: list[dict[str, Any]]) -> Iterator[Any]:
        """Commits between the previous successful deployment's sha (same repository and
        environment, ordered by completion) and each successful deployment's sha.

        State: per `repository|environment`, the last successful deployment chained
        ([completed_at, id, sha]); successes completed up to it were compared in an earlier load.
        """
        if not is_page(deployment_page) or not deployment_page:
            return
        state: dict[str, Any] = dlt.current.resource_state().setdefault("last_success", {})
        scopes: dict[str, list[tuple[dt.datetime, int, dict[str, Any]]]] = {}
        for deployment in deployment_page:
            outcome, completed = outcomes.get(deployment["id"], ("in_progress", None))
            if outcome == "success" and completed is not None:
                scope = f"{deployment['repository_full_name']}|{deployment['environment']}"
                scopes.setdefault(scope, []).append(
                    (parse_timestamp(completed), deployment["id"], deployment)
                )
        compared: dict[tuple[str, str, str], list[Any]] = {}
        for scope, successes in scopes.items():
            last = state.get(scope)
            previous = (
                None
                if last is None
                else (parse_timestamp(last[0]), last[1], {"id": last[1], "sha": last[2]})
            )
            for completed, deployment_id, deployment in sorted(successes, key=lambda s: s[:2]):
                if previous is not None and (completed, deployment_id) <= previous[:2]:
                    continue  # chained in an earlier load
                if previous is not None:
                    base = previous[2]
                    name = deployment["repository_full_name"]
                    key = (name, base["sha"], deployment["sha"])
                    if key not in compared:
                        compared[key] = compare(*key)
                    rows, bad = prepare_compare_commits(compared[key], deployment, base)
                    yield from bad
                    if rows:
                        yield rows
                previous = (completed, deployment_id, deployment)
                state[scope] = [completed.isoformat(), deployment_id, deployment["sha"]]

    def compare(name: str, base: str, head: str) -> list[Any]:
        """Commits in head and not in base (chronological), every page; none for the same sha
        or when GitHub no longer knows one of them (404/422, e.g. after a force push)."""
        if base == head:
            return []
        commits: list[Any] = []
        try:
            for page in client.paginate(
                f"/repos/{name}/compare/{base}...{head}",
                params={"per_page": PER_PAGE},
                data_selector="commits",
            ):
                commits += list(page)
        except HTTPError as exc:
            _raise_auth_error(exc)
            status = exc.response.status_code if exc.response is not None else None
            if status in (404, 422):
                log.warning("github %s: cannot compare %s...%s (HTTP %s)", name, base, head, status)
                return []
            raise
        return commits

    @dlt.resource(
        name="environments",
        primary_key="id",
        write_disposition="merge",
        columns=ENVIRONMENT_COLUMNS,
    )
    def environments() -> Iterator[Any]:
        """Every deployment environment of each repository (small: read whole every load)."""
        for name in names:
            for page in paginate(
                f"/repos/{name}/environments", {"per_page": PER_PAGE}, "environments"
            ):
                rows, bad = prepare_environments(list(page), name)
                yield from bad
                if rows:
                    yield rows

    return (
        repositories_resource,
        workflow_runs,
        workflow_jobs,
        deployments,
        deployment_statuses,
        environments,
        deployment_commits,
    )


def github_is_configured() -> bool:
    """True when both the token and at least one repository resolve from env or .dlt/ files."""
    return settings_present("github", "access_token", "repositories")
