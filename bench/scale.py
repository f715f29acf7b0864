"""The same ingestion at two (or more) sizes: do time and memory grow with the data?

    python -m bench.scale [--base-runs-per-weekday 3] [--factors 1,4] [--with-dbt]

For each factor the organisation gets `factor x base` push pipelines per weekday (same seed,
days and deployment history), is served fresh, and every source is loaded into a fresh warehouse
one source per child process (peak RSS from the kernel). Rows grow about linearly with the factor; the
question is whether time follows the rows (it should: the sources page through the APIs) and
whether the peak RSS stays flat (it should: pages stream through dlt's extract files, none is
held whole). --with-dbt adds a full `dbt build` per size.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from bench import common
from bench.dbt_build import build


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    common.add_scale_arguments(parser, runs_per_weekday=3)
    common.add_output_arguments(parser, "scale")
    parser.add_argument("--factors", default="1,4", help="multipliers of --runs-per-weekday")
    parser.add_argument("--sources", default=",".join(common.SOURCE_NAMES))
    parser.add_argument("--with-dbt", action="store_true", help="also time a full dbt build")
    args = parser.parse_args(argv)
    machine_info = common.machine()
    base = common.scale_from(args)
    factors = [float(f) for f in args.factors.split(",")]
    sources = [s for s in args.sources.split(",") if s]
    workdir = common.fresh_dir(args.workdir)

    sizes = []
    for factor in factors:
        scale = dataclasses.replace(base, runs_per_weekday=base.runs_per_weekday * factor)
        folder = workdir / f"x{factor:g}"
        warehouse = folder / "insights.duckdb"
        folder.mkdir()
        with common.served(scale) as (organisation, emulators):
            env = common.pipeline_env(warehouse, emulators, organisation, scale.as_of)
            per_source = {}
            for source in sources:
                before = common.request_count(emulators, [source])
                measured = common.measure(
                    common.load_command([source]),
                    env,
                    workdir / "logs" / f"load-{source}-x{factor:g}.log",
                )
                per_source[source] = {
                    **{k: v for k, v in measured.output[source].items() if k != "row_counts"},
                    "requests": common.request_count(emulators, [source]) - before,
                    "process_wall_s": measured.wall_s,
                    "peak_rss_mib": measured.peak_rss_mib,
                }
        size = {
            "factor": factor,
            "runs_per_weekday": scale.runs_per_weekday,
            "rows": sum(s["rows"] for s in per_source.values()),
            "requests": sum(s["requests"] for s in per_source.values()),
            "load_s": round(sum(s["total_s"] for s in per_source.values()), 3),
            "process_wall_s": round(sum(s["process_wall_s"] for s in per_source.values()), 3),
            # The largest of the per-source processes (each source loads in its own).
            "peak_rss_mib": max(s["peak_rss_mib"] for s in per_source.values()),
            "per_source": per_source,
        }
        if args.with_dbt:
            dbt = build(f"x{factor:g}", scale.as_of, env, folder)
            size["dbt"] = {k: v for k, v in dbt.items() if k != "models"}
        sizes.append(size)

    first = sizes[0]
    ratios = []
    for size in sizes[1:]:
        entry = {
            "factors": f"x{size['factor']:g} / x{first['factor']:g}",
            "rows": common.ratio(size["rows"], first["rows"]),
            "requests": common.ratio(size["requests"], first["requests"]),
            "load_time": common.ratio(size["load_s"], first["load_s"]),
            "peak_rss": common.ratio(size["peak_rss_mib"], first["peak_rss_mib"]),
        }
        if args.with_dbt:
            entry["dbt_wall"] = common.ratio(size["dbt"]["wall_s"], first["dbt"]["wall_s"])
            entry["dbt_peak_rss"] = common.ratio(
                size["dbt"]["peak_rss_mib"], first["dbt"]["peak_rss_mib"]
            )
        ratios.append(entry)

    print(f"Ingestion of {', '.join(sources)} at {len(sizes)} sizes ({base.asdict()})")
    headers = ["factor", "runs/weekday", "rows", "requests", "load s", "rows/s", "peak RSS MiB"]
    if args.with_dbt:
        headers += ["dbt s", "dbt RSS MiB"]
    print(
        common.table(
            headers,
            [
                [
                    f"x{s['factor']:g}",
                    s["runs_per_weekday"],
                    s["rows"],
                    s["requests"],
                    s["load_s"],
                    round(s["rows"] / s["load_s"], 1),
                    s["peak_rss_mib"],
                    *((s["dbt"]["wall_s"], s["dbt"]["peak_rss_mib"]) if args.with_dbt else ()),
                ]
                for s in sizes
            ],
        )
    )
    per_source_ratios = {
        source: {
            "rows": common.ratio(
                last["per_source"][source]["rows"], first["per_source"][source]["rows"]
            ),
            "load_time": common.ratio(
                last["per_source"][source]["total_s"], first["per_source"][source]["total_s"]
            ),
            "peak_rss": common.ratio(
                last["per_source"][source]["peak_rss_mib"],
                first["per_source"][source]["peak_rss_mib"],
            ),
        }
        for last in sizes[-1:]
        for source in sources
    }
    print(f"\nper source, x{sizes[-1]['factor']:g} / x{first['factor']:g}")
    print(
        common.table(
            [
                "source",
                "rows",
                "rows x",
                "load time x",
                "peak RSS MiB",
                "peak RSS x",
                "RSS after extract/normalize/load",
            ],
            [
                [
                    source,
                    sizes[-1]["per_source"][source]["rows"],
                    per_source_ratios[source]["rows"],
                    per_source_ratios[source]["load_time"],
                    sizes[-1]["per_source"][source]["peak_rss_mib"],
                    per_source_ratios[source]["peak_rss"],
                    " / ".join(
                        str(sizes[-1]["per_source"][source]["peak_rss_mib_after"][phase])
                        for phase in ("extract", "normalize", "load")
                    ),
                ]
                for source in sources
            ],
        )
    )
    for entry in ratios:
        print(
            f"{entry['factors']}: rows x{entry['rows']}, requests x{entry['requests']}, "
            f"load time x{entry['load_time']}, peak RSS x{entry['peak_rss']}"
            + (
                f", dbt wall x{entry['dbt_wall']}, dbt RSS x{entry['dbt_peak_rss']}"
                if args.with_dbt
                else ""
            )
        )
    return common.write_result(
        args.out,
        "scale",
        machine_info,
        {**base.asdict(), "factors": factors, "sources": sources},
        {
            "sizes": sizes,
            "ratios": ratios,
            "per_source_ratios_largest_over_first": per_source_ratios,
        },
    )


if __name__ == "__main__":
    main()
