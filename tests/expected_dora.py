"""The DORA aggregates of specs/metrics.md §4 and §6 computed in plain Python from per-deployment
records, independently of the SQL, so the end-to-end test compares two implementations.

Input rows are dicts with the fct_deployments columns the aggregates read (project, environment,
tenant, channel, completed_at, is_successful, is_failure, lead_time_seconds,
time_to_recovery_seconds) and, for change lead time, dicts with the fct_deployment_changes
columns (project, environment, tenant, channel, deployed_at, change_lead_time_seconds).
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable

SCOPE = ("project", "environment", "tenant", "channel")
SUMMARY_WINDOWS = {"30d": 30, "90d": 90, "365d": 365}
TIER_ORDER = ["elite", "high", "medium", "low"]
DAY = 86_400.0


def cube_keys(row: dict) -> Iterable[tuple[str, ...]]:
    """The row's scope and every roll-up of it ('*' for any subset of the four columns)."""
    values = [row[column] for column in SCOPE]
    for mask in itertools.product((False, True), repeat=len(SCOPE)):
        yield tuple("*" if rolled else value for value, rolled in zip(values, mask, strict=True))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def measures(deployments: list[dict], changes: list[dict], days: float) -> dict:
    """The shared measures of dora_metrics and dora_summary over one group of rows."""
    successes = [row for row in deployments if row["is_successful"]]
    failures = [row for row in deployments if row["is_failure"]]
    lead_times = [row["lead_time_seconds"] for row in successes if row["lead_time_seconds"] is not None]
    change_lead_times = [
        row["change_lead_time_seconds"]
        for row in changes
        if row["change_lead_time_seconds"] is not None
    ]
    recoveries = [
        row["time_to_recovery_seconds"]
        for row in deployments
        if row["time_to_recovery_seconds"] is not None
    ]
    completed = len(successes) + len(failures)
    return {
        "successful_deployments": len(successes),
        "failed_deployments": len(failures),
        "deployments_per_day": len(successes) / days,
        "deployment_days": len({row["completed_at"].date() for row in successes}),
        "failure_rate": len(failures) / completed if completed else None,
        "lead_time_median_seconds": _median(lead_times),
        "lead_time_sample_size": len(lead_times),
        "change_lead_time_median_seconds": _median(change_lead_times),
        "change_lead_time_sample_size": len(change_lead_times),
        "time_to_recovery_median_seconds": _median(recoveries),
        "time_to_recovery_mean_seconds": statistics.fmean(recoveries) if recoveries else None,
        "recoveries": len(recoveries),
    }


def _between(rows: Iterable[dict], column: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
    return [row for row in rows if row[column] is not None and start <= row[column] < end]


def _grouped(rows: Iterable[dict]) -> dict[tuple[str, ...], list[dict]]:
    groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for row in rows:
        for key in cube_keys(row):
            groups[key].append(row)
    return groups


def median_deployment_days_per_week(successes: list[dict], start: dt.datetime, end: dt.datetime) -> float:
    """Median of distinct deployment days per 7-day block counted back from the window's end; a
    leftover block shorter than 7 days is ignored."""
    blocks = int((end - start).days // 7)
    days_per_block = []
    for block in range(blocks):
        block_end = end - dt.timedelta(days=7 * block)
        block_rows = _between(successes, "completed_at", block_end - dt.timedelta(days=7), block_end)
        days_per_block.append(len({row["completed_at"].date() for row in block_rows}))
    return statistics.median(days_per_block)


def frequency_tier(days_per_week: float, deployment_days: int, window_days: int) -> str:
    if days_per_week >= 5:
        return "elite"
    if days_per_week >= 1:
        return "high"
    if deployment_days * 28 >= window_days:
        return "medium"
    return "low"


def lead_time_tier(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < DAY:
        return "elite"
    if seconds < 7 * DAY:
        return "high"
    if seconds < 30 * DAY:
        return "medium"
    return "low"


def failure_rate_tier(rate: float | None) -> str | None:
    if rate is None:
        return None
    if rate <= 0.05:
        return "elite"
    if rate <= 0.10:
        return "high"
    if rate <= 0.15:
        return "medium"
    return "low"


def recovery_tier(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 3600:
        return "elite"
    if seconds < DAY:
        return "high"
    if seconds < 7 * DAY:
        return "medium"
    return "low"


def trend(newer: float | None, older: float | None, enough: bool) -> str:
    """Octopus's indicator: the raw direction of the statistic between two 28-day blocks."""
    if not enough or newer is None or older is None:
        return "none"
    if older == 0:
        return "up" if newer > 0 else "steady"
    change = newer / older - 1
    if abs(change) <= 0.05:
        return "steady"
    return "up" if change > 0 else "down"
