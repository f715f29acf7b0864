"""The simulated GitHub organisation and its REST API emulator: shapes, paging, filters, time
travel, auth and rate limits."""

from __future__ import annotations

import copy
import datetime as dt
import http.client
import json
import os
import re
import urllib.parse
from pathlib import Path

import jsonschema
import pytest

from sandbox.github_emulator import GitHubEmulator, parse_created
from sandbox.github_org import GitHubOrganisation, RepoSpec

AS_OF = dt.date(2026, 11, 29)
SCHEMAS_PATH = (
    Path(__file__).resolve().parents[3] / "shared" / "api-samples" / "github" / "_schemas.json"
)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
REPO = "acme/storefront"


# -- fixtures (kept here, not in conftest.py) ----------------------------------------------------


@pytest.fixture(scope="module")
def org():
    return GitHubOrganisation(AS_OF)


@pytest.fixture(scope="module")
def api(org):
    with GitHubEmulator(org) as emulator:
        yield emulator


@pytest.fixture()
def gh(api):
    api.at = api.org.end
    api.clear_faults()
    client = Client(api.base_url, api.token)
    yield client
    client.close()
    api.at = api.org.end
    api.clear_faults()


class Client:
    """A keep-alive stdlib client returning (status, headers, json body)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.token = token

    def raw(self, url_or_path: str, params: dict | None = None, *, auth: str | None = "default"):
        if url_or_path.startswith("http"):
            target = url_or_path[len(self.origin) :]
        else:
            target = self.prefix + url_or_path
        if params:
            target += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/vnd.github+json"}
        if auth == "default":
            headers["Authorization"] = f"Bearer {self.token}"
        elif auth is not None:
            headers["Authorization"] = auth
        self.conn.request("GET", target, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def get(self, path: str, params: dict | None = None, **kw):
        status, headers, payload = self.raw(path, params, **kw)
        return status, headers, json.loads(payload)

    def ok(self, path: str, params: dict | None = None):
        status, _, body = self.get(path, params)
        assert status == 200, (path, params, status, body)
        return body

    def all_pages(self, path: str, params: dict | None = None, key: str | None = None):
        """Follow rel="next" verbatim; returns (items, number of pages)."""
        items, url, pages = [], path, 0
        while url:
            status, headers, body = self.get(url, params if pages == 0 else None)
            assert status == 200, body
            items.extend(body[key] if key else body)
            pages += 1
            url = _links(headers).get("next")
        return items, pages

    def close(self) -> None:
        self.conn.close()


def _links(headers: dict) -> dict[str, str]:
    found = {}
    for part in headers.get("link", "").split(","):
        match = re.match(r'\s*<([^>]+)>;\s*rel="(\w+)"', part)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def _strict(node):
    """OpenAPI 3.0 -> strict JSON Schema: ``nullable`` allows null; objects reject unknown keys."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _strict(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


@pytest.fixture(scope="module")
def validators():
    if not SCHEMAS_PATH.exists():
        if os.environ.get("INSIGHTS_REQUIRE_SHARED") == "1":
            pytest.fail(f"GitHub response schemas not found at {SCHEMAS_PATH}")
        pytest.skip(f"GitHub response schemas not found at {SCHEMAS_PATH} (shared/ not beside)")
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_TIMESTAMP.match(v)))
    endpoints = json.loads(SCHEMAS_PATH.read_text())["endpoints"]
    return {
        name: jsonschema.Draft202012Validator(
            _strict(copy.deepcopy(spec["responses"]["200"]["schema"])), format_checker=checker
        )
        for name, spec in endpoints.items()
    }


