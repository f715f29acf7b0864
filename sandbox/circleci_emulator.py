"""A local emulator of the CircleCI API v2 endpoints the warehouse ingests.

Why this exists: the dlt source must be exercised end to end (auth, escaped slugs, cursor
pagination, filters, retries on 429/5xx) without network access or a CircleCI account. The
emulator serves an :class:`~sandbox.organisation.Organisation` verbatim, so every response body
has the exact shape of the real API (see ``shared/api-samples/circleci`` beside the checkout).

It is a ``ThreadingHTTPServer`` bound to ``127.0.0.1`` on a free port, run in a daemon thread::

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
  order; jobs of a workflow in topological (API) order, unpaged.
* Insights workflow runs default to the project's default branch unless ``branch`` or
  ``all-branches=true`` is given, and filter ``created_at`` by ``start-date``/``end-date``.
* Unknown paths and ids give ``404 {"message": "Not Found"}``.

Test hooks: :meth:`CircleCIEmulator.inject_faults` makes the next N matching requests fail
(e.g. 429 with ``Retry-After``), and :attr:`CircleCIEmulator.request_log` counts requests per
(endpoint template, status).
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import hashlib
import http
import json
import logging
import re
import socket
import sys
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from sandbox.organisation import Organisation, parse_timestamp

log = logging.getLogger(__name__)

API_PREFIX = "/api/v2"
UNAUTHORIZED_MESSAGE = "You must log in first."
NOT_FOUND_MESSAGE = "Not Found"
INSIGHTS_MAX_RANGE = dt.timedelta(days=90)

# Endpoint templates are spelled as in _schemas.json so request_log keys can be matched to
# response schemas directly.
_SLUG = r"(?P<slug>[^/]+/[^/]+/[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (template, re.compile(pattern), handler)
    for template, pattern, handler in (
        ("GET /project/{project-slug}", rf"^/project/{_SLUG}$", "_get_project"),
        (
            "GET /project/{project-slug}/pipeline",
            rf"^/project/{_SLUG}/pipeline$",
            "_list_pipelines",
        ),
        (
            "GET /project/{project-slug}/job/{job-number}",
            rf"^/project/{_SLUG}/job/(?P<number>[^/]+)$",
            "_get_job_details",
        ),
        ("GET /pipeline/{pipeline-id}", r"^/pipeline/(?P<id>[^/]+)$", "_get_pipeline"),
        (
            "GET /pipeline/{pipeline-id}/workflow",
            r"^/pipeline/(?P<id>[^/]+)/workflow$",
            "_list_workflows",
        ),
        ("GET /workflow/{id}", r"^/workflow/(?P<id>[^/]+)$", "_get_workflow"),
        ("GET /workflow/{id}/job", r"^/workflow/(?P<id>[^/]+)/job$", "_list_jobs"),
        (
            "GET /insights/{project-slug}/workflows/{workflow-name}",
            rf"^/insights/{_SLUG}/workflows/(?P<name>[^/]+)$",
            "_list_insights_runs",
        ),
    )
)
UNKNOWN_ENDPOINT = "GET {unknown}"


class ApiError(Exception):
    """Raised by a route handler to answer with ``{"message": ...}`` and a status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: int | None
    path_contains: str


@dataclass
class _Response:
    status: int
    body: dict
    headers: dict[str, str]


class _Index:
    """Lookup tables over the organisation, built once so requests are O(page)."""

    def __init__(self, org: Organisation) -> None:
        self.projects = {p.slug: p for p in org.projects}
        newest_first = sorted(
            org.pipelines, key=lambda p: (p["created_at"], p["number"]), reverse=True
        )
        self.pipelines_by_project: dict[str, list[dict]] = collections.defaultdict(list)
        for pipeline in newest_first:
            self.pipelines_by_project[pipeline["project_slug"]].append(pipeline)
        self.pipelines = {p["id"]: p for p in org.pipelines}
        self.workflows = {w["id"]: w for w in org.workflows}
        self.workflows_by_pipeline: dict[str, list[dict]] = {p: [] for p in self.pipelines}
        for wf in sorted(org.workflows, key=lambda w: (w["created_at"], w["id"])):
            self.workflows_by_pipeline[wf["pipeline_id"]].append(wf)
        self.workflow_jobs = org.workflow_jobs
        self.job_details = org.job_details
        self.insights: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
        runs = sorted(
            org.insights_workflow_runs, key=lambda r: (r["created_at"], r["id"]), reverse=True
        )
        for run in runs:
            served = {k: v for k, v in run.items() if k not in ("project_slug", "workflow_name")}
            self.insights[(run["project_slug"], run["workflow_name"])].append(served)
        # Workflow names a project has ever run (insights knows them even without finished runs).
        self.workflow_names = {(w["project_slug"], w["name"]) for w in org.workflows}


