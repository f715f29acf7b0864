"""The CI metrics of specs/metrics.md §2 computed in plain Python from the generator's ground
truth, independently of the SQL, so the end-to-end tests compare two implementations."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable

WINDOWS = {"24h": 1, "7d": 7, "30d": 30, "60d": 60, "90d": 90}

# metrics.md §1, CircleCI workflow column, restated here on purpose (not imported from dbt).
CANONICAL_WORKFLOW_STATUS = {
    "success": "success",
    "failed": "failed",
    "failing": "failed",
    "error": "failed",
    "unauthorized": "failed",
    "canceled": "cancelled",
    "not_run": "skipped",
    "running": "in_progress",
    "on_hold": "in_progress",
}


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, SQL percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def expected_runs(workflow_runs: Iterable[dict]) -> list[dict]:
    """fct_ci_workflow_runs rows: canonical status, attempt number, duration."""
    runs = [dict(run) for run in workflow_runs]
    by_pipeline_and_name: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run in runs:
        by_pipeline_and_name[(run["pipeline_id"], run["workflow_name"])].append(run)
    for attempts in by_pipeline_and_name.values():
        attempts.sort(key=lambda run: (run["created_at"], run["workflow_id"]))
        for number, run in enumerate(attempts, start=1):
            run["run_attempt"] = number
    for run in runs:
        run["canonical_status"] = CANONICAL_WORKFLOW_STATUS[run["status"]]
        run["created_at"] = naive_utc(run["created_at"])
        run["stopped_at"] = naive_utc(run["stopped_at"])
        run["duration_seconds"] = (
            (run["stopped_at"] - run["created_at"]).total_seconds() if run["stopped_at"] else None
        )
    return runs


def expected_recoveries(runs: list[dict]) -> list[dict]:
    """Per (project, workflow, branch): failure streaks ended by a success (metrics.md §2 MTTR)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        if run["canonical_status"] in ("success", "failed") and run["stopped_at"] is not None:
            groups[(run["project_slug"], run["workflow_name"], run["branch"])].append(run)
    recoveries = []
    for (project, workflow, branch), group in groups.items():
        group.sort(key=lambda run: (run["stopped_at"], run["created_at"], run["workflow_id"]))
        failed_since = None
        for run in group:
            if run["canonical_status"] == "failed" and failed_since is None:
                failed_since = run["stopped_at"]
            elif run["canonical_status"] == "success" and failed_since is not None:
                recoveries.append(
                    {
                        "project_slug": project,
                        "workflow_name": workflow,
                        "branch": branch,
                        "created_at": run["created_at"],
                        "seconds": (run["stopped_at"] - failed_since).total_seconds(),
                    }
                )
                failed_since = None
    return recoveries


def measured_durations(runs: Iterable[dict]) -> list[float]:
    """Durations count finished work only: success and failed runs with an end time."""
    return [
        run["duration_seconds"]
        for run in runs
        if run["canonical_status"] in ("success", "failed") and run["duration_seconds"] is not None
    ]


def _with_all_branches(rows: Iterable[dict]) -> Iterable[tuple[str, dict]]:
    for row in rows:
        yield row["branch"], row
        yield "*", row


def expected_summary(workflow_runs: Iterable[dict], as_of: dt.date) -> dict[tuple, dict]:
    """ci_workflow_summary keyed by (project, workflow, branch, window)."""
    runs = expected_runs(workflow_runs)
    recoveries = expected_recoveries(runs)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    summary: dict[tuple, dict] = {}
    for window, days in WINDOWS.items():
        start = end - dt.timedelta(days=days)
        grouped: dict[tuple, list[dict]] = defaultdict(list)
        for branch, run in _with_all_branches(r for r in runs if start <= r["created_at"] < end):
            grouped[(run["project_slug"], run["workflow_name"], branch)].append(run)
        recovered: dict[tuple, list[float]] = defaultdict(list)
        for branch, recovery in _with_all_branches(
            r for r in recoveries if start <= r["created_at"] < end
        ):
            recovered[(recovery["project_slug"], recovery["workflow_name"], branch)].append(
                recovery["seconds"]
            )
        for key, group in grouped.items():
            statuses = [run["canonical_status"] for run in group]
            successes, failures = statuses.count("success"), statuses.count("failed")
            first = [run["canonical_status"] for run in group if run["run_attempt"] == 1]
            first_successes, first_failures = first.count("success"), first.count("failed")
            durations = measured_durations(group)
            recovery_times = recovered.get(key, [])
            summary[(*key, window)] = {
                "window_start": start,
                "window_end": end,
                "total_runs": len(group),
                "completed_runs": sum(
                    s in ("success", "failed", "cancelled", "skipped") for s in statuses
                ),
                "successful_runs": successes,
                "failed_runs": failures,
                "cancelled_runs": statuses.count("cancelled"),
                "success_rate": successes / (successes + failures)
                if successes + failures
                else None,
                "first_attempt_success_rate": (
                    first_successes / (first_successes + first_failures)
                    if first_successes + first_failures
                    else None
                ),
                "throughput": len(group) / days,
                "mttr_seconds": statistics.fmean(recovery_times) if recovery_times else None,
                "total_recoveries": len(recovery_times),
                "duration_sample_size": len(durations),
                "duration_min_seconds": min(durations) if durations else None,
                "duration_mean_seconds": statistics.fmean(durations) if durations else None,
                "duration_median_seconds": percentile(durations, 0.5),
                "duration_p95_seconds": percentile(durations, 0.95),
                "duration_max_seconds": max(durations) if durations else None,
                "duration_stddev_seconds": statistics.stdev(durations)
                if len(durations) > 1
                else None,
            }
    return summary


def expected_daily(workflow_runs: Iterable[dict], as_of: dt.date) -> dict[tuple, dict]:
    """ci_workflow_daily keyed by (project, workflow, branch, day), days up to as_of."""
    runs = [run for run in expected_runs(workflow_runs) if run["created_at"].date() <= as_of]
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for branch, run in _with_all_branches(runs):
        grouped[
            (run["project_slug"], run["workflow_name"], branch, run["created_at"].date())
        ].append(run)
    daily = {}
    for key, group in grouped.items():
        statuses = [run["canonical_status"] for run in group]
        successes, failures = statuses.count("success"), statuses.count("failed")
        durations = measured_durations(group)
        daily[key] = {
            "total_runs": len(group),
            "successful_runs": successes,
            "failed_runs": failures,
            "success_rate": successes / (successes + failures) if successes + failures else None,
            "duration_median_seconds": percentile(durations, 0.5),
            "duration_p95_seconds": percentile(durations, 0.95),
        }
    return daily
