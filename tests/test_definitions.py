"""The Dagster code location: one connected graph, checks, freshness, schedule and alerting."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest

from ingestion.settings import PROJECT_ROOT
from orchestration.definitions import (
    daily_refresh,
    defs,
    failure_message,
    post_alert,
    refresh_selection,
)
from orchestration.transform_assets import dbt_build_args

from pipeline_support import environment

# raw table -> the staging model that reads it
RAW_TABLES = {
    "projects": "stg_circleci__projects",
    "pipelines": "stg_circleci__pipelines",
    "workflows": "stg_circleci__workflows",
    "jobs": "stg_circleci__jobs",
    "job_details": "stg_circleci__job_details",
    "job_tests": "stg_circleci__test_results",
    "insights_workflow_runs": "stg_circleci__insights_workflow_runs",
}
UNCONFIGURED = {
    "SOURCES__CIRCLECI__API_TOKEN": "",
    "SOURCES__CIRCLECI__PROJECT_SLUGS": "",
}


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


def test_lineage_runs_from_the_api_tables_to_the_marts() -> None:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {key("raw_circleci", table) for table in RAW_TABLES} <= keys
    # Every dbt source is a dlt asset, not a dangling external key.
    for table, staging in RAW_TABLES.items():
        assert graph.get(key("staging", staging)).parent_keys == {key("raw_circleci", table)}
    assert graph.get(key("intermediate", "int_circleci__workflow_runs")).parent_keys == {
        key("staging", "stg_circleci__workflows"),
        key("staging", "stg_circleci__pipelines"),
        key("staging", "stg_circleci__projects"),
        key("intermediate", "int_circleci__job_runs"),
        key("staging", "stg_circleci__insights_workflow_runs"),
    }
    # The facts stack one intermediate model per provider.
    assert graph.get(key("marts", "fct_ci_workflow_runs")).parent_keys == {
        key("intermediate", f"int_{provider}__workflow_runs")
        for provider in ("circleci", "github", "gitlab")
    }
    assert {key("raw_github", "workflow_runs"), key("raw_gitlab", "pipelines")} <= keys
    assert graph.get(key("marts", "ci_workflow_summary")).parent_keys == {
        key("marts", "fct_ci_workflow_runs"),
        key("intermediate", "int_ci_workflow_recoveries"),
    }
    assert graph.get(key("marts", "ci_workflow_daily")).parent_keys == {
        key("marts", "fct_ci_workflow_runs")
    }


def test_dbt_tests_are_asset_checks_and_assets_carry_freshness_and_the_warehouse_pool() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(check.asset_key, check.name) for check in graph.asset_check_keys}
    assert (
        key("marts", "ci_workflow_summary"),
        "unique_combination_ci_workflow_summary_provider__project_slug__workflow_name__branch__reporting_window",
    ) in checks
    assert (
        sum(1 for asset_key, _ in checks if asset_key == key("marts", "ci_workflow_summary")) >= 10
    )
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    for asset_key in (key("raw_circleci", "workflows"), key("marts", "ci_workflow_summary")):
        assert specs[asset_key].freshness_policy is not None
    assert specs[key("raw_circleci", "pipelines")].group_name == "ingestion"
    assert specs[key("marts", "ci_workflow_daily")].group_name == "marts"
    pools = {node.pool for node in defs.resolve_job_def("refresh_warehouse").graph.node_defs}
    assert pools == {"warehouse"}


def test_daily_schedule_loads_only_configured_sources() -> None:
    assert daily_refresh.cron_schedule == "0 5 * * *"
    assert daily_refresh.default_status == dg.DefaultScheduleStatus.RUNNING
    models = set(defs.resolve_assets_def(key("marts", "ci_workflow_summary")).keys)
    with environment(**UNCONFIGURED):
        request = daily_refresh(dg.build_schedule_context())
    assert set(request.asset_selection) == models
    with environment(SOURCES__CIRCLECI__API_TOKEN="t", SOURCES__CIRCLECI__PROJECT_SLUGS="gh/a/b"):
        request = daily_refresh(dg.build_schedule_context())
    assert set(request.asset_selection) == models | {
        key("raw_circleci", table) for table in RAW_TABLES
    }
    assert refresh_selection([]) == sorted(models, key=lambda k: k.path)


def test_export_and_report_are_assets_downstream_of_the_marts_with_their_own_jobs() -> None:
    graph = defs.resolve_asset_graph()
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert {key("marts", "fct_deployments"), key("marts", "dora_summary")} <= marts
    assert graph.get(key("marts_export")).parent_keys == marts
    assert graph.get(key("html_report")).parent_keys == {
        key("marts", name)
        for name in ("ci_workflow_summary", "ci_workflow_daily", "ci_flaky_tests", "dora_summary")
    }
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert {specs[key("marts_export")].group_name, specs[key("html_report")].group_name} == {
        "outputs"
    }
    jobs = {
        name: {node.name for node in defs.resolve_job_def(name).graph.node_defs}
        for name in ("refresh_warehouse", "export_marts", "build_report")
    }
    assert jobs["export_marts"] == {"marts_export"}
    assert jobs["build_report"] == {"html_report"}
    # The refresh builds the warehouse only; writing files is asked for explicitly.
    assert not {"marts_export", "html_report"} & jobs["refresh_warehouse"]
    assert "warehouse_models" in jobs["refresh_warehouse"]
    pools = {
        node.pool
        for name in ("export_marts", "build_report")
        for node in defs.resolve_job_def(name).graph.node_defs
    }
    assert pools == {"warehouse"}


def test_dbt_build_passes_the_report_date() -> None:
    assert dbt_build_args("2026-03-15") == ["build", "--vars", '{"as_of": "2026-03-15"}']


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Recorder.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_failure_alert_reaches_the_webhook() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        text = failure_message("refresh_warehouse", "abc123", "dbt build failed\nTraceback ...")
        post_alert(f"http://127.0.0.1:{server.server_port}/hook", text)
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.received == [
        {
            "text": "Delivery Insights: run abc123 of job `refresh_warehouse` failed: dbt build failed"
        }
    ]


def test_failure_alert_to_an_unreachable_webhook_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    post_alert("http://127.0.0.1:9/unreachable", "text")
    assert "could not deliver the failure alert" in caplog.text


def test_run_failure_sensor_is_on_by_default() -> None:
    sensor = defs.resolve_sensor_def("alert_on_run_failure")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_workspace_yaml_loads_the_code_location() -> None:
    dagster = Path(sys.executable).parent / "dagster"
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "delivery_insights" in completed.stdout + completed.stderr


def test_every_mart_column_is_typed_and_described() -> None:
    """The marts are the public interface: each column carries a contract type and a description
    (the manifest is current: importing the definitions parses when it is stale)."""
    from orchestration.transform_assets import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    marts = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    ]
    assert len(marts) >= 15
    gaps = [
        f"{node['name']}.{name}"
        for node in marts
        for name, column in node["columns"].items()
        if not column.get("description") or not column.get("data_type")
    ]
    assert gaps == []
    assert all(node["config"]["contract"]["enforced"] for node in marts)
