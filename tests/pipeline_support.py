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

from sandbox import CircleCIEmulator, Emulators, Organisation, SimulatedOrganisation

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
    warehouse: Path, emulators: Emulators, simulation: SimulatedOrganisation
) -> dict[str, str]:
    """Every source pointed at its emulator, with quick retries (production backs off for real)."""
    return {
        "INSIGHTS_WAREHOUSE": str(warehouse),
        "INSIGHTS_AS_OF": simulation.as_of.isoformat(),
        **emulators.environment(simulation),
        **{
            f"SOURCES__{name.upper()}__BACKOFF_FACTOR": "0.05"
            for name in ("circleci", "github", "gitlab")
        },
    }


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def exception_chain(error: BaseException | None) -> list[BaseException]:
    """An error and every cause or context behind it, outermost first (dlt wraps what a source
    raises in its own step errors)."""
    chain: list[BaseException] = []
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def table_counts(
    warehouse: Path,
    schemas: tuple[str, ...] = (
        "raw_circleci",
        "raw_github",
        "raw_gitlab",
        "raw_octopus",
        "staging",
        "intermediate",
        "marts",
    ),
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
    simulation: SimulatedOrganisation
    emulators: Emulators
    env: dict[str, str]

    @property
    def org(self) -> Organisation:
        """The CircleCI part, which the metric tests recompute exactly."""
        return self.simulation.circleci

    @property
    def emulator(self) -> CircleCIEmulator:
        return self.emulators.circleci
