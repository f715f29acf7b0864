"""The whole simulated organisation: one report date and seed, four providers, four emulators.

`insights demo` serves all of it; each emulator answers exactly as its real API would, so a
source pointed at one of them with the environment from :meth:`Emulators.environment` works as
it would against the real service. Sources that the pipeline does not ingest yet are simply
served.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.circleci_emulator import CircleCIEmulator
from sandbox.github_emulator import GitHubEmulator
from sandbox.github_org import DEFAULT_REPOSITORIES, GitHubOrganisation
from sandbox.gitlab_emulator import GitLabEmulator
from sandbox.gitlab_org import PROJECT_SPECS as GITLAB_PROJECTS
from sandbox.gitlab_org import GitLabOrganisation
from sandbox.octopus_emulator import OctopusEmulator
from sandbox.octopus_org import MAX_PROJECTS as MAX_OCTOPUS_PROJECTS
from sandbox.octopus_org import SPACE_ID, OctopusOrganisation
from sandbox.organisation import MAX_PROJECTS as MAX_CIRCLECI_PROJECTS
from sandbox.organisation import Organisation, generate_organisation


@dataclass
class SimulatedOrganisation:
    as_of: dt.date
    seed: int
    circleci: Organisation
    github: GitHubOrganisation
    gitlab: GitLabOrganisation
    octopus: OctopusOrganisation


def simulate_organisation(
    as_of: dt.date,
    *,
    seed: int = 7,
    projects: int | None = None,
    days: int = 90,
    deploy_days: int = 430,
    runs_per_weekday: float | None = None,
    jobs_per_workflow: int | None = None,
    tests_per_job: int | None = None,
    deploy_cadence: float = 1.0,
) -> SimulatedOrganisation:
    """Every provider's part of the organisation for the report date. Cheap: records are
    generated when a day is first asked for. The same arguments always give the same data.

    Size knobs (the defaults give the standard organisation: 90 days of CI, 430 of deployments):

    * ``projects``: projects (repositories) per provider, capped at what each provider defines
      (CircleCI 6, GitHub 3, GitLab 3, Octopus 4); None: 3 each and 4 in Octopus;
    * ``days``: the CI window of CircleCI, GitHub Actions and GitLab CI;
    * ``deploy_days``: the deployment history of GitHub, GitLab and Octopus (>= ``days``);
    * ``runs_per_weekday``: mean push pipelines (CircleCI pipelines, GitHub pushes, GitLab
      pipelines) per weekday of each provider's busiest project, the others scaled alike;
      None: 12 in CircleCI, 10 in GitHub, 8 in GitLab. Nightly and tag runs come on top;
    * ``jobs_per_workflow``: None keeps each configuration's jobs; N gives every CircleCI
      workflow exactly N jobs (a prefix, or extra parallel copies) and caps every GitLab
      pipeline at N planned jobs (GitHub Actions runs keep theirs);
    * ``tests_per_job``: None keeps the suites; N gives every test-reporting CircleCI job and
      every GitLab test job a suite of N test cases;
    * ``deploy_cadence``: multiplier on how often things are deployed: GitHub deployments per
      default-branch commit, GitLab's production share of default-branch pipelines (capped at
      all of them) and Octopus releases per day (each promoted along its lifecycle).
    """
    if deploy_days < days:
        raise ValueError("deploy_days must be >= days")
    circleci = {} if projects is None else {"projects": min(projects, MAX_CIRCLECI_PROJECTS)}
    if runs_per_weekday is not None:
        circleci["pipelines_per_weekday"] = runs_per_weekday
    repositories = DEFAULT_REPOSITORIES
    if projects is not None:
        repositories = repositories[: max(1, projects)]
    if runs_per_weekday is not None:
        busiest = max(spec.pushes_per_weekday for spec in DEFAULT_REPOSITORIES)
        repositories = tuple(
            dataclasses.replace(
                spec, pushes_per_weekday=spec.pushes_per_weekday / busiest * runs_per_weekday
            )
            for spec in repositories
        )
    gitlab_projects = 3 if projects is None else min(projects, len(GITLAB_PROJECTS))
    octopus_projects = (
        MAX_OCTOPUS_PROJECTS if projects is None else min(projects, MAX_OCTOPUS_PROJECTS)
    )
    return SimulatedOrganisation(
        as_of=as_of,
        seed=seed,
        circleci=generate_organisation(
            as_of,
            seed=seed,
            days=days,
            jobs_per_workflow=jobs_per_workflow,
            tests_per_job=tests_per_job,
            **circleci,
        ),
        github=GitHubOrganisation(
            as_of,
            seed=seed,
            days=days,
            deploy_days=deploy_days,
            repositories=repositories,
            deploy_cadence=deploy_cadence,
        ),
        gitlab=GitLabOrganisation(
            as_of,
            seed=seed,
            days=days,
            deploy_days=deploy_days,
            project_count=gitlab_projects,
            pipelines_per_weekday=runs_per_weekday,
            jobs_per_workflow=jobs_per_workflow,
            tests_per_job=tests_per_job,
            deploy_cadence=deploy_cadence,
        ),
        octopus=OctopusOrganisation(
            as_of,
            seed=seed,
            deploy_days=deploy_days,
            projects=octopus_projects,
            deploy_cadence=deploy_cadence,
        ),
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
