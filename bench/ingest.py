"""Ingestion throughput per source, and parquet against insert_values on the same data.

    python -m bench.ingest [--runs-per-weekday 7] [--days 90] [--deploy-days 200] [--skip-formats]

Serves the simulated organisation through the emulators and loads each source with the real
dlt source and the project's pipeline into a fresh DuckDB warehouse, each in its own process:
rows normalized per second (extract + normalize + load, process start-up excluded), requests the
emulator answered, peak RSS of the loading process. Then loads the CircleCI source again
(its highest-volume table is the test results) into two fresh warehouses, once with the shipped
`parquet` loader format and once with dlt's default `insert_values`, and compares the phases.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench import common


def load_one(
    emulators: Any,
    organisation: Any,
    scale: common.Scale,
    workdir: Any,
    source: str,
    fmt: str,
    label: str,
) -> dict[str, Any]:
    """A first (full) load of one source into its own fresh warehouse, in a child process."""
    warehouse = workdir / label / "insights.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    env = common.pipeline_env(warehouse, emulators, organisation, scale.as_of)
    before = common.request_count(emulators, [source])
    measured = common.measure(
        common.load_command([source], fmt), env, workdir / "logs" / f"{label}.log"
    )
    figures = measured.output[source]
    return {
        "source": source,
        "format": fmt,
        "process_wall_s": measured.wall_s,
        "peak_rss_mib": measured.peak_rss_mib,
        "requests": common.request_count(emulators, [source]) - before,
        "rows_per_s": round(figures["rows"] / figures["total_s"], 1),
        **figures,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    common.add_scale_arguments(parser)
    common.add_output_arguments(parser, "ingest")
    parser.add_argument("--sources", default=",".join(common.SOURCE_NAMES))
    parser.add_argument(
        "--format-source", default="circleci", help="the source of the format comparison"
    )
    parser.add_argument("--skip-formats", action="store_true")
    args = parser.parse_args(argv)
    machine_info = common.machine()
    scale = common.scale_from(args)
    workdir = common.fresh_dir(args.workdir)
    sources = [s for s in args.sources.split(",") if s]

    with common.served(scale) as (organisation, emulators):
        per_source = [
            load_one(emulators, organisation, scale, workdir, source, "parquet", source)
            for source in sources
        ]
        formats = []
        if not args.skip_formats:
            formats = [
                load_one(
                    emulators,
                    organisation,
                    scale,
                    workdir,
                    args.format_source,
                    fmt,
                    f"format-{fmt}",
                )
                for fmt in ("parquet", "insert_values")
            ]

    print(f"Ingestion per source ({scale.asdict()})")
    print(
        common.table(
            [
                "source",
                "rows",
                "requests",
                "extract s",
                "normalize s",
                "load s",
                "rows/s",
                "peak RSS MiB",
            ],
            [
                [
                    r["source"],
                    r["rows"],
                    r["requests"],
                    r["extract_s"],
                    r["normalize_s"],
                    r["load_s"],
                    r["rows_per_s"],
                    r["peak_rss_mib"],
                ]
                for r in per_source
            ],
        )
    )
    comparison: dict[str, Any] = {}
    if formats:
        parquet, insert_values = formats
        top_table, top_rows = next(iter(parquet["row_counts"].items()))
        comparison = {
            "source": args.format_source,
            "largest_table": top_table,
            "largest_table_rows": top_rows,
            "rows": parquet["rows"],
            "normalize_plus_load_s": {
                fmt["format"]: round(fmt["normalize_s"] + fmt["load_s"], 3) for fmt in formats
            },
            "ratio_insert_values_over_parquet": {
                phase: common.ratio(insert_values[phase], parquet[phase])
                for phase in ("extract_s", "normalize_s", "load_s", "total_s")
            }
            | {
                "normalize_plus_load": common.ratio(
                    insert_values["normalize_s"] + insert_values["load_s"],
                    parquet["normalize_s"] + parquet["load_s"],
                ),
                "peak_rss": common.ratio(insert_values["peak_rss_mib"], parquet["peak_rss_mib"]),
            },
        }
        print(
            f"\nLoader file format on {args.format_source} ({parquet['rows']:,} rows; largest "
            f"table {top_table}: {top_rows:,})"
        )
        print(
            common.table(
                [
                    "format",
                    "extract s",
                    "normalize s",
                    "load s",
                    "normalize+load s",
                    "peak RSS MiB",
                ],
                [
                    [
                        f["format"],
                        f["extract_s"],
                        f["normalize_s"],
                        f["load_s"],
                        f["normalize_s"] + f["load_s"],
                        f["peak_rss_mib"],
                    ]
                    for f in formats
                ],
            )
        )
        ratios = comparison["ratio_insert_values_over_parquet"]
        print(
            f"insert_values / parquet: normalize+load x{ratios['normalize_plus_load']}, "
            f"load x{ratios['load_s']}, total x{ratios['total_s']}"
        )
    return common.write_result(
        args.out,
        "ingest",
        machine_info,
        scale.asdict(),
        {"per_source": per_source, "loader_formats": formats, "format_comparison": comparison},
    )


if __name__ == "__main__":
    main()
