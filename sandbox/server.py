"""The HTTP machinery every API emulator shares: a keep-alive loopback server, routing, a request
log, and fault injection that a test can switch on per run.

A provider emulator subclasses :class:`EmulatorServer`, lists its routes, and says how it
authenticates and how its errors look; everything else (threads, keep-alive, faults, the log)
is here, so the four emulators behave alike where the real services do and differ only where
the real services differ.

Faults (each applies to the next ``count`` requests whose raw or decoded path contains
``path_contains``; they are consumed in the order injected):

* ``inject_faults(status, count, retry_after=, headers=)``: an error status with the provider's
  error body, e.g. 429 with ``Retry-After``, or a 5xx burst.
* ``inject_slow(seconds, count)``: the response is delayed (a slow server or a timeout).
* ``inject_truncated(count)``: the body is cut off mid-JSON while ``Content-Length`` promises
  the whole body, as when a connection drops.
* ``inject_malformed(count)``: a 200 whose body is not JSON at all.
* ``inject_body_change(mutate, count)``: the JSON body goes through ``mutate`` before it is sent
  (a record with a missing or unexpected field).
"""

from __future__ import annotations

import collections
import http
import json
import logging
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

log = logging.getLogger(__name__)

Query = dict[str, list[str]]
Headers = dict[str, str]


class ApiError(Exception):
    """Raised by a route handler to answer with an error status in the provider's shape."""

    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    status: int
    body: Any  # JSON-serialisable, or bytes sent as they are (e.g. GitLab's plain-text 429)
    headers: Headers = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Route:
    """One endpoint: ``template`` as the vendor spells it (it keys the request log)."""

    template: str  # e.g. "GET /repos/{owner}/{repo}/actions/runs"
    pattern: re.Pattern[str]  # matched against the decoded path after the prefix
    handler: Callable[[dict[str, str], Query, Headers], Response | Any]


@dataclass
class _Fault:
    kind: str  # status | slow | truncated | malformed | body
    remaining: int
    path_contains: str
    status: int = 0
    headers: Headers = field(default_factory=dict)
    seconds: float = 0.0
    mutate: Callable[[Any], Any] | None = None


def last(query: Query, name: str) -> str | None:
    """The last value of a query parameter (servers take the last when it repeats)."""
    values = query.get(name)
    return values[-1] if values else None


