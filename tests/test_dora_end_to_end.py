"""The DORA marts (dora_summary, dora_metrics, dora_project_ranking) match an independent Python
computation over the simulated organisation: per-deployment facts from the generator's records
(tests/expected_deployments.py), aggregated by tests/expected_dora.py (metrics.md §4, §6).

Only the scope names (project, environment, tenant, channel) of each deployment are read from
the warehouse (marts.fct_deployments, by provider and deployment id): they are labels, not
numbers. Production is decided here again from the generator (GitHub's flag, GitLab's
environment tier, the Octopus environment name against the default pattern)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter

import pytest

import expected_dora
from expected_deployments import expected_deployments
from pipeline_support import AS_OF, BuiltWarehouse, query

SCOPE = "project, environment, tenant, channel"
MEASURES = (
    "is_production",
    "successful_deployments",
    "failed_deployments",
    "deployments_per_day",
    "deployment_days",
    "failure_rate",
    "lead_time_median_seconds",
    "lead_time_sample_size",
    "change_lead_time_median_seconds",
    "change_lead_time_sample_size",
    "time_to_recovery_median_seconds",
    "time_to_recovery_mean_seconds",
    "recoveries",
)
SUMMARY_COLUMNS = (
    "window_start",
    "window_end",
    "window_days",
    *MEASURES,
    "median_deployment_days_per_week",
    "deployment_frequency_tier",
    "lead_time_tier",
    "failure_rate_tier",
    "time_to_recovery_tier",
    "overall_tier",
    "tier_report_year",
    "deployment_frequency_trend",
    "lead_time_trend",
    "failure_rate_trend",
    "time_to_recovery_trend",
)
SERIES_COLUMNS = ("period_end", "days_in_period", *MEASURES)
RANKING_COLUMNS = (
    "value",
    "rank_best",
    "rank_worst",
    "previous_value",
    "change_vs_previous_window",
)
OCTOPUS_PRODUCTION = re.compile(r"(?i)prod")  # dbt var production_environment_pattern's default


def same(got: object, want: object) -> bool:
    """Floats equal to 1e-9 relative (the two sides sum and divide in different orders, and a
    mean of microsecond spans can sit on a rounding boundary); anything else exactly."""
    if isinstance(got, float) and isinstance(want, float | int) and not isinstance(want, bool):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return type(got) is type(want) and got == want


def as_rows(rows: list[tuple], key_size: int) -> dict[tuple, tuple]:
    return {row[:key_size]: row[key_size:] for row in rows}


def wanted(expected: dict[tuple, dict], columns: tuple[str, ...]) -> dict[tuple, tuple]:
    return {key: tuple(row[column] for column in columns) for key, row in expected.items()}


def differences(actual: dict, expected: dict, columns: tuple[str, ...]) -> list[str]:
    """Every difference between the mart's rows and the expected ones (the first 30)."""
    lines = [f"missing {key}" for key in sorted(expected.keys() - actual.keys(), key=str)]
    lines += [f"unexpected {key}" for key in sorted(actual.keys() - expected.keys(), key=str)]
    for key in sorted(actual.keys() & expected.keys(), key=str):
        for column, got, want in zip(columns, actual[key], expected[key], strict=True):
            if not same(got, want):
                lines.append(f"{key} {column}: mart {got!r}, expected {want!r}")
    return lines[:30]


@pytest.fixture(scope="module")
def inputs(built_warehouse: BuiltWarehouse) -> tuple[list[dict], list[dict]]:
    """(deployments, changes) in the shape expected_dora reads, every number from the
    independent per-deployment computation."""
    simulation = built_warehouse.simulation
    facts = expected_deployments(simulation)
    labels = {
        (provider, deployment_id): dict(
            zip(("project", "environment", "tenant", "channel"), names, strict=True)
        )
        for provider, deployment_id, *names in query(
            built_warehouse.path,
            f"select provider, deployment_id, {SCOPE} from marts.fct_deployments",
        )
    }
    # Every deployment the marts count comes from the three deployment tools (the simulated
    # org configures no CI-derived deployments), and every one of them is in the warehouse.
    assert set(labels) == set(facts)
    gitlab_production = {
        (str(e["project_id"]), e["name"]): e["tier"] == "production"
        for e in simulation.gitlab.environments()
    }
    deployments, changes = [], []
    for key, fact in facts.items():
        label = labels[key]
        provider = key[0]
        if provider == "octopus":
            production = bool(OCTOPUS_PRODUCTION.search(label["environment"]))
        elif provider == "gitlab":
            production = gitlab_production[fact["scope"][1], fact["scope"][2]]
        else:
            production = bool(fact["is_production"])
        deployments.append({**fact, **label, "is_production": production})
        if fact["is_successful"]:
            changes.extend(
                {**label, "deployed_at": fact["completed_at"], "change_lead_time_seconds": change}
                for _, change in fact["changes"].values()
            )
    return deployments, changes


