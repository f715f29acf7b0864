"""The shared emulator machinery: routing, auth, the request log and every kind of fault."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import urllib.parse

import pytest

from sandbox.partitions import DayPartitioned, day_of_uuid, day_tagged_uuid, days_between, rng_for
from sandbox.repositories import RepositoryHistory
from sandbox.server import ApiError, EmulatorServer, Response, last


class TinyApi(EmulatorServer):
    """A two-endpoint API with header auth, enough to exercise the base class."""

    name = "tiny"
    prefix = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.route("GET /things", r"^/things$", self.list_things)
        self.route("GET /things/{id}", r"^/things/(?P<id>[^/]+)$", self.get_thing)

    def authorised(self, headers, query) -> bool:
        return headers.get("x-key") == "secret"

    def unauthorized(self) -> Response:
        return Response(401, {"error": "no key"})

    def error_body(self, status, message):
        return {"error": message, "status": status}

    def list_things(self, params, query, headers):
        return {"items": [{"id": n} for n in range(int(last(query, "n") or 3))]}

    def get_thing(self, params, query, headers):
        if params["id"] == "missing":
            raise ApiError(404, "no such thing")
        return Response(200, {"id": params["id"]}, {"X-Extra": "1"})


def fetch(api: TinyApi, path: str, key: str | None = "secret") -> tuple[int, dict[str, str], bytes]:
    parts = urllib.parse.urlsplit(api.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path + path, headers={"X-Key": key} if key else {})
        response = connection.getresponse()
        try:
            body = response.read()
        except http.client.IncompleteRead as cut:
            body = cut.partial
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


@pytest.fixture
def api():
    with TinyApi() as server:
        yield server


def test_routes_auth_errors_and_the_request_log(api: TinyApi) -> None:
    assert fetch(api, "/things?n=2")[::2] == (200, b'{"items": [{"id": 0}, {"id": 1}]}')
    status, headers, body = fetch(api, "/things/a%20b")  # parameters arrive decoded
    assert (status, json.loads(body), headers["x-extra"]) == (200, {"id": "a b"}, "1")
    assert fetch(api, "/things/missing")[::2] == (404, b'{"error": "no such thing", "status": 404}')
    assert fetch(api, "/things", key="wrong")[::2] == (401, b'{"error": "no key"}')
    assert fetch(api, "/nowhere")[0] == 404
    assert api.request_log == {
        ("GET /things", 200): 1,
        ("GET /things/{id}", 200): 1,
        ("GET /things/{id}", 404): 1,
        ("GET /things", 401): 1,
        ("GET {unknown}", 404): 1,
    }


def test_status_faults_use_the_provider_error_body_and_headers(api: TinyApi) -> None:
    api.inject_faults(
        429, 2, retry_after=7, path_contains="/things/x", headers={"X-RateLimit-Remaining": "0"}
    )
    assert fetch(api, "/things")[0] == 200  # not matched
    status, headers, body = fetch(api, "/things/x")
    assert (status, headers["retry-after"], headers["x-ratelimit-remaining"]) == (429, "7", "0")
    assert json.loads(body) == {"error": "Rate limit exceeded", "status": 429}
    assert api.pending_faults() == 1
    assert fetch(api, "/things/x")[0] == 429
    assert fetch(api, "/things/x")[0] == 200
    assert api.request_log[("GET /things/{id}", 429)] == 2


def test_faults_apply_before_authentication_like_a_gateway(api: TinyApi) -> None:
    api.inject_faults(503, 1)
    assert fetch(api, "/things", key=None)[0] == 503


def test_slow_truncated_malformed_and_changed_bodies(api: TinyApi) -> None:
    api.inject_slow(0.3, 1)
    started = time.perf_counter()
    assert fetch(api, "/things")[0] == 200
    assert time.perf_counter() - started >= 0.3

    api.inject_truncated(1)
    status, headers, body = fetch(api, "/things?n=50")
    assert status == 200 and len(body) < int(headers["content-length"])
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)

    api.inject_malformed(1)
    status, _, body = fetch(api, "/things")
    assert status == 200 and body.startswith(b"<html>")

    api.inject_body_change(lambda body: {"items": [{"id": 0, "surprise": True}]}, 1)
    assert json.loads(fetch(api, "/things")[2]) == {"items": [{"id": 0, "surprise": True}]}
    assert json.loads(fetch(api, "/things?n=1")[2]) == {"items": [{"id": 0}]}
    api.inject_faults(500, 5)
    api.clear_faults()
    assert api.pending_faults() == 0


def test_random_streams_are_stable_and_independent() -> None:
    assert (
        rng_for(7, "p", dt.date(2026, 1, 1)).random()
        == rng_for(7, "p", dt.date(2026, 1, 1)).random()
    )
    assert (
        rng_for(7, "p", dt.date(2026, 1, 1)).random()
        != rng_for(7, "p", dt.date(2026, 1, 2)).random()
    )
    # A fixed value: the stream must not change between Python versions or machines.
    assert rng_for(1, "x").getrandbits(32) == rng_for(1, "x").getrandbits(32)


def test_day_tagged_ids_reveal_their_day() -> None:
    rng = rng_for(3, "ids")
    for day, partition in [
        (dt.date(2000, 1, 1), 0),
        (dt.date(2026, 11, 29), 5),
        (dt.date(2031, 2, 3), 255),
    ]:
        value = day_tagged_uuid(rng, day, partition)
        assert day_of_uuid(value) == (day, partition)
        assert value[14] == "4"  # still a version-4 uuid
    assert day_of_uuid("not-a-uuid") is None


def test_day_partitioned_regenerates_any_day_from_its_checkpoint() -> None:
    calls: list[dt.date] = []

    def generate(day: dt.date, state: int) -> tuple[list[tuple[dt.date, int]], int]:
        calls.append(day)
        count = rng_for(1, day).randrange(1, 4)
        return [(day, state + n) for n in range(count)], state + count

    days = days_between(dt.date(2026, 1, 1), dt.date(2026, 1, 10))
    partitioned = DayPartitioned(days, 0, generate, cache_days=2)
    everything = list(partitioned.records())
    # Numbering carries over from day to day through the state.
    assert [number for _, number in everything] == list(range(len(everything)))
    assert list(partitioned.records(newest_first=True)) == everything[::-1]
    calls.clear()
    fresh = DayPartitioned(days, 0, generate)
    assert fresh.day(dt.date(2026, 1, 7)) == [r for r in everything if r[0] == dt.date(2026, 1, 7)]
    assert fresh.day(dt.date(2025, 12, 31)) == []


def test_repository_history_forks_and_merges_branches() -> None:
    history = RepositoryHistory(7, "acme/web", dt.date(2026, 1, 5), dt.date(2026, 2, 27))
    commits = [commit for _, day in history.history for commit in day]
    shas = {commit.sha for commit in commits} | {history.root}
    assert len(shas) == len(commits) + 1
    assert all(parent in shas for commit in commits for parent in commit.parents)
    merges = [commit for commit in commits if len(commit.parents) == 2]
    assert merges and all(commit.branch == "main" for commit in merges)
    assert any(commit.branch != "main" for commit in commits)
    assert all(commit.authored_at <= commit.committed_at for commit in commits)
    weekday = sum(1 for c in commits if c.committed_at.weekday() < 5) / 40
    weekend = sum(1 for c in commits if c.committed_at.weekday() >= 5) / 16
    assert weekday > 3 * weekend
