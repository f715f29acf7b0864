"""A local emulator of the CircleCI API v2 endpoints the warehouse ingests.

Why this exists: the dlt source must be exercised end to end (auth, escaped slugs, cursor
pagination, filters, retries on 429/5xx) without network access or a CircleCI account. The
emulator serves an :class:`~sandbox.organisation.Organisation` in the exact shapes of the real API
(see ``shared/api-samples/circleci`` beside the checkout). It never materialises the
organisation: every response is cut from the one or few generated days it needs (ids carry their
day, pipeline pages walk the days backwards), so a benchmark-scale organisation is served in
bounded memory.

It runs on :class:`~sandbox.server.EmulatorServer` (127.0.0.1, free port, daemon thread)::

    with CircleCIEmulator(generate_organisation(as_of)) as api:
        requests.get(f"{api.base_url}/project/gh/acme/web-app/pipeline",
                     headers={"Circle-Token": api.token})

Behaviour mirrored from CircleCI:

* Auth with the ``Circle-Token`` header, HTTP Basic (token as username) or the deprecated
  ``circle-token`` query parameter; otherwise ``401 {"message": "You must log in first."}``.
* Project slugs are three path segments and may arrive URL-escaped (``gh%2Facme%2Fweb-app``).
* Paged endpoints return ``{"items": [...], "next_page_token": <opaque>|null}`` and take
  ``page-token``; there is no page-size parameter (the page size is fixed per emulator).
* Pipelines and insights runs come newest first. Workflows of a pipeline come in creation
  order; jobs of a workflow in topological (API) order, unpaged; test results in suite order.
* Insights runs (workflows and jobs) default to the project's default branch unless ``branch``
  or ``all-branches=true`` is given, and filter by ``start-date``/``end-date``.
* Unknown paths and ids give ``404 {"message": "Not Found"}``.

Time travel: :attr:`CircleCIEmulator.at` (a tz-aware datetime, default None = the end of
``as_of``) serves the organisation as it looked at that instant: nothing created later, work in
flight running/queued/on hold. It can be changed between requests (a "yesterday" load, then
today's).

Test hooks (from :class:`~sandbox.server.EmulatorServer`): ``inject_faults`` (e.g. 429 with
``Retry-After``), slow/truncated/malformed bodies, ``request_log`` counting requests per
(endpoint template, status).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable

from sandbox.organisation import CircleCIProject, Organisation, ProjectTimeline, to_ms
from sandbox.server import ApiError, EmulatorServer, Headers, Query, Response, last

API_PREFIX = "/api/v2"
UNAUTHORIZED_MESSAGE = "You must log in first."
NOT_FOUND_MESSAGE = "Not Found"
INSIGHTS_MAX_RANGE = dt.timedelta(days=90)
UNKNOWN_ENDPOINT = "GET {unknown}"

# Endpoint templates are spelled as in _schemas.json so request_log keys can be matched to
# response schemas directly.
_SLUG = r"(?P<slug>[^/]+/[^/]+/[^/]+)"


class CircleCIEmulator(EmulatorServer):
    """Serves an :class:`Organisation` as CircleCI API v2 on ``127.0.0.1``."""

    name = "circleci"
    prefix = API_PREFIX

    def __init__(
        self,
        org: Organisation,
        *,
        token: str = "sandbox-circleci-token",
        page_size: int = 20,
        at: dt.datetime | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        super().__init__()
        self.org = org
        self.token = token
        self.page_size = page_size
        self.at = at if at is not None else org.at
        org.now_ms(self.at)  # validate early
        for template, pattern, handler in (
            ("GET /project/{project-slug}", rf"^/project/{_SLUG}$", self._get_project),
            (
                "GET /project/{project-slug}/pipeline",
                rf"^/project/{_SLUG}/pipeline$",
                self._list_pipelines,
            ),
            (
                "GET /project/{project-slug}/job/{job-number}",
                rf"^/project/{_SLUG}/job/(?P<number>[^/]+)$",
                self._get_job_details,
            ),
            (
                "GET /project/{project-slug}/{job-number}/tests",
                rf"^/project/{_SLUG}/(?P<number>[0-9]+)/tests$",
                self._list_tests,
            ),
            ("GET /pipeline/{pipeline-id}", r"^/pipeline/(?P<id>[^/]+)$", self._get_pipeline),
            (
                "GET /pipeline/{pipeline-id}/workflow",
                r"^/pipeline/(?P<id>[^/]+)/workflow$",
                self._list_workflows,
            ),
            ("GET /workflow/{id}", r"^/workflow/(?P<id>[^/]+)$", self._get_workflow),
            ("GET /workflow/{id}/job", r"^/workflow/(?P<id>[^/]+)/job$", self._list_jobs),
            (
                "GET /insights/{project-slug}/workflows/{workflow-name}",
                rf"^/insights/{_SLUG}/workflows/(?P<name>[^/]+)$",
                self._list_insights_runs,
            ),
            (
                "GET /insights/{project-slug}/workflows/{workflow-name}/jobs/{job-name}",
                rf"^/insights/{_SLUG}/workflows/(?P<name>[^/]+)/jobs/(?P<job>[^/]+)$",
                self._list_insights_job_runs,
            ),
        ):
            self.route(template, pattern, handler)

    # -- what the base class asks for ---------------------------------------------------------

    def authorised(self, headers: Headers, query: Query) -> bool:
        if headers.get("circle-token") == self.token:
            return True
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            if decoded.partition(":")[0] == self.token:
                return True
        return last(query, "circle-token") == self.token

    def unauthorized(self) -> Response:
        return Response(401, {"message": UNAUTHORIZED_MESSAGE})

    def error_body(self, status: int, message: str) -> dict:
        return {"message": message}

    def handle(self, method: str, raw_target: str, headers: Headers):
        template, response, fault = super().handle(method, raw_target, headers)
        if method != "GET" and response.status == 404 and template.endswith("{unknown}"):
            # A known path with another method: CircleCI answers 405.
            get_template, route, _ = self._match("GET", raw_target.split("?")[0])
            if route is not None:
                template = f"{method} {get_template[4:]}"
                response = Response(405, {"message": "Method Not Allowed"})
        return template, response, fault

    # -- helpers ------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The observation instant in epoch ms (``at``, or the end of ``as_of``)."""
        return self.org.now_ms(self.at)

    def _timeline(self, slug: str) -> ProjectTimeline:
        try:
            return self.org.timeline(slug)
        except KeyError:
            raise ApiError(404, NOT_FOUND_MESSAGE) from None

    def _days_desc(self) -> list[dt.date]:
        last_day = min(self.org.as_of, _date_of(self.now - 1))
        return [day for day in reversed(self.org.day_list) if day <= last_day]

    # -- endpoints ----------------------------------------------------------------------------

    def _get_project(self, params: dict, query: Query, headers: Headers) -> dict:
        project: CircleCIProject = self._timeline(params["slug"]).project
        vcs, org_name, repo = project.slug.split("/")
        return {
            "slug": project.slug,
            "name": project.name,
            "id": project.id,
            "organization_name": project.organization,
            "organization_slug": f"{vcs}/{org_name}",
            "organization_id": organization_id(project.organization),
            "vcs_info": {
                "vcs_url": f"https://github.com/{org_name}/{repo}",
                "provider": "GitHub",
                "default_branch": project.default_branch,
            },
        }

    def _list_pipelines(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline = self._timeline(params["slug"])
        branch = last(query, "branch")
        now = self.now

        def items_of(day: dt.date) -> list[dict]:
            pipelines = timeline.pipelines_at(day, now)
            if branch:
                pipelines = [p for p in pipelines if p["vcs"].get("branch") == branch]
            return pipelines[::-1]

        scope = ("pipelines", timeline.project.slug, branch)
        return self._page_days(items_of, query, scope)

    def _get_pipeline(self, params: dict, query: Query, headers: Headers) -> dict:
        found = self._pipeline(params["id"])
        return found[0].pipeline_item(found[1], self.now)

    def _pipeline(self, pipeline_id: str):
        now = self.now
        for timeline in self.org.timelines.values():
            pipeline = timeline.find_pipeline(pipeline_id)
            if pipeline is not None and pipeline.created_ms < now:
                return timeline, pipeline
        raise ApiError(404, NOT_FOUND_MESSAGE)

    def _list_workflows(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline, pipeline = self._pipeline(params["id"])
        workflows = timeline.workflows_at(pipeline, self.now)
        return self._page(workflows, query, scope=("workflows", params["id"]))

    def _workflow(self, workflow_id: str):
        now = self.now
        for timeline in self.org.timelines.values():
            found = timeline.find_workflow(workflow_id)
            if found is not None and found[1].created_ms < now:
                return timeline, *found
        raise ApiError(404, NOT_FOUND_MESSAGE)

    def _get_workflow(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline, pipeline, workflow = self._workflow(params["id"])
        return timeline.workflow_item(pipeline, workflow, self.now)

    def _list_jobs(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline, _, workflow = self._workflow(params["id"])
        # The spec documents no page-token here; everything fits on one page.
        return {"items": timeline.jobs_at(workflow, self.now), "next_page_token": None}

    def _get_job_details(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline = self._timeline(params["slug"])
        try:
            number = int(params["number"])
        except ValueError:
            raise ApiError(404, NOT_FOUND_MESSAGE) from None
        details = timeline.job_details_at(number, self.now)
        if details is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return details

    def _list_tests(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline = self._timeline(params["slug"])
        number = int(params["number"])
        tests = timeline.job_tests_at(number, self.now)
        if tests is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return self._page(tests, query, scope=("tests", timeline.project.slug, number))

    def _insights_filters(self, timeline: ProjectTimeline, query: Query):
        """(branch wanted or None for all, start, end, scope parts) of an insights request."""
        all_branches = (last(query, "all-branches") or "").lower() == "true"
        branch = last(query, "branch")
        if branch and all_branches:
            raise ApiError(400, "Use either branch or all-branches, not both.")
        wanted = None if all_branches else (branch or timeline.project.default_branch)
        start = _parse_date_param(query, "start-date")
        end = _parse_date_param(query, "end-date")
        if end is not None and start is None:
            raise ApiError(400, "start-date must be provided when end-date is provided.")
        if start is not None and end is not None:
            if end < start:
                raise ApiError(400, "end-date must be after start-date.")
            if end - start > INSIGHTS_MAX_RANGE:
                raise ApiError(400, "end-date must be at most 90 days after start-date.")
        start_ms = None if start is None else to_ms(start)
        end_ms = None if end is None else to_ms(end)
        scope = (wanted, last(query, "start-date"), last(query, "end-date"))
        return wanted, start_ms, end_ms, scope

    def _list_insights_runs(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline = self._timeline(params["slug"])
        name = params["name"]
        if name not in timeline.templates:
            raise ApiError(404, "Workflow not found")
        wanted, start_ms, end_ms, scope = self._insights_filters(timeline, query)
        now = self.now

        def items_of(day: dt.date) -> list[dict]:
            runs = [
                run
                for workflow, run in timeline.insights_runs_at(day, now)
                if workflow == name
                and (wanted is None or run["branch"] == wanted)
                and _within(run["created_at"], start_ms, end_ms)
            ]
            return runs[::-1]

        return self._page_days(items_of, query, ("insights", timeline.project.slug, name, *scope))

    def _list_insights_job_runs(self, params: dict, query: Query, headers: Headers) -> dict:
        timeline = self._timeline(params["slug"])
        name, job_name = params["name"], params["job"]
        templates = timeline.templates.get(name)
        if templates is None:
            raise ApiError(404, "Workflow not found")
        if not any(t.name == job_name and not t.approval for t in templates):
            raise ApiError(404, "Job not found")
        wanted, start_ms, end_ms, scope = self._insights_filters(timeline, query)
        now = self.now

        def items_of(day: dt.date) -> list[dict]:
            runs = [
                run
                for workflow, job, branch, run in timeline.insights_job_runs_at(day, now)
                if workflow == name
                and job == job_name
                and (wanted is None or branch == wanted)
                and _within(run["started_at"], start_ms, end_ms)
            ]
            return runs[::-1]

        slug = timeline.project.slug
        return self._page_days(items_of, query, ("job-runs", slug, name, job_name, *scope))

    # -- pagination ---------------------------------------------------------------------------

    def _page(self, items: list[dict], query: Query, *, scope: tuple) -> dict:
        """Cut one page of a short list; the opaque token encodes the offset and the query."""
        fingerprint = _fingerprint(scope)
        token = last(query, "page-token")
        offset = _decode_page_token(token, fingerprint)["o"] if token else 0
        end = offset + self.page_size
        next_token = _encode_page_token({"o": end}, fingerprint) if end < len(items) else None
        return {"items": items[offset:end], "next_page_token": next_token}

    def _page_days(
        self, items_of: Callable[[dt.date], list[dict]], query: Query, scope: tuple
    ) -> dict:
        """Cut one page of a newest-first listing by walking the days backwards.

        The token holds a cursor (day, items of that day already served), so a page costs the
        days it spans, not the history before it. The next token is only handed out when
        another item exists, so the last page carries null.
        """
        fingerprint = _fingerprint(scope)
        days = self._days_desc()
        position, skip = 0, 0
        token = last(query, "page-token")
        if token:
            cursor = _decode_page_token(token, fingerprint)
            try:
                day = dt.date.fromordinal(int(cursor["d"]))
                skip = int(cursor["s"])
            except (KeyError, TypeError, ValueError):
                raise ApiError(400, "Invalid page-token.") from None
            if day not in days or skip < 0:
                raise ApiError(400, "Invalid page-token.")
            position = days.index(day)
        page: list[dict] = []
        for index in range(position, len(days)):
            items = items_of(days[index])
            start = skip if index == position else 0
            room = self.page_size - len(page)
            if len(page) == self.page_size:
                if start < len(items):
                    cursor = {"d": days[index].toordinal(), "s": start}
                    return {
                        "items": page,
                        "next_page_token": _encode_page_token(cursor, fingerprint),
                    }
                continue
            page.extend(items[start : start + room])
            if start + room < len(items):
                cursor = {"d": days[index].toordinal(), "s": start + room}
                return {"items": page, "next_page_token": _encode_page_token(cursor, fingerprint)}
        return {"items": page, "next_page_token": None}


def organization_id(organization: str) -> str:
    """A stable id for an organisation name (no randomness needed: it is a pure label)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://circleci.com/gh/{organization}"))


def _fingerprint(scope: tuple) -> str:
    return hashlib.sha256(repr(scope).encode()).hexdigest()[:12]


def _encode_page_token(data: dict, fingerprint: str) -> str:
    raw = json.dumps({**data, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, fingerprint: str) -> dict:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        matches = data["f"] == fingerprint
        if "o" in data and int(data["o"]) < 0:
            matches = False
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "Invalid page-token.") from None
    if not matches:
        raise ApiError(400, "Invalid page-token.")
    return data


def _parse_date_param(query: Query, name: str) -> dt.datetime | None:
    value = last(query, name)
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"Invalid {name}: expected an RFC 3339 date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _within(timestamp: str, start_ms: int | None, end_ms: int | None) -> bool:
    if start_ms is None and end_ms is None:
        return True
    ms = to_ms(dt.datetime.fromisoformat(timestamp))
    return (start_ms is None or ms >= start_ms) and (end_ms is None or ms < end_ms)


def _date_of(ms: int) -> dt.date:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)).date()