def _validate(validators, template: str, body) -> None:
    errors = sorted(validators[template].iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{template}: {errors[0].message} at {list(errors[0].path)}"


# -- generator -----------------------------------------------------------------------------------


def _rows(org: GitHubOrganisation):
    return {
        "runs": list(org.workflow_runs()),
        "jobs": list(org.jobs()),
        "deployments": list(org.deployments()),
        "statuses": list(org.deployment_statuses()),
        "commits": list(org.commits()),
    }


def test_generation_is_deterministic_and_seeded():
    small = {"days": 20, "deploy_days": 45}
    first = json.dumps(_rows(GitHubOrganisation(AS_OF, **small)), default=str, sort_keys=True)
    again = json.dumps(_rows(GitHubOrganisation(AS_OF, **small)), default=str, sort_keys=True)
    assert first == again
    other = GitHubOrganisation(AS_OF, seed=8, **small)
    assert [r["head_sha"] for r in other.workflow_runs()] != [
        r["head_sha"] for r in json.loads(first)["runs"]
    ]


def test_ground_truth_covers_the_windows_and_the_variety(org):
    runs = list(org.workflow_runs())
    assert all(org.ci_start <= r["created_at"] < org.end for r in runs)
    conclusions = {r["conclusion"] for r in runs}
    assert {"success", "failure", "cancelled", "skipped", "startup_failure", "timed_out"} <= (
        conclusions
    )
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= {r["event"] for r in runs}
    reruns = [r for r in runs if r["run_attempt"] > 1]
    assert reruns and all(r["run_started_at"] > r["created_at"] for r in reruns)
    finished = [r for r in runs if r["stopped_at"] is not None]
    assert all(r["stopped_at"] >= r["run_started_at"] for r in finished)
    jobs_per_attempt = {}
    for job in org.jobs():
        key = (job["run_id"], job["run_attempt"])
        jobs_per_attempt[key] = jobs_per_attempt.get(key, 0) + 1
    assert set(jobs_per_attempt.values()) <= {1, 2, 3, 4, 5}
    deployments = list(org.deployments())
    assert min(d["created_at"] for d in deployments) < org.end - dt.timedelta(days=365)
    assert {d["terminal_state"] for d in deployments} >= {"success", "failure", "error"}
    assert any(d["latest_state"] == "inactive" for d in deployments)
    assert any(d["terminal_state"] is None for d in deployments)  # in flight at the end
    assert {(d["environment"], d["production_environment"]) for d in deployments} == {
        ("staging", False),
        ("production", True),
    }


# -- served shapes -------------------------------------------------------------------------------


def _some_run(org, predicate):
    return next(r for r in org.runs(REPO) if predicate(r))


def test_every_endpoint_matches_the_vendor_schema(gh, org, validators):
    base = f"/repos/{REPO}"
    runs = gh.ok(f"{base}/actions/runs", {"per_page": 100})
    _validate(validators, "GET /repos/{owner}/{repo}/actions/runs", runs)
    assert runs["workflow_runs"][0]["created_at"] >= runs["workflow_runs"][-1]["created_at"]
    pr_run = _some_run(org, lambda r: r.pull_request is not None)
    rerun = _some_run(org, lambda r: len(r.attempts) > 1)
    broken = _some_run(org, lambda r: r.attempts[-1].conclusion == "startup_failure")
    for run in (pr_run, rerun, broken):
        body = gh.ok(f"{base}/actions/runs/{run.id}")
        _validate(validators, "GET /repos/{owner}/{repo}/actions/runs/{run_id}", body)
        jobs = gh.ok(f"{base}/actions/runs/{run.id}/jobs", {"filter": "all"})
        _validate(validators, "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", jobs)
    assert gh.ok(f"{base}/actions/runs/{pr_run.id}")["pull_requests"][0]["number"]
    assert gh.ok(f"{base}/actions/runs/{broken.id}")["name"].startswith(".github/workflows/")
    bare = gh.ok(f"{base}/actions/runs/{pr_run.id}", {"exclude_pull_requests": "true"})
    assert bare["pull_requests"] == []
    deployments = gh.ok(f"{base}/deployments", {"per_page": 100})
    _validate(validators, "GET /repos/{owner}/{repo}/deployments", deployments)
    statuses = gh.ok(f"{base}/deployments/{deployments[-1]['id']}/statuses")
    _validate(
        validators, "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", statuses
    )
    environments = gh.ok(f"{base}/environments")
    _validate(validators, "GET /repos/{owner}/{repo}/environments", environments)
    commits = gh.ok(f"{base}/commits")
    _validate(validators, "GET /repos/{owner}/{repo}/commits", commits)
    compare = gh.ok(f"{base}/compare/{commits[5]['sha']}...{commits[0]['sha']}")
    _validate(validators, "GET /repos/{owner}/{repo}/compare/{basehead}", compare)
    # Endpoints without a schema in the samples: the fields clients rely on.
    repo = gh.ok(base)
    assert (repo["full_name"], repo["default_branch"]) == (REPO, "main")
    assert isinstance(repo["id"], int)
    workflows = gh.ok(f"{base}/actions/workflows")
    assert {w["name"] for w in workflows["workflows"]} == {"CI", "Deploy", "Nightly"}
    assert gh.ok("/rate_limit")["resources"]["core"]["limit"] == 5000


def test_served_pages_are_byte_identical(org):
    pages = []
    for organisation in (org, GitHubOrganisation(AS_OF)):
        with GitHubEmulator(organisation, api_url="https://api.github.com") as emulator:
            client = Client(emulator.base_url, emulator.token)
            run_id = gh_ok_first_run(client)
            pages.append(
                [
                    client.raw(f"/repos/{REPO}/actions/runs", {"per_page": 50, "page": 2})[2],
                    client.raw(f"/repos/{REPO}/actions/runs/{run_id}/jobs")[2],
                    client.raw(f"/repos/{REPO}/deployments")[2],
                ]
            )
            client.close()
    assert pages[0] == pages[1]


def gh_ok_first_run(client: Client) -> int:
    return client.ok(f"/repos/{REPO}/actions/runs")["workflow_runs"][0]["id"]


# -- paging, filters and the 1,000 cap ----------------------------------------------------------


@pytest.mark.parametrize("per_page", [None, 100])
def test_link_pagination_returns_every_run_once(gh, org, per_page):
    params = {"per_page": per_page} if per_page else None
    items, pages = gh.all_pages(f"/repos/{REPO}/actions/runs", params, "workflow_runs")
    ids = [run["id"] for run in items]
    expected = [r.id for r in org.runs(REPO)]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == set(expected)
    assert pages == -(-len(expected) // (per_page or 30))


def test_link_header_looks_like_githubs(gh, api, org):
    repo_id = org.repository(REPO).id
    _, first, _ = gh.get(f"/repos/{REPO}/actions/runs", {"per_page": 40})
    links = _links(first)
    assert list(links) == ["next", "last"]
    assert links["next"] == f"{api.base_url}/repositories/{repo_id}/actions/runs?per_page=40&page=2"
    _, middle, _ = gh.get(links["next"])
    assert list(_links(middle)) == ["prev", "next", "last", "first"]
    _, final, _ = gh.get(links["last"])
    assert list(_links(final)) == ["prev", "first"]
    _, single, _ = gh.get(f"/repos/{REPO}/environments")
    assert "link" not in single


def test_created_filter_and_branch_filter(gh, org):
    day = AS_OF - dt.timedelta(days=3)
    expected = {r.id for r in org.runs(REPO) if r.created_at.date() == day}
    window = f"{day}T00:00:00Z..{day}T23:59:59Z"
    for created in (window, day.isoformat()):
        body = gh.ok(f"/repos/{REPO}/actions/runs", {"created": created, "per_page": 100})
        assert {r["id"] for r in body["workflow_runs"]} == expected
        assert body["total_count"] == len(expected)
    since = {r.id for r in org.runs(REPO) if r.created_at.date() >= day}
    items, _ = gh.all_pages(
        f"/repos/{REPO}/actions/runs", {"created": f">={day}", "per_page": 100}, "workflow_runs"
    )
    assert {r["id"] for r in items} == since
    # Upper bounds and an instant range too (the emulator skips the days a filter cannot reach).
    moment = dt.datetime.combine(day, dt.time(13), tzinfo=dt.UTC)
    for created, keep in (
        (f"<{day}", lambda t: t.date() < day),
        (f"<={day}", lambda t: t.date() <= day),
        (f"{moment:%Y-%m-%dT%H:%M:%SZ}..*", lambda t: t >= moment),
        (f"*..{moment:%Y-%m-%dT%H:%M:%SZ}", lambda t: t <= moment),
    ):
        items, _ = gh.all_pages(
            f"/repos/{REPO}/actions/runs", {"created": created, "per_page": 100}, "workflow_runs"
        )
        wanted = {r.id for r in org.runs(REPO) if keep(r.created_at)}
        # A filtered listing reaches at most the newest 1,000 runs, like GitHub's.
        assert {r["id"] for r in items} <= wanted
        assert len(items) == min(len(wanted), 1000) and len(wanted) > 10
    main = gh.ok(f"/repos/{REPO}/actions/runs", {"branch": "main", "per_page": 100})
    assert {r["head_branch"] for r in main["workflow_runs"]} == {"main"}
    failed = gh.ok(f"/repos/{REPO}/actions/runs", {"status": "failure"})
    assert {r["conclusion"] for r in failed["workflow_runs"]} == {"failure"}


def test_created_syntax():
    moment = dt.datetime(2024, 8, 1, 12, tzinfo=dt.UTC)
    assert parse_created(">=2024-08-01")(moment)
    assert not parse_created(">2024-08-01")(moment)
    assert parse_created("<=2024-08-01")(moment)
    assert not parse_created("<2024-08-01")(moment)
    assert parse_created("2024-08-01T00:00:00Z..2024-08-02T00:00:00Z")(moment)
    assert parse_created("2024-08-01..*")(moment)
    assert not parse_created("*..2024-07-31")(moment)


def test_results_beyond_1000_are_unreachable_with_a_filter():
    busy = GitHubOrganisation(
        AS_OF, days=4, deploy_days=4, repositories=(RepoSpec("firehose", "main", 500.0),)
    )
    total = sum(1 for _ in busy.runs("acme/firehose"))
    assert total > 1000
    with GitHubEmulator(busy) as emulator:
        client = Client(emulator.base_url, emulator.token)
        unfiltered, _ = client.all_pages(
            "/repos/acme/firehose/actions/runs", {"per_page": 100}, "workflow_runs"
        )
        assert len(unfiltered) == total
        params = {"per_page": 100, "created": f">={AS_OF - dt.timedelta(days=10)}"}
        capped, pages = client.all_pages(
            "/repos/acme/firehose/actions/runs", params, "workflow_runs"
        )
        assert len(capped) == 1000 and pages == 10
        body = client.ok("/repos/acme/firehose/actions/runs", {**params, "page": 11})
        assert body["total_count"] == total and body["workflow_runs"] == []
        client.close()


# -- attempts and time travel --------------------------------------------------------------------


def test_attempts_endpoints(gh, org):
    run = _some_run(org, lambda r: len(r.attempts) > 1)
    latest = len(run.attempts)
    listed = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}")
    assert listed["run_attempt"] == latest
    assert listed["previous_attempt_url"].endswith(f"/actions/runs/{run.id}/attempts/{latest - 1}")
    first = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}/attempts/1")
    assert first["run_attempt"] == 1 and first["previous_attempt_url"] is None
    assert first["conclusion"] == run.attempts[0].conclusion
    assert listed["run_started_at"] > first["run_started_at"]
    assert listed["created_at"] == first["created_at"]
    jobs1 = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}/attempts/1/jobs")
    assert {j["run_attempt"] for j in jobs1["jobs"]} == {1}
    assert [j["id"] for j in jobs1["jobs"]] == [j.id for j in run.attempts[0].jobs]
    every = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}/jobs", {"filter": "all"})
    assert {j["run_attempt"] for j in every["jobs"]} == set(range(1, latest + 1))
    latest_jobs = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}/jobs")
    assert {j["run_attempt"] for j in latest_jobs["jobs"]} == {latest}
    status, _, _ = gh.get(f"/repos/{REPO}/actions/runs/{run.id}/attempts/{latest + 1}")
    assert status == 404
    # The listing shows the run once, as its latest attempt.
    day = run.created_at.date().isoformat()
    listing = gh.ok(f"/repos/{REPO}/actions/runs", {"created": day, "per_page": 100})
    mine = [r for r in listing["workflow_runs"] if r["id"] == run.id]
    assert len(mine) == 1 and mine[0]["run_attempt"] == latest
    # Ground truth has one row per attempt with stopped_at = latest job completion.
    rows = [r for r in org.workflow_runs() if r["run_id"] == run.id]
    assert [r["run_attempt"] for r in rows] == list(range(1, latest + 1))
    assert rows[0]["stopped_at"] == max(j.completed_at for j in run.attempts[0].jobs)


