"""dlt source for the CircleCI API v2: projects, pipelines, workflows, jobs, job details, job
test results and the insights workflow-runs feed (credits).

Shapes follow CircleCI's published API (see shared/api-samples/circleci). The project-pipeline
listing has no date filter and is ordered newest first, so each load pages back only until it
passes the project's watermark minus the lookback window, and stops there. Everything below a
pipeline (workflows, jobs) is re-read for every pipeline in that window, because a rerun adds a
workflow to an old pipeline and a running workflow changes status; rows merge on their primary
keys, so a re-read never duplicates.

Configuration (dlt resolution: env vars or .dlt/*.toml, section `sources.circleci`):
    SOURCES__CIRCLECI__API_TOKEN       personal API token, sent as the `Circle-Token` header
    SOURCES__CIRCLECI__BASE_URL        default https://circleci.com/api/v2
    SOURCES__CIRCLECI__PROJECT_SLUGS   comma list or JSON list, e.g. gh/acme/web-app
    SOURCES__CIRCLECI__INITIAL_DAYS    history on the first load (default 90)
    SOURCES__CIRCLECI__LOOKBACK_DAYS   re-read window on later loads (default 7)
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from requests import HTTPError

from .common import (
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

DEFAULT_BASE_URL = "https://circleci.com/api/v2"
TOKEN_VARIABLE = "SOURCES__CIRCLECI__API_TOKEN"


# Declared types for every column the dbt staging models read. Declared columns exist even when a
# load has no value for them (an account without tags still gets `vcs__tag`), and free-form
# objects (`requires` is keyed by job id) stay one JSON column instead of a column per key.
PROJECT_COLUMNS = declared_columns(
    slug="text",
    name="text",
    id="text",
    organization_name="text",
    vcs_info__default_branch="text",
    vcs_info__vcs_url="text",
    vcs_info__provider="text",
)
PIPELINE_COLUMNS = declared_columns(
    id="text",
    project_slug="text",
    number="bigint",
    state="text",
    created_at="timestamp",
    updated_at="timestamp",
    trigger__type="text",
    trigger__received_at="timestamp",
    trigger__actor__login="text",
    vcs__branch="text",
    vcs__tag="text",
    vcs__revision="text",
    vcs__provider_name="text",
    trigger_parameters="json",
    errors="json",
)
WORKFLOW_COLUMNS = declared_columns(
    id="text",
    pipeline_id="text",
    pipeline_number="bigint",
    project_slug="text",
    name="text",
    status="text",
    tag="text",
    started_by="text",
    canceled_by="text",
    errored_by="text",
    created_at="timestamp",
    stopped_at="timestamp",
)
JOB_COLUMNS = declared_columns(
    id="text",
    workflow_id="text",
    project_slug="text",
    job_number="bigint",
    name="text",
    type="text",
    status="text",
    approval_request_id="text",
    started_at="timestamp",
    stopped_at="timestamp",
    requires="json",
    dependencies="json",
)

JOB_DETAIL_COLUMNS = declared_columns(
    id="text",
    project_slug="text",
    number="bigint",
    name="text",
    status="text",
    parallelism="bigint",
    duration="bigint",
    executor__type="text",
    executor__resource_class="text",
    created_at="timestamp",
    queued_at="timestamp",
    started_at="timestamp",
    stopped_at="timestamp",
    latest_workflow__id="text",
    pipeline__id="text",
    parallel_runs="json",
    messages="json",
    contexts="json",
)
JOB_TEST_COLUMNS = declared_columns(
    job_id="text",
    position="bigint",
    job_number="bigint",
    project_slug="text",
    classname="text",
    name="text",
    file="text",
    result="text",
    run_time="double",
    message="text",
    source="text",
)
INSIGHTS_RUN_COLUMNS = declared_columns(
    id="text",
    project_slug="text",
    workflow_name="text",
    branch="text",
    status="text",
    duration="bigint",
    credits_used="bigint",
    is_approval="bool",
    created_at="timestamp",
    stopped_at="timestamp",
)

# Fields the models rely on: a record without them goes to the quarantine table instead.
PIPELINE_REQUIRED = {"id": str, "project_slug": str, "created_at": "timestamp"}
WORKFLOW_REQUIRED = {
    "id": str,
    "pipeline_id": str,
    "name": str,
    "status": str,
    "created_at": "timestamp",
}
JOB_REQUIRED = {"id": str, "name": str, "status": str, "type": str, "project_slug": str}
JOB_DETAIL_REQUIRED = {"number": int, "status": str}
TEST_REQUIRED = {"name": str, "result": str}
INSIGHTS_RUN_REQUIRED = {"id": str, "status": str, "created_at": "timestamp"}

# Job statuses after which a job's details no longer change.
FINISHED_JOB_STATUSES = frozenset(
    {
        "success",
        "failed",
        "canceled",
        "retried",
        "infrastructure_fail",
        "timedout",
        "terminated-unknown",
        "unauthorized",
        "not_run",
    }
)
DETAILS_MARGIN = dt.timedelta(hours=1)


@dlt.source(name="circleci", section="circleci", max_table_nesting=2)
def circleci_source(
    project_slugs: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    initial_days: int = 90,
    lookback_days: int = 7,
    as_of: dt.date | None = None,
    max_attempts: int = 6,
    backoff_factor: float = 1.0,
) -> Sequence[DltResource]:
    """CircleCI projects, pipelines, workflows and workflow jobs.

    Args:
        project_slugs: project slugs (`gh/org/repo`), as a comma or JSON list.
        api_token: a CircleCI personal API token.
        base_url: API root, e.g. `https://circleci.example.com/api/v2` for CircleCI server.
        initial_days: days of history on the first load, counted back from the report date.
        lookback_days: on later loads, pipelines this many days older than the newest one already
            loaded are read again, so reruns and late status changes land.
        as_of: report date (default `INSIGHTS_AS_OF` or today, UTC).
        max_attempts, backoff_factor: retry policy for 429/5xx/timeouts.
    """
    slugs = parse_list(project_slugs)
    # Per project, the stop time from which finished jobs need their details fetched; set by
    # `pipelines` (from the previous watermark) before any of the project's jobs are read.
    details_since: dict[str, dt.datetime] = {}
    # Per project, the start of this load's re-read window (also set by `pipelines`).
    pipelines_since: dict[str, dt.datetime] = {}
    # The insights feed keeps 90 days; it is read once per (project, workflow name) per load.
    feed_start = report_end(as_of or report_date()) - dt.timedelta(days=90)
    insights_read: set[tuple[str, str]] = set()
    insights_lock = threading.Lock()
    first_load_start = report_end(as_of or report_date()) - dt.timedelta(days=initial_days)
    client = RESTClient(
        base_url=base_url.rstrip("/"),
        auth=APIKeyAuth(name="Circle-Token", api_key=api_token, location="header"),
        paginator=JSONResponseCursorPaginator(
            cursor_path="next_page_token", cursor_param="page-token"
        ),
        data_selector="items",
        session=http_session(max_attempts, backoff_factor),
    )

    def paginate(path: str, params: dict[str, str] | None = None) -> Iterator[list[dict[str, Any]]]:
        try:
            yield from client.paginate(path, params=params)
        except HTTPError as exc:
            _raise_auth_error(exc)
            raise

    @dlt.resource(primary_key="slug", write_disposition="merge", columns=PROJECT_COLUMNS)
    def projects() -> Iterator[dict[str, Any]]:
        """One row per configured project, with `vcs_info.default_branch`."""
        for slug in slugs:
            try:
                yield client.get(f"/project/{slug}").json()
            except HTTPError as exc:
                _raise_auth_error(exc)
                raise

    @dlt.resource(primary_key="id", write_disposition="merge", columns=PIPELINE_COLUMNS)
    def pipelines() -> Iterator[list[dict[str, Any]]]:
        """Pipelines newest first, per project, down to the project's watermark minus lookback.

        The watermark (newest `created_at` loaded, per project) lives in the resource state, which
        dlt commits together with the load package: a crash mid-load keeps the old watermark and
        the next run re-reads the same range, and the merge keeps it free of duplicates.
        """
        watermarks: dict[str, str] = dlt.current.resource_state().setdefault("created_at", {})
        for slug in slugs:
            if slug in watermarks:
                previous = parse_timestamp(watermarks[slug])
                start = previous - dt.timedelta(days=lookback_days)
                details_since[slug] = previous - DETAILS_MARGIN
            else:
                start = first_load_start
                details_since[slug] = dt.datetime.min.replace(tzinfo=dt.UTC)
            pipelines_since[slug] = start
            newest: dt.datetime | None = None
            rows = pages = 0
            for page in paginate(f"/project/{slug}/pipeline"):
                pages += 1
                good, bad = checked("pipelines", page, PIPELINE_REQUIRED)
                yield from bad
                keep = [p for p in good if parse_timestamp(p["created_at"]) >= start]
                if keep:
                    newest = max(
                        [newest or start, *(parse_timestamp(p["created_at"]) for p in keep)]
                    )
                    rows += len(keep)
                    yield keep
                if len(keep) < len(good):  # newest-first: everything after this is older
                    break
            log.info(
                "circleci %s: %d pipelines since %s (%d pages)",
                slug,
                rows,
                start.isoformat(),
                pages,
            )
            if newest is not None:
                watermarks[slug] = newest.isoformat()

    @dlt.transformer(
        data_from=pipelines,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=WORKFLOW_COLUMNS,
    )
    def workflows(pipeline_page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Every workflow of each pipeline, reruns included (a rerun is a new workflow)."""
        if not is_page(pipeline_page):
            return
        for pipeline in pipeline_page:
            for page in paginate(f"/pipeline/{pipeline['id']}/workflow"):
                good, bad = checked("workflows", page, WORKFLOW_REQUIRED)
                yield from bad
                yield good

    @dlt.transformer(
        data_from=workflows,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=JOB_COLUMNS,
    )
    def jobs(workflow_page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Workflow jobs; the listing lacks the workflow id, so it is added as `workflow_id`."""
        if not is_page(workflow_page):
            return
        for workflow in workflow_page:
            for page in paginate(f"/workflow/{workflow['id']}/job"):
                good, bad = checked("jobs", page, JOB_REQUIRED)
                yield from bad
                yield [{**job, "workflow_id": workflow["id"]} for job in good]

    @dlt.transformer(
        data_from=jobs,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=JOB_DETAIL_COLUMNS,
    )
    def job_details(job_page: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Job details (queue time, executor, parallelism) of finished build jobs, fetched once
        (see `needs_fetching`)."""
        if not is_page(job_page):
            return
        for job in job_page:
            if not needs_fetching(job):
                continue
            slug, number = job["project_slug"], job["job_number"]
            try:
                details = client.get(f"/project/{slug}/job/{number}").json()
            except HTTPError as exc:
                _raise_auth_error(exc)
                raise
            reason = problem_with(details, JOB_DETAIL_REQUIRED)
            if reason is not None:
                yield quarantined("job_details", details, reason)
                continue
            # The details body has no job id; the workflow listing does, so carry it over.
            yield {**details, "id": job["id"], "project_slug": slug}

    @dlt.transformer(
        data_from=jobs,
        primary_key=("job_id", "position"),
        write_disposition="merge",
        parallelized=True,
        columns=JOB_TEST_COLUMNS,
    )
    def job_tests(job_page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Test results of finished build jobs (GET /project/{slug}/{job-number}/tests), fetched
        once under the same rule as the details. `position` keeps the API order, which numbers
        the repeats of one test inside a job."""
        if not is_page(job_page):
            return
        for job in job_page:
            if not needs_fetching(job):
                continue
            slug, number, position = job["project_slug"], job["job_number"], 0
            for page in paginate(f"/project/{slug}/{number}/tests"):
                good, bad = checked("job_tests", page, TEST_REQUIRED)
                yield from bad
                rows = []
                for test in good:
                    rows.append(
                        {
                            **test,
                            "job_id": job["id"],
                            "job_number": number,
                            "project_slug": slug,
                            "position": position,
                        }
                    )
                    position += 1
                if rows:
                    yield rows

    @dlt.transformer(
        data_from=workflows,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
        columns=INSIGHTS_RUN_COLUMNS,
    )
    def insights_workflow_runs(
        workflow_page: list[dict[str, Any]],
    ) -> Iterator[list[dict[str, Any]]]:
        """CircleCI's insights feed of finished workflow runs: the only source of credits.

        Read once per (project, workflow name) per load, from the start of the re-read window
        (the feed lags about a day, so the lookback catches late rows) but never more than the
        90 days the feed keeps.
        """
        if not is_page(workflow_page):
            return
        for workflow in workflow_page:
            slug, name = workflow["project_slug"], workflow["name"]
            with insights_lock:
                if (slug, name) in insights_read:
                    continue
                insights_read.add((slug, name))
            start = max(pipelines_since[slug], feed_start)
            params = {
                "all-branches": "true",
                "start-date": start.isoformat().replace("+00:00", "Z"),
            }
            path = f"/insights/{slug}/workflows/{urllib.parse.quote(name, safe='')}"
            for page in paginate(path, params=params):
                good, bad = checked("insights_workflow_runs", page, INSIGHTS_RUN_REQUIRED)
                yield from bad
                if good:
                    yield [{**run, "project_slug": slug, "workflow_name": name} for run in good]

    def needs_fetching(job: dict[str, Any]) -> bool:
        """A finished build job whose details and tests were not read by an earlier load: one
        still running at the previous load stops after that load's newest pipeline (the
        project's old watermark), and one finished by then was fetched then (less a margin
        against clock jitter; the few read twice merge away)."""
        stopped_at = job.get("stopped_at")
        return (
            job.get("job_number") is not None
            and stopped_at is not None
            and job["status"] in FINISHED_JOB_STATUSES
            and parse_timestamp(stopped_at) >= details_since[job["project_slug"]]
        )

    return projects, pipelines, workflows, jobs, job_details, job_tests, insights_workflow_runs


def _raise_auth_error(exc: HTTPError) -> None:
    raise_if_rejected(
        exc,
        "CircleCI rejected the API token",
        f"Set {TOKEN_VARIABLE} to a valid CircleCI personal API token with access to the "
        "configured projects.",
    )


def circleci_is_configured() -> bool:
    """True when both the token and at least one project slug resolve from env or .dlt/ files."""
    return settings_present("circleci", "api_token", "project_slugs")
