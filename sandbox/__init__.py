"""Sandbox: a simulated engineering organisation and a local CircleCI API v2 emulator.

Why it exists: the ingestion, dbt models and Dagster jobs must be developed, demoed and tested
offline, deterministically and fast. :func:`generate_organisation` invents ~90 days of CI
activity (pipelines, workflows, jobs, job details, insights runs) from a seed and a report date,
and keeps ground-truth tables next to the API objects; :class:`CircleCIEmulator` serves those
objects on 127.0.0.1 in exactly the shapes CircleCI API v2 returns, with auth, cursor
pagination, filters and injectable faults.

Only the Python standard library is used, so the sandbox is cheap to import anywhere::

    from sandbox import CircleCIEmulator, generate_organisation

    org = generate_organisation(datetime.date(2026, 11, 29))
    with CircleCIEmulator(org) as api:
        ...  # point the dlt source at api.base_url with api.token
"""

from sandbox.circleci_emulator import CircleCIEmulator
from sandbox.organisation import CircleCIProject, Organisation, generate_organisation

__all__ = ["CircleCIEmulator", "CircleCIProject", "Organisation", "generate_organisation"]
