"""The second warehouse: the same dlt sources and the same dbt project, unchanged, on PostgreSQL.

One small simulated organisation is loaded twice by the real dlt sources (through the emulators)
- into DuckDB, the default warehouse, and into a fresh PostgreSQL database - and `dbt build`
(every model, data test and unit test) runs on each. The build must pass on Postgres, and every
mart must hold the same rows on both warehouses (floats to a relative 1e-9). The incremental
CI facts then run once more, as a daily run would, which must merge without a schema change.

Needs a PostgreSQL server reachable with INSIGHTS_POSTGRES_* (defaults: the local one that
`.ci/start-postgres` sets up). Without one the test skips, saying why; with
INSIGHTS_REQUIRE_POSTGRES=1 (CI) it fails instead.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion import SOURCES
from ingestion.settings import PROJECT_ROOT, postgres_credentials
from sandbox import Emulators, SimulatedOrganisation, serve, simulate_organisation

from pipeline_support import AS_OF, environment, pipeline_environment, query

# A database of its own, dropped and created afresh for every run: the test never touches the
# data of the database INSIGHTS_POSTGRES_DBNAME names.
TEST_DATABASE = "insights_warehouse_test"
DBT = Path(sys.executable).parent / "dbt"
RELATIVE_TOLERANCE = 1e-9
# Marts that must hold rows, so that "equal on both warehouses" cannot pass on empty tables.
KEY_MARTS = (
    "fct_ci_workflow_runs",
    "ci_workflow_summary",
    "ci_job_summary",
    "fct_deployments",
    "dora_summary",
    "dora_metrics",
)


def _connect(database: str):
    import psycopg2

    credentials = postgres_credentials()
    return psycopg2.connect(
        host=credentials["host"],
        port=credentials["port"],
        user=credentials["username"],
        password=credentials["password"],
        dbname=database,
        connect_timeout=5,
    )


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A fresh, empty database on the configured server (skips without a server)."""
    credentials = postgres_credentials()
    try:
        admin = _connect(str(credentials["database"]))
    except Exception as exc:  # psycopg2.OperationalError, with the server's reason
        reason = (
            f"no PostgreSQL at {credentials['host']}:{credentials['port']} for database "
            f"{credentials['database']} as {credentials['username']} "
            f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}); "
            "run .ci/start-postgres or set INSIGHTS_POSTGRES_*"
        )
        if os.environ.get("INSIGHTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"INSIGHTS_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'drop database if exists "{TEST_DATABASE}" with (force)')
        cursor.execute(f'create database "{TEST_DATABASE}"')
    try:
        yield TEST_DATABASE
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{TEST_DATABASE}" with (force)')
        admin.close()


@dataclass
class Build:
    """One warehouse built from the organisation: its env and dbt's run results."""

    env: dict[str, str]
    results: list[dict]


