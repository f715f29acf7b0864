"""The CircleCI API v2 emulator: schemas, pagination, filters, auth, faults and fidelity."""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import random
import sys
import tracemalloc
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sandbox import CircleCIEmulator
from sandbox.organisation import parse_timestamp

SLUG = "gh/acme/web-app"
ESCAPED = urllib.parse.quote(SLUG, safe="")
WINDOW_END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def _assert_valid(validators, endpoint: str, body: dict) -> None:
    errors = sorted(validators[endpoint].iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{endpoint}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5]
    )


def _sample_workflows(org, k: int = 60) -> list[dict]:
    """A random sample plus every interesting case (reruns, in flight, canceled, not_run...)."""
    rng = random.Random(1)
    picked = {w["id"]: w for w in rng.sample(org.workflows, k)}
    seen_status = set()
    for wf in org.workflows:
        if wf["status"] not in seen_status:
            seen_status.add(wf["status"])
            picked[wf["id"]] = wf
    return list(picked.values())


# -- schemas --------------------------------------------------------------------------------


def test_every_endpoint_validates_against_the_vendor_schema(org, client, validators):
    for project in org.projects:
        slug = project.slug
        params: dict = {}
        for _ in range(3):  # the first pages, following the cursor
            body = client.get_ok(f"/project/{slug}/pipeline", params)
            _assert_valid(validators, "GET /project/{project-slug}/pipeline", body)
            params = {"page-token": body["next_page_token"]}
        for name in ("build-test", "deploy", "nightly"):
            body = client.get_ok(f"/insights/{slug}/workflows/{name}", {"all-branches": "true"})
            _assert_valid(
                validators, "GET /insights/{project-slug}/workflows/{workflow-name}", body
            )
            assert body["items"]

    # Pipelines that are tagged or errored have unusual shapes: validate them all.
    special = [p for p in org.pipelines if "tag" in p["vcs"] or p["state"] == "errored"]
    for pipeline in special + random.Random(2).sample(org.pipelines, 30):
        _assert_valid(
            validators, "GET /pipeline/{pipeline-id}", client.get_ok(f"/pipeline/{pipeline['id']}")
        )
        _assert_valid(
            validators,
            "GET /pipeline/{pipeline-id}/workflow",
            client.get_ok(f"/pipeline/{pipeline['id']}/workflow"),
        )

    for wf in _sample_workflows(org):
        _assert_valid(validators, "GET /workflow/{id}", client.get_ok(f"/workflow/{wf['id']}"))
        jobs = client.get_ok(f"/workflow/{wf['id']}/job")
        _assert_valid(validators, "GET /workflow/{id}/job", jobs)
        assert jobs["next_page_token"] is None
        for job in jobs["items"]:
            if "job_number" in job:
                details = client.get_ok(f"/project/{wf['project_slug']}/job/{job['job_number']}")
                _assert_valid(validators, "GET /project/{project-slug}/job/{job-number}", details)


def test_the_whole_dataset_validates(org, validators):
    """Schema-check every stored object directly (cheaper than serving all of them)."""
    for pipeline in org.pipelines:
        _assert_valid(validators, "GET /pipeline/{pipeline-id}", pipeline)
    for wf in org.workflows:
        _assert_valid(validators, "GET /workflow/{id}", wf)
        _assert_valid(
            validators,
            "GET /workflow/{id}/job",
            {"items": org.workflow_jobs[wf["id"]], "next_page_token": None},
        )
    for details in org.job_details.values():
        _assert_valid(validators, "GET /project/{project-slug}/job/{job-number}", details)
    served = [
        {k: v for k, v in r.items() if k not in ("project_slug", "workflow_name")}
        for r in org.insights_workflow_runs
    ]
    _assert_valid(
        validators,
        "GET /insights/{project-slug}/workflows/{workflow-name}",
        {"items": served, "next_page_token": None},
    )