class CircleCIEmulator:
    """Serves an :class:`Organisation` as CircleCI API v2 on ``127.0.0.1``."""

    def __init__(
        self, org: Organisation, *, token: str = "sandbox-circleci-token", page_size: int = 20
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.org = org
        self.token = token
        self.page_size = page_size
        self.request_log: collections.Counter[tuple[str, int]] = collections.Counter()
        self._index = _Index(org)
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v2``; only available once started."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def start(self) -> Self:
        """Bind a free loopback port and serve in a daemon thread. Returns ``self``."""
        if self._server is not None:
            return self
        server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="circleci-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- test hooks -------------------------------------------------------------------------

    def inject_faults(
        self, status: int, count: int, *, retry_after: int | None = None, path_contains: str = ""
    ) -> None:
        """The next ``count`` matching requests get ``status`` with body ``{"message": ...}``.

        ``path_contains`` restricts the fault to requests whose path (raw or URL-decoded,
        including the query string) contains it. ``retry_after`` adds a ``Retry-After``
        header (seconds). Faults are checked before authentication, like a gateway would.
        """
        if count < 1:
            return
        with self._lock:
            self._faults.append(_Fault(status, count, retry_after, path_contains))

    def clear_faults(self) -> None:
        """Drop every injected fault not served yet."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        """How many injected failures have not been served yet."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    # -- request handling (called from server threads) --------------------------------------

    def _handle(
        self, method: str, raw_target: str, headers: dict[str, str]
    ) -> tuple[str, _Response]:
        """Route one request; returns (endpoint template, response)."""
        split = urllib.parse.urlsplit(raw_target)
        raw_path = split.path
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        template, route, params = self._route(method, raw_path)

        fault = self._take_fault(raw_target)
        if fault is not None:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return template, _Response(
                fault.status, {"message": _fault_message(fault.status)}, extra
            )
        if not self._authorised(headers, query):
            return template, _Response(401, {"message": UNAUTHORIZED_MESSAGE}, {})
        if route is None:
            status = 405 if template.startswith(("POST", "PUT", "PATCH", "DELETE")) else 404
            message = NOT_FOUND_MESSAGE if status == 404 else "Method Not Allowed"
            return template, _Response(status, {"message": message}, {})
        try:
            body = route(params, query)
        except ApiError as exc:
            return template, _Response(exc.status, {"message": exc.message}, {})
        return template, _Response(200, body, {})

    def _route(self, method: str, raw_path: str) -> tuple[str, Callable | None, dict[str, str]]:
        if not raw_path.startswith(API_PREFIX + "/"):
            return f"{method} {{unknown}}", None, {}
        # Decode after stripping the prefix so "gh%2Facme%2Fweb-app" becomes three segments.
        path = urllib.parse.unquote(raw_path[len(API_PREFIX) :]).rstrip("/")
        for template, pattern, handler in _ROUTES:
            match = pattern.match(path)
            if match:
                if method != "GET":
                    return f"{method} {template[4:]}", None, {}
                return template, getattr(self, handler), match.groupdict()
        return f"{method} {{unknown}}", None, {}

    def _take_fault(self, raw_target: str) -> _Fault | None:
        decoded = urllib.parse.unquote(raw_target)
        with self._lock:
            for fault in self._faults:
                if fault.path_contains in raw_target or fault.path_contains in decoded:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _authorised(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        if headers.get("circle-token") == self.token:
            return True
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            if decoded.partition(":")[0] == self.token:
                return True
        return query.get("circle-token", [None])[-1] == self.token

    def _record(self, template: str, status: int) -> None:
        with self._lock:
            self.request_log[(template, status)] += 1

    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- endpoints --------------------------------------------------------------------------

    def _project(self, slug: str):
        project = self._index.projects.get(slug)
        if project is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return project

    def _get_project(self, params: dict, query: dict) -> dict:
        project = self._project(params["slug"])
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

    def _list_pipelines(self, params: dict, query: dict) -> dict:
        project = self._project(params["slug"])
        pipelines = self._index.pipelines_by_project.get(project.slug, [])
        branch = _last(query, "branch")
        if branch:
            pipelines = [p for p in pipelines if p["vcs"].get("branch") == branch]
        return self._page(pipelines, query, scope=("pipelines", project.slug, branch))

    def _get_pipeline(self, params: dict, query: dict) -> dict:
        pipeline = self._index.pipelines.get(params["id"])
        if pipeline is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return pipeline

    def _list_workflows(self, params: dict, query: dict) -> dict:
        workflows = self._index.workflows_by_pipeline.get(params["id"])
        if workflows is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return self._page(workflows, query, scope=("workflows", params["id"]))

    def _get_workflow(self, params: dict, query: dict) -> dict:
        workflow = self._index.workflows.get(params["id"])
        if workflow is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return workflow

    def _list_jobs(self, params: dict, query: dict) -> dict:
        jobs = self._index.workflow_jobs.get(params["id"])
        if jobs is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        # The spec documents no page-token here; everything fits on one page.
        return {"items": jobs, "next_page_token": None}

    def _get_job_details(self, params: dict, query: dict) -> dict:
        project = self._project(params["slug"])
        try:
            number = int(params["number"])
        except ValueError:
            raise ApiError(404, NOT_FOUND_MESSAGE) from None
        details = self._index.job_details.get((project.slug, number))
        if details is None:
            raise ApiError(404, NOT_FOUND_MESSAGE)
        return details

    def _list_insights_runs(self, params: dict, query: dict) -> dict:
        project = self._project(params["slug"])
        name = params["name"]
        if (project.slug, name) not in self._index.workflow_names:
            raise ApiError(404, "Workflow not found")
        runs = self._index.insights.get((project.slug, name), [])

        all_branches = (_last(query, "all-branches") or "").lower() == "true"
        branch = _last(query, "branch")
        if branch and all_branches:
            raise ApiError(400, "Use either branch or all-branches, not both.")
        if not all_branches:
            wanted = branch or project.default_branch
            runs = [r for r in runs if r["branch"] == wanted]

        start = _parse_date_param(query, "start-date")
        end = _parse_date_param(query, "end-date")
        if end is not None and start is None:
            raise ApiError(400, "start-date must be provided when end-date is provided.")
        if start is not None and end is not None:
            if end < start:
                raise ApiError(400, "end-date must be after start-date.")
            if end - start > INSIGHTS_MAX_RANGE:
                raise ApiError(400, "end-date must be at most 90 days after start-date.")
        if start is not None or end is not None:
            runs = [
                r
                for r in runs
                if (start is None or parse_timestamp(r["created_at"]) >= start)
                and (end is None or parse_timestamp(r["created_at"]) < end)
            ]
        scope = (
            "insights",
            project.slug,
            name,
            branch,
            all_branches,
            _last(query, "start-date"),
            _last(query, "end-date"),
        )
        return self._page(runs, query, scope=scope)

    # -- pagination -------------------------------------------------------------------------

    def _page(self, items: list[dict], query: dict, *, scope: tuple) -> dict:
        """Cut one page; the opaque token encodes the offset and the query it belongs to."""
        fingerprint = hashlib.sha256(repr(scope).encode()).hexdigest()[:12]
        token = _last(query, "page-token")
        offset = 0
        if token:
            offset = _decode_page_token(token, fingerprint)
        end = offset + self.page_size
        next_token = _encode_page_token(end, fingerprint) if end < len(items) else None
        return {"items": items[offset:end], "next_page_token": next_token}


def organization_id(organization: str) -> str:
    """A stable id for an organisation name (no randomness needed: it is a pure label)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://circleci.com/gh/{organization}"))


def _encode_page_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, fingerprint: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = int(data["o"])
        matches = data["f"] == fingerprint
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "Invalid page-token.") from None
    if not matches or offset < 0:
        raise ApiError(400, "Invalid page-token.")
    return offset


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _parse_date_param(query: dict[str, list[str]], name: str) -> dt.datetime | None:
    value = _last(query, name)
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"Invalid {name}: expected an RFC 3339 date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _fault_message(status: int) -> str:
    if status == 429:
        return "Rate limit exceeded"
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _QuietServer(ThreadingHTTPServer):
    """Threaded server whose connection errors (client hang-ups) go to logging, not stderr."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug(
            "CircleCI emulator: error on a connection from %s: %r",
            client_address,
            sys.exc_info()[1],
        )


def _make_handler(emulator: CircleCIEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, which matters: a full load makes thousands of calls.
        protocol_version = "HTTP/1.1"
        server_version = "CircleCIEmulator/1.0"
        timeout = 60  # idle keep-alive connections are closed after this many seconds
        # Headers and body go out in separate writes; with Nagle's algorithm on, the client's
        # delayed ACK would add ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            emulator._track(self.connection, True)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                emulator._track(self.connection, False)

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)  # drain so the connection can be reused
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                template, response = emulator._handle(self.command, self.path, headers)
            except Exception:  # a bug in the emulator: answer like a server would, log it
                log.exception("CircleCI emulator failed on %s %s", self.command, self.path)
                template = f"{self.command} {{error}}"
                response = _Response(500, {"message": "Internal Server Error"}, {})
            emulator._record(template, response.status)
            payload = json.dumps(response.body).encode()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: no per-request lines on stderr."""

        def log_error(self, format: str, *args: object) -> None:
            log.debug("CircleCI emulator: " + format, *args)

    return Handler
