"""Sandbox: a simulated engineering organisation and faithful emulators of the APIs it uses.

Why it exists: the ingestion, dbt models and Dagster jobs must be developed, demoed, tested and
benchmarked offline, deterministically, before anyone has a token. Each provider's part of the
organisation is generated from a seed and the report date, one UTC day at a time
(:mod:`sandbox.partitions`), keeps ground-truth tables beside the API objects, and is served on
127.0.0.1 in exactly the shapes the real API returns, with its auth, paging, filters, rate-limit
headers and injectable faults (:mod:`sandbox.server`).

    from sandbox import serve, simulate_organisation

    organisation = simulate_organisation(datetime.date(2026, 11, 29))
    with serve(organisation) as emulators:
        os.environ.update(emulators.environment(organisation))
        ...  # run the sources against the emulators
"""

from sandbox.circleci_emulator import CircleCIEmulator
from sandbox.github_emulator import GitHubEmulator
from sandbox.github_org import GitHubOrganisation
from sandbox.gitlab_emulator import GitLabEmulator
from sandbox.gitlab_org import GitLabOrganisation
from sandbox.octopus_emulator import OctopusEmulator
from sandbox.octopus_org import OctopusOrganisation
from sandbox.organisation import CircleCIProject, Organisation, generate_organisation
from sandbox.simulation import Emulators, SimulatedOrganisation, serve, simulate_organisation

__all__ = [
    "CircleCIEmulator",
    "CircleCIProject",
    "Emulators",
    "GitHubEmulator",
    "GitHubOrganisation",
    "GitLabEmulator",
    "GitLabOrganisation",
    "OctopusEmulator",
    "OctopusOrganisation",
    "Organisation",
    "SimulatedOrganisation",
    "generate_organisation",
    "serve",
    "simulate_organisation",
]