def test_project_endpoint(org, client):
    body = client.get_ok(f"/project/{ESCAPED}")
    project = org.project(SLUG)
    assert body["slug"] == SLUG and body["name"] == "web-app" and body["id"] == project.id
    assert body["organization_name"] == "acme" and body["organization_slug"] == "gh/acme"
    assert body["vcs_info"] == {
        "vcs_url": "https://github.com/acme/web-app",
        "provider": "GitHub",
        "default_branch": "main",
    }
    assert client.get_ok("/project/gh/acme/mobile-app")["vcs_info"]["default_branch"] == "master"


# -- pagination and filters -----------------------------------------------------------------


def test_pipeline_pagination_returns_every_pipeline_once_newest_first(org, client):
    for project in org.projects:
        items = client.get_all(f"/project/{project.slug}/pipeline")
        expected = [p for p in org.pipelines if p["project_slug"] == project.slug]
        assert len(items) == len(expected)
        assert {p["id"] for p in items} == {p["id"] for p in expected}
        created = [p["created_at"] for p in items]
        assert created == sorted(created, reverse=True)


def test_page_size_and_last_page(org, client, emulator):
    first = client.get_ok(f"/project/{SLUG}/pipeline")
    assert len(first["items"]) == emulator.page_size and first["next_page_token"]
    with CircleCIEmulator(org, token="t", page_size=500) as big:
        other = type(client)(big.base_url, "t")
        try:
            page = other.get_ok(f"/project/{SLUG}/pipeline")
            assert len(page["items"]) == 500
            page = other.get_ok(
                f"/project/{SLUG}/pipeline", {"page-token": page["next_page_token"]}
            )
            assert page["next_page_token"] is None and 0 < len(page["items"]) <= 500
        finally:
            other.close()


def test_bad_page_token_is_rejected(client):
    status, _, body = client.get(f"/project/{SLUG}/pipeline", {"page-token": "garbage!"})
    assert status == 400 and "message" in body
    # A token from another listing is not valid here either.
    token = client.get_ok(f"/project/{SLUG}/pipeline")["next_page_token"]
    status, _, _ = client.get("/project/gh/acme/api-service/pipeline", {"page-token": token})
    assert status == 400


def test_pipeline_branch_filter(org, client):
    items = client.get_all(f"/project/{SLUG}/pipeline", {"branch": "main"})
    expected = [
        p for p in org.pipelines if p["project_slug"] == SLUG and p["vcs"].get("branch") == "main"
    ]
    assert items and {p["id"] for p in items} == {p["id"] for p in expected}


def test_workflows_of_a_pipeline_are_paged_in_creation_order(org, client, emulator):
    groups = collections.defaultdict(list)
    for wf in org.workflows:
        groups[wf["pipeline_id"]].append(wf)
    pipeline_id, expected = max(groups.items(), key=lambda kv: len(kv[1]))
    assert len(expected) >= 3  # build-test + deploy + a rerun
    with CircleCIEmulator(org, token="t", page_size=2) as small:
        other = type(client)(small.base_url, "t")
        try:
            first = other.get_ok(f"/pipeline/{pipeline_id}/workflow")
            assert len(first["items"]) == 2 and first["next_page_token"]
            items = other.get_all(f"/pipeline/{pipeline_id}/workflow")
        finally:
            other.close()
    assert [w["id"] for w in items] == [w["id"] for w in expected]


def test_insights_filters(org, client):
    runs = [
        r
        for r in org.insights_workflow_runs
        if r["project_slug"] == SLUG and r["workflow_name"] == "build-test"
    ]
    path = f"/insights/{ESCAPED}/workflows/build-test"

    default_branch = client.get_all(path)
    assert {r["id"] for r in default_branch} == {r["id"] for r in runs if r["branch"] == "main"}
    assert all("project_slug" not in r and "workflow_name" not in r for r in default_branch)

    everything = client.get_all(path, {"all-branches": "true"})
    assert {r["id"] for r in everything} == {r["id"] for r in runs}
    created = [r["created_at"] for r in everything]
    assert created == sorted(created, reverse=True)

    feature = next(r["branch"] for r in runs if r["branch"] not in ("main", ""))
    on_feature = client.get_all(path, {"branch": feature})
    assert on_feature and all(r["branch"] == feature for r in on_feature)

    start, end = "2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z"
    window = client.get_all(path, {"all-branches": "true", "start-date": start, "end-date": end})
    expected = {r["id"] for r in runs if start <= r["created_at"] < end}
    assert expected and {r["id"] for r in window} == expected

    status, _, _ = client.get(path, {"end-date": end})
    assert status == 400
    status, _, _ = client.get(path, {"start-date": "2026-01-01T00:00:00Z", "end-date": end})
    assert status == 400
    status, _, body = client.get(f"/insights/{ESCAPED}/workflows/no-such-workflow")
    assert status == 404 and body == {"message": "Workflow not found"}


