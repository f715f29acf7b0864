"""Record checks shared by the sources: a record that cannot be loaded is quarantined, not dropped.

A source checks each record for the fields its models rely on. A record that fails goes, whole
and with the reason, to the `quarantine` table of the source's raw schema (append-only), so a
malformed API response never loses data silently and never stops the load of the good records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import dlt

QUARANTINE_TABLE = "quarantine"

_QUARANTINE_HINTS = dlt.mark.make_hints(
    table_name=QUARANTINE_TABLE,
    write_disposition="append",
    # A table variant inherits the resource's hints: the quarantined record has no usable key.
    primary_key=[],
    merge_key=[],
    columns={
        "resource": {"data_type": "text", "nullable": False},
        "record_id": {"data_type": "text"},
        "reason": {"data_type": "text", "nullable": False},
        "record": {"data_type": "json"},
        "quarantined_at": {"data_type": "timestamp", "nullable": False},
    },
)

# What a required field must look like: a Python type, or "timestamp" (an ISO 8601 string).
FieldKind = type | tuple[type, ...] | str


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def problem_with(record: Any, required: Mapping[str, FieldKind]) -> str | None:
    """Why `record` cannot be loaded (missing or mistyped required fields), or None if it can.

    `required` maps a field (dotted for nested objects, e.g. `vcs.revision`) to its kind.
    """
    if not isinstance(record, Mapping):
        return f"expected a JSON object, got {type(record).__name__}"
    for path, kind in required.items():
        value = _lookup(record, path)
        if value is None:
            return f"missing required field {path!r}"
        if kind == "timestamp":
            try:
                dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return f"field {path!r} is not an ISO 8601 timestamp: {value!r}"
        elif not isinstance(kind, str) and (
            not isinstance(value, kind) or (isinstance(value, bool) and kind is int)
        ):
            return f"field {path!r} has type {type(value).__name__}, expected {getattr(kind, '__name__', kind)}"
    return None


def quarantined(resource: str, record: Any, reason: str) -> Any:
    """`record` routed to the quarantine table with its reason (yield it from the resource)."""
    record_id = _lookup(record, "id") if isinstance(record, Mapping) else None
    try:
        kept = json.loads(json.dumps(record, default=str))
    except (TypeError, ValueError):
        kept = repr(record)
    row = {
        "resource": resource,
        "record_id": None if record_id is None else str(record_id),
        "reason": reason,
        "record": kept,
        "quarantined_at": dt.datetime.now(dt.UTC),
    }
    return dlt.mark.with_hints(row, _QUARANTINE_HINTS, create_table_variant=True)


def is_page(item: Any) -> bool:
    """Transformers see everything their parent yields, quarantine rows (single dicts) too; the
    records to work on come as pages (lists)."""
    return isinstance(item, list)


def checked(
    resource: str, records: Iterable[Any], required: Mapping[str, FieldKind]
) -> tuple[list[Any], list[Any]]:
    """Split a page into (loadable records, quarantine rows to yield)."""
    good, bad = [], []
    for record in records:
        reason = problem_with(record, required)
        if reason is None:
            good.append(record)
        else:
            bad.append(quarantined(resource, record, reason))
    return good, bad
