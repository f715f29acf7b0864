"""Dagster assets for the dlt sources: one asset per raw table, keyed `raw_<source>/<table>`.

The dbt sources carry the same keys (`meta.dagster.asset_key`), so the asset graph runs from
the API to the marts without a gap.
"""

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion import SOURCES
from ingestion.pipelines import LOADER_FILE_FORMAT, make_pipeline
from ingestion.settings import report_date

# Every asset that writes the DuckDB file runs in this pool; dagster_home/dagster.yaml limits it
# to one at a time, because DuckDB allows a single writer per file.
WAREHOUSE_POOL = "warehouse"

# Loads run daily: a raw table older than a day and a half means the schedule or a source broke.
RAW_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36))


class RawTableTranslator(DagsterDltTranslator):
    """Keys dlt resources by their raw table (`raw_circleci/pipelines`), with no fake upstreams."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.pipeline.dataset_name if data.pipeline else "raw"
        return spec.replace_attributes(
            key=dg.AssetKey([dataset, data.resource.table_name]),
            deps=[],
            group_name="ingestion",
            # A source with no configuration is skipped, so its tables may not materialize.
            skippable=True,
            freshness_policy=RAW_FRESHNESS,
            kinds={"dlt", "duckdb"},
        )


def raw_tables_assets(source_name: str) -> dg.AssetsDefinition:
    """One multi-asset per source: its raw tables, loaded incrementally into `raw_<source>`."""
    info = SOURCES[source_name]

    @dlt_assets(
        dlt_source=info.describing_source(),
        dlt_pipeline=make_pipeline(source_name),
        name=f"{source_name}_raw_tables",
        dagster_dlt_translator=RawTableTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def load_raw_tables(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        if not info.is_configured():
            # Runs select only configured sources (definitions.refresh_selection); this guards
            # a materialization started by hand in the UI.
            context.log.info(info.skip_message())
            return
        # A fresh source and pipeline per run: dagster-dlt cannot run one source object twice
        # in a process, and the warehouse path and report date come from the environment.
        yield from dlt.run(
            context=context,
            dlt_source=info.source(as_of=report_date()),
            dlt_pipeline=make_pipeline(source_name),
            loader_file_format=LOADER_FILE_FORMAT,
        )

    return load_raw_tables


RAW_TABLE_ASSETS = [raw_tables_assets(name) for name in SOURCES]


def raw_asset_keys(sources: Iterable[str]) -> list[dg.AssetKey]:
    """The raw-table assets that the given sources load (keys start with `raw_<source>`)."""
    prefixes = {f"raw_{source}" for source in sources}
    return [key for assets in RAW_TABLE_ASSETS for key in assets.keys if key.path[0] in prefixes]