# -- auth, escaping, errors -----------------------------------------------------------------


def test_auth(client, emulator):
    path = f"/project/{SLUG}/pipeline"
    assert client.get(path, token=None)[0:3:2] == (401, {"message": "You must log in first."})
    assert client.get(path, token="wrong")[0:3:2] == (401, {"message": "You must log in first."})
    basic = base64.b64encode(f"{emulator.token}:".encode()).decode()
    status, _, _ = client.get(path, token=None, headers={"Authorization": f"Basic {basic}"})
    assert status == 200
    wrong = base64.b64encode(b"nope:").decode()
    status, _, _ = client.get(path, token=None, headers={"Authorization": f"Basic {wrong}"})
    assert status == 401


def test_escaped_and_plain_slugs_are_the_same(org, client):
    for suffix in ("", "/pipeline"):
        assert client.get_ok(f"/project/{SLUG}{suffix}") == client.get_ok(
            f"/project/{ESCAPED}{suffix}"
        )
    number = max(n for slug, n in org.job_details if slug == SLUG)
    assert client.get_ok(f"/project/{ESCAPED}/job/{number}") == org.job_details[(SLUG, number)]
    # Partially escaped slugs work too.
    assert client.get_ok("/project/gh%2Facme/web-app")["slug"] == SLUG


def _first_pipeline(client) -> str:
    pipelines = client.get_all(f"/project/{SLUG}/pipeline", {"branch": "main"})
    return next(p["id"] for p in reversed(pipelines))


def test_not_found(client):
    for path in (
        "/project/gh/acme/nope",
        "/project/gh/acme/nope/pipeline",
        "/pipeline/00000000-0000-4000-8000-000000000000/workflow",
        "/workflow/00000000-0000-4000-8000-000000000000/job",
        f"/project/{SLUG}/job/1",
        f"/project/{SLUG}/job/abc",
        "/no/such/path",
    ):
        status, headers, body = client.get(path)
        assert (status, body) == (404, {"message": "Not Found"}), path
        assert headers["content-type"].startswith("application/json")


def test_inject_faults_then_recover(client, emulator):
    path = f"/project/{SLUG}/pipeline"
    before = emulator.request_log[("GET /project/{project-slug}/pipeline", 429)]
    emulator.inject_faults(429, 2, retry_after=3)
    for _ in range(2):
        status, headers, body = client.get(path)
        assert status == 429 and headers["retry-after"] == "3"
        assert body == {"message": "Rate limit exceeded"}
    assert client.get(path)[0] == 200
    assert emulator.request_log[("GET /project/{project-slug}/pipeline", 429)] == before + 2

    # A path filter leaves other endpoints alone; faults without retry_after have no header.
    emulator.inject_faults(503, 1, path_contains="/workflow/")
    assert client.get(f"/project/{SLUG}")[0] == 200
    wf_path = f"/pipeline/{_first_pipeline(client)}/workflow"
    assert client.get(wf_path)[0] == 200  # "/workflow" without the trailing slash: no match
    wf_id = client.get_ok(wf_path)["items"][0]["id"]
    status, headers, body = client.get(f"/workflow/{wf_id}/job")
    assert (status, body) == (503, {"message": "Service Unavailable"})
    assert "retry-after" not in headers
    assert client.get(f"/workflow/{wf_id}/job")[0] == 200
    assert emulator.pending_faults() == 0


