"""The `insights` command line."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.settings import PROJECT_ROOT
from orchestration.cli import main, print_summary
from orchestration.export import OCTOPUS_CSV_NAME, format_duration

from pipeline_support import BuiltWarehouse, environment, query


def insights(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).parent / "insights"
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SOURCES__", "INSIGHTS_"))
    }
    return subprocess.run(
        [str(executable), *args],
        cwd=PROJECT_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_run_without_any_source_configured_skips_them_and_builds_empty_marts(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "w.duckdb"
    completed = insights("run", "--as-of", "2026-03-15", env={"INSIGHTS_WAREHOUSE": str(warehouse)})
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout + completed.stderr
    assert (
        output.count(
            "CircleCI: not configured (set SOURCES__CIRCLECI__API_TOKEN and SOURCES__CIRCLECI__PROJECT_SLUGS); skipped."
        )
        == 1
    )
    assert query(warehouse, "select count(*) from marts.ci_workflow_summary") == [(0,)]
    assert "(no workflow runs in the last 90 days)" in completed.stdout


def test_run_rejects_an_unknown_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--select", "jenkins"]) == 2
    assert "unknown source(s) jenkins; known: circleci" in capsys.readouterr().err


def test_bad_report_date_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--as-of", "15/03/2026"])
    assert exit_info.value.code == 2
    assert "expected a date like 2026-11-29" in capsys.readouterr().err


def test_summary_prints_the_marts_numbers(
    built_warehouse: BuiltWarehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    print_summary(built_warehouse.path, built_warehouse.org.as_of)
    printed = capsys.readouterr().out
    # Columns are separated by two or more spaces (names such as "Nightly build" have one).
    cells = [re.split(r"\s{2,}", line.strip()) for line in printed.splitlines()]
    expected = query(
        built_warehouse.path,
        "select provider, project_slug, workflow_name, total_runs, success_rate "
        "from marts.ci_workflow_summary where branch = '*' and reporting_window = '90d'",
    )
    assert {row[0] for row in expected} == {"circleci", "github", "gitlab"}
    for provider, project, workflow, runs, rate in expected:
        line = next(c for c in cells if c[:4] == [provider, project, workflow, "90d"])
        assert line[4:6] == [str(runs), "-" if rate is None else f"{rate * 100:.1f}%"]
    # The deployments block: successes and failures of the last 30 days per provider.
    end = dt.datetime.combine(built_warehouse.org.as_of + dt.timedelta(days=1), dt.time())
    deployments = {
        c[0]: c for c in cells if len(c) == 5 and c[0] in ("github", "gitlab", "octopus")
    }
    assert set(deployments) == {"github", "gitlab", "octopus"}
    for provider, successful, failures in query(
        built_warehouse.path,
        "select provider, count(*) filter (where is_successful), count(*) filter (where is_failure) "
        f"from intermediate.int_deployments where completed_at >= timestamp '{end}' - interval 30 day "
        f"and completed_at < timestamp '{end}' group by 1",
    ):
        assert deployments[provider][2:4] == [str(successful), str(failures)]
    # The DORA block: one line per project and production environment, 90 days, with tiers.
    dora = query(
        built_warehouse.path,
        "select project, environment, successful_deployments, failure_rate, "
        "deployment_frequency_tier, failure_rate_tier, overall_tier from marts.dora_summary "
        "where reporting_window = '90d' and is_production and project <> '*' "
        "and tenant = '*' and channel = '*'",
    )
    # Every project that completed a production deployment in the last 365 days has its lines
    # (dora_summary gives such a scope every window, 0 deployments included); Web App
    # has two production environments (Production and Production EU), each its own line.
    deploying = query(
        built_warehouse.path,
        "select distinct project from intermediate.int_deployments where is_production "
        f"and (is_successful or is_failure) and completed_at >= timestamp '{end}' - interval 365 day "
        f"and completed_at < timestamp '{end}'",
    )
    assert {row[0] for row in dora} == {row[0] for row in deploying}
    assert len(deploying) == 10
    assert sorted(row[1] for row in dora if row[0] == "Web App") == ["Production", "Production EU"]
    block = printed[printed.index("DORA (last 90 days, production)") :]
    dora_cells = [re.split(r"\s{2,}", line.strip()) for line in block.splitlines()]
    for project, environment_name, successful, rate, frequency, failure, overall in dora:
        line = next(c for c in dora_cells if c[:2] == [project, environment_name])
        assert line[2:4] == [str(successful), "-" if rate is None else f"{rate * 100:.1f}%"]
        assert [line[6], line[8], line[10]] == [frequency, failure or "-", overall]
    assert str(built_warehouse.path) in printed


# ---------------------------------------------------------------- insights export


def _marts(warehouse: Path) -> list[str]:
    return [
        name
        for (name,) in query(
            warehouse,
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by 1",
        )
    ]


def _timespan(seconds: float | None) -> str:
    """Octopus's duration layout, computed another way than the exporter (via timedelta)."""
    if seconds is None:
        return ""
    span = dt.timedelta(seconds=round(seconds))
    clock = str(dt.timedelta(seconds=span.seconds)).zfill(8)  # H:MM:SS -> HH:MM:SS
    return f"{span.days}.{clock}" if span.days else clock


