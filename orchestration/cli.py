"""`insights`: run the warehouse's Dagster jobs from a shell.

    insights demo [--as-of DATE] [--warehouse PATH]   the whole graph on the simulated organisation
    insights run  [--as-of DATE] [--select SOURCES]   the whole graph on the configured sources
    insights export [--format csv|parquet] --out DIR  every mart to files (+ Octopus-style CSV)
    insights report --out FILE                        the static HTML dashboard

demo and run execute the `refresh_warehouse` job of `orchestration.definitions` in process,
export and report its `export_marts` and `build_report` jobs (reading INSIGHTS_WAREHOUSE
read-only): the same definitions `dagster dev -w workspace.yaml` serves, so a CLI run and a UI
run do the same work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ingestion import SOURCES
from ingestion.settings import PROJECT_ROOT, destination, report_date, warehouse_path
from orchestration.report import format_duration, format_rate

from .export import FORMATS

DEMO_WAREHOUSE = PROJECT_ROOT / "data" / "demo.duckdb"


def _as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-11-29, got {value!r}"
        ) from None


def run_pipeline(select: Sequence[str] = tuple(SOURCES), log_level: str = "INFO") -> bool:
    """Execute the job in process for the sources in `select`; True when every step succeeded.

    The environment (INSIGHTS_WAREHOUSE, INSIGHTS_AS_OF, SOURCES__*) must be set before this is
    called: dlt and dbt read it when the steps run.
    """
    from .definitions import defs, refresh_selection, sources_to_load

    job = defs.resolve_job_def("refresh_warehouse")
    selection = refresh_selection(sources_to_load(select, print))
    result = job.execute_in_process(
        instance=_instance(),
        asset_selection=selection,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    return result.success


def _instance():  # -> dagster.DagsterInstance (imported lazily: the CLI starts fast)
    """The instance of DAGSTER_HOME when set (runs show up in the UI), else a throwaway one."""
    import dagster as dg

    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )


def run_output_job(
    job_name: str, asset_name: str, config: dict[str, str], log_level: str = "WARNING"
) -> bool:
    """Execute one of the output jobs (export_marts, build_report) in process with `config` as
    its asset's run config; True when it succeeded. Reads INSIGHTS_WAREHOUSE read-only."""
    from .definitions import defs

    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=_instance(),
        raise_on_error=False,
        run_config={
            "ops": {asset_name: {"config": config}},
            "loggers": {"console": {"config": {"log_level": log_level}}},
        },
    )
    return result.success


def _existing_warehouse(command: str) -> Path | None:
    path = warehouse_path()
    if path.is_file():
        return path
    print(
        f"insights {command}: no warehouse at {path}; set INSIGHTS_WAREHOUSE to a built "
        "warehouse or run `insights run` (or `insights demo --warehouse PATH`) first.",
        file=sys.stderr,
    )
    return None


def command_export(args: argparse.Namespace) -> int:
    from .output_assets import EXPORT_ASSET

    warehouse = _existing_warehouse("export")
    if warehouse is None:
        return 1
    out_dir = Path(args.out).resolve()
    print(f"Exporting the marts of {warehouse} as {args.format} to {out_dir}")
    ok = run_output_job(
        "export_marts",
        EXPORT_ASSET,
        {"format": args.format, "out_dir": str(out_dir)},
        log_level=args.log_level,
    )
    if not ok:
        print("insights export: the export failed; see the log above.", file=sys.stderr)
        return 1
    print(f"Done: {out_dir}")
    return 0


def command_report(args: argparse.Namespace) -> int:
    from .output_assets import REPORT_ASSET

    warehouse = _existing_warehouse("report")
    if warehouse is None:
        return 1
    out_file = Path(args.out).resolve()
    ok = run_output_job(
        "build_report", REPORT_ASSET, {"out_file": str(out_file)}, log_level=args.log_level
    )
    if not ok:
        print("insights report: the report failed; see the log above.", file=sys.stderr)
        return 1
    print(f"Report of {warehouse} written to {out_file} ({out_file.stat().st_size:,} bytes)")
    return 0


