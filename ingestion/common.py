"""Helpers every source shares: configuration lists, timestamps, the retrying HTTP session and
the error a source raises when the provider rejects its credentials."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import dlt
import requests
from dlt.sources.helpers.requests import Client

# Transient failures below HTTP: a dropped connection, a timeout, a body cut off mid-way.
RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class SourceAuthError(RuntimeError):
    """The provider rejected our credentials: the message names the source and the variable to set."""


def parse_list(value: str | Sequence[str] | None) -> list[str]:
    """Accept a comma list (`a,b`) or a JSON list (`["a", "b"]`), as marts.md promises."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        items = json.loads(text) if text.startswith("[") else text.split(",")
    else:
        items = list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def parse_timestamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def http_session(max_attempts: int, backoff_factor: float) -> Any:
    """A requests session that retries 429, 5xx and connection errors with exponential backoff
    and honours Retry-After (dlt's client); the REST client raises on what is left."""
    return Client(
        retry_condition=lambda response, _exception: is_malformed_json(response),
        request_timeout=60,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor,
        request_max_retry_delay=300,
        raise_for_status=False,  # RESTClient raises itself, after its own response hooks
    ).session


def is_malformed_json(response: requests.Response | None) -> bool:
    """A success whose body is not a JSON document (a proxy's HTML page, a body cut short):
    transient in practice, so it is retried like a 5xx rather than failing the load."""
    if response is None or not response.ok or response.status_code == 204:
        return False
    body = response.content.strip()
    return not body or body[:1] not in (b"{", b"[") or body[-1:] not in (b"}", b"]")


def declared_columns(**types: str) -> dict[str, dict[str, Any]]:
    """dlt column hints from name=data_type pairs: declared columns exist even when a load has
    no value for them, so staging can always select them."""
    return {name: {"data_type": data_type} for name, data_type in types.items()}


def settings_present(section: str, secret: str, setting: str) -> bool:
    """True when `sources.<section>.<secret>` and `sources.<section>.<setting>` both resolve (env
    or .dlt/ files) to something non-empty; a list setting needs at least one item."""
    try:
        secret_value = dlt.secrets.get(f"sources.{section}.{secret}")
        setting_value = dlt.config.get(f"sources.{section}.{setting}")
    except Exception:  # any resolution failure means "not configured"
        return False
    return bool(secret_value) and bool(parse_list(setting_value))


def raise_if_rejected(exc: requests.HTTPError, rejected: str, advice: str) -> None:
    """Turn a 401/403 into a SourceAuthError: "<rejected> (HTTP <status>). <advice>".

    The URL may be shown (credentials travel in headers); the credential itself never is.
    """
    status = exc.response.status_code if exc.response is not None else None
    if status in (401, 403):
        raise SourceAuthError(f"{rejected} (HTTP {status}). {advice}") from None