def test_request_log_counts_by_template(org, client, emulator):
    before = emulator.request_log.copy()
    client.get(f"/project/{ESCAPED}/pipeline")
    client.get(f"/project/{SLUG}/pipeline", token=None)
    delta = emulator.request_log - before
    assert delta[("GET /project/{project-slug}/pipeline", 200)] == 1
    assert delta[("GET /project/{project-slug}/pipeline", 401)] == 1


def test_quiet_on_stderr(org, capfd):
    with CircleCIEmulator(org) as api:
        for token in ("sandbox-circleci-token", "wrong"):
            request = urllib.request.Request(
                f"{api.base_url}/project/{SLUG}", headers={"Circle-Token": token}
            )
            try:
                urllib.request.urlopen(request).read()
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_start_stop_and_base_url(org):
    api = CircleCIEmulator(org)
    with pytest.raises(RuntimeError):
        _ = api.base_url
    api.start()
    try:
        assert api.base_url.startswith("http://127.0.0.1:") and api.base_url.endswith("/api/v2")
    finally:
        api.stop()
    api.stop()  # idempotent


# -- fidelity: crawling the API reproduces the ground truth ---------------------------------


def test_crawling_the_api_reproduces_the_ground_truth(org, client):
    slug = "gh/acme/mobile-app"
    truth_runs = {r["workflow_id"]: r for r in org.workflow_runs() if r["project_slug"] == slug}
    truth_jobs = {r["job_id"]: r for r in org.job_runs() if r["project_slug"] == slug}

    crawled_runs, crawled_jobs = {}, {}
    for pipeline in client.get_all(f"/project/{slug}/pipeline"):
        vcs = pipeline["vcs"]
        for wf in client.get_all(f"/pipeline/{pipeline['id']}/workflow"):
            crawled_runs[wf["id"]] = {
                "project_slug": wf["project_slug"],
                "pipeline_id": pipeline["id"],
                "pipeline_number": pipeline["number"],
                "workflow_id": wf["id"],
                "workflow_name": wf["name"],
                "branch": vcs.get("branch", ""),
                "tag": vcs.get("tag"),
                "revision": vcs["revision"],
                "trigger_type": pipeline["trigger"]["type"],
                "status": wf["status"],
                "created_at": parse_timestamp(wf["created_at"]),
                "stopped_at": parse_timestamp(wf["stopped_at"]),
            }
            for job in client.get_ok(f"/workflow/{wf['id']}/job")["items"]:
                crawled_jobs[job["id"]] = {
                    "project_slug": job["project_slug"],
                    "workflow_id": wf["id"],
                    "job_id": job["id"],
                    "job_number": job.get("job_number"),
                    "job_name": job["name"],
                    "type": job["type"],
                    "status": job["status"],
                    "started_at": parse_timestamp(job["started_at"]),
                    "stopped_at": parse_timestamp(job["stopped_at"]),
                }
    assert crawled_runs == truth_runs
    assert crawled_jobs == truth_jobs
    # Workflows still in flight at the observation instant are visible as such.
    in_flight = [
        r for r in crawled_runs.values() if r["stopped_at"] is None and r["status"] != "not_run"
    ]
    assert all(r["created_at"] > WINDOW_END - dt.timedelta(hours=3) for r in in_flight)


def test_the_schema_check_is_strict(org, validators):
    """Guard the guard: unknown keys, wrong enums and misplaced nulls must be caught."""
    endpoint = "GET /pipeline/{pipeline-id}/workflow"
    good = {"items": [dict(org.workflows[0])], "next_page_token": None}
    assert validators[endpoint].is_valid(good)
    for mutate in (
        lambda wf: wf.update(unexpected="x"),
        lambda wf: wf.update(status="passed"),
        lambda wf: wf.update(created_at=None),
        lambda wf: wf.update(created_at="2026-11-29 10:00:00"),
        lambda wf: wf.pop("started_by"),
    ):
        bad = dict(org.workflows[0])
        mutate(bad)
        assert not validators[endpoint].is_valid({"items": [bad], "next_page_token": None})


