"""Dagster assets for what leaves the warehouse: the file export and the HTML report.

Both sit downstream of the marts in the asset graph (group `outputs`), read the configured
warehouse (INSIGHTS_WAREHOUSE) read-only, and take where to write as run config, so the
`insights export` / `insights report` commands and a launch from the Dagster UI run the same
code. They are not part of `refresh_warehouse`: each has its own job.

(No `from __future__ import annotations`: Dagster reads the Config annotations at run time.)
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from ingestion.settings import PROJECT_ROOT, warehouse_path

from .export import FORMATS, ExportedFile, atomic_target, export_warehouse
from .ingestion_assets import WAREHOUSE_POOL
from .report import render_report
from .transform_assets import warehouse_models

OUTPUTS_GROUP = "outputs"
EXPORT_ASSET = "marts_export"
REPORT_ASSET = "html_report"

MART_KEYS = sorted((key for key in warehouse_models.keys if key.path[0] == "marts"), key=str)
REPORT_MARTS = ("ci_workflow_summary", "ci_workflow_daily", "ci_flaky_tests", "dora_summary")


class ExportConfig(dg.Config):
    format: str = Field(default="csv", description="csv or parquet")
    out_dir: str = Field(
        default=str(PROJECT_ROOT / "data" / "export"),
        description="Folder to write <mart>.<format> and deployments_octopus_format.csv into.",
    )


class ReportConfig(dg.Config):
    out_file: str = Field(
        default=str(PROJECT_ROOT / "data" / "report.html"),
        description="The HTML file to write (overwritten).",
    )


class WarehouseMissing(Exception):
    pass


@contextmanager
def read_only_warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    """The configured warehouse, opened read-only (a missing file is an error, not a new DB)."""
    path = warehouse_path()
    if not path.is_file():
        raise WarehouseMissing(
            f"no warehouse at {path}; set INSIGHTS_WAREHOUSE or run `insights run` first"
        )
    with duckdb.connect(str(path), read_only=True) as connection:
        yield connection


def describe(exported: ExportedFile) -> str:
    return f"{exported.name:<32} {exported.rows:>9} rows  -> {exported.path}"


@dg.asset(
    key=EXPORT_ASSET,
    group_name=OUTPUTS_GROUP,
    deps=MART_KEYS,
    pool=WAREHOUSE_POOL,
    description="Every table of schema `marts` as <mart>.csv or <mart>.parquet, plus "
    "deployments_octopus_format.csv (Octopus's 17 CSV columns from fct_deployments).",
)
def marts_export(context: dg.AssetExecutionContext, config: ExportConfig) -> dg.MaterializeResult:
    if config.format not in FORMATS:
        raise dg.Failure(f"format must be one of {', '.join(FORMATS)}, got {config.format!r}")
    out_dir = Path(config.out_dir).resolve()

    def progress(exported: ExportedFile) -> None:
        line = describe(exported)
        print(line, flush=True)
        context.log.debug(line)

    with read_only_warehouse() as connection:
        exported = export_warehouse(connection, config.format, out_dir, progress)
    return dg.MaterializeResult(
        metadata={
            "out_dir": dg.MetadataValue.path(str(out_dir)),
            "format": config.format,
            "files": len(exported),
            "rows": dg.MetadataValue.json({item.path.name: item.rows for item in exported}),
        }
    )


@dg.asset(
    key=REPORT_ASSET,
    group_name=OUTPUTS_GROUP,
    deps=[dg.AssetKey(["marts", name]) for name in REPORT_MARTS],
    pool=WAREHOUSE_POOL,
    description="A self-contained static HTML page: CI health per workflow (success, median/p95, "
    "90-day sparkline, flaky tests) and DORA per project with tiers and trends.",
)
def html_report(context: dg.AssetExecutionContext, config: ReportConfig) -> dg.MaterializeResult:
    target = Path(config.out_file).resolve()
    with read_only_warehouse() as connection:
        page = render_report(connection)
    with atomic_target(target) as temporary:
        temporary.write_text(page, encoding="utf-8")
    context.log.debug("report written to %s", target)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(target)), "bytes": len(page.encode())}
    )


export_marts_job = dg.define_asset_job(
    name="export_marts",
    selection=[EXPORT_ASSET],
    description="Write every mart to files (run config: format, out_dir).",
)
build_report_job = dg.define_asset_job(
    name="build_report",
    selection=[REPORT_ASSET],
    description="Write the HTML dashboard (run config: out_file).",
)
