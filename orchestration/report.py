"""`insights report`: one self-contained static HTML page over the marts.

It answers two questions: how healthy is our CI (per workflow: success rate, median and p95
duration, a 90-day sparkline of the daily median duration; flaky tests) and how well do we
deliver (DORA per project and production environment, with tiers and trends). No network: the
CSS is inline, the sparklines are inline SVG drawn here, there is no script. Every text from the
warehouse is HTML-escaped. Numbers also sit unformatted in `data-value` attributes, so the page
can be checked (or scraped) against the marts exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import duckdb

FLAKY_TESTS_SHOWN = 30
NO_VALUE = "-"  # shown for NULL
SPARKLINE_DAYS = 90
SPARKLINE_WIDTH = 180
SPARKLINE_HEIGHT = 30

TIERS = ("elite", "high", "medium", "low")
# (column prefix, label, whether "up" is good) for the four DORA metrics, in DORA's order.
DORA_METRICS = (
    ("deployment_frequency", "Deployment frequency", True),
    ("lead_time", "Lead time", False),
    ("failure_rate", "Failure rate", False),
    ("time_to_recovery", "Time to recovery", False),
)

STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --band: #f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1280px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 6px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 22px 0 6px; }
p.note { color: var(--muted); margin: 4px 0 10px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
tr.group td { background: var(--band); font-weight: 600; }
.tier { display: inline-block; min-width: 52px; text-align: center; border-radius: 9px;
        padding: 0 7px; font-size: 12px; font-weight: 600; }
.tier-elite { background: #c6f7e2; color: #014d40; }
.tier-high { background: #d4eefc; color: #0b4a6f; }
.tier-medium { background: #fff3c4; color: #7c5e10; }
.tier-low { background: #ffe3e3; color: #8a041a; }
.tier-none { background: var(--band); color: var(--muted); }
.trend { font-size: 12px; white-space: nowrap; display: block; margin-top: 1px; }
.trend.good { color: #0e7c5a; } .trend.bad { color: #b42318; } .trend.flat { color: var(--muted); }
.metric { white-space: nowrap; }
.metric .value { display: inline-block; min-width: 56px; text-align: right; margin-right: 4px; }
.metric .trend { padding-left: 60px; }
.scroll { overflow-x: auto; }
svg.spark polyline { fill: none; stroke: #2680c2; stroke-width: 1.5; }
svg.spark circle { fill: #2680c2; }
svg.spark line { stroke: var(--line); stroke-width: 1; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""


# ---------------------------------------------------------------- formatting


def _text(value: object) -> str:
    """Escaped text of any value ('' for NULL); the only way warehouse text reaches the page."""
    return "" if value is None else escape(str(value), quote=True)


def format_rate(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.1f}%"


def format_duration(value: float | None) -> str:
    """Two largest units: 3d 04h, 2h 05m, 4m 10s, 42s."""
    if value is None:
        return NO_VALUE
    seconds = round(value)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def format_number(value: float | None, digits: int = 1) -> str:
    return NO_VALUE if value is None else f"{value:.{digits}f}"


def _data_value(value: object) -> str:
    """The raw number for a data-value attribute: repr of the float (exact), '' for NULL."""
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _num_cell(field: str, value: object, shown: str) -> str:
    return (
        f'<td class="num" data-field="{field}" data-value="{_text(_data_value(value))}">'
        f"{_text(shown)}</td>"
    )


def _tier(tier: str | None) -> str:
    if tier is None:
        return '<span class="tier tier-none" data-tier="">n/a</span>'
    css = tier if tier in TIERS else "none"
    return f'<span class="tier tier-{css}" data-tier="{_text(tier)}">{_text(tier)}</span>'


def _trend(trend: str | None, up_is_good: bool) -> str:
    if trend in ("up", "down"):
        good = (trend == "up") == up_is_good
        arrow = "▲" if trend == "up" else "▼"
        css = "good" if good else "bad"
        return (
            f'<span class="trend {css}" data-trend="{_text(trend)}">{arrow} {_text(trend)}</span>'
        )
    if trend == "steady":
        return '<span class="trend flat" data-trend="steady">▶ steady</span>'
    return f'<span class="trend flat" data-trend="{_text(trend)}">no trend</span>'


# ---------------------------------------------------------------- sparkline


def sparkline(start: dt.date, points: Sequence[tuple[dt.date, float | None]], label: str) -> str:
    """An inline SVG of daily values over SPARKLINE_DAYS days from `start`, scaled from 0 to the
    maximum; days without a value are skipped (the line joins the days on either side)."""
    known = [(day, value) for day, value in points if value is not None]
    width, height, pad = SPARKLINE_WIDTH, SPARKLINE_HEIGHT, 2
    if not known:
        return '<span class="empty">no runs</span>'
    top = max(value for _, value in known) or 1.0
    span = max(SPARKLINE_DAYS - 1, 1)

    def xy(day: dt.date, value: float) -> str:
        x = pad + (day - start).days / span * (width - 2 * pad)
        y = height - pad - value / top * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    coordinates = [xy(day, value) for day, value in known]
    if len(coordinates) == 1:
        x, y = coordinates[0].split(",")
        shape = f'<circle cx="{x}" cy="{y}" r="2"/>'
    else:
        shape = f'<polyline points="{" ".join(coordinates)}"/>'
    baseline = f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}"/>'
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_text(label)}"><title>{_text(label)}</title>'
        f"{baseline}{shape}</svg>"
    )


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Workflow:
    provider: str
    project: str
    workflow: str
    runs: int
    success_rate: float | None
    success_rate_7d: float | None
    median: float | None
    p95: float | None


def report_date(connection: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The report date the marts were built for: the day before their windows' exclusive end."""
    (end,) = connection.execute(
        """
        select cast(max(window_end) as date) from (
            select window_end from marts.ci_workflow_summary
            union all select window_end from marts.dora_summary
        )
        """
    ).fetchone()
    return None if end is None else end - dt.timedelta(days=1)