def test_sandbox_uses_only_the_standard_library():
    import ast
    import sys
    from pathlib import Path

    import sandbox

    for path in Path(sandbox.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("sandbox", "__future__"), (
                    f"{path.name} imports {name}"
                )


# -- tests, insights job runs, time travel, determinism, memory -------------------------------

# Not in the vendored spec extract: the shape of CircleCI's "recent runs of a workflow job"
# (GET /insights/{project-slug}/workflows/{workflow-name}/jobs/{job-name}).
JOB_RUNS_SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "started_at": {"type": "string", "format": "date-time"},
                    "stopped_at": {"type": "string", "format": "date-time"},
                    "status": {"enum": ["success", "failed", "error", "canceled", "unauthorized"]},
                    "credits_used": {"type": "integer", "minimum": 0},
                    "duration": {"type": "integer", "minimum": 0},
                },
                "required": [
                    "id",
                    "started_at",
                    "stopped_at",
                    "status",
                    "credits_used",
                    "duration",
                ],
                "additionalProperties": False,
            },
        },
        "next_page_token": {"type": ["string", "null"]},
    },
    "required": ["items", "next_page_token"],
    "additionalProperties": False,
}


def test_job_tests_are_paged_and_match_the_schema(org, client, validators):
    endpoint = "GET /project/{project-slug}/{job-number}/tests"
    failed = [
        (slug, n)
        for (slug, n), d in org.job_details.items()
        if d["status"] == "failed" and d["name"] in ("unit-test", "integration-test", "ui-test")
    ]
    passed = [(s, n) for (s, n), d in org.job_details.items() if d["name"] == "unit-test"]
    assert failed
    for slug, number in [*failed[:5], *passed[:5]]:
        first = client.get_ok(f"/project/{urllib.parse.quote(slug, safe='')}/{number}/tests")
        _assert_valid(validators, endpoint, first)
        items = client.get_all(f"/project/{slug}/{number}/tests")
        assert items == org.job_tests(slug, number) and len(items) > 20  # several pages
        assert len(first["items"]) == 20 and first["next_page_token"]
    lint = next(n for (s, n), d in org.job_details.items() if s == SLUG and d["name"] == "lint")
    assert client.get_ok(f"/project/{SLUG}/{lint}/tests") == {"items": [], "next_page_token": None}
    status, _, body = client.get(f"/project/{SLUG}/1/tests")
    assert (status, body) == (404, {"message": "Not Found"})


def test_insights_job_runs_feed(org, client):
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        JOB_RUNS_SCHEMA, format_checker=jsonschema.FormatChecker()
    )
    expected = [
        r
        for r in org.insights_job_runs
        if r["project_slug"] == SLUG
        and r["workflow_name"] == "build-test"
        and r["job_name"] == "unit-test"
    ]
    path = f"/insights/{ESCAPED}/workflows/build-test/jobs/unit-test"
    body = client.get_ok(path, {"all-branches": "true"})
    assert validator.is_valid(body), next(validator.iter_errors(body)).message
    everything = client.get_all(path, {"all-branches": "true"})
    assert [r["id"] for r in everything] == [r["id"] for r in reversed(expected)]
    default = client.get_all(path)
    assert {r["id"] for r in default} == {r["id"] for r in expected if r["branch"] == "main"}
    start, end = "2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z"
    window = client.get_all(path, {"all-branches": "true", "start-date": start, "end-date": end})
    assert window and all(start <= r["started_at"] < end for r in window)
    assert client.get(f"/insights/{ESCAPED}/workflows/build-test/jobs/nope")[0] == 404
    assert client.get(f"/insights/{ESCAPED}/workflows/build-test/jobs/hold")[0] == 404


