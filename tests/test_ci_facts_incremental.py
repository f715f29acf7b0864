"""The CI facts are incremental: a daily run merges the rows within the lookback on their grain
instead of rebuilding history. A warehouse loaded twice — first with the emulators showing the
organisation as it was two days before the report date, then as it is at the end of it — must
hold exactly the fact rows of the warehouse built from scratch in one run (`built_warehouse`):
no duplicate, no gap, and every run that finished in between updated in place. A row older than
the lookback is not re-processed (a value planted in it survives the second run)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from sandbox import SimulatedOrganisation, serve

from pipeline_support import BuiltWarehouse, environment, pipeline_environment, query

CI_SOURCES = ["circleci", "github", "gitlab"]

GRAINS = {
    "fct_ci_workflow_runs": ["provider", "project_slug", "run_id", "run_attempt"],
    "fct_ci_job_runs": ["provider", "project_slug", "job_id"],
    "fct_ci_test_results": ["provider", "project_slug", "job_id", "test_key", "execution_index"],
}

# A workflow run created more than the lookback (7 days) before the newest run of its project
# in the first load: the second run must not touch it. `workflow_name` carries no data test.
PLANTED = "planted by test_ci_facts_incremental"


@dataclass
class TwiceLoaded:
    path: Path
    planted_key: tuple
    planted_original: str
    first_load: dict[str, dict[tuple, dict]]  # every fact's rows after the first load


def fact_rows(warehouse: Path, table: str) -> dict[tuple, dict]:
    """Every row of a fact (column -> value) keyed by its grain (the key must be unique)."""
    grain = GRAINS[table]
    columns = [
        name
        for (name,) in query(
            warehouse,
            "select column_name from information_schema.columns "
            f"where table_schema = 'marts' and table_name = '{table}' order by ordinal_position",
        )
    ]
    rows = query(warehouse, f"select {', '.join(columns)} from marts.{table}")
    keyed = {
        tuple(row[columns.index(name)] for name in grain): dict(zip(columns, row, strict=True))
        for row in rows
    }
    assert len(keyed) == len(rows), f"{table} has duplicate keys"
    return keyed


@pytest.fixture(scope="module")
def twice_loaded(
    tmp_path_factory: pytest.TempPathFactory, simulation: SimulatedOrganisation
) -> Iterator[TwiceLoaded]:
    from orchestration.cli import run_pipeline

    warehouse = tmp_path_factory.mktemp("incremental") / "insights.duckdb"
    earlier = dt.datetime.combine(
        simulation.as_of - dt.timedelta(days=2), dt.time(13, 30), tzinfo=dt.UTC
    )
    with serve(simulation) as emulators:
        env = pipeline_environment(warehouse, emulators, simulation)
        served = [emulators.circleci, emulators.github, emulators.gitlab]
        defaults = [emulator.at for emulator in served]
        for emulator in served:
            emulator.at = earlier
        with environment(**{**env, "INSIGHTS_AS_OF": earlier.date().isoformat()}):
            assert run_pipeline(CI_SOURCES, log_level="WARNING"), "the first load failed"

        first_load = {table: fact_rows(warehouse, table) for table in GRAINS}
        with duckdb.connect(str(warehouse)) as connection:
            planted = connection.execute(
                "select runs.provider, runs.project_slug, runs.run_id, runs.run_attempt, "
                "runs.workflow_name from marts.fct_ci_workflow_runs as runs "
                "inner join (select provider, project_slug, max(created_at) as newest "
                "from marts.fct_ci_workflow_runs group by 1, 2) as newest "
                "using (provider, project_slug) "
                "where runs.created_at < newest.newest - interval 10 day "
                "order by runs.created_at desc, runs.run_id limit 1"
            ).fetchone()
            assert planted is not None
            connection.execute(
                "update marts.fct_ci_workflow_runs set workflow_name = ? "
                "where provider = ? and project_slug = ? and run_id = ? and run_attempt = ?",
                [PLANTED, *planted[:4]],
            )

        for emulator, default in zip(served, defaults, strict=True):
            emulator.at = default
        with environment(**env):
            assert run_pipeline(CI_SOURCES, log_level="WARNING"), "the second load failed"
        yield TwiceLoaded(warehouse, tuple(planted[:4]), planted[4], first_load)


def test_facts_after_two_loads_equal_a_rebuild_from_scratch(
    twice_loaded: TwiceLoaded, built_warehouse: BuiltWarehouse
) -> None:
    for table in GRAINS:
        incremental = fact_rows(twice_loaded.path, table)
        scratch = fact_rows(built_warehouse.path, table)
        if table == "fct_ci_workflow_runs":
            # The planted row kept its planted value (it was outside the lookback) ...
            planted_row = incremental[twice_loaded.planted_key]
            assert planted_row["workflow_name"] == PLANTED
            # ... and is otherwise the rebuilt row.
            planted_row["workflow_name"] = twice_loaded.planted_original
        assert set(incremental) == set(scratch), table
        differing = [key for key in scratch if incremental[key] != scratch[key]]
        assert differing == [], (table, differing[:5])


def test_rows_that_changed_between_the_loads_were_updated_in_place(
    twice_loaded: TwiceLoaded,
) -> None:
    for table in GRAINS:
        before = twice_loaded.first_load[table]
        after = fact_rows(twice_loaded.path, table)
        # Nothing the first load held went missing; the second load only added or updated.
        assert set(before) <= set(after), table
        assert len(after) > len(before), table
    runs_before = twice_loaded.first_load["fct_ci_workflow_runs"]
    runs_after = fact_rows(twice_loaded.path, "fct_ci_workflow_runs")
    changed = {
        key
        for key, row in runs_before.items()
        if key != twice_loaded.planted_key and runs_after[key] != row
    }
    finished = {
        key
        for key in changed
        if runs_before[key]["status"] == "in_progress"
        and runs_after[key]["status"] != "in_progress"
    }
    # A run still going at the first load is complete now, in the row it already had; other
    # rows changed too (CircleCI credits arrive about a day late from the insights feed).
    assert finished, "no run finished between the loads"
    assert len(changed) > len(finished)