def workflows(connection: duckdb.DuckDBPyConnection) -> list[Workflow]:
    rows = connection.execute(
        """
        select w90.provider, w90.project_slug, w90.workflow_name, w90.total_runs, w90.success_rate,
               w7.success_rate, w90.duration_median_seconds, w90.duration_p95_seconds
        from marts.ci_workflow_summary as w90
        left join marts.ci_workflow_summary as w7
            on w7.provider = w90.provider and w7.project_slug = w90.project_slug
            and w7.workflow_name = w90.workflow_name and w7.branch = w90.branch
            and w7.reporting_window = '7d'
        where w90.branch = '*' and w90.reporting_window = '90d'
        order by w90.provider, w90.project_slug, w90.workflow_name
        """
    ).fetchall()
    return [Workflow(*row) for row in rows]


def daily_medians(
    connection: duckdb.DuckDBPyConnection, start: dt.date
) -> dict[tuple[str, str, str], list[tuple[dt.date, float | None]]]:
    rows = connection.execute(
        """
        select provider, project_slug, workflow_name, day, duration_median_seconds
        from marts.ci_workflow_daily
        where branch = '*' and day >= ?
        order by provider, project_slug, workflow_name, day
        """,
        [start],
    ).fetchall()
    series: dict[tuple[str, str, str], list[tuple[dt.date, float | None]]] = defaultdict(list)
    for provider, project, workflow, day, median in rows:
        series[(provider, project, workflow)].append((day, median))
    return series


def flaky_tests(connection: duckdb.DuckDBPyConnection) -> tuple[int, list[tuple]]:
    (total,) = connection.execute("select count(*) from marts.ci_flaky_tests").fetchone()
    rows = connection.execute(
        f"""
        select provider, project_slug, test_key, classname, test_name, times_flaked,
               time_wasted_seconds, last_flaked_at
        from marts.ci_flaky_tests
        order by times_flaked desc, time_wasted_seconds desc nulls last, provider, project_slug,
                 test_key
        limit {FLAKY_TESTS_SHOWN}
        """
    ).fetchall()
    return total, rows


DORA_COLUMNS = (
    "project",
    "environment",
    "successful_deployments",
    "failed_deployments",
    "median_deployment_days_per_week",
    "lead_time_median_seconds",
    "failure_rate",
    "time_to_recovery_median_seconds",
    "deployment_frequency_tier",
    "lead_time_tier",
    "failure_rate_tier",
    "time_to_recovery_tier",
    "overall_tier",
    "deployment_frequency_trend",
    "lead_time_trend",
    "failure_rate_trend",
    "time_to_recovery_trend",
)


