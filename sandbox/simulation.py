"""The whole simulated organisation: one report date and seed, four providers, four emulators.

`insights demo` serves all of it; each emulator answers exactly as its real API would, so a
source pointed at one of them with the environment from :meth:`Emulators.environment` works as
it would against the real service. Sources that the pipeline does not ingest yet are simply
served.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.circleci_emulator import CircleCIEmulator
from sandbox.github_emulator import GitHubEmulator
from sandbox.github_org import GitHubOrganisation
from sandbox.gitlab_emulator import GitLabEmulator
from sandbox.gitlab_org import GitLabOrganisation
from sandbox.octopus_emulator import OctopusEmulator
from sandbox.octopus_org import SPACE_ID, OctopusOrganisation
from sandbox.organisation import Organisation, generate_organisation


@dataclass
class SimulatedOrganisation:
    as_of: dt.date
    seed: int
    circleci: Organisation
    github: GitHubOrganisation
    gitlab: GitLabOrganisation
    octopus: OctopusOrganisation


def simulate_organisation(as_of: dt.date, *, seed: int = 7) -> SimulatedOrganisation:
    """Every provider's part of the organisation for the report date (90 days of CI, 400 of
    deployments). Cheap: records are generated when a day is first asked for."""
    return SimulatedOrganisation(
        as_of=as_of,
        seed=seed,
        circleci=generate_organisation(as_of, seed=seed),
        github=GitHubOrganisation(as_of, seed=seed),
        gitlab=GitLabOrganisation(as_of, seed=seed),
        octopus=OctopusOrganisation(as_of, seed=seed),
    )


@dataclass
class Emulators:
    circleci: CircleCIEmulator
    github: GitHubEmulator
    gitlab: GitLabEmulator
    octopus: OctopusEmulator

    def environment(self, organisation: SimulatedOrganisation) -> dict[str, str]:
        """The `SOURCES__*` variables (specs/marts.md) that point each source at its emulator."""
        return {
            "SOURCES__CIRCLECI__BASE_URL": self.circleci.base_url,
            "SOURCES__CIRCLECI__API_TOKEN": self.circleci.token,
            "SOURCES__CIRCLECI__PROJECT_SLUGS": ",".join(
                p.slug for p in organisation.circleci.projects
            ),
            "SOURCES__GITHUB__BASE_URL": self.github.base_url,
            "SOURCES__GITHUB__ACCESS_TOKEN": self.github.token,
            "SOURCES__GITHUB__REPOSITORIES": ",".join(
                r.full_name for r in organisation.github.repositories
            ),
            "SOURCES__GITLAB__BASE_URL": self.gitlab.base_url,
            "SOURCES__GITLAB__PRIVATE_TOKEN": self.gitlab.token,
            "SOURCES__GITLAB__PROJECTS": ",".join(
                p.path_with_namespace for p in organisation.gitlab.projects
            ),
            "SOURCES__OCTOPUS__BASE_URL": self.octopus.base_url,
            "SOURCES__OCTOPUS__API_KEY": self.octopus.api_key,
            "SOURCES__OCTOPUS__SPACE_ID": SPACE_ID,
        }

    def describe(self) -> list[str]:
        return [
            f"CircleCI API v2     {self.circleci.base_url}",
            f"GitHub REST         {self.github.base_url}",
            f"GitLab API v4       {self.gitlab.base_url}",
            f"Octopus Deploy API  {self.octopus.base_url}/api",
        ]


@contextlib.contextmanager
def serve(organisation: SimulatedOrganisation) -> Iterator[Emulators]:
    """All four emulators on free loopback ports for the duration of the block."""
    with (
        CircleCIEmulator(organisation.circleci) as circleci,
        GitHubEmulator(organisation.github) as github,
        GitLabEmulator(organisation.gitlab) as gitlab,
        OctopusEmulator(organisation.octopus) as octopus,
    ):
        yield Emulators(circleci, github, gitlab, octopus)