def test_time_travel_serves_the_org_as_it_was(org, client):
    at = dt.datetime(2026, 11, 25, 11, 30, tzinfo=dt.UTC)
    past = org.observed_at(at)
    with CircleCIEmulator(org, token="t", at=at) as api:
        other = type(client)(api.base_url, "t")
        try:
            items = other.get_all(f"/project/{SLUG}/pipeline")
            expected = [p for p in past.pipelines if p["project_slug"] == SLUG]
            assert [p["id"] for p in items] == [p["id"] for p in reversed(expected)]
            running = next(
                w for w in past.workflows if w["status"] == "running" and w["project_slug"] == SLUG
            )
            assert other.get_ok(f"/workflow/{running['id']}") == running
            jobs = other.get_ok(f"/workflow/{running['id']}/job")["items"]
            assert jobs == past.workflow_jobs[running["id"]]
            # A workflow created after `at` does not exist yet; moving `at` forward reveals it.
            later = next(w for w in org.workflows if parse_timestamp(w["created_at"]) > at)
            assert other.get(f"/workflow/{later['id']}")[0] == 404
            api.at = None
            assert other.get_ok(f"/workflow/{later['id']}") == later
            assert other.get_ok(f"/workflow/{running['id']}")["status"] != "running"
        finally:
            other.close()


def test_served_bytes_are_deterministic():
    from sandbox import generate_organisation

    def crawl() -> list[bytes]:
        small = generate_organisation(dt.date(2026, 11, 29), days=10, seed=21)
        with CircleCIEmulator(small, token="t") as api:
            other = _RawClient(api.base_url)
            bodies = []
            token = None
            for _ in range(4):
                path = f"/project/{SLUG}/pipeline" + (f"?page-token={token}" if token else "")
                raw = other.raw(path)
                bodies.append(raw)
                page = json.loads(raw)
                for pipeline in page["items"][:5]:
                    bodies.append(other.raw(f"/pipeline/{pipeline['id']}/workflow"))
                    for wf in json.loads(bodies[-1])["items"]:
                        bodies.append(other.raw(f"/workflow/{wf['id']}/job"))
                token = page["next_page_token"]
            bodies.append(other.raw(f"/insights/{SLUG}/workflows/build-test?all-branches=true"))
            other.close()
            return bodies

    first, second = crawl(), crawl()
    assert first == second and len(first) > 20


class _RawClient:
    def __init__(self, base_url: str) -> None:
        import http.client

        parts = urllib.parse.urlsplit(base_url)
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def raw(self, path: str) -> bytes:
        self.conn.request("GET", self.prefix + path, headers={"Circle-Token": "t"})
        response = self.conn.getresponse()
        body = response.read()
        assert response.status == 200, (path, body)
        return body

    def close(self) -> None:
        self.conn.close()


def _deep_size(value) -> int:
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_deep_size(k) + _deep_size(v) for k, v in value.items())
    elif isinstance(value, list):
        size += sum(_deep_size(v) for v in value)
    return size


def test_serving_streams_in_bounded_memory():
    """Crawl every pipeline page, every workflow listing and every job listing of a larger org
    through the emulator (in process, no sockets) and compare tracemalloc's peak with what
    holding the served records would take (deep size of every 8th body, scaled up)."""
    from sandbox import generate_organisation

    tracemalloc.start()
    try:
        org = generate_organisation(
            dt.date(2026, 11, 29), projects=6, days=60, pipelines_per_weekday=24
        )
        api = CircleCIEmulator(org, page_size=100)
        headers = {"circle-token": api.token}

        def get(path: str) -> dict:
            _, response, _ = api.handle("GET", "/api/v2" + path, headers)
            assert response.status == 200, (path, response.body)
            return response.body

        workflows, sampled, held = 0, 0, 0
        for project in org.projects:
            token = None
            while True:
                page = get(
                    f"/project/{project.slug}/pipeline" + (f"?page-token={token}" if token else "")
                )
                bodies = [page["items"]]
                for pipeline in page["items"]:
                    listing = get(f"/pipeline/{pipeline['id']}/workflow")["items"]
                    bodies.append(listing)
                    for wf in listing:
                        bodies.append(get(f"/workflow/{wf['id']}/job")["items"])
                        workflows += 1
                for body in bodies:
                    sampled += 1
                    if sampled % 8 == 0:
                        held += 8 * _deep_size(body)
                token = page["next_page_token"]
                if token is None:
                    break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert workflows > 6000
    print(f"{workflows} workflows: peak {peak / 1e6:.1f} MB, all records ~{held / 1e6:.1f} MB")
    assert peak < 0.25 * held
