"""dlt sources for CI and deployment APIs, runnable with or without Dagster.

`SOURCES` names every provider the warehouse knows, with the variables that switch it on; a
provider with no configuration is skipped with one log line, never an error (specs/marts.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .circleci import circleci_is_configured


@dataclass(frozen=True)
class SourceInfo:
    name: str
    title: str
    required_variables: tuple[str, ...]
    is_configured: Callable[[], bool]

    def skip_message(self) -> str:
        return (
            f"{self.title}: not configured (set {' and '.join(self.required_variables)}); skipped."
        )


SOURCES: dict[str, SourceInfo] = {
    "circleci": SourceInfo(
        name="circleci",
        title="CircleCI",
        required_variables=("SOURCES__CIRCLECI__API_TOKEN", "SOURCES__CIRCLECI__PROJECT_SLUGS"),
        is_configured=circleci_is_configured,
    ),
}


def configured_sources() -> list[str]:
    return [name for name, info in SOURCES.items() if info.is_configured()]
