"""dlt sources for CI and deployment APIs, runnable with or without Dagster.

`SOURCES` names every provider the warehouse knows: the dlt source function that loads it, the
variables that switch it on, and the arguments that build a credential-free instance whose only
use is to describe its resources (Dagster needs the resource list before any token exists). A
provider with no configuration is skipped with one log line, never an error (specs/marts.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .circleci import circleci_is_configured, circleci_source
from .github import github_is_configured, github_source
from .gitlab import gitlab_is_configured, gitlab_source
from .octopus import octopus_is_configured, octopus_source


@dataclass(frozen=True)
class SourceInfo:
    name: str
    title: str
    required_variables: tuple[str, ...]
    is_configured: Callable[[], bool]
    source: Callable[..., Any]  # the @dlt.source function
    description_arguments: Mapping[str, Any] = field(default_factory=dict)

    def skip_message(self) -> str:
        return (
            f"{self.title}: not configured (set {' and '.join(self.required_variables)}); skipped."
        )

    def describing_source(self) -> Any:
        """An instance that only lists the resources; it is never run."""
        return self.source(**self.description_arguments)


SOURCES: dict[str, SourceInfo] = {
    "circleci": SourceInfo(
        name="circleci",
        title="CircleCI",
        required_variables=("SOURCES__CIRCLECI__API_TOKEN", "SOURCES__CIRCLECI__PROJECT_SLUGS"),
        is_configured=circleci_is_configured,
        source=circleci_source,
        description_arguments={"project_slugs": "", "api_token": "", "base_url": "http://unused"},
    ),
    "github": SourceInfo(
        name="github",
        title="GitHub Actions",
        required_variables=("SOURCES__GITHUB__ACCESS_TOKEN", "SOURCES__GITHUB__REPOSITORIES"),
        is_configured=github_is_configured,
        source=github_source,
        description_arguments={"repositories": "", "access_token": "", "base_url": "http://unused"},
    ),
    "gitlab": SourceInfo(
        name="gitlab",
        title="GitLab CI",
        required_variables=("SOURCES__GITLAB__PRIVATE_TOKEN", "SOURCES__GITLAB__PROJECTS"),
        is_configured=gitlab_is_configured,
        source=gitlab_source,
        description_arguments={"projects": "", "private_token": "", "base_url": "http://unused"},
    ),
    "octopus": SourceInfo(
        name="octopus",
        title="Octopus Deploy",
        required_variables=("SOURCES__OCTOPUS__API_KEY", "SOURCES__OCTOPUS__BASE_URL"),
        is_configured=octopus_is_configured,
        source=octopus_source,
        description_arguments={"api_key": "", "base_url": "http://unused"},
    ),
}


def configured_sources() -> list[str]:
    return [name for name, info in SOURCES.items() if info.is_configured()]
