"""The one place the Dagster code location is assembled: `dagster dev -w workspace.yaml` loads
`defs` from here, and the `insights` CLI runs the same job in process.

Graph: provider APIs → dlt (raw_<source>/*) → dbt staging → facts → metric marts → outputs
(the file export and the HTML report, each with its own job; `refresh_warehouse` leaves them out).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Callable, Iterable

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from ingestion import SOURCES, configured_sources

from .ingestion_assets import RAW_TABLE_ASSETS, raw_asset_keys
from .output_assets import (
    OUTPUTS_GROUP,
    build_report_job,
    export_marts_job,
    html_report,
    marts_export,
)
from .transform_assets import DBT_EXECUTABLE, dbt_project, warehouse_models

log = logging.getLogger(__name__)

ALERT_WEBHOOK_VARIABLE = "INSIGHTS_ALERT_WEBHOOK"

refresh_warehouse = dg.define_asset_job(
    name="refresh_warehouse",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(OUTPUTS_GROUP),
    description="Load every configured source, then build and test every dbt model.",
    tags={"dagster/max_retries": "1"},
)


def refresh_selection(sources: Iterable[str]) -> list[dg.AssetKey]:
    """One refresh: the raw tables of `sources` (configured ones only) and every dbt model.

    Unconfigured sources are left out of the run rather than failed, and the dbt models still
    build (their staging reads an empty stand-in for a raw table that was never loaded).
    """
    return raw_asset_keys(sources) + sorted(warehouse_models.keys, key=lambda key: key.path)


def sources_to_load(requested: Iterable[str], log: Callable[[str], None]) -> list[str]:
    """The requested sources that are configured; one log line for each one that is not."""
    available = set(configured_sources())
    chosen = []
    for name in requested:
        if name in available:
            chosen.append(name)
        else:
            log(SOURCES[name].skip_message())
    return chosen


@dg.schedule(
    name="daily_refresh",
    job=refresh_warehouse,
    # Early UTC morning: yesterday is complete everywhere and CircleCI's insights feed (about a
    # day behind) has caught up on the day before.
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    sources = sources_to_load(SOURCES, context.log.info)
    return dg.RunRequest(asset_selection=refresh_selection(sources))


def post_alert(webhook_url: str, text: str) -> None:
    """POST a Slack-compatible `{"text": ...}` message; alerting must never mask the failure."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except OSError as exc:
        log.warning("could not deliver the failure alert to %s: %s", ALERT_WEBHOOK_VARIABLE, exc)


def failure_message(job_name: str, run_id: str, error: str | None) -> str:
    first_line = (
        (error or "no error message").strip().splitlines()[0] if error else "no error message"
    )
    return f"Delivery Insights: run {run_id} of job `{job_name}` failed: {first_line}"


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Logs every failed run and posts it to ${ALERT_WEBHOOK_VARIABLE} when that is set.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    error = context.failure_event.message if context.failure_event else None
    text = failure_message(context.dagster_run.job_name, context.dagster_run.run_id, error)
    context.log.error(text)
    webhook = os.environ.get(ALERT_WEBHOOK_VARIABLE)
    if webhook:
        post_alert(webhook, text)


defs = dg.Definitions(
    assets=[*RAW_TABLE_ASSETS, warehouse_models, marts_export, html_report],
    jobs=[refresh_warehouse, export_marts_job, build_report_job],
    schedules=[daily_refresh],
    sensors=[alert_on_run_failure],
    resources={
        "dlt": DagsterDltResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
)
