"""The `insights` command line."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.settings import PROJECT_ROOT
from orchestration.cli import main, print_summary

from pipeline_support import BuiltWarehouse, query


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
    for project, environment, successful, rate, frequency, failure, overall in dora:
        line = next(c for c in dora_cells if c[:2] == [project, environment])
        assert line[2:4] == [str(successful), "-" if rate is None else f"{rate * 100:.1f}%"]
        assert [line[6], line[8], line[10]] == [frequency, failure or "-", overall]
    assert str(built_warehouse.path) in printed