def test_time_travel_shows_a_run_in_progress_then_finished(gh, api, org, validators):
    run = _some_run(org, lambda r: r.attempts[0].jobs and r.workflow.name == "CI")
    attempt = run.attempts[0]
    api.at = attempt.first_start + dt.timedelta(seconds=1)
    during = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}")
    assert (during["status"], during["conclusion"]) == ("in_progress", None)
    _validate(validators, "GET /repos/{owner}/{repo}/actions/runs/{run_id}", during)
    body = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}/jobs")
    _validate(validators, "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", body)
    jobs = body["jobs"]
    assert all(j["completed_at"] is None and j["conclusion"] is None for j in jobs)
    assert any(s["status"] == "in_progress" for j in jobs for s in j["steps"])
    newest = gh.ok(f"/repos/{REPO}/actions/runs")["workflow_runs"][0]
    assert newest["id"] == run.id  # nothing created after `at` is served
    api.at = attempt.completed_at
    after = gh.ok(f"/repos/{REPO}/actions/runs/{run.id}")
    assert (after["status"], after["conclusion"]) == ("completed", attempt.conclusion)
    api.at = run.created_at - dt.timedelta(seconds=1)
    assert gh.get(f"/repos/{REPO}/actions/runs/{run.id}")[0] == 404


