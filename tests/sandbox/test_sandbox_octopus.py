"""The simulated Octopus Deploy space and its REST API emulator (sandbox/octopus_*.py)."""

from __future__ import annotations

import collections
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

from sandbox.octopus_emulator import OctopusEmulator
from sandbox.octopus_org import OctopusOrganisation, fmt, locate, number_of

AS_OF = dt.date(2026, 11, 29)
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "api-samples" / "octopus"
SCHEMAS_PATH = SAMPLES / "_schemas.json"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")


def _shared(path: Path) -> Path:
    if not path.exists():
        # A clone without the team's shared/ folder beside it; CI sets INSIGHTS_REQUIRE_SHARED=1.
        if os.environ.get("INSIGHTS_REQUIRE_SHARED") == "1":
            pytest.fail(f"Octopus API samples not found at {path}")
        pytest.skip(f"Octopus API samples not found at {path}")
    return path


@pytest.fixture(scope="module")
def org():
    return OctopusOrganisation(AS_OF)


@pytest.fixture(scope="module")
def twin():
    """A second, independent generation with the same inputs."""
    return OctopusOrganisation(AS_OF)


@pytest.fixture(scope="module")
def api(org):
    with OctopusEmulator(org) as emulator:
        yield emulator


class Client:
    """A keep-alive stdlib client: (status, raw body, json body)."""

    def __init__(self, emulator: OctopusEmulator) -> None:
        parts = urllib.parse.urlsplit(emulator.base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        self.key = emulator.api_key

    def raw(self, path: str, *, key: str | None = "default") -> tuple[int, bytes]:
        key = self.key if key == "default" else key
        headers = {"X-Octopus-ApiKey": key} if key is not None else {}
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def get(self, path: str, **kwargs) -> tuple[int, dict]:
        status, body = self.raw(path, **kwargs)
        return status, json.loads(body)

    def ok(self, path: str) -> dict:
        status, body = self.get(path)
        assert status == 200, (path, status, body)
        return body

    def follow(self, path: str) -> list[dict]:
        """Every item of a collection, following Links["Page.Next"] to the end."""
        items: list[dict] = []
        while True:
            body = self.ok(path)
            items.extend(body["Items"])
            if "Page.Next" not in body["Links"]:
                assert body["Links"]["Page.Current"] == body["Links"]["Page.Last"]
                return items
            assert body["Items"], "a page with a next page must not be empty"
            path = body["Links"]["Page.Next"]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture()
def client(api):
    c = Client(api)
    yield c
    c.close()


# -- generation ------------------------------------------------------------------------------


def _dump(org: OctopusOrganisation) -> str:
    tables = {
        name: list(getattr(org, name)())
        for name in (
            "projects",
            "environments",
            "channels",
            "tenants",
            "releases",
            "deployments",
            "interruptions",
            "defects",
        )
    }
    return json.dumps(tables, default=str, sort_keys=True)


def test_generation_is_deterministic(org, twin):
    assert _dump(org) == _dump(twin)
    assert _dump(OctopusOrganisation(AS_OF, seed=8, deploy_days=60)) != _dump(
        OctopusOrganisation(AS_OF, seed=9, deploy_days=60)
    )


def test_history_covers_430_days_and_ids_encode_their_day(org):
    deployments = list(org.deployments())
    first = min(d["created_at"] for d in deployments).date()
    assert first == AS_OF - dt.timedelta(days=429)
    assert max(d["created_at"] for d in deployments).date() == AS_OF
    # both 365-day windows (current and previous) have production deployments
    for start in (AS_OF - dt.timedelta(days=364), AS_OF - dt.timedelta(days=729)):
        end = start + dt.timedelta(days=365)
        assert any(
            start <= d["created_at"].date() < end and "Production" in d["environment_name"]
            for d in deployments
        )
    for d in deployments[::50]:
        day, _, _ = locate(number_of(d["id"], "Deployments"))
        assert day == d["created_at"].date()
        assert org.deployment(d["id"])["task_id"] == d["task_id"]
        assert org.task(d["task_id"])["id"] == d["id"]


def test_ground_truth_has_every_state_and_scenario(org):
    deployments = list(org.deployments())
    final = collections.Counter(d["final_state"] for d in deployments)
    assert {"Success", "Failed", "TimedOut", "Canceled"} <= set(final)
    at_end = collections.Counter(d["state"] for d in deployments)
    assert {"Executing", "Queued", "Cancelling"} <= set(at_end)
    for d in deployments:
        if d["state"] in ("Executing", "Queued", "Cancelling"):
            assert d["completed_at"] is None and d["created_at"].date() == AS_OF
        else:
            assert d["completed_at"] is not None
            assert d["queued_at"] <= d["started_at"] <= d["completed_at"]
        assert (d["error_message"] == "") == (d["state"] not in ("Failed", "TimedOut", "Canceled"))
    # redeploys of a release to the same scope; tenants; channels; production EU
    scopes = collections.Counter(
        (d["release_id"], d["environment_id"], d["tenant_id"]) for d in deployments
    )
    assert max(scopes.values()) >= 2
    assert {d["tenant_id"] for d in deployments} == {None, "Tenants-1", "Tenants-2"}
    assert {d["environment_name"] for d in deployments} >= {
        "Development",
        "Staging",
        "Production",
        "Production EU",
    }
    hotfix_channels = {c["id"] for c in org.channels() if c["name"] == "Hotfix"}
    assert any(d["channel_id"] in hotfix_channels for d in deployments)
    # a failed production deployment is followed by a success in its scope
    by_scope = collections.defaultdict(list)
    for d in deployments:
        by_scope[(d["project_id"], d["environment_id"], d["tenant_id"])].append(d)
    recovered = 0
    for rows in by_scope.values():
        states = [d["final_state"] for d in sorted(rows, key=lambda d: d["created_at"])]
        recovered += sum(
            1 for i, s in enumerate(states) if s == "Failed" and "Success" in states[i + 1 : i + 6]
        )
    assert recovered >= 10
    # guided failures ending in success and in failure; defects both ways
    outcome = {d["id"]: d["final_state"] for d in deployments}
    guided = {outcome[i["deployment_id"]] for i in org.interruptions()}
    assert guided == {"Success", "Failed"}
    assert {d["status"] for d in org.defects()} == {"Resolved", "Unresolved"}


def test_releases_carry_repository_commits(org):
    releases = list(org.releases())
    versions = collections.defaultdict(set)
    for release in releases:
        assert re.fullmatch(r"\d+\.\d+\.\d+", release["version"])
        assert release["version"] not in versions[release["project_id"]]
        versions[release["project_id"]].add(release["version"])
        for commit in release["commits"]:
            assert commit["authored_at"] <= commit["committed_at"] <= release["created_at"]
    with_commits = [r for r in releases if r["commits"]]
    assert len(with_commits) > 0.8 * len(releases)
    assert all(r["commit_sha"] == r["commits"][0]["sha"] for r in with_commits)


# -- the API ---------------------------------------------------------------------------------

_PAGES = (
    "/api",
    "/api/spaces",
    "/api/Spaces-1/projects",
    "/api/Spaces-1/projectgroups",
    "/api/Spaces-1/environments",
    "/api/Spaces-1/channels",
    "/api/Spaces-1/projects/Projects-1/channels",
    "/api/Spaces-1/tenants",
    "/api/Spaces-1/lifecycles",
    "/api/Spaces-1/releases?take=5",
    "/api/Spaces-1/projects/Projects-2/releases?take=5",
    "/api/Spaces-1/deployments?take=40",
    "/api/Spaces-1/deployments?skip=40&take=40&environments=Environments-3",
    "/api/Spaces-1/tasks?name=Deploy&take=40",
    "/api/Spaces-1/interruptions?take=10",
)


def test_served_pages_are_byte_identical(api, client, twin):
    with OctopusEmulator(twin) as other:
        other_client = Client(other)
        try:
            for path in _PAGES:
                mine, theirs = client.raw(path), other_client.raw(path)
                assert mine[0] == 200 and mine == theirs, path
        finally:
            other_client.close()


def _nullable(node):
    """The Swagger schema says nothing about nulls; Octopus sends them (samples): allow null."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    if "Arguments" in node.get("properties", {}):
        # C#'s Dictionary<string, object>: any JSON value (the recordings have strings).
        node["properties"]["Arguments"]["additionalProperties"] = {}
    if "properties" in node:
        for prop in node["properties"].values():
            if isinstance(prop.get("type"), str) and prop["type"] != "array":
                prop["type"] = [prop["type"], "null"]
                if "enum" in prop:
                    prop["enum"] = [*prop["enum"], None]
    return node


@pytest.fixture(scope="module")
def validators():
    raw = json.loads(_shared(SCHEMAS_PATH).read_text())["endpoints"]
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_TIMESTAMP.match(v)))
    return {
        endpoint: jsonschema.Draft202012Validator(
            _nullable(copy.deepcopy(spec["responses"]["200"]["schema"])), format_checker=checker
        )
        for endpoint, spec in raw.items()
    }


def _sample(name: str) -> dict:
    return json.loads(_shared(SAMPLES / name).read_text())


@pytest.mark.parametrize(
    ("path", "schema", "sample"),
    [
        ("/api/Spaces-1/projects", "GET /api/{baseSpaceId}/projects", "list-projects.json"),
        (
            "/api/Spaces-1/environments",
            "GET /api/{baseSpaceId}/environments",
            "list-environments.json",
        ),
        ("/api/Spaces-1/channels", "GET /api/{baseSpaceId}/channels", "list-channels.json"),
        (
            "/api/Spaces-1/projects/Projects-1/channels",
            "GET /api/{baseSpaceId}/channels",
            "list-channels.json",
        ),
        ("/api/Spaces-1/tenants", "GET /api/{baseSpaceId}/tenants", "list-tenants.json"),
        ("/api/Spaces-1/releases?take=60", "GET /api/{baseSpaceId}/releases", "list-releases.json"),
        (
            "/api/Spaces-1/projects/Projects-1/releases?take=60",
            "GET /api/{baseSpaceId}/projects/{id}/releases",
            "list-releases.json",
        ),
        (
            "/api/Spaces-1/deployments?take=300",
            "GET /api/{baseSpaceId}/deployments",
            "list-deployments-page1.json",
        ),
        (
            "/api/Spaces-1/tasks?name=Deploy&take=300",
            "GET /api/{baseSpaceId}/tasks",
            "list-tasks.json",
        ),
    ],
)
def test_collections_match_schema_and_sample_shape(client, validators, path, schema, sample):
    body = client.ok(path)
    validators[schema].validate(body)
    expected = _sample(sample)
    assert list(body) == list(expected)
    assert body["Items"]
    for item in body["Items"]:
        assert list(item) == list(expected["Items"][0]), path
        assert list(item["Links"]) == list(expected["Items"][0]["Links"]), path


def test_single_resources_match_schema_and_sample_shape(client, validators, org):
    deployment = client.ok("/api/Spaces-1/deployments?take=1")["Items"][0]
    assert list(client.ok(deployment["Links"]["Self"])) == list(_sample("get-deployment.json"))
    for path in (deployment["Links"]["Task"], f"/api/Spaces-1/tasks/{deployment['TaskId']}"):
        task = client.ok(path)
        validators["GET /api/{baseSpaceId}/tasks/{id}"].validate(task)
        assert list(task) == list(_sample("get-task.json"))
        assert task["Arguments"] == {"DeploymentId": deployment["Id"]}
    release = client.ok(deployment["Links"]["Release"])
    assert list(release) == list(_sample("list-releases.json")["Items"][0])
    root = client.ok("/api")
    recorded = Path(__file__).resolve().parents[3] / "shared" / "real-recordings" / "octopus"
    expected_root = json.loads(
        _shared(recorded / "octopusclients_api_root_2019.7.12.json").read_text()
    )
    assert list(root)[:4] == list(expected_root)[:4]
    for name in ("Deployments", "Releases", "Environments", "Interruptions", "Projects"):
        assert root["Links"][name] == expected_root["Links"][name]
    assert "fromCompletedDate" in root["Links"]["Tasks"]


def test_paging_returns_every_deployment_once(client, org):
    items = client.follow("/api/Spaces-1/deployments?take=250")
    ids = [item["Id"] for item in items]
    assert len(ids) == len(set(ids)) == len(list(org.deployments()))
    created = [item["Created"] for item in items]
    assert created == sorted(created, reverse=True)  # newest first
    first = client.ok("/api/Spaces-1/deployments?take=250")
    assert first["NumberOfPages"] == -(-first["TotalResults"] // 250)
    last = client.ok(first["Links"]["Page.Last"])
    assert "Page.Next" not in last["Links"] and "Page.Previous" in last["Links"]
    assert last["LastPageNumber"] == first["NumberOfPages"] - 1


def test_filters(client, org):
    ground = list(org.deployments())
    body = client.follow(
        "/api/Spaces-1/deployments?take=500&projects=Projects-2&environments=Environments-3"
        "&tenants=Tenants-2"
    )
    expected = [
        d
        for d in ground
        if (d["project_id"], d["environment_id"], d["tenant_id"])
        == ("Projects-2", "Environments-3", "Tenants-2")
    ]
    assert {i["Id"] for i in body} == {d["id"] for d in expected}
    assert all(i["Name"] == "Deploy to Production for Globex" for i in body)
    for state in ("Success", "Failed", "TimedOut", "Canceled", "Executing", "Queued"):
        page = client.ok(f"/api/Spaces-1/deployments?taskState={state}&take=1")
        assert page["TotalResults"] == sum(d["state"] == state for d in ground) > 0
        task = client.ok(page["Items"][0]["Links"]["Task"])
        assert task["State"] == state
        assert (task["CompletedTime"] is None) == (state in ("Executing", "Queued"))
        assert (task["ErrorMessage"] == "") == (state not in ("Failed", "TimedOut", "Canceled"))
    since = "2026-11-01T00:00:00.000+00:00"
    tasks = client.follow(
        f"/api/Spaces-1/tasks?name=Deploy&states=Failed,TimedOut&take=100"
        f"&fromCompletedDate={urllib.parse.quote(since)}"
    )
    assert tasks and all(t["State"] in ("Failed", "TimedOut") for t in tasks)
    assert all(t["CompletedTime"] >= since for t in tasks)
    assert client.ok("/api/Spaces-1/tasks?name=Health")["TotalResults"] == 0


def test_guided_failure_on_a_successful_task(client, org):
    outcome = {d["id"]: d["final_state"] for d in org.deployments()}
    interruption = next(i for i in org.interruptions() if outcome[i["deployment_id"]] == "Success")
    body = client.ok(f"/api/Spaces-1/interruptions?regarding={interruption['deployment_id']}")
    assert body["TotalResults"] == 1
    item = body["Items"][0]
    assert item["Type"] == "GuidedFailure" and item["IsPending"] is False
    assert interruption["deployment_id"] in item["RelatedDocumentIds"]
    task = client.ok(f"/api/tasks/{item['TaskId']}")
    assert task["State"] == "Success" and task["FinishedSuccessfully"] is True
    deployment = client.ok(f"/api/Spaces-1/deployments/{interruption['deployment_id']}")
    assert deployment["FailureEncountered"] is True


def test_unresolved_defect_marks_do_not_promote(client, org):
    defect = next(d for d in org.defects() if d["status"] == "Unresolved")
    body = client.ok(f"/api/Spaces-1/releases/{defect['release_id']}/defects")
    assert [(i["Id"], i["Status"]) for i in body["Items"]] == [(defect["id"], "Unresolved")]
    release = client.ok(f"/api/Spaces-1/releases/{defect['release_id']}")
    assert release["Links"]["Defects"].endswith(f"/releases/{defect['release_id']}/defects")


def test_time_travel(api, client, org):
    deployment = next(
        d
        for d in org.deployments()
        if d["final_state"] == "Success" and d["created_at"].date() < AS_OF
    )
    path = f"/api/tasks/{deployment['task_id']}"
    try:
        api.at = deployment["started_at"] + dt.timedelta(seconds=1)
        task = client.ok(path)
        assert task["State"] == "Executing" and task["CompletedTime"] is None
        assert task["IsCompleted"] is False and task["ErrorMessage"] == ""
        listed = client.ok("/api/Spaces-1/deployments?take=1")["Items"][0]
        assert listed["Created"] <= fmt(api.at)  # nothing created after `at`
        api.at = deployment["created_at"] - dt.timedelta(seconds=1)
        assert client.get(path)[0] == 404
        assert client.get(f"/api/Spaces-1/deployments/{deployment['id']}")[0] == 404
        defect = next(d for d in org.defects() if d["resolved_at"] is not None)
        api.at = defect["created_at"] - dt.timedelta(seconds=1)
        assert client.ok(f"/api/Spaces-1/releases/{defect['release_id']}/defects")["Items"] == []
        api.at = defect["resolved_at"] - dt.timedelta(seconds=1)
        items = client.ok(f"/api/Spaces-1/releases/{defect['release_id']}/defects")["Items"]
        assert [i["Status"] for i in items] == ["Unresolved"]
    finally:
        api.at = org.end
    task = client.ok(path)
    assert task["State"] == "Success" and task["CompletedTime"] is not None
    assert task["Completed"].endswith("+00:00") and task["Duration"]


def test_auth_and_error_bodies(api, client):
    expected = {
        case["case"]: case
        for case in json.loads(_shared(SAMPLES / "_errors.json").read_text())["responses"]
    }
    for key in (None, "API-WRONG"):
        status, body = client.get("/api/Spaces-1/deployments", key=key)
        assert status == 401
        assert body == expected["unauthorized_missing_or_bad_api_key"]["body"]
    status, _ = client.get(f"/api/Spaces-1/projects?ApiKey={api.api_key}", key=None)
    assert status == 200
    status, body = client.get("/api/Spaces-1/deployments/Deployments-999")
    assert status == 404 and list(body) == list(expected["not_found"]["body"])
    assert body["ErrorMessage"] == "The resource 'Deployments-999' was not found."
    assert client.get("/api/Spaces-2/projects")[0] == 404
    status, body = client.get("/api/Spaces-1/deployments?take=-1")
    assert status == 400 and body["Errors"]
    api.inject_faults(503, 1, path_contains="/deployments")
    status, body = client.get("/api/Spaces-1/deployments")
    assert status == 503 and list(body) == list(expected["not_found"]["body"])
    assert api.request_log[("GET /api/{baseSpaceId}/deployments", 401)] >= 2
