"""`insights export`: every mart to one file, plus the deployments in Octopus's CSV layout.

Pure functions over an open (read-only) DuckDB connection; the Dagster asset in
output_assets.py calls them. Every file is written beside its final name and renamed into place,
so a reader never sees half a file and a re-export overwrites the previous one.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

FORMATS = ("csv", "parquet")
OCTOPUS_CSV_NAME = "deployments_octopus_format.csv"

# Octopus Deploy's DevOps Insights CSV download, same columns in the same order (metrics.md §4).
OCTOPUS_COLUMNS = (
    "Deployment",
    "Project",
    "Release",
    "Channel",
    "Completed",
    "Environment",
    "Tenant",
    "State",
    "Had Guided Failure",
    "Lead Time",
    "Lead Time Calculated From",
    "Since Previous Successful",
    "Previous Successful",
    "Time to Recovery",
    "Deployments Until Recovery",
    "Recovery From",
    "Recovery From Version",
)


@dataclass(frozen=True)
class ExportedFile:
    name: str  # the mart, or the Octopus file's stem
    path: Path
    rows: int


def mart_tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table (and view) of schema `marts` in the open warehouse, by name."""
    rows = connection.execute(
        """
        select table_name from information_schema.tables
        where table_schema = 'marts' and table_catalog = current_database()
        order by table_name
        """
    ).fetchall()
    return [name for (name,) in rows]


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_mart(
    connection: duckdb.DuckDBPyConnection, mart: str, fmt: str, out_dir: Path
) -> ExportedFile:
    """COPY one mart to `<out_dir>/<mart>.<fmt>` (CSV with a header row; Parquet as is)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    target = out_dir / f"{mart}.{fmt}"
    options = "format csv, header true" if fmt == "csv" else "format parquet"
    with atomic_target(target) as temporary:
        copied = connection.execute(
            f"copy (select * from marts.{_quote_identifier(mart)}) "
            f"to {_quote_literal(str(temporary))} ({options})"
        ).fetchone()
    return ExportedFile(mart, target, int(copied[0]) if copied else 0)


def format_duration(seconds: float | None) -> str:
    """A duration as Octopus (.NET TimeSpan) writes it: `[d.]hh:mm:ss`, whole seconds.

    90061.4 s -> "1.01:01:01", 3725 s -> "01:02:05", 0 -> "00:00:00", None -> "".
    """
    if seconds is None:
        return ""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{clock}" if days else clock


def format_timestamp(value: dt.datetime | None) -> str:
    """A UTC timestamp (the warehouse stores naive UTC) as ISO 8601 with a Z, whole seconds."""
    if value is None:
        return ""
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def octopus_rows(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, ...]]:
    """Every row of fct_deployments (all providers) as Octopus's 17 CSV columns.

    Oldest completion first, deployments without a completion time last. Deployment, Previous
    Successful and Recovery From are provider ids (a GitHub and a GitLab id can coincide; Project
    tells them apart); Release is the version, or the deployed sha where there are no releases;
    State is the warehouse's canonical state (success, failed, cancelled, in_progress); Had
    Guided Failure is True/False; durations are `[d.]hh:mm:ss` (format_duration); Completed is
    UTC, ISO 8601 with a Z.
    """
    rows = connection.execute(
        """
        select deployment_id, project, release_version, channel, completed_at, environment,
               tenant, state, had_guided_failure, lead_time_seconds, lead_time_calculated_from,
               since_previous_successful_seconds, previous_successful_deployment_id,
               time_to_recovery_seconds, deployments_until_recovery,
               recovery_from_deployment_id, recovery_from_version
        from marts.fct_deployments
        order by completed_at nulls last, provider, deployment_id
        """
    ).fetchall()
    return [
        (
            _text(deployment),
            _text(project),
            _text(release),
            _text(channel),
            format_timestamp(completed),
            _text(environment),
            _text(tenant),
            _text(state),
            "" if guided is None else ("True" if guided else "False"),
            format_duration(lead_time),
            _text(lead_time_from),
            format_duration(since_previous),
            _text(previous),
            format_duration(recovery),
            _text(until_recovery),
            _text(recovery_from),
            _text(recovery_version),
        )
        for (
            deployment,
            project,
            release,
            channel,
            completed,
            environment,
            tenant,
            state,
            guided,
            lead_time,
            lead_time_from,
            since_previous,
            previous,
            recovery,
            until_recovery,
            recovery_from,
            recovery_version,
        ) in rows
    ]


def export_octopus_csv(connection: duckdb.DuckDBPyConnection, out_dir: Path) -> ExportedFile:
    """Write `deployments_octopus_format.csv` (UTF-8, comma separated, header row)."""
    target = out_dir / OCTOPUS_CSV_NAME
    rows = octopus_rows(connection)
    with atomic_target(target) as temporary:
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(OCTOPUS_COLUMNS)
            writer.writerows(rows)
    return ExportedFile(target.stem, target, len(rows))


def export_warehouse(
    connection: duckdb.DuckDBPyConnection,
    fmt: str,
    out_dir: Path,
    progress: Callable[[ExportedFile], None] = lambda exported: None,
) -> list[ExportedFile]:
    """Every mart, then the Octopus-format deployments CSV (when fct_deployments exists)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    marts = mart_tables(connection)
    if not marts:
        raise LookupError("the warehouse has no schema `marts`; run `insights run` first")
    exported = []
    for mart in marts:
        exported.append(export_mart(connection, mart, fmt, out_dir))
        progress(exported[-1])
    if "fct_deployments" in marts:
        exported.append(export_octopus_csv(connection, out_dir))
        progress(exported[-1])
    return exported