def test_time_travel_deployment_statuses(gh, api, org):
    sim = org.sim(REPO)
    deployment = next(
        d
        for d in org.deployment_records(REPO)
        if d.statuses[-1].state == "success" and sim.inactive_status(d) is not None
    )
    path = f"/repos/{REPO}/deployments/{deployment.id}/statuses"
    api.at = deployment.statuses[1].created_at
    assert [s["state"] for s in gh.ok(path)] == ["in_progress", "queued"]
    api.at = org.end
    assert [s["state"] for s in gh.ok(path)] == ["inactive", "success", "in_progress", "queued"]


def test_compare_returns_the_commits_between_two_deployed_shas(gh, org):
    production = [d for d in org.deployment_records(REPO) if d.environment == "production"]
    previous, current = production[-3], production[-1]
    body = gh.ok(f"/repos/{REPO}/compare/{previous.sha}...{current.sha}")
    sim = org.sim(REPO)
    expected = [c.sha for c in sim.between(previous.sha, current.sha)]
    assert [c["sha"] for c in body["commits"]] == expected and expected
    assert body["status"] == "ahead" and body["ahead_by"] == len(expected)
    dates = [c["commit"]["committer"]["date"] for c in body["commits"]]
    assert dates == sorted(dates)
    assert current.sha == expected[-1] and previous.sha not in expected
    # Every compared commit is an ancestor of the new sha and none of the old one.
    history = {c.sha for c in sim.ancestors(current.sha)}
    assert set(expected) <= history