def dora_rows(connection: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """dora_summary's 90-day production lines, chosen as `insights` prints them (cli.print_dora):
    one per project and production environment, all tenants and channels together."""
    rows = connection.execute(
        f"""
        select {", ".join(DORA_COLUMNS)}
        from marts.dora_summary
        where reporting_window = '90d' and is_production
          and project <> '*' and tenant = '*' and channel = '*'
        order by project, environment
        """
    ).fetchall()
    return [dict(zip(DORA_COLUMNS, row, strict=True)) for row in rows]


# ---------------------------------------------------------------- sections


def _table(head: Iterable[tuple[str, bool]], body: list[str], empty: str) -> str:
    header = "".join(
        f'<th class="num">{label}</th>' if numeric else f"<th>{label}</th>"
        for label, numeric in head
    )
    if not body:
        return f'<p class="empty">{_text(empty)}</p>'
    return (
        f'<div class="scroll"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def ci_section(connection: duckdb.DuckDBPyConnection, as_of: dt.date | None) -> str:
    start = (as_of or dt.date.today()) - dt.timedelta(days=SPARKLINE_DAYS - 1)
    series = daily_medians(connection, start)
    body = []
    for flow in workflows(connection):
        key = (flow.provider, flow.project, flow.workflow)
        label = (
            f"{flow.project} / {flow.workflow}: median duration per day, {SPARKLINE_DAYS} days "
            f"from {start}"
        )
        body.append(
            f'<tr data-provider="{_text(flow.provider)}" data-project="{_text(flow.project)}" '
            f'data-workflow="{_text(flow.workflow)}">'
            f"<td>{_text(flow.provider)}</td><td>{_text(flow.project)}</td>"
            f"<td>{_text(flow.workflow)}</td>"
            + _num_cell("total_runs", flow.runs, str(flow.runs))
            + _num_cell("success_rate", flow.success_rate, format_rate(flow.success_rate))
            + _num_cell("success_rate_7d", flow.success_rate_7d, format_rate(flow.success_rate_7d))
            + _num_cell("duration_median_seconds", flow.median, format_duration(flow.median))
            + _num_cell("duration_p95_seconds", flow.p95, format_duration(flow.p95))
            + f"<td>{sparkline(start, series.get(key, []), label)}</td></tr>"
        )
    table = _table(
        [
            ("Provider", False),
            ("Project", False),
            ("Workflow", False),
            ("Runs (90d)", True),
            ("Success (90d)", True),
            ("Success (7d)", True),
            ("Median", True),
            ("p95", True),
            ("Daily median duration, 90 days", False),
        ],
        body,
        "No workflow runs in the warehouse.",
    )
    total, flaky = flaky_tests(connection)
    flaky_body = [
        f'<tr data-provider="{_text(provider)}" data-project="{_text(project)}" '
        f'data-test="{_text(test_key)}">'
        f"<td>{_text(provider)}</td><td>{_text(project)}</td>"
        f'<td class="code" title="{_text(test_key)}">{_text(classname)} :: {_text(test_name)}</td>'
        + _num_cell("times_flaked", times, str(times))
        + _num_cell("time_wasted_seconds", wasted, format_duration(wasted))
        + f"<td>{_text(last.strftime('%Y-%m-%d %H:%M') if last else '')}</td></tr>"
        for provider, project, test_key, classname, test_name, times, wasted, last in flaky
    ]
    shown = (
        f"{total} flaky test{'s' if total != 1 else ''}"
        + (f"; the {len(flaky)} that flaked most are listed" if total > len(flaky) else "")
        + "."
    )
    flaky_table = _table(
        [
            ("Provider", False),
            ("Project", False),
            ("Test", False),
            ("Times flaked", True),
            ("Time wasted", True),
            ("Last flaked (UTC)", False),
        ],
        flaky_body,
        "No flaky tests in the last 14 days.",
    )
    return (
        '<section id="ci"><h2>How healthy is our CI?</h2>'
        '<p class="note">Per workflow, all branches, last 90 days (success over the last 7 days '
        "beside it). Success rate = successful / (successful + failed) runs; durations are the "
        "median and 95th percentile of finished runs. The sparkline is the median duration of "
        "each day's runs, scaled from 0 to the workflow's slowest day.</p>"
        f"{table}"
        "<h3>Flaky tests</h3>"
        '<p class="note">Tests that both passed and failed on one commit in the last 14 days. '
        f"{_text(shown)}</p>{flaky_table}</section>"
    )


def _metric_cell(
    field: str, value: object, shown: str, tier: object, trend: object, up_good: bool
) -> str:
    return (
        f'<td class="metric" data-field="{field}">'
        f'<span class="value" data-value="{_text(_data_value(value))}">{_text(shown)}</span> '
        f"{_tier(tier)} {_trend(trend, up_good)}</td>"
    )


def delivery_section(connection: duckdb.DuckDBPyConnection) -> str:
    body = []
    for row in dora_rows(connection):
        frequency = row["median_deployment_days_per_week"]
        body.append(
            f'<tr data-project="{_text(row["project"])}" '
            f'data-environment="{_text(row["environment"])}">'
            f"<td>{_text(row['project'])}</td><td>{_text(row['environment'])}</td>"
            + _num_cell(
                "successful_deployments",
                row["successful_deployments"],
                str(row["successful_deployments"]),
            )
            + _metric_cell(
                "median_deployment_days_per_week",
                frequency,
                f"{format_number(frequency)} d/wk",
                row["deployment_frequency_tier"],
                row["deployment_frequency_trend"],
                True,
            )
            + _metric_cell(
                "lead_time_median_seconds",
                row["lead_time_median_seconds"],
                format_duration(row["lead_time_median_seconds"]),
                row["lead_time_tier"],
                row["lead_time_trend"],
                False,
            )
            + _metric_cell(
                "failure_rate",
                row["failure_rate"],
                format_rate(row["failure_rate"]),
                row["failure_rate_tier"],
                row["failure_rate_trend"],
                False,
            )
            + _metric_cell(
                "time_to_recovery_median_seconds",
                row["time_to_recovery_median_seconds"],
                format_duration(row["time_to_recovery_median_seconds"]),
                row["time_to_recovery_tier"],
                row["time_to_recovery_trend"],
                False,
            )
            + f'<td data-field="overall_tier">{_tier(row["overall_tier"])}</td></tr>'
        )
    table = _table(
        [
            ("Project", False),
            ("Environment", False),
            ("Successes (90d)", True),
            ("Frequency", False),
            ("Lead time", False),
            ("Failure rate", False),
            ("Recovery time", False),
            ("Overall", False),
        ],
        body,
        "No production deployments in the warehouse.",
    )
    return (
        '<section id="delivery"><h2>How well do we deliver?</h2>'
        '<p class="note">DORA over the last 90 days, per project and production environment (all '
        "tenants and channels). Successes are successful deployments; frequency is the median "
        "number of days a week with a "
        "successful deployment; lead time and time to recovery are medians; failure rate = failed "
        "/ (successful + failed). Tiers follow DORA 2023 (elite, high, medium, low); overall is "
        "the lowest. Trends compare the last 28 days with the 28 before (no trend with fewer "
        "than 10 deployments in either; steady within ±5 %); green is better, red worse.</p>"
        f"{table}</section>"
    )


def render_report(connection: duckdb.DuckDBPyConnection) -> str:
    """The whole page, from the marts of the open warehouse."""
    as_of = report_date(connection)
    dated = f"report date {as_of}" if as_of else "no report date (the marts are empty)"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Delivery Insights — {_text(dated)}</title><style>{STYLE}</style></head><body>"
        f'<header><h1>Delivery Insights</h1><p class="note">CI health and delivery, {_text(dated)}'
        " (every window ends at midnight UTC after it).</p></header>"
        f"{ci_section(connection, as_of)}{delivery_section(connection)}"
        "<footer>Built from the warehouse's marts: ci_workflow_summary, ci_workflow_daily, "
        "ci_flaky_tests and dora_summary. A static page: no scripts, no external resources."
        "</footer></body></html>\n"
    )
