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

GitHub Deployments are not ingested here (a later issue).

Configuration (dlt resolution: env vars or .dlt/*.toml, section `sources.github`):
    SOURCES__GITHUB__ACCESS_TOKEN    token sent as `Authorization: Bearer ...`
    SOURCES__GITHUB__BASE_URL        default https://api.github.com (GHES: https://HOST/api/v3)
    SOURCES__GITHUB__REPOSITORIES    owner/name, as a comma list or JSON list
    SOURCES__GITHUB__INITIAL_DAYS    history on the first load (default 90)
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
    is_malformed_json,
    parse_list,
    parse_timestamp,
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

__all__ = [
    "SourceAuthError",
    "github_is_configured",
    "github_source",
    "prepare_jobs",
    "prepare_runs",
]


def _columns(**types: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": data_type} for name, data_type in types.items()}


# Declared types for every column staging reads (they exist even when a load has no value for
# them, e.g. `run_started_at` in an old-schema body), and single JSON columns for nested objects
# and lists, so an actor or a pull request does not become dozens of columns or a child table.
REPOSITORY_COLUMNS = _columns(
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
RUN_COLUMNS = _columns(
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
JOB_COLUMNS = _columns(
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

# Fields the models rely on: a record without them goes to the quarantine table instead. Older
# API versions lack `run_attempt`, `run_started_at` and jobs' `created_at`: those are tolerated.
RUN_REQUIRED = {"id": int, "status": str, "created_at": "timestamp"}
JOB_REQUIRED = {"id": int, "run_id": int, "name": str, "status": str}

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
) -> Sequence[DltResource]:
    """GitHub repositories, Actions workflow runs (every attempt) and workflow jobs.

    Args:
        repositories: `owner/name` list, comma separated or JSON.
        access_token: a GitHub token (fine-grained: Actions read, Metadata read).
        base_url: API root, e.g. `https://github.example.com/api/v3` for GitHub Enterprise Server.
        initial_days: days of history on the first load, counted back from the report end.
        lookback_days: on later loads, runs created this many days before the newest one already
            loaded are listed again, so re-runs and late status changes land.
        as_of: report date (default `INSIGHTS_AS_OF` or today, UTC); runs are listed up to its end.
        max_attempts, backoff_factor: retry policy for rate limits, 5xx and network errors.
    """
    names = parse_list(repositories)
    end = report_end(as_of or report_date())
    first_load_start = end - dt.timedelta(days=initial_days)
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

    return repositories_resource, workflow_runs, workflow_jobs


def github_is_configured() -> bool:
    """True when both the token and at least one repository resolve from env or .dlt/ files."""
    try:
        token = dlt.secrets.get("sources.github.access_token")
        names = dlt.config.get("sources.github.repositories")
    except Exception:
        return False
    return bool(token) and bool(parse_list(names))
