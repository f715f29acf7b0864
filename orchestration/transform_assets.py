"""Dagster assets for the dbt project: every model an asset, every dbt data test an asset check."""

import json
import shutil
import sys
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from ingestion.settings import PROJECT_ROOT, report_date

from .ingestion_assets import WAREHOUSE_POOL

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# The dbt beside this interpreter, so a venv works without being activated (dagster-dbt runs
# dbt as a subprocess and would otherwise look it up on PATH).
DBT_EXECUTABLE = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or older than any file of the dbt project."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    sources = (
        path
        for folder in ("models", "macros", "tests")
        for path in (DBT_PROJECT_DIR / folder).rglob("*")
    )
    return any(
        path.stat().st_mtime > built for path in [*sources, DBT_PROJECT_DIR / "dbt_project.yml"]
    )


# The asset graph is read from the manifest: parse when it is missing or behind the models
# (`dagster dev` sets DAGSTER_IS_DEV_CLI and prepare_if_dev() re-parses anyway).
if manifest_is_stale(dbt_project):
    DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE).cli(
        ["parse", "--quiet"], target_path=dbt_project.target_path
    ).wait()
dbt_project.prepare_if_dev()

MART_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36))


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups models by layer (staging, intermediate, marts) and keeps marts fresh daily."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: "DbtProject | None"
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") != "model":
            return spec
        layer = props["fqn"][1] if len(props["fqn"]) > 2 else "models"
        spec = spec.replace_attributes(group_name=layer)
        if layer == "marts":
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        return spec


def dbt_build_args(as_of: str) -> list[str]:
    """`dbt build` (models, unit tests and data tests in DAG order) for one report date."""
    return ["build", "--vars", json.dumps({"as_of": as_of})]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WarehouseDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=WAREHOUSE_POOL,
)
def warehouse_models(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Staging views, facts and metric marts, built and tested by `dbt build`."""
    as_of = report_date().isoformat()
    context.log.info("dbt build for as_of=%s", as_of)
    yield from dbt.cli(dbt_build_args(as_of), context=context).stream()