def dbt_build(folder: Path, as_of: dt.date, *selection: str) -> list[dict]:
    """`dbt build` on the target the environment names; its run results, every node passed."""
    target_path = folder / "dbt_target"
    (target_path / "run_results.json").unlink(missing_ok=True)
    dbt = subprocess.run(
        [
            str(DBT), "build", *selection,
            "--vars", json.dumps({"as_of": as_of.isoformat()}),
            "--profiles-dir", ".",
            "--target-path", str(target_path),
            "--log-path", str(folder / "dbt_logs"),
        ],
        cwd=PROJECT_ROOT / "dbt_project",
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert (target_path / "run_results.json").exists(), dbt.stdout[-3000:]
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    failed = [
        f"{result['unique_id']}: {result['status']}: {result.get('message')}"
        for result in results
        if result["status"] not in ("success", "pass", "skipped")
    ]
    skipped = sum(1 for result in results if result["status"] == "skipped")
    target = os.environ.get("INSIGHTS_DBT_TARGET")
    assert dbt.returncode == 0 and not failed and not skipped, (
        f"dbt build {' '.join(selection)} on {target} failed ({skipped} nodes skipped):\n"
        + "\n".join(failed)
        + "\n"
        + dbt.stdout[-3000:]
    )
    return results


def build_warehouse(
    folder: Path, emulators: Emulators, simulation: SimulatedOrganisation, **target: str
) -> Build:
    """Every configured source loaded by its dlt pipeline, then `dbt build` on the same target,
    then the incremental facts once more (a daily run: merge within the lookback)."""
    from ingestion.pipelines import loader_file_format, make_pipeline

    folder.mkdir(parents=True)
    # The DuckDB file (and, beside it, dlt's working folder, so each build has its own state).
    env = {**pipeline_environment(folder / "insights.duckdb", emulators, simulation), **target}
    with environment(**env):
        for name, info in SOURCES.items():
            assert info.is_configured(), f"{name}: the emulators configure every source"
            pipeline = make_pipeline(name)
            load_info = pipeline.run(
                info.source(as_of=simulation.as_of), loader_file_format=loader_file_format()
            )
            load_info.raise_on_failed_jobs()
        results = dbt_build(folder, simulation.as_of)
        rerun = dbt_build(folder, simulation.as_of, "--select", "config.materialized:incremental")
        assert sum(1 for result in rerun if result["unique_id"].startswith("model.")) == 3
    return Build(env, results)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> dict[str, Build]:
    # Small: two projects per provider, 30 days of CI and 120 of deployments.
    simulation = simulate_organisation(
        AS_OF, seed=23, projects=2, days=30, deploy_days=120, runs_per_weekday=4,
        jobs_per_workflow=3, tests_per_job=4,
    )  # fmt: skip
    root = tmp_path_factory.mktemp("two_warehouses")
    with serve(simulation) as emulators:
        return {
            "duckdb": build_warehouse(
                root / "duckdb", emulators, simulation,
                INSIGHTS_DESTINATION="duckdb", INSIGHTS_DBT_TARGET="duckdb",
            ),
            "postgres": build_warehouse(
                root / "postgres", emulators, simulation,
                INSIGHTS_DESTINATION="postgres", INSIGHTS_DBT_TARGET="postgres",
                INSIGHTS_POSTGRES_DBNAME=postgres_database,
            ),
        }  # fmt: skip


def postgres_query(database: str, sql: str) -> list[tuple]:
    with _connect(database) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def postgres_columns(database: str, table: str) -> list[str]:
    rows = postgres_query(
        database,
        "select column_name from information_schema.columns "
        f"where table_schema = 'marts' and table_name = '{table}' order by ordinal_position",
    )
    return [name for (name,) in rows]


def normalised(value: object) -> object:
    """One Python value for what both drivers return (Decimal from numeric sums, etc.)."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def sort_key(row: tuple) -> tuple:
    """Rows ordered by every column, floats rounded so a last-digit difference cannot reorder
    them, NULLs first."""
    return tuple(
        (0, "")
        if value is None
        else (1, f"{value:.6e}")
        if isinstance(value, float)
        else (1, value)
        for value in row
    )


def values_equal(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float | int):
        return math.isclose(left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    if isinstance(right, float) and isinstance(left, int):
        return math.isclose(left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    return left == right


def test_dbt_build_passes_on_postgres_with_every_test(builds: dict[str, Build]) -> None:
    """Every node ran on Postgres - models, data tests, unit tests - exactly as on DuckDB."""

    def nodes(build: Build) -> dict[str, str]:
        return {result["unique_id"]: result["status"] for result in build.results}

    duckdb_nodes, postgres_nodes = nodes(builds["duckdb"]), nodes(builds["postgres"])
    assert postgres_nodes == duckdb_nodes
    kinds = {unique_id.split(".")[0] for unique_id in postgres_nodes}
    assert {"model", "test", "unit_test"} <= kinds
    assert sum(1 for unique_id in postgres_nodes if unique_id.startswith("unit_test.")) >= 10


def test_every_mart_holds_the_same_rows_on_both_warehouses(builds: dict[str, Build]) -> None:
    duckdb_file = Path(builds["duckdb"].env["INSIGHTS_WAREHOUSE"])
    database = builds["postgres"].env["INSIGHTS_POSTGRES_DBNAME"]
    marts = [
        name
        for (name,) in query(
            duckdb_file,
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' order by table_name",
        )
    ]
    postgres_marts = [
        name
        for (name,) in postgres_query(
            database,
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' order by table_name",
        )
    ]
    assert postgres_marts == marts
    assert set(KEY_MARTS) <= set(marts)

    for table in marts:
        columns = postgres_columns(database, table)
        duckdb_columns = [
            name
            for (name,) in query(
                duckdb_file,
                "select column_name from information_schema.columns where table_schema = 'marts' "
                f"and table_name = '{table}' order by ordinal_position",
            )
        ]
        assert columns == duckdb_columns, table
        select = f"select {', '.join(columns)} from marts.{table}"
        expected = sorted(
            (tuple(normalised(v) for v in row) for row in query(duckdb_file, select)), key=sort_key
        )
        actual = sorted(
            (tuple(normalised(v) for v in row) for row in postgres_query(database, select)),
            key=sort_key,
        )
        if table in KEY_MARTS:
            assert expected, f"marts.{table} is empty: the organisation is too small to compare"
        assert len(actual) == len(expected), table
        for postgres_row, duckdb_row in zip(actual, expected, strict=True):
            differing = {
                column: (duckdb_value, postgres_value)
                for column, duckdb_value, postgres_value in zip(
                    columns, duckdb_row, postgres_row, strict=True
                )
                if not values_equal(duckdb_value, postgres_value)
            }
            assert not differing, (table, dict(zip(columns, duckdb_row, strict=True)), differing)
