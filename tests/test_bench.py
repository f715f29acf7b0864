"""The ingestion benchmark runs at a tiny scale and writes a well-formed result whose figures
match the warehouses it loaded. No timing is asserted: speed is measured in bench/, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline_support import query

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_ingest_benchmark_writes_its_result(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    workdir = tmp_path / "work"
    command = [
        sys.executable, "-m", "bench.ingest", "--sources", "circleci",
        "--runs-per-weekday", "1", "--days", "3", "--deploy-days", "5",
        "--workdir", str(workdir), "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, timeout=120)

    result = json.loads(out.read_text())
    assert result["benchmark"] == "ingest"
    assert result["command"].endswith("--out " + str(out))
    assert result["scale"] == {
        "as_of": "2026-03-15", "seed": 11, "runs_per_weekday": 1.0, "days": 3, "deploy_days": 5
    }  # fmt: skip
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["ram_gib"] > 0
    assert set(machine["versions"]) >= {"duckdb", "dlt", "dbt-core"}
    assert all(machine["versions"][name] for name in ("duckdb", "dlt", "dbt-core"))

    (circleci,) = result["per_source"]
    assert circleci["source"] == "circleci" and circleci["format"] == "parquet"
    assert circleci["requests"] > 0 and circleci["peak_rss_mib"] > 0
    # The rows the benchmark counts are the rows that landed, table by table.
    warehouse = workdir / "circleci" / "insights.duckdb"
    for table, rows in circleci["row_counts"].items():
        assert query(warehouse, f"select count(*) from raw_circleci.{table}")[0][0] == rows, table
    assert circleci["rows"] == sum(circleci["row_counts"].values()) > 0

    # Both loader formats loaded the same data as the first load.
    parquet, insert_values = result["loader_formats"]
    assert [parquet["format"], insert_values["format"]] == ["parquet", "insert_values"]
    assert parquet["row_counts"] == insert_values["row_counts"] == circleci["row_counts"]
    comparison = result["format_comparison"]
    assert comparison["largest_table_rows"] == max(circleci["row_counts"].values())
    assert set(comparison["ratio_insert_values_over_parquet"]) == {
        "extract_s", "normalize_s", "load_s", "total_s", "normalize_plus_load", "peak_rss"
    }  # fmt: skip
