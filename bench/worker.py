"""The measured child process of the benchmarks: `python -m bench.worker load SOURCE...`.

Loads the given sources with the project's own dlt pipelines (`ingestion.pipelines`) into
INSIGHTS_WAREHOUSE, timing extract, normalize and load separately, and prints one JSON line:
per source the phase times, the rows normalized per table, and the process's peak RSS so far
after each phase (which phase raised the peak).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any


def peak_rss_mib() -> float:
    """The peak resident set of this process so far (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load(source_name: str, loader_file_format: str) -> dict[str, Any]:
    from ingestion import SOURCES
    from ingestion.pipelines import make_pipeline
    from ingestion.settings import report_date

    pipeline = make_pipeline(source_name)
    source = SOURCES[source_name].source(as_of=report_date())
    phases: dict[str, float] = {}
    peaks = {"before": peak_rss_mib()}
    start = time.perf_counter()
    pipeline.extract(source, loader_file_format=loader_file_format)
    phases["extract_s"] = time.perf_counter() - start
    peaks["extract"] = peak_rss_mib()
    mark = time.perf_counter()
    normalize_info = pipeline.normalize()
    phases["normalize_s"] = time.perf_counter() - mark
    peaks["normalize"] = peak_rss_mib()
    mark = time.perf_counter()
    pipeline.load()
    phases["load_s"] = time.perf_counter() - mark
    peaks["load"] = peak_rss_mib()
    phases["total_s"] = time.perf_counter() - start
    row_counts = {
        table: count
        for table, count in normalize_info.row_counts.items()
        if not table.startswith("_dlt")
    }
    return {
        **{name: round(value, 3) for name, value in phases.items()},
        "peak_rss_mib_after": peaks,
        "rows": sum(row_counts.values()),
        "row_counts": dict(sorted(row_counts.items(), key=lambda item: -item[1])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    commands = parser.add_subparsers(dest="command", required=True)
    load_parser = commands.add_parser("load", help="load sources into INSIGHTS_WAREHOUSE")
    load_parser.add_argument("sources", nargs="+")
    load_parser.add_argument("--format", default="parquet", help="dlt loader_file_format")
    args = parser.parse_args()
    results = {name: load(name, args.format) for name in args.sources}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
