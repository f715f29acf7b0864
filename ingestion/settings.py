"""Settings shared by ingestion, dbt and Dagster, read from the environment.

The names are the public configuration interface of `specs/marts.md`; keep them exact.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "insights.duckdb"


def warehouse_path() -> Path:
    """The DuckDB file every writer (dlt and dbt) shares: `INSIGHTS_WAREHOUSE` or `data/insights.duckdb`."""
    return Path(os.environ.get("INSIGHTS_WAREHOUSE") or DEFAULT_WAREHOUSE).resolve()


def report_date() -> dt.date:
    """The report date `as_of`: `INSIGHTS_AS_OF` (YYYY-MM-DD), default today in UTC."""
    raw = os.environ.get("INSIGHTS_AS_OF")
    if not raw:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"INSIGHTS_AS_OF must be a date like 2026-11-29, got {raw!r}") from exc


def report_end(as_of: dt.date) -> dt.datetime:
    """The exclusive end instant of the report: midnight UTC after `as_of` (metrics.md, windows)."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def dlt_pipelines_dir() -> Path:
    """dlt's working folder lives beside the warehouse, so each warehouse has its own state."""
    return warehouse_path().parent / ".dlt_pipelines"
