"""The DORA aggregates of specs/metrics.md §4 and §6 computed in plain Python from per-deployment
records, independently of the SQL, so the end-to-end test compares two implementations.

Input rows are dicts with the fct_deployments columns the aggregates read (project, environment,
tenant, channel, is_production, completed_at, is_successful, is_failure, lead_time_seconds,
time_to_recovery_seconds) and, for change lead time, dicts with the fct_deployment_changes
columns (project, environment, tenant, channel, deployed_at, change_lead_time_seconds).

``summary()``, ``series()`` and ``ranking()`` give the rows dora_summary, dora_metrics and
dora_project_ranking should hold, keyed like the marts' grains. Completed_at values are naive
UTC datetimes; rows completed after the report date (as_of) are left out here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable
from fractions import Fraction

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
    lead_times = [
        row["lead_time_seconds"] for row in successes if row["lead_time_seconds"] is not None
    ]
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


def median_deployment_days_per_week(
    successes: list[dict], start: dt.datetime, end: dt.datetime
) -> float:
    """Median of distinct deployment days per 7-day block counted back from the window's end; a
    leftover block shorter than 7 days is ignored."""
    blocks = int((end - start).days // 7)
    days_per_block = []
    for block in range(blocks):
        block_end = end - dt.timedelta(days=7 * block)
        block_rows = _between(
            successes, "completed_at", block_end - dt.timedelta(days=7), block_end
        )
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
    # Exact arithmetic: ±5 % is inclusive, and 21 against 20 is exactly 5 % (21 / 20 - 1 is not
    # exactly 0.05 in floating point).
    change = Fraction(newer) / Fraction(older) - 1
    if abs(change) <= Fraction(5, 100):
        return "steady"
    return "up" if change > 0 else "down"


# --- the marts' rows ----------------------------------------------------------------------------

TREND_METRICS = {
    "deployment_frequency": "successful_deployments",
    "lead_time": "lead_time_median_seconds",
    "failure_rate": "failure_rate",
    "time_to_recovery": "time_to_recovery_median_seconds",
}
# (metric, dora_summary column that is its value, higher is better)
RANKED_METRICS = (
    ("deployment_frequency", "deployments_per_day", True),
    ("lead_time", "lead_time_median_seconds", False),
    ("failure_rate", "failure_rate", False),
    ("time_to_recovery", "time_to_recovery_median_seconds", False),
)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _report_end(as_of: dt.date) -> dt.datetime:
    return _midnight(as_of + dt.timedelta(days=1))


def counted(deployments: Iterable[dict], as_of: dt.date) -> list[dict]:
    """The deployments DORA counts: successful or failed, completed by the end of as_of."""
    end = _report_end(as_of)
    return [
        row
        for row in deployments
        if (row["is_successful"] or row["is_failure"])
        and row["completed_at"] is not None
        and row["completed_at"] < end
    ]


def _is_production(key: tuple[str, ...], rows: list[dict]) -> bool | None:
    """NULL on environment '*'; else whether every counted deployment went to production."""
    if key[1] == "*":
        return None
    return all(bool(row["is_production"]) for row in rows)


def summary(deployments: list[dict], changes: list[dict], as_of: dt.date) -> dict[tuple, dict]:
    """dora_summary keyed (project, environment, tenant, channel, reporting_window)."""
    deployments = counted(deployments, as_of)
    end = _report_end(as_of)
    changes = [row for row in changes if row["deployed_at"] < end]
    by_scope, changes_by_scope = _grouped(deployments), _grouped(changes)
    trend_newer = (end - dt.timedelta(days=28), end)
    trend_older = (end - dt.timedelta(days=56), end - dt.timedelta(days=28))
    out: dict[tuple, dict] = {}
    for key, rows in by_scope.items():
        year = _between(rows, "completed_at", end - dt.timedelta(days=365), end)
        if not year:
            continue  # no completed deployment in the last 365 days: no rows at all
        blocks = {}
        for name, (start, stop) in (("newer", trend_newer), ("older", trend_older)):
            block = _between(rows, "completed_at", start, stop)
            blocks[name] = (
                len(block),
                measures(block, _between(changes_by_scope[key], "deployed_at", start, stop), 28),
            )
        enough = blocks["newer"][0] >= 10 and blocks["older"][0] >= 10
        trends = {
            f"{metric}_trend": trend(
                blocks["newer"][1][statistic], blocks["older"][1][statistic], enough
            )
            for metric, statistic in TREND_METRICS.items()
        }
        for window, days in SUMMARY_WINDOWS.items():
            start = end - dt.timedelta(days=days)
            in_window = _between(rows, "completed_at", start, end)
            row = {
                "window_start": start,
                "window_end": end,
                "window_days": days,
                "is_production": _is_production(key, year),
                **measures(
                    in_window, _between(changes_by_scope[key], "deployed_at", start, end), days
                ),
            }
            row["median_deployment_days_per_week"] = median_deployment_days_per_week(
                [r for r in in_window if r["is_successful"]], start, end
            )
            tiers = {
                "deployment_frequency_tier": frequency_tier(
                    row["median_deployment_days_per_week"], row["deployment_days"], days
                ),
                "lead_time_tier": lead_time_tier(row["lead_time_median_seconds"]),
                "failure_rate_tier": failure_rate_tier(row["failure_rate"]),
                "time_to_recovery_tier": recovery_tier(row["time_to_recovery_median_seconds"]),
            }
            present = [tier for tier in tiers.values() if tier is not None]
            row.update(tiers)
            row["overall_tier"] = max(present, key=TIER_ORDER.index) if present else None
            row["tier_report_year"] = 2023
            row.update(trends)
            out[(*key, window)] = row
    return out


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_of(grain: str, moment: dt.datetime) -> tuple[dt.date, dt.date]:
    """(start, exclusive end) of the calendar period of `grain` holding `moment`."""
    day = moment.date()
    if grain == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=7)
    if grain == "month":
        start = day.replace(day=1)
        return start, _add_months(start, 1)
    if grain == "quarter":
        start = dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return start, _add_months(start, 3)
    if grain == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1)
    raise ValueError(grain)


def series(deployments: list[dict], changes: list[dict], as_of: dt.date) -> dict[tuple, dict]:
    """dora_metrics keyed (project, environment, tenant, channel, period_grain, period_start)."""
    deployments = counted(deployments, as_of)
    report_end = as_of + dt.timedelta(days=1)
    changes = [row for row in changes if row["deployed_at"] < _midnight(report_end)]
    out: dict[tuple, dict] = {}
    for grain in ("week", "month", "quarter", "year"):
        periods: dict[tuple, list[dict]] = defaultdict(list)
        period_changes: dict[tuple, list[dict]] = defaultdict(list)
        for row in deployments:
            for key in cube_keys(row):
                periods[(*key, period_of(grain, row["completed_at"]))].append(row)
        for row in changes:
            for key in cube_keys(row):
                period_changes[(*key, period_of(grain, row["deployed_at"]))].append(row)
        for (*key, (start, end)), rows in periods.items():
            days = (min(end, report_end) - start).days
            out[(*key, grain, start)] = {
                "period_end": end,
                "days_in_period": days,
                "is_production": _is_production(tuple(key), rows),
                **measures(rows, period_changes[(*key, (start, end))], days),
            }
    return out


def ranking(
    deployments: list[dict], summary_rows: dict[tuple, dict], as_of: dt.date
) -> dict[tuple, dict]:
    """dora_project_ranking keyed (reporting_window, metric, project), from the project rows of
    `summary_rows` (environment, tenant and channel '*') and the same-length windows before."""
    deployments = counted(deployments, as_of)
    end = _report_end(as_of)
    out: dict[tuple, dict] = {}
    for window, days in SUMMARY_WINDOWS.items():
        projects = {
            key[0]: row
            for key, row in summary_rows.items()
            if key[0] != "*" and key[1:4] == ("*", "*", "*") and key[4] == window
        }
        previous_start, previous_end = (
            end - dt.timedelta(days=2 * days),
            end - dt.timedelta(days=days),
        )
        previous: dict[str, dict | None] = {}
        for project in projects:
            rows = [
                row
                for row in _between(deployments, "completed_at", previous_start, previous_end)
                if row["project"] == project
            ]
            # A project with no completed deployment in the previous window has no values there.
            previous[project] = measures(rows, [], days) if rows else None
        for metric, column, higher_is_better in RANKED_METRICS:
            values = {project: row[column] for project, row in projects.items()}
            ranked = sorted(
                (project for project, value in values.items() if value is not None),
                key=lambda project: (
                    -values[project] if higher_is_better else values[project],
                    project,
                ),
            )
            worst = sorted(
                ranked,
                key=lambda project: (
                    values[project] if higher_is_better else -values[project],
                    project,
                ),
            )
            for project, value in values.items():
                before = previous[project][column] if previous[project] else None
                out[(window, metric, project)] = {
                    "value": value,
                    "rank_best": ranked.index(project) + 1 if value is not None else None,
                    "rank_worst": worst.index(project) + 1 if value is not None else None,
                    "previous_value": before,
                    "change_vs_previous_window": (
                        value / before - 1 if value is not None and before else None
                    ),
                }
    return out