@pytest.fixture(scope="module")
def summary(inputs: tuple[list[dict], list[dict]]) -> dict[tuple, dict]:
    return expected_dora.summary(*inputs, AS_OF)


def test_dora_summary_matches_an_independent_computation(
    built_warehouse: BuiltWarehouse, summary: dict[tuple, dict]
) -> None:
    actual = as_rows(
        query(
            built_warehouse.path,
            f"select {SCOPE}, reporting_window, {', '.join(SUMMARY_COLUMNS)} "
            "from marts.dora_summary",
        ),
        5,
    )
    expected = wanted(summary, SUMMARY_COLUMNS)
    problems = differences(actual, expected, SUMMARY_COLUMNS)
    assert not problems, "\n".join(problems)
    assert actual.keys() == expected.keys()


def test_dora_summary_data_exercise_the_rules(summary: dict[tuple, dict]) -> None:
    """The simulated org is rich enough for the comparison above to mean something."""
    rows = list(summary.values())
    assert len({key[:4] for key in summary}) > 50
    # Every frequency tier, several of each other metric, boundaries hit exactly.
    assert {row["deployment_frequency_tier"] for row in rows} == set(expected_dora.TIER_ORDER)
    for column in ("lead_time_tier", "failure_rate_tier", "time_to_recovery_tier", "overall_tier"):
        assert len({row[column] for row in rows} - {None}) >= 3, column
    at = Counter(
        (row["failure_rate"], row["failure_rate_tier"])
        for row in rows
        if row["failure_rate"] in (0.05, 0.10)
    )
    assert at[0.05, "elite"] > 0 and at[0.10, "high"] > 0 and len(at) == 2
    weekly = {
        (row["median_deployment_days_per_week"], row["deployment_frequency_tier"])
        for row in rows
        if row["median_deployment_days_per_week"] in (1, 5)
    }
    assert weekly == {(1, "high"), (5, "elite")}
    # Every trend value, recoveries, change lead times.
    trends = Counter(
        row[f"{metric}_trend"] for row in rows for metric in expected_dora.TREND_METRICS
    )
    assert set(trends) == {"none", "steady", "up", "down"}
    assert sum(row["recoveries"] for row in rows) > 0
    assert sum(row["change_lead_time_sample_size"] for row in rows) > 100


@pytest.mark.parametrize("grain", ["week", "month", "quarter", "year"])
def test_dora_metrics_match_an_independent_computation(
    built_warehouse: BuiltWarehouse, inputs: tuple[list[dict], list[dict]], grain: str
) -> None:
    actual = as_rows(
        query(
            built_warehouse.path,
            f"select {SCOPE}, period_grain, period_start, {', '.join(SERIES_COLUMNS)} "
            f"from marts.dora_metrics where period_grain = '{grain}'",
        ),
        6,
    )
    series = {
        key: row for key, row in expected_dora.series(*inputs, AS_OF).items() if key[4] == grain
    }
    expected = wanted(series, SERIES_COLUMNS)
    problems = differences(actual, expected, SERIES_COLUMNS)
    assert not problems, "\n".join(problems)
    assert actual.keys() == expected.keys()
    # Past periods and the current, partial one (divided by the days up to as_of).
    current = expected_dora.period_of(grain, dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day))
    assert any(key[5] == current[0] for key in series)
    assert any(key[5] < current[0] for key in series)


def test_dora_project_ranking_matches_an_independent_computation(
    built_warehouse: BuiltWarehouse,
    inputs: tuple[list[dict], list[dict]],
    summary: dict[tuple, dict],
) -> None:
    actual = as_rows(
        query(
            built_warehouse.path,
            f"select reporting_window, metric, project, {', '.join(RANKING_COLUMNS)} "
            "from marts.dora_project_ranking",
        ),
        3,
    )
    ranking = expected_dora.ranking(inputs[0], summary, AS_OF)
    expected = wanted(ranking, RANKING_COLUMNS)
    problems = differences(actual, expected, RANKING_COLUMNS)
    assert not problems, "\n".join(problems)
    assert actual.keys() == expected.keys()
    rows = list(ranking.values())
    assert sum(row["change_vs_previous_window"] is not None for row in rows) > 10
    assert max(row["rank_best"] or 0 for row in rows) >= 5
