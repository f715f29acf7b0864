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


# The warehouses dlt can load into and dbt can build on (dbt_project/profiles.yml has one output
# of the same name for each).
DESTINATIONS = ("duckdb", "postgres")


def destination() -> str:
    """Where dlt loads: `INSIGHTS_DESTINATION`, else the dbt target `INSIGHTS_DBT_TARGET` when it
    names a destination, else DuckDB. Setting either one to `postgres` moves the whole warehouse."""
    raw = os.environ.get("INSIGHTS_DESTINATION") or os.environ.get("INSIGHTS_DBT_TARGET") or ""
    name = raw.strip().lower() or "duckdb"
    if name not in DESTINATIONS:
        if os.environ.get("INSIGHTS_DESTINATION"):
            raise ValueError(
                f"INSIGHTS_DESTINATION must be one of {', '.join(DESTINATIONS)}, got {raw!r}"
            )
        return "duckdb"  # a dbt target of another name (a user's own) keeps dlt on DuckDB
    return name


def postgres_credentials() -> dict[str, str | int]:
    """The PostgreSQL warehouse, from the same variables dbt's `postgres` output reads (defaults:
    the local server that `.ci/start-postgres` sets up)."""
    return {
        "host": os.environ.get("INSIGHTS_POSTGRES_HOST") or "127.0.0.1",
        "port": int(os.environ.get("INSIGHTS_POSTGRES_PORT") or 5432),
        "username": os.environ.get("INSIGHTS_POSTGRES_USER") or "insights",
        "password": os.environ.get("INSIGHTS_POSTGRES_PASSWORD") or "insights",
        "database": os.environ.get("INSIGHTS_POSTGRES_DBNAME") or "insights",
    }


def dlt_pipelines_dir() -> Path:
    """dlt's working folder lives beside the warehouse, so each warehouse has its own state."""
    return warehouse_path().parent / ".dlt_pipelines"