def test_octopus_durations_are_written_as_timespans() -> None:
    assert [format_duration(s) for s in (None, 0, 59.6, 3725, 86399, 90061.4, 950400)] == [
        "",
        "00:00:00",
        "00:01:00",
        "01:02:05",
        "23:59:59",
        "1.01:01:01",
        "11.00:00:00",
    ]
    assert [_timespan(s) for s in (3725, 90061.4)] == ["01:02:05", "1.01:01:01"]


def test_export_csv_writes_every_mart_and_the_octopus_deployments_csv(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    out = tmp_path / "csv"
    out.mkdir()
    # A stale export is overwritten, and unrelated files are left alone.
    (out / "fct_deployments.csv").write_text("stale\n")
    (out / "notes.txt").write_text("mine\n")
    completed = insights(
        "export",
        "--format",
        "csv",
        "--out",
        str(out),
        env={"INSIGHTS_WAREHOUSE": str(built_warehouse.path)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    marts = _marts(built_warehouse.path)
    assert {"fct_deployments", "ci_workflow_summary", "dora_summary"} <= set(marts)
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"{mart}.csv" for mart in marts] + [OCTOPUS_CSV_NAME, "notes.txt"]
    )
    progress = [line.split() for line in completed.stdout.splitlines()]
    for mart in marts:
        (count,) = query(built_warehouse.path, f"select count(*) from marts.{mart}")[0]
        with (out / f"{mart}.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        header = [
            name
            for (name,) in query(
                built_warehouse.path,
                "select column_name from information_schema.columns where table_schema = 'marts' "
                f"and table_name = '{mart}' order by ordinal_position",
            )
        ]
        assert rows[0] == header
        assert len(rows) - 1 == count, mart
        # One progress line per mart, with its row count, as it goes.
        assert [mart, str(count), "rows", "->", str(out.resolve() / f"{mart}.csv")] in progress
    assert (out / "notes.txt").read_text() == "mine\n"

    with (out / OCTOPUS_CSV_NAME).open(newline="", encoding="utf-8") as handle:
        octopus = list(csv.reader(handle))
    assert octopus[0] == [
        "Deployment",
        "Project",
        "Release",
        "Channel",
        "Completed",
        "Environment",
        "Tenant",
        "State",
        "Had Guided Failure",
        "Lead Time",
        "Lead Time Calculated From",
        "Since Previous Successful",
        "Previous Successful",
        "Time to Recovery",
        "Deployments Until Recovery",
        "Recovery From",
        "Recovery From Version",
    ]
    assert query(built_warehouse.path, "select count(*) from marts.fct_deployments") == [
        (len(octopus) - 1,)
    ]
    # A hand-checked row: an Octopus deployment that ended a failure streak and brought a release.
    [row] = query(
        built_warehouse.path,
        """
        select deployment_id, project, release_version, channel, completed_at, environment, tenant,
               state, had_guided_failure, lead_time_seconds, lead_time_calculated_from,
               since_previous_successful_seconds, previous_successful_deployment_id,
               time_to_recovery_seconds, deployments_until_recovery, recovery_from_deployment_id,
               recovery_from_version
        from marts.fct_deployments
        where provider = 'octopus' and time_to_recovery_seconds is not null
          and lead_time_seconds is not null and previous_successful_deployment_id is not null
          and tenant <> ''
        order by completed_at limit 1
        """,
    )
    (deployment, project, release, channel, completed_at, environment_name, tenant, state) = row[:8]
    guided, lead, lead_from, since, previous, recovery, until, recovery_from, from_version = row[8:]
    lines = [line for line in octopus if line[0] == deployment and line[1] == project]
    assert lines == [
        [
            deployment,
            project,
            release,
            channel,
            completed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            environment_name,
            tenant,
            "success",
            "True" if guided else "False",
            _timespan(lead),
            lead_from,
            _timespan(since),
            previous,
            _timespan(recovery),
            str(until),
            recovery_from,
            from_version,
        ]
    ]
    assert state == "success" and until >= 1 and recovery > 0
    # Deployments without a completion time (all in-progress ones) have an empty Completed and
    # come last; the others are in completion order.
    in_progress = [line for line in octopus[1:] if line[7] == "in_progress"]
    undated = [line for line in octopus[1:] if line[4] == ""]
    assert in_progress and all(line in undated for line in in_progress)
    assert octopus[len(octopus) - len(undated) :] == undated
    completed = [line[4] for line in octopus[1 : len(octopus) - len(undated)]]
    assert completed == sorted(completed)
    assert not list(out.glob(".*.tmp"))


def test_export_parquet_reads_back_equal(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    with environment(INSIGHTS_WAREHOUSE=str(built_warehouse.path)):
        assert main(["export", "--format", "parquet", "--out", str(out)]) == 0
    marts = _marts(built_warehouse.path)
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"{mart}.parquet" for mart in marts] + [OCTOPUS_CSV_NAME]
    )
    with duckdb.connect(str(built_warehouse.path), read_only=True) as connection:
        for mart in marts:
            exported = f"read_parquet('{out / mart}.parquet')"
            assert (
                connection.execute(f"describe select * from {exported}").fetchall()
                == connection.execute(f"describe select * from marts.{mart}").fetchall()
            ), mart
            # Both ways, duplicates counted: the same multiset of rows (NULLs compare equal).
            for left, right in ((exported, f"marts.{mart}"), (f"marts.{mart}", exported)):
                assert connection.execute(
                    f"select count(*) from (select * from {left} except all select * from {right})"
                ).fetchone() == (0,), mart
            assert connection.execute(f"select count(*) from {exported}").fetchone() == (
                connection.execute(f"select count(*) from marts.{mart}").fetchone()
            )
    # pandas (via pyarrow) reads the same numbers back.
    frame = pd.read_parquet(out / "ci_workflow_summary.parquet")
    expected = query(
        built_warehouse.path,
        "select sum(total_runs), sum(successful_runs) from marts.ci_workflow_summary",
    )
    assert [(int(frame.total_runs.sum()), int(frame.successful_runs.sum()))] == expected