def test_deployment_filters_and_order(gh, org):
    body = gh.ok(f"/repos/{REPO}/deployments", {"environment": "production", "per_page": 100})
    assert {d["environment"] for d in body} == {"production"}
    assert all(d["production_environment"] for d in body)
    created = [d["created_at"] for d in body]
    assert created == sorted(created, reverse=True)
    items, _ = gh.all_pages(f"/repos/{REPO}/deployments", {"per_page": 100})
    assert len(items) == sum(1 for _ in org.deployment_records(REPO))


# -- auth, errors and rate limits ----------------------------------------------------------------


def test_enterprise_prefix(org):
    with GitHubEmulator(org, prefix="/api/v3") as emulator:
        assert emulator.base_url.endswith("/api/v3")
        client = Client(emulator.base_url, emulator.token)
        body = client.ok(f"/repos/{REPO}/actions/runs", {"per_page": 5})
        assert body["workflow_runs"][0]["url"].startswith(emulator.base_url + "/repos/")
        _, headers, _ = client.get(f"/repos/{REPO}/actions/runs", {"per_page": 5})
        assert _links(headers)["next"].startswith(emulator.base_url + "/repositories/")
        client.close()


def test_bad_credentials_and_not_found(gh):
    for auth in (None, "Bearer wrong", "Basic abc"):
        status, _, body = gh.get(f"/repos/{REPO}/actions/runs", auth=auth)
        assert status == 401
        assert body == {
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        }
    status, _, _ = gh.get(f"/repos/{REPO}", auth=f"token {gh.token}")
    assert status == 200
    for path in ("/repos/acme/nope", f"/repos/{REPO}/actions/runs/123", f"/repos/{REPO}/x"):
        status, _, body = gh.get(path)
        assert status == 404 and body["message"] == "Not Found" and body["status"] == "404"


def test_rate_limit_headers_and_injected_limits(gh, api):
    _, headers, _ = gh.get(f"/repos/{REPO}")
    _, again, _ = gh.get(f"/repos/{REPO}")
    for name in ("limit", "remaining", "used", "reset", "resource"):
        assert f"x-ratelimit-{name}" in headers
    assert int(again["x-ratelimit-remaining"]) == int(headers["x-ratelimit-remaining"]) - 1
    assert headers["x-ratelimit-resource"] == "core"

    api.inject_rate_limit("primary", 1)
    status, headers, body = gh.get(f"/repos/{REPO}/actions/runs")
    assert status == 403
    assert headers["x-ratelimit-remaining"] == "0"
    assert headers["x-ratelimit-used"] == headers["x-ratelimit-limit"] == "5000"
    assert int(headers["x-ratelimit-reset"]) > 0
    assert body["message"].startswith("API rate limit exceeded")

    api.inject_rate_limit("secondary", 2, retry_after=7, status=429)
    for _ in range(2):
        status, headers, body = gh.get(f"/repos/{REPO}/actions/runs")
        assert status == 429 and headers["retry-after"] == "7"
        assert int(headers["x-ratelimit-remaining"]) > 0
        assert "secondary rate limit" in body["message"] and body["status"] == "429"
    assert gh.get(f"/repos/{REPO}/actions/runs")[0] == 200
