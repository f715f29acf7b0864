"""Fixtures shared by the pipeline tests: a simulated organisation served by the CircleCI
emulator, and a warehouse built from it by the real Dagster job in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import CircleCIEmulator, Organisation, generate_organisation

from pipeline_support import AS_OF, BuiltWarehouse, environment, pipeline_environment


@pytest.fixture(scope="session")
def demo_org() -> Organisation:
    return generate_organisation(AS_OF, seed=11)


@pytest.fixture(scope="session")
def built_warehouse(
    tmp_path_factory: pytest.TempPathFactory, demo_org: Organisation
) -> Iterator[BuiltWarehouse]:
    """The whole Dagster job (dlt → dbt build) run once on the simulated organisation."""
    from orchestration.cli import run_pipeline

    warehouse = tmp_path_factory.mktemp("warehouse") / "insights.duckdb"
    with CircleCIEmulator(demo_org) as emulator:
        env = pipeline_environment(warehouse, emulator, demo_org)
        with environment(**env):
            assert run_pipeline(["circleci"], log_level="WARNING"), "the first pipeline run failed"
        yield BuiltWarehouse(warehouse, demo_org, emulator, env)