def test_export_and_report_need_a_built_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.duckdb"
    with environment(INSIGHTS_WAREHOUSE=str(missing)):
        assert main(["export", "--out", str(tmp_path / "out")]) == 1
        assert main(["report", "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.count(f"no warehouse at {missing}") == 2
    assert not missing.exists() and not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main(["export", "--format", "xlsx", "--out", str(tmp_path)])


# ---------------------------------------------------------------- insights report


class _Page(HTMLParser):
    """Every element with its attributes and text, and whether the tags nest properly."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "circle", "line", "polyline"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []
        self.elements: list[dict] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "children": []}
        if self.stack:
            self.stack[-1]["children"].append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1]["tag"] != tag:
            self.errors.append(f"unexpected </{tag}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element["text"] += data


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    return parser


def _descendants(element: dict) -> list[dict]:
    found = []
    for child in element["children"]:
        found += [child, *_descendants(child)]
    return found


def _field(row: dict, name: str) -> dict:
    [cell] = [e for e in _descendants(row) if e["attrs"].get("data-field") == name]
    return cell


def _value_of(cell: dict) -> str:
    if "data-value" in cell["attrs"]:
        return cell["attrs"]["data-value"]
    [value] = [e for e in _descendants(cell) if "data-value" in e["attrs"]]
    return value["attrs"]["data-value"]


@pytest.fixture(scope="module")
def report_file(built_warehouse: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("report") / "site" / "report.html"
    with environment(INSIGHTS_WAREHOUSE=str(built_warehouse.path)):
        assert main(["report", "--out", str(target)]) == 0
    return target


def test_report_is_a_self_contained_page_with_the_marts_numbers(
    built_warehouse: BuiltWarehouse, report_file: Path
) -> None:
    page = report_file.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and len(page) < 400_000
    parsed = _parse(page)
    # No network: no URL anywhere, no script, no external stylesheet or image.
    assert "http://" not in page and "https://" not in page and "//" not in page
    assert not [e for e in parsed.elements if e["tag"] in ("script", "link", "img", "iframe")]
    assert not [e for e in parsed.elements if {"src", "href"} & set(e["attrs"])]
    as_of = built_warehouse.org.as_of
    title = next(e for e in parsed.elements if e["tag"] == "title")  # the head's; SVGs have theirs
    assert title["text"] == f"Delivery Insights — report date {as_of}"

    # DORA: every project and production environment of dora_summary (as print_dora picks
    # them), its tiers and trends, and its numbers.
    dora = query(
        built_warehouse.path,
        "select project, environment, successful_deployments, failure_rate, "
        "lead_time_median_seconds, deployment_frequency_tier, lead_time_tier, failure_rate_tier, "
        "time_to_recovery_tier, overall_tier, deployment_frequency_trend, lead_time_trend, "
        "failure_rate_trend, time_to_recovery_trend from marts.dora_summary "
        "where reporting_window = '90d' and is_production and project <> '*' "
        "and tenant = '*' and channel = '*'",
    )
    rows = {
        (e["attrs"]["data-project"], e["attrs"]["data-environment"]): e
        for e in parsed.elements
        if e["tag"] == "tr" and "data-environment" in e["attrs"]
    }
    assert set(rows) == {(project, environment_name) for project, environment_name, *_ in dora}
    assert len({project for project, *_ in dora}) == 10
    for project, environment_name, successful, rate, lead, *tiers_and_trends in dora:
        row = rows[(project, environment_name)]
        tiers = [e["attrs"]["data-tier"] for e in _descendants(row) if "data-tier" in e["attrs"]]
        trends = [e["attrs"]["data-trend"] for e in _descendants(row) if "data-trend" in e["attrs"]]
        assert tiers == [tier or "" for tier in tiers_and_trends[:5]]
        assert trends == tiers_and_trends[5:]
        assert _value_of(_field(row, "successful_deployments")) == str(successful)
        assert _value_of(_field(row, "failure_rate")) == ("" if rate is None else repr(rate))
        assert _value_of(_field(row, "lead_time_median_seconds")) == (
            "" if lead is None else repr(lead)
        )
        assert project in row["text"] and environment_name in row["text"]

    # CI: the busiest workflow's numbers, shown and raw, and its 90-day sparkline.
    [(provider, project, workflow, runs, rate, median, p95)] = query(
        built_warehouse.path,
        "select provider, project_slug, workflow_name, total_runs, success_rate, "
        "duration_median_seconds, duration_p95_seconds from marts.ci_workflow_summary "
        "where branch = '*' and reporting_window = '90d' "
        "order by total_runs desc, provider, project_slug, workflow_name limit 1",
    )
    [row] = [
        e
        for e in parsed.elements
        if e["tag"] == "tr"
        and e["attrs"].get("data-workflow") == workflow
        and e["attrs"].get("data-project") == project
        and e["attrs"].get("data-provider") == provider
    ]
    assert runs > 100
    assert _field(row, "total_runs")["text"] == str(runs)
    assert _value_of(_field(row, "success_rate")) == repr(rate)
    assert _field(row, "success_rate")["text"] == f"{rate * 100:.1f}%"
    assert _value_of(_field(row, "duration_median_seconds")) == repr(median)
    assert _value_of(_field(row, "duration_p95_seconds")) == repr(p95)
    minutes, seconds = divmod(round(median), 60)
    assert _field(row, "duration_median_seconds")["text"] == (
        f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    )
    days = query(
        built_warehouse.path,
        "select count(*) from marts.ci_workflow_daily where branch = '*' "
        f"and provider = '{provider}' and project_slug = '{project}' "
        f"and workflow_name = '{workflow}' and duration_median_seconds is not null "
        f"and day > date '{as_of}' - 90",
    )[0][0]
    [line] = [e for e in _descendants(row) if e["tag"] == "polyline"]
    assert len(line["attrs"]["points"].split()) == days > 30
    # Every workflow of the 90-day summary has its row.
    workflows = query(
        built_warehouse.path,
        "select count(*) from marts.ci_workflow_summary where branch = '*' "
        "and reporting_window = '90d'",
    )[0][0]
    assert len([e for e in parsed.elements if "data-workflow" in e["attrs"]]) == workflows

    # Flaky tests: the one that flaked most comes first.
    flaky = query(
        built_warehouse.path,
        "select test_key, times_flaked from marts.ci_flaky_tests "
        "order by times_flaked desc, time_wasted_seconds desc nulls last, provider, "
        "project_slug, test_key",
    )
    tests = [e for e in parsed.elements if "data-test" in e["attrs"]]
    assert len(tests) == min(len(flaky), 30) > 0
    assert tests[0]["attrs"]["data-test"] == flaky[0][0]
    assert _field(tests[0], "times_flaked")["text"] == str(flaky[0][1])


def test_report_escapes_the_warehouse_text(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """Names from the warehouse cannot inject markup: a copy of the marts with hostile names."""
    hostile = '<script>alert("x")</script>&'
    copy = tmp_path / "hostile.duckdb"
    with duckdb.connect(str(copy)) as connection:
        connection.execute(f"attach '{built_warehouse.path}' as built (read_only)")
        connection.execute("create schema marts")
        for mart, column in (
            ("ci_workflow_summary", "workflow_name"),
            ("ci_workflow_daily", "workflow_name"),
            ("ci_flaky_tests", "test_name"),
            ("dora_summary", "project"),
        ):
            connection.execute(
                f"create table marts.{mart} as select * replace "
                f"(case when {column} = '*' then '*' else {column} || ? end as {column}) "
                f"from built.marts.{mart}",
                [hostile],
            )
    with environment(INSIGHTS_WAREHOUSE=str(copy)):
        assert main(["report", "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    parsed = _parse(page)
    assert any(
        e["attrs"].get("data-project", "").endswith(hostile)
        for e in parsed.elements
        if "data-environment" in e["attrs"]
    )
    # The sparklines survive the renamed workflows (the daily rows were renamed alike).
    assert [e for e in parsed.elements if e["tag"] == "polyline"]


def test_report_renders_in_a_headless_browser_without_network(report_file: Path) -> None:
    """Optional: Debian's chromium (apt-get install chromium), with every host unresolvable."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed")
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--dump-dom",
            report_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    source = _parse(report_file.read_text(encoding="utf-8"))
    rendered = _parse(completed.stdout)
    # The browser built the same tables: every workflow, DORA line, flaky test and sparkline.
    for attribute in ("data-workflow", "data-environment", "data-test"):
        shown = [e["attrs"][attribute] for e in rendered.elements if attribute in e["attrs"]]
        assert shown == [e["attrs"][attribute] for e in source.elements if attribute in e["attrs"]]
        assert shown
    svgs = [e for e in rendered.elements if e["tag"] == "svg"]
    assert len(svgs) == len([e for e in source.elements if e["tag"] == "svg"]) > 10