class EmulatorServer:
    """A provider API on ``127.0.0.1:<free port>``, served from a daemon thread.

    Subclasses set :attr:`name` and :attr:`prefix`, build :attr:`routes`, and implement
    :meth:`authorised`, :meth:`unauthorized` and :meth:`error_body`.
    """

    name = "emulator"
    prefix = ""  # path prefix of the API root, e.g. "/api/v2"

    def __init__(self) -> None:
        self.request_log: collections.Counter[tuple[str, int]] = collections.Counter()
        self.routes: list[Route] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- what a provider defines --------------------------------------------------------------

    def authorised(self, headers: Headers, query: Query) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Response:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def error_response(self, status: int, message: str, headers: Headers | None = None) -> Response:
        """An error in the provider's shape; an `error_body` of bytes is sent as plain text."""
        body = self.error_body(status, message)
        content_type = (
            "text/plain; charset=utf-8" if isinstance(body, bytes) else Response.content_type
        )
        return Response(status, body, dict(headers or {}), content_type)

    def route(self, template: str, pattern: str, handler: Callable[..., Any]) -> None:
        self.routes.append(Route(template, re.compile(pattern), handler))

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``; only available once started."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The API root a client is configured with (origin + prefix)."""
        return self.origin + self.prefix

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-emulator",
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
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- fault injection -----------------------------------------------------------------------

    def inject_faults(
        self,
        status: int,
        count: int,
        *,
        retry_after: int | None = None,
        headers: Headers | None = None,
        path_contains: str = "",
    ) -> None:
        """The next ``count`` matching requests get ``status`` with the provider's error body."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        self._add(_Fault("status", count, path_contains, status=status, headers=extra))

    def inject_slow(self, seconds: float, count: int, *, path_contains: str = "") -> None:
        self._add(_Fault("slow", count, path_contains, seconds=seconds))

    def inject_truncated(self, count: int, *, path_contains: str = "") -> None:
        self._add(_Fault("truncated", count, path_contains))

    def inject_malformed(self, count: int, *, path_contains: str = "") -> None:
        self._add(_Fault("malformed", count, path_contains))

    def inject_body_change(
        self, mutate: Callable[[Any], Any], count: int, *, path_contains: str = ""
    ) -> None:
        self._add(_Fault("body", count, path_contains, mutate=mutate))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def _add(self, fault: _Fault) -> None:
        if fault.remaining >= 1:
            with self._lock:
                self._faults.append(fault)

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

    # -- request handling (server threads) -----------------------------------------------------

    def handle(
        self, method: str, raw_target: str, headers: Headers
    ) -> tuple[str, Response, _Fault | None]:
        """Route one request: (endpoint template for the log, response, fault to apply)."""
        split = urllib.parse.urlsplit(raw_target)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        template, route, params = self._match(method, split.path)
        fault = self._take_fault(raw_target)
        if fault is not None and fault.kind == "status":
            response = self.error_response(fault.status, _phrase(fault.status), fault.headers)
            return template, response, None
        if not self.authorised(headers, query):
            return template, self.unauthorized(), None
        if route is None:
            return template, self.error_response(404, "Not Found"), None
        try:
            result = route.handler(params, query, headers)
        except ApiError as error:
            return template, self.error_response(error.status, error.message, error.headers), None
        response = result if isinstance(result, Response) else Response(200, result)
        return template, response, fault

    def _match(self, method: str, raw_path: str) -> tuple[str, Route | None, dict[str, str]]:
        if not raw_path.startswith(self.prefix + "/") and raw_path != self.prefix:
            return f"{method} {{unknown}}", None, {}
        # Decode after stripping the prefix, so an escaped slug ("gh%2Facme%2Fapp") splits.
        path = urllib.parse.unquote(raw_path[len(self.prefix) :]).rstrip("/") or "/"
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.template.startswith(method + " "):
                return route.template, route, match.groupdict()
        return f"{method} {{unknown}}", None, {}

    def _record(self, template: str, status: int) -> None:
        with self._lock:
            self.request_log[(template, status)] += 1

    def _track(self, connection: socket.socket, is_open: bool) -> None:
        with self._lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


def _phrase(status: int) -> str:
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
        log.debug("emulator: error on a connection from %s: %r", client_address, sys.exc_info()[1])


def _make_handler(emulator: EmulatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, which matters: a full load makes thousands of calls.
        protocol_version = "HTTP/1.1"
        server_version = f"{type(emulator).__name__}/1.0"
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
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                template, response, fault = emulator.handle(self.command, self.path, headers)
                if fault is not None and fault.kind == "body" and fault.mutate is not None:
                    response.body = fault.mutate(response.body)
                payload = (
                    response.body
                    if isinstance(response.body, bytes)
                    else json.dumps(response.body).encode()
                )
            except Exception:  # a bug in the emulator: answer like a server would, and log it
                log.exception("%s emulator failed on %s %s", emulator.name, self.command, self.path)
                template, fault = f"{self.command} {{error}}", None
                response = emulator.error_response(500, "Internal Server Error")
                payload = (
                    response.body
                    if isinstance(response.body, bytes)
                    else json.dumps(response.body).encode()
                )
            emulator._record(template, response.status)
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.seconds)
            if fault is not None and fault.kind == "malformed":
                payload = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault is not None and fault.kind == "truncated":
                # Promise the whole body, send half, and hang up: the client sees a cut-off body.
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: no per-request lines on stderr."""

        def log_error(self, format: str, *args: object) -> None:
            log.debug(f"{emulator.name} emulator: " + format, *args)

    return Handler
