"""Helpers shared by the pipeline tests (a plain module: `tests/sandbox` has its own conftest,
so `from conftest import ...` would be ambiguous)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sandbox import CircleCIEmulator, Organisation

# A fixed report date: expectations never depend on the day the tests run.
AS_OF = dt.date(2026, 3, 15)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block and restore the previous values afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pipeline_environment(
    warehouse: Path, emulator: CircleCIEmulator, org: Organisation
) -> dict[str, str]:
    return {
        "INSIGHTS_WAREHOUSE": str(warehouse),
        "INSIGHTS_AS_OF": org.as_of.isoformat(),
        "SOURCES__CIRCLECI__BASE_URL": emulator.base_url,
        "SOURCES__CIRCLECI__API_TOKEN": emulator.token,
        "SOURCES__CIRCLECI__PROJECT_SLUGS": ",".join(project.slug for project in org.projects),
        # Keep retries quick in tests; the production default backs off for real.
        "SOURCES__CIRCLECI__BACKOFF_FACTOR": "0.05",
    }


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def table_counts(
    warehouse: Path, schemas: tuple[str, ...] = ("raw_circleci", "staging", "marts")
) -> dict[str, int]:
    """Row count of every table and view in the given schemas (dlt's own tables left out)."""
    names = query(
        warehouse,
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in {schemas!r} and table_name not like '_dlt%' order by 1, 2",
    )
    return {
        f"{schema}.{name}": query(warehouse, f'select count(*) from {schema}."{name}"')[0][0]
        for schema, name in names
    }


@dataclass
class BuiltWarehouse:
    path: Path
    org: Organisation
    emulator: CircleCIEmulator
    env: dict[str, str]
