"""Dagster assets for the dbt project: every model an asset, every dbt data test an asset check."""

import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
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

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# `dagster dev` re-parses on start; other entry points (CLI, tests) need a manifest to exist.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)

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
