"""Shared fixtures for the sandbox tests: one organisation, one emulator, a keep-alive client and
strict validators built from the vendor response schemas."""

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

from sandbox import CircleCIEmulator, generate_organisation

AS_OF = dt.date(2026, 11, 29)
# shared/ sits beside the checkout (in CI too): <root>/../shared/api-samples.
SCHEMAS_PATH = (
    Path(__file__).resolve().parents[3] / "shared" / "api-samples" / "circleci" / "_schemas.json"
)

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="session")
def org():
    return generate_organisation(AS_OF)


@pytest.fixture(scope="session")
def emulator(org):
    with CircleCIEmulator(org, page_size=20) as api:
        yield api


class Client:
    """A tiny keep-alive HTTP client (stdlib only) returning (status, headers, json body)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.token = token

    def get(
        self,
        path: str,
        params: dict | None = None,
        *,
        token: str | None = "default",
        headers: dict | None = None,
    ):
        token = self.token if token == "default" else token
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        send = dict(headers or {})
        if token is not None:
            send["Circle-Token"] = token
        self.conn.request("GET", self.prefix + path + query, headers=send)
        response = self.conn.getresponse()
        body = json.loads(response.read())
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def get_ok(self, path: str, params: dict | None = None) -> dict:
        status, _, body = self.get(path, params)
        assert status == 200, (path, params, status, body)
        return body

    def get_all(self, path: str, params: dict | None = None) -> list[dict]:
        """Follow next_page_token to the end; returns every item."""
        params = dict(params or {})
        items: list[dict] = []
        while True:
            body = self.get_ok(path, params)
            items.extend(body["items"])
            if body["next_page_token"] is None:
                return items
            params["page-token"] = body["next_page_token"]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture()
def client(emulator):
    c = Client(emulator.base_url, emulator.token)
    yield c
    c.close()


def _strict(node):
    """Turn the extracted OpenAPI 3.0 / Swagger schema into a strict JSON Schema.

    * ``x-nullable: true`` (Swagger's spelling) -> null allowed (also in enums);
    * objects with ``properties`` and no ``additionalProperties`` reject unknown keys, so the
      emulator cannot drift from the vendor shape.
    """
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _strict(v) for k, v in node.items()}
    if node.get("x-nullable") and "type" in node:
        node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_TIMESTAMP.match(v)))
    checker.checks("uuid")(lambda v: not isinstance(v, str) or bool(_UUID.match(v)))
    return checker


@pytest.fixture(scope="session")
def validators():
    """endpoint template -> validator of its 200 body."""
    if not SCHEMAS_PATH.exists():
        # A clone without the team's shared/ folder beside it; CI has it and sets
        # INSIGHTS_REQUIRE_SHARED=1 so that a missing folder fails instead of skipping.
        if os.environ.get("INSIGHTS_REQUIRE_SHARED") == "1":
            pytest.fail(f"vendor schemas not found at {SCHEMAS_PATH}")
        pytest.skip(f"vendor schemas not found at {SCHEMAS_PATH}")
    raw = json.loads(SCHEMAS_PATH.read_text())["endpoints"]
    result = {}
    for endpoint, spec in raw.items():
        schema = _strict(copy.deepcopy(spec["responses"]["200"]["schema"]))
        if endpoint == "GET /workflow/{id}/job":
            # The spec calls started_at required and non-null, but CircleCI sends null for jobs
            # that have not started (api-samples README, list-workflow-jobs.json).
            schema["properties"]["items"]["items"]["properties"]["started_at"]["type"] = [
                "string",
                "null",
            ]
        result[endpoint] = jsonschema.Draft202012Validator(schema, format_checker=_format_checker())
    return result
