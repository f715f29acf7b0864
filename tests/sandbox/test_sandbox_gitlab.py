"""The GitLab part of the simulated organisation and its REST API v4 emulator.

Bodies are checked key for key against the official examples in ``shared/api-samples/gitlab``
(there is no schema file for GitLab), recursively for nested objects.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import os
import urllib.parse
from collections import defaultdict
from pathlib import Path

import pytest

from sandbox.gitlab_emulator import GitLabEmulator
from sandbox.gitlab_org import GitLabOrganisation

AS_OF = dt.date(2026, 11, 29)
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "api-samples" / "gitlab"

PIPELINE_STATUSES = {
    "created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed",
    "canceled", "canceling", "skipped", "manual", "scheduled",
}  # fmt: skip
JOB_STATUSES = PIPELINE_STATUSES | {"waiting_for_callback"}
DEPLOYMENT_STATUSES = {"created", "running", "success", "failed", "canceled", "blocked", "skipped"}
TEST_STATUSES = {"success", "failed", "skipped", "error"}
# Keys GitLab sends only sometimes: failure_reason on failed jobs, artifacts_file with an archive.
OPTIONAL_KEYS = {"failure_reason", "artifacts_file"}


@pytest.fixture(scope="module")
def org():
    return GitLabOrganisation(AS_OF)


@pytest.fixture(scope="module")
def api(org):
    with GitLabEmulator(org) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def samples():
    if not SAMPLES.exists():
        if os.environ.get("INSIGHTS_REQUIRE_SHARED") == "1":
            pytest.fail(f"GitLab samples not found at {SAMPLES}")
        pytest.skip(f"GitLab samples not found at {SAMPLES}")
    return {path.stem: json.loads(path.read_text()) for path in SAMPLES.glob("*.json")}


class Client:
    """Keep-alive stdlib client: (status, lower-cased headers, raw body)."""

    def __init__(self, api: GitLabEmulator) -> None:
        parts = urllib.parse.urlsplit(api.base_url)
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.token = api.token

    def raw(self, path: str, params: dict | None = None, headers: dict | None = None):
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        send = {"PRIVATE-TOKEN": self.token} if headers is None else headers
        self.conn.request("GET", self.prefix + path + query, headers=send)
        response = self.conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def get(self, path: str, params: dict | None = None):
        status, headers, body = self.raw(path, params)
        assert status == 200, (path, params, status, body)
        return json.loads(body), headers

    def get_all(self, path: str, params: dict | None = None) -> list:
        params = dict(params or {})
        items, page = [], "1"
        while page:
            body, headers = self.get(path, dict(params, page=page))
            items.extend(body)
            page = headers["x-next-page"]
        return items


@pytest.fixture()
def client(api):
    c = Client(api)
    yield c
    c.conn.close()


@pytest.fixture(scope="module")
def project(org):
    return org.projects[0]


def _key_mismatches(sample, actual, path="$") -> list[str]:
    """Differences in key sets between a sample body and ours, recursively."""
    if isinstance(sample, dict) and isinstance(actual, dict):
        problems = []
        missing = set(sample) - set(actual) - OPTIONAL_KEYS
        extra = set(actual) - set(sample) - OPTIONAL_KEYS
        if missing or extra:
            problems.append(f"{path}: missing {sorted(missing)}, extra {sorted(extra)}")
        for key in set(sample) & set(actual):
            problems += _key_mismatches(sample[key], actual[key], f"{path}.{key}")
        return problems
    if isinstance(sample, list) and isinstance(actual, list) and sample:
        merged = sample[0]
        if isinstance(merged, dict):
            merged = {k: v for item in sample for k, v in item.items()}
        return [p for item in actual for p in _key_mismatches(merged, item, f"{path}[]")]
    return []


def _pick_pipeline(org, project, predicate):
    return next(p for p in org.pipelines() if p["project_id"] == project.id and predicate(p))


# -- determinism --------------------------------------------------------------------------------


def test_generation_is_deterministic():
    org = GitLabOrganisation(AS_OF, days=30, deploy_days=60)
    again = GitLabOrganisation(AS_OF, days=30, deploy_days=60)
    for table in ("pipelines", "jobs", "deployments", "environments", "commits"):
        first = json.dumps(list(getattr(org, table)()), default=str)
        assert first == json.dumps(list(getattr(again, table)()), default=str), table
    tests = [row for _, row in zip(range(3000), org.test_cases(), strict=False)]
    tests_again = [row for _, row in zip(range(3000), again.test_cases(), strict=False)]
    assert tests == tests_again
    other = GitLabOrganisation(AS_OF, seed=1, days=30, deploy_days=60)
    assert [p["sha"] for p in other.pipelines()] != [p["sha"] for p in org.pipelines()]


def test_served_pages_are_byte_identical(api, project):
    with GitLabEmulator(GitLabOrganisation(AS_OF)) as other:
        a, b = Client(api), Client(other)
        pipeline = a.get(f"/projects/{project.id}/pipelines", {"per_page": 5})[0][2]["id"]
        for path, params in (
            (f"/projects/{project.id}/pipelines", {"per_page": 50, "page": 3}),
            (f"/projects/{project.id}/pipelines/{pipeline}", None),
            (f"/projects/{project.id}/pipelines/{pipeline}/jobs", {"include_retried": "true"}),
            (f"/projects/{project.id}/pipelines/{pipeline}/test_report", None),
            (f"/projects/{project.id}/deployments", {"per_page": 100, "page": 2}),
            (f"/projects/{project.id}/environments/{7001}", None),
        ):
            assert a.raw(path, params)[2] == b.raw(path, params)[2], path
        a.conn.close()
        b.conn.close()


# -- shapes -------------------------------------------------------------------------------------


def test_bodies_have_exactly_the_sample_keys(client, samples, org, project):
    base = f"/projects/{project.id}"
    failed = _pick_pipeline(org, project, lambda p: p["status"] == "failed")
    deploying = next(
        d
        for d in org.deployments()
        if d["project_id"] == project.id
        and d["status"] == "success"
        and d["created_at"].date() >= org.ci_first_day
    )
    pipelines, _ = client.get(f"{base}/pipelines", {"per_page": 100})
    assert not _key_mismatches(samples["list-project-pipelines"], pipelines)
    for pipeline_id in (failed["pipeline_id"], deploying["pipeline_id"]):
        pipeline, _ = client.get(f"{base}/pipelines/{pipeline_id}")
        assert not _key_mismatches(samples["get-pipeline"], pipeline)
        jobs, _ = client.get(f"{base}/pipelines/{pipeline_id}/jobs", {"include_retried": "true"})
        assert jobs and not _key_mismatches(samples["list-pipeline-jobs"], jobs)
        assert {job["status"] for job in jobs} <= JOB_STATUSES
        summary, _ = client.get(f"{base}/pipelines/{pipeline_id}/test_report_summary")
        assert not _key_mismatches(samples["get-pipeline-test-report-summary"], summary)
    assert any("failure_reason" in job for job in client.get(
        f"{base}/pipelines/{failed['pipeline_id']}/jobs")[0])  # fmt: skip
    deployments, _ = client.get(f"{base}/deployments", {"per_page": 100, "sort": "desc"})
    assert not _key_mismatches(samples["list-project-deployments"], deployments)
    runner_sample = samples["list-pipeline-jobs"][0]["runner"]
    for deployment in deployments:
        if deployment["deployable"]["runner"] is not None:
            assert set(deployment["deployable"]["runner"]) == set(runner_sample)
    environments, _ = client.get(f"{base}/environments")
    assert not _key_mismatches(samples["list-project-environments"], environments)
    environment, _ = client.get(f"{base}/environments/{environments[1]['id']}")
    assert not _key_mismatches(samples["get-environment"], environment)
    assert environment["last_deployment"]["status"] == "success"


def test_full_test_report_shape(client, org, project):
    pipeline = _pick_pipeline(org, project, lambda p: p["status"] == "success")
    report, _ = client.get(
        f"/projects/{project.id}/pipelines/{pipeline['pipeline_id']}/test_report"
    )
    assert set(report) == {
        "total_time", "total_count", "success_count", "failed_count", "skipped_count",
        "error_count", "test_suites",
    }  # fmt: skip
    suite = report["test_suites"][0]
    assert set(suite) == {
        "name", "total_time", "total_count", "success_count", "failed_count", "skipped_count",
        "error_count", "test_cases",
    }  # fmt: skip
    for case in suite["test_cases"]:
        assert set(case) == {
            "status", "name", "classname", "file", "execution_time", "system_output",
            "stack_trace",
        }  # fmt: skip
        assert case["status"] in TEST_STATUSES
    assert report["total_count"] == sum(s["total_count"] for s in report["test_suites"])


def test_enum_values_in_ground_truth(org):
    pipelines = list(org.pipelines())
    assert {p["status"] for p in pipelines} <= PIPELINE_STATUSES
    assert {"success", "failed", "canceled", "skipped", "manual", "running"} <= {
        p["status"] for p in pipelines
    }
    assert {"push", "schedule", "web"} <= {p["source"] for p in pipelines}
    assert any(p["tag"] for p in pipelines) and any(p["name"] for p in pipelines)
    deployments = list(org.deployments())
    statuses = {d["status"] for d in deployments}
    assert statuses <= DEPLOYMENT_STATUSES
    assert {"success", "failed", "canceled", "blocked", "skipped", "running"} <= statuses
    assert {t["status"] for t in org.test_cases()} == TEST_STATUSES


# -- pagination ---------------------------------------------------------------------------------


@pytest.mark.parametrize("per_page", [7, 20, 100])
def test_pagination_returns_every_pipeline_once(client, org, project, per_page):
    expected = sorted(
        (p["pipeline_id"] for p in org.pipelines() if p["project_id"] == project.id), reverse=True
    )
    items = client.get_all(f"/projects/{project.id}/pipelines", {"per_page": per_page})
    assert [item["id"] for item in items] == expected
    assert all(set(item) == set(items[0]) for item in items)


def test_pagination_with_updated_after(client, org, project):
    cutoff = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    expected = {
        p["pipeline_id"]
        for p in org.pipelines()
        if p["project_id"] == project.id and p["updated_at"] > cutoff
    }
    items = client.get_all(
        f"/projects/{project.id}/pipelines",
        {"updated_after": "2026-11-01T00:00:00Z", "per_page": 9, "order_by": "updated_at",
         "sort": "asc"},
    )  # fmt: skip
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert [item["updated_at"] for item in items] == sorted(item["updated_at"] for item in items)


def test_pagination_headers_and_link(client, project, api):
    path = f"/projects/{project.path_with_namespace}"
    encoded = "/projects/" + urllib.parse.quote(project.path_with_namespace, safe="")
    _, first = client.get(encoded + "/pipelines", {"per_page": 50, "ref": project.default_branch})
    total, pages = int(first["x-total"]), int(first["x-total-pages"])
    assert pages == -(-total // 50) and first["x-prev-page"] == "" and first["x-next-page"] == "2"
    rels = _links(first["link"])
    assert set(rels) == {"next", "first", "last"}
    assert urllib.parse.urlsplit(rels["next"]).path.endswith(path + "/pipelines") or (
        encoded in rels["next"]
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(rels["last"]).query))
    assert query["page"] == str(pages) and query["per_page"] == "50"
    assert query["ref"] == project.default_branch
    body, last = client.get(encoded + "/pipelines", {"per_page": 50, "page": pages,
                                                     "ref": project.default_branch})  # fmt: skip
    assert last["x-next-page"] == "" and last["x-prev-page"] == str(pages - 1)
    assert len(body) == total - 50 * (pages - 1)
    assert set(_links(last["link"])) == {"prev", "first", "last"}
    # Follow rel=next verbatim from the first page.
    next_url = urllib.parse.urlsplit(rels["next"])
    status, headers, _ = client.raw(next_url.path[len(client.prefix) :] + "?" + next_url.query)
    assert status == 200 and headers["x-page"] == "2"
    # per_page is capped at 100.
    _, capped = client.get(encoded + "/pipelines", {"per_page": 500})
    assert capped["x-per-page"] == "100"


def _links(header: str) -> dict[str, str]:
    rels = {}
    for part in header.split(", <"):
        url, rel = part.strip().lstrip("<").split(">; rel=")
        rels[rel.strip('"')] = url
    return rels


# -- jobs, tests, time travel -------------------------------------------------------------------


def test_include_retried_shows_retried_jobs(client, org, project):
    retried = next(j for j in org.jobs() if j["retried"] and j["project_id"] == project.id)
    path = f"/projects/{project.id}/pipelines/{retried['pipeline_id']}/jobs"
    latest, _ = client.get(path)
    everything, _ = client.get(path, {"include_retried": "true"})
    assert retried["job_id"] not in {job["id"] for job in latest}
    same_name = [job for job in everything if job["name"] == retried["name"]]
    assert len(same_name) == 2 and retried["job_id"] in {job["id"] for job in same_name}
    newest, oldest = same_name  # ids descending
    assert newest["id"] > oldest["id"] and oldest["id"] == retried["job_id"]
    assert len(everything) == len(latest) + 1
    assert [job["id"] for job in everything] == sorted((job["id"] for job in everything),
                                                       reverse=True)  # fmt: skip


def test_test_report_contains_a_flaky_test(client, org, project):
    results = defaultdict(dict)
    for case in org.test_cases():
        if case["project_id"] == project.id and case["status"] in ("success", "failed"):
            key = (case["sha"], case["classname"], case["name"], case["file"])
            results[key][case["status"]] = case["pipeline_id"]
    flaky = next(ids for ids in results.values() if len(ids) == 2)
    seen = {}
    for status, pipeline_id in flaky.items():
        report, _ = client.get(f"/projects/{project.id}/pipelines/{pipeline_id}/test_report")
        pipeline, _ = client.get(f"/projects/{project.id}/pipelines/{pipeline_id}")
        cases = [c for s in report["test_suites"] for c in s["test_cases"]]
        seen[status] = (pipeline["sha"], {(c["name"], c["status"]) for c in cases})
    assert seen["success"][0] == seen["failed"][0]
    failed_names = {name for name, status in seen["failed"][1] if status == "failed"}
    passed_names = {name for name, status in seen["success"][1] if status == "success"}
    assert failed_names & passed_names


def test_time_travel_shows_a_pipeline_running_then_finished(api, client, org, project):
    pipeline = _pick_pipeline(
        org, project, lambda p: p["status"] == "success" and p["created_at"].date() < AS_OF
    )
    path = f"/projects/{project.id}/pipelines/{pipeline['pipeline_id']}"
    try:
        api.at = pipeline["started_at"] + dt.timedelta(seconds=1)
        running, _ = client.get(path)
        assert running["status"] == "running" and running["finished_at"] is None
        assert running["duration"] is None and running["started_at"] is not None
        api.at = pipeline["created_at"] - dt.timedelta(seconds=1)
        assert client.raw(path)[0] == 404
        listed, _ = client.get(f"/projects/{project.id}/pipelines", {"per_page": 100})
        assert all(item["created_at"] < listed[0]["created_at"] or item is listed[0]
                   for item in listed)  # fmt: skip
        assert pipeline["pipeline_id"] not in {item["id"] for item in listed}
    finally:
        api.at = None
    finished, _ = client.get(path)
    assert finished["status"] == "success" and finished["finished_at"] is not None
    assert finished["updated_at"] > running["updated_at"]


def test_updated_after_picks_up_a_status_change(api, client, org, project):
    pipeline = _pick_pipeline(
        org, project, lambda p: p["status"] == "success" and p["created_at"].date() < AS_OF
    )
    first_load = pipeline["started_at"] + dt.timedelta(seconds=1)
    try:
        api.at = first_load
        before = {item["id"]: item for item in client.get_all(
            f"/projects/{project.id}/pipelines", {"per_page": 100})}  # fmt: skip
        assert before[pipeline["pipeline_id"]]["status"] == "running"
        watermark = max(item["updated_at"] for item in before.values())
        api.at = None
        changed = client.get_all(
            f"/projects/{project.id}/pipelines", {"updated_after": watermark, "per_page": 100}
        )
    finally:
        api.at = None
    now = {item["id"]: item for item in changed}
    assert now[pipeline["pipeline_id"]]["status"] == "success"


def test_in_progress_work_at_the_end(org):
    assert any(p["status"] == "running" and p["finished_at"] is None for p in org.pipelines())
    assert any(d["status"] == "running" for d in org.deployments())


# -- auth and faults ----------------------------------------------------------------------------


def test_auth(client, project, api):
    path = f"/projects/{project.id}"
    for headers in ({}, {"PRIVATE-TOKEN": "wrong"}, {"Authorization": "Bearer wrong"}):
        status, _, body = client.raw(path, headers=headers)
        assert status == 401 and json.loads(body) == {"message": "401 Unauthorized"}
    status, _, body = client.raw(path, headers={"Authorization": f"Bearer {api.token}"})
    assert status == 200 and json.loads(body)["default_branch"] == project.default_branch
    status, _, body = client.raw("/projects/999")
    assert status == 404 and json.loads(body) == {"message": "404 Project Not Found"}


def test_rate_limit_headers(client, project, api):
    api.inject_rate_limit(1, retry_after=17, path_contains="/pipelines")
    status, headers, body = client.raw(f"/projects/{project.id}/pipelines")
    assert status == 429 and headers["retry-after"] == "17"
    # GitLab's throttle answers in plain text, not JSON.
    assert (body, headers["content-type"]) == (b"Retry later", "text/plain; charset=utf-8")
    for name in ("limit", "name", "observed", "remaining", "reset", "resettime"):
        assert f"ratelimit-{name}" in headers
    assert headers["ratelimit-remaining"] == "0"
    assert client.raw(f"/projects/{project.id}/pipelines")[0] == 200
    assert api.request_log[("GET /projects/:id/pipelines", 429)] >= 1


# -- deployments --------------------------------------------------------------------------------


def test_compare_returns_commits_between_deployed_shas(client, org, project):
    production = [
        d for d in org.deployments()
        if d["project_id"] == project.id and d["environment"] == "production"
        and d["status"] == "success"
    ]  # fmt: skip
    previous, current = next(
        (a, b) for a, b in itertools.pairwise(production) if a["sha"] != b["sha"]
    )
    body, _ = client.get(
        f"/projects/{project.id}/repository/compare",
        {"from": previous["sha"], "to": current["sha"]},
    )
    ids = [commit["id"] for commit in body["commits"]]
    assert ids and ids[-1] == current["sha"] and previous["sha"] not in ids
    assert body["commit"]["id"] == current["sha"] and body["compare_same_ref"] is False
    truth = {c["sha"]: c for c in org.commits() if c["project_id"] == project.id}
    assert set(ids) <= set(truth)

    def ancestors(sha):  # independent walk over the ground-truth commits table
        seen, stack = set(), [sha]
        while stack:
            node = stack.pop()
            if node in truth and node not in seen:
                seen.add(node)
                stack.extend(truth[node]["parents"])
        return seen

    assert set(ids) == ancestors(current["sha"]) - ancestors(previous["sha"])
    assert len(ids) == len(set(ids))


def test_production_environment_tier(client, project):
    environments, _ = client.get(f"/projects/{project.id}/environments")
    tiers = {env["name"]: env["tier"] for env in environments}
    assert tiers["production"] == "production" and tiers["staging"] == "staging"
    production, _ = client.get(f"/projects/{project.id}/deployments",
                               {"environment": "production", "per_page": 100})  # fmt: skip
    assert production and {d["environment"]["name"] for d in production} == {"production"}


def test_deployments_filters_and_order(client, org, project):
    path = f"/projects/{project.id}/deployments"
    items = client.get_all(path, {"per_page": 100})
    truth = [d for d in org.deployments() if d["project_id"] == project.id]
    assert [d["id"] for d in items] == sorted(d["deployment_id"] for d in truth)
    assert {d["status"] for d in items} <= DEPLOYMENT_STATUSES
    failed = client.get_all(path, {"status": "failed", "per_page": 100})
    assert failed and {d["status"] for d in failed} == {"failed"}
    recent = client.get_all(path, {"updated_after": "2026-11-20T00:00:00Z",
                                   "order_by": "updated_at", "per_page": 100})  # fmt: skip
    assert recent and all(d["updated_at"] > "2026-11-20T00:00:00" for d in recent)
    for deployment in items[:50]:
        job = deployment["deployable"]
        assert job["pipeline"]["sha"] == deployment["sha"] == job["commit"]["id"]