def _prepare_warehouse(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["INSIGHTS_WAREHOUSE"] = str(path)


def command_run(args: argparse.Namespace) -> int:
    if args.as_of:
        os.environ["INSIGHTS_AS_OF"] = args.as_of.isoformat()
    select = [s.strip() for s in args.select.split(",")] if args.select else list(SOURCES)
    unknown = sorted(set(select) - set(SOURCES))
    if unknown:
        print(
            f"insights run: unknown source(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}",
            file=sys.stderr,
        )
        return 2
    _prepare_warehouse(warehouse_path())
    ok = run_pipeline(select)
    if not ok:
        print("insights run: the run failed; see the log above.", file=sys.stderr)
        return 1
    if destination() != "duckdb":
        # The printed summary reads the DuckDB file; elsewhere the marts are queried in place.
        print(
            f"insights run: the marts are built in schema marts of the {destination()} warehouse."
        )
        return 0
    print_summary(warehouse_path(), report_date())
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from sandbox import serve, simulate_organisation

    as_of = args.as_of or report_date()
    warehouse = Path(args.warehouse).resolve() if args.warehouse else DEMO_WAREHOUSE
    # The demo organisation is regenerated for the report date, so start from an empty warehouse.
    for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        stale.unlink(missing_ok=True)
    _prepare_warehouse(warehouse)
    _clear_dlt_state()

    print(f"Simulated organisation: seed {args.seed}, report date {as_of}; its APIs are served at")
    organisation = simulate_organisation(as_of, seed=args.seed)
    with serve(organisation) as emulators:
        for line in emulators.describe():
            print(f"  {line}")
        os.environ.update(
            {"INSIGHTS_AS_OF": as_of.isoformat(), **emulators.environment(organisation)}
        )
        ok = run_pipeline(list(SOURCES), log_level=args.log_level)
    if not ok:
        print("insights demo: the run failed; see the log above.", file=sys.stderr)
        return 1
    print_summary(warehouse, as_of)
    return 0


def _clear_dlt_state() -> None:
    """dlt keeps a working folder beside the warehouse; a fresh warehouse needs a fresh one."""
    import shutil

    from ingestion.settings import dlt_pipelines_dir

    shutil.rmtree(dlt_pipelines_dir(), ignore_errors=True)


def _format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def print_summary(warehouse: Path, as_of: dt.date) -> None:
    """One line per workflow (all branches) and window: runs, success rate, median and p95."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            """
            select provider, project_slug, workflow_name, reporting_window, total_runs, success_rate,
                   duration_median_seconds, duration_p95_seconds
            from marts.ci_workflow_summary
            where branch = '*' and reporting_window in ('7d', '90d')
            order by provider, project_slug, workflow_name, reporting_window desc
            """
        ).fetchall()
    header = ("provider", "project", "workflow", "window", "runs", "success", "median", "p95")
    table = [header] + [
        (
            provider,
            project,
            workflow,
            window,
            str(runs),
            format_rate(rate),
            _format_seconds(median),
            _format_seconds(p95),
        )
        for provider, project, workflow, window, runs, rate, median, p95 in rows
    ]
    if not rows:
        table.append(("(no workflow runs in the last 90 days)", "", "", "", "", "", "", ""))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = {4, 5, 6, 7}
    print(
        f"\nCI workflow summary, all branches, as of {as_of} (windows end at midnight UTC after it)\n"
    )
    for index, row in enumerate(table):
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print_deployments(warehouse, as_of)
    print_dora(warehouse, as_of)
    print(f"\nWarehouse: {warehouse}  (marts in schema `marts`; try: duckdb {warehouse})")


def print_deployments(warehouse: Path, as_of: dt.date) -> None:
    """Deployments completed in the 30 days up to the report date, per provider and scope kind."""
    import duckdb

    end = as_of + dt.timedelta(days=1)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            """
            select provider, count(*) filter (where is_production) as production,
                   count(*) filter (where is_successful) as successful,
                   count(*) filter (where is_failure) as failures,
                   count(*) filter (where is_failure) / nullif(count(*) filter (where is_failure or is_successful), 0)
            from intermediate.int_deployments
            where completed_at >= cast(? as timestamp) - interval 30 day and completed_at < cast(? as timestamp)
            group by 1 order by 1
            """,
            [end, end],
        ).fetchall()
    if not rows:
        return
    print(f"\nDeployments completed in the 30 days up to {as_of}\n")
    print(
        f"{'provider':<9} {'to production':>13} {'successful':>10} {'failed':>6} {'failure rate':>12}"
    )
    for provider, production, successful, failures, rate in rows:
        print(
            f"{provider:<9} {production:>13} {successful:>10} {failures:>6} {format_rate(rate):>12}"
        )


def print_dora(warehouse: Path, as_of: dt.date) -> None:
    """DORA over the last 90 days, one line per project and production environment.

    dora_summary is a cube over environment names, not over "production": a project with two
    production environments (Octopus "Production" and "Production EU") gets a line for each,
    all tenants and channels together ('*').
    """
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            """
            select project, environment, successful_deployments, failure_rate,
                   lead_time_median_seconds, time_to_recovery_median_seconds,
                   deployment_frequency_tier, lead_time_tier, failure_rate_tier,
                   time_to_recovery_tier, overall_tier
            from marts.dora_summary
            where reporting_window = '90d' and is_production
              and project <> '*' and tenant = '*' and channel = '*'
            order by project, environment
            """
        ).fetchall()
    if not rows:
        return
    header = (
        "project",
        "environment",
        "deploys",
        "failure",
        "lead time",
        "recovery",
        "frequency tier",
        "lead tier",
        "failure tier",
        "recovery tier",
        "overall",
    )
    table = [header] + [
        (
            project,
            environment,
            str(successful),
            format_rate(rate),
            format_duration(lead_time),
            format_duration(recovery),
            *(tier or "-" for tier in tiers),
        )
        for project, environment, successful, rate, lead_time, recovery, *tiers in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = {2, 3, 4, 5}
    print(
        f"\nDORA (last 90 days, production) up to {as_of}: successful deployments, failure rate,"
        " median lead and recovery times, DORA 2023 tiers (overall = the lowest)\n"
    )
    for index, row in enumerate(table):
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="insights", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline on the simulated organisation")
    demo.add_argument(
        "--as-of", type=_as_of, help="report date (default INSIGHTS_AS_OF or today, UTC)"
    )
    demo.add_argument(
        "--warehouse",
        help=f"DuckDB file to (re)create (default {DEMO_WAREHOUSE.relative_to(PROJECT_ROOT)})",
    )
    demo.add_argument("--seed", type=int, default=7, help="seed of the simulated organisation")
    demo.add_argument(
        "--log-level", default="WARNING", help="Dagster console log level (default WARNING)"
    )
    demo.set_defaults(handler=command_demo)

    run = commands.add_parser("run", help="run the whole pipeline on the configured sources")
    run.add_argument(
        "--as-of", type=_as_of, help="report date (default INSIGHTS_AS_OF or today, UTC)"
    )
    run.add_argument(
        "--select", help=f"comma list of sources to load (default all: {', '.join(SOURCES)})"
    )
    run.set_defaults(handler=command_run)

    export = commands.add_parser(
        "export", help="write every mart of INSIGHTS_WAREHOUSE to CSV or Parquet files"
    )
    export.add_argument(
        "--format", choices=FORMATS, default="csv", help="file format (default csv)"
    )
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    export.add_argument(
        "--log-level", default="WARNING", help="Dagster console log level (default WARNING)"
    )
    export.set_defaults(handler=command_export)

    report = commands.add_parser(
        "report", help="write the static HTML dashboard of INSIGHTS_WAREHOUSE"
    )
    report.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")
    report.add_argument(
        "--log-level", default="WARNING", help="Dagster console log level (default WARNING)"
    )
    report.set_defaults(handler=command_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
