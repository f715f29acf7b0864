"""Fixtures shared by the pipeline tests: the simulated organisation served by the emulators of
all four providers, and a warehouse built from it by the real Dagster job in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingestion import SOURCES
from sandbox import SimulatedOrganisation, serve, simulate_organisation

from pipeline_support import AS_OF, BuiltWarehouse, environment, pipeline_environment


@pytest.fixture(scope="session")
def simulation() -> SimulatedOrganisation:
    # Smaller than the demo's organisation (fewer pushes a day, 200 days of deployments), so
    # the suite stays quick.
    return simulate_organisation(AS_OF, seed=11, runs_per_weekday=7, deploy_days=200)


@pytest.fixture(scope="session")
def built_warehouse(
    tmp_path_factory: pytest.TempPathFactory, simulation: SimulatedOrganisation
) -> Iterator[BuiltWarehouse]:
    """The whole Dagster job (every source's dlt load, then dbt build) run once."""
    from orchestration.cli import run_pipeline

    warehouse = tmp_path_factory.mktemp("warehouse") / "insights.duckdb"
    with serve(simulation) as emulators:
        env = pipeline_environment(warehouse, emulators, simulation)
        with environment(**env):
            assert run_pipeline(list(SOURCES), log_level="WARNING"), "the first pipeline run failed"
        yield BuiltWarehouse(warehouse, simulation, emulators, env)
