"""Size knobs, deployment history depth and streaming at scale (sandbox/*_org.py, simulation.py).

* The knobs (projects, days, runs per weekday, jobs per workflow, tests per job, deploy cadence)
  move the volume the way they say, and their defaults reproduce the standard data byte for
  byte (a fingerprint taken before the knobs existed).
* Deployment history reaches back 430 days, so the 365-day lookback and its slack have data.
* A ~20k-workflow-run CircleCI organisation is crawled completely through the emulator by a
  child process whose address space is capped far below what holding its records would take.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import (
    GitHubOrganisation,
    GitLabOrganisation,
    OctopusOrganisation,
    generate_organisation,
    simulate_organisation,
)
from sandbox.partitions import DayPartitioned, days_between, rng_for

AS_OF = dt.date(2026, 11, 29)
ROOT = Path(__file__).resolve().parents[2]

# sha256 of _fingerprint() computed on the code before the size knobs were added.
STANDARD_FINGERPRINT = "d109442369bd3d908fdb329874a9367909def0958ba5bc21ad5508a26ff75229"


def _feed(digest, label: str, rows) -> None:
    digest.update(label.encode())
    count = 0
    for row in rows:
        digest.update(repr(row).encode() + b"\n")
        count += 1
    digest.update(str(count).encode())


def _fingerprint() -> str:
    """Every generated record and every ground-truth row of a small org of each provider
    (explicit windows, every new knob left at its default)."""
    digest = hashlib.sha256()
    ci = generate_organisation(AS_OF, seed=3, projects=4, days=6, pipelines_per_weekday=6)
    for slug, timeline in ci.timelines.items():
        _feed(digest, slug, (p for day in ci.day_list for p in timeline.day(day)))
    _feed(digest, "pipelines", ci.pipelines)
    _feed(digest, "workflows", ci.workflows)
    _feed(digest, "jobs", sorted(ci.workflow_jobs.items()))
    _feed(digest, "details", sorted(ci.job_details.items()))
    _feed(digest, "tests", (ci.job_tests(slug, n) for slug, n in sorted(ci.job_details)))
    _feed(digest, "insights", ci.insights_workflow_runs)
    _feed(digest, "insights-jobs", ci.insights_job_runs)
    gh = GitHubOrganisation(AS_OF, seed=3, days=6, deploy_days=20)
    for repo in gh.repositories:
        _feed(digest, repo.full_name, gh.runs(repo.full_name))
        _feed(digest, repo.full_name, gh.deployment_records(repo.full_name))
    for name in ("workflow_runs", "jobs", "deployments", "deployment_statuses", "commits"):
        _feed(digest, name, getattr(gh, name)())
    gl = GitLabOrganisation(AS_OF, seed=3, days=6, deploy_days=20)
    for project in gl.projects:
        _feed(
            digest, project.path_with_namespace, (gl.day(project, d) for d in gl.deploy_days_list())
        )
    for name in ("pipelines", "jobs", "test_cases", "deployments", "environments", "commits"):
        _feed(digest, name, getattr(gl, name)())
    oc = OctopusOrganisation(AS_OF, seed=3, deploy_days=20)
    for name in ("deployments", "releases", "interruptions"):
        _feed(digest, name, oc._all(name))
    for name in ("releases", "deployments", "interruptions", "defects", "projects", "channels"):
        _feed(digest, name, getattr(oc, name)())
    return digest.hexdigest()


def test_default_knobs_reproduce_the_standard_data():
    assert _fingerprint() == STANDARD_FINGERPRINT


# -- CircleCI -----------------------------------------------------------------------------------


def _circleci(**knobs):
    return generate_organisation(AS_OF, seed=5, **{"projects": 3, "days": 14, **knobs})


def test_circleci_runs_projects_and_days_scale_the_volume():
    base = len(_circleci().workflows)
    doubled = len(_circleci(pipelines_per_weekday=24).workflows)
    # Nightly pipelines do not scale, so doubling the pushes a little less than doubles runs.
    assert 1.6 * base < doubled < 2.3 * base
    assert len(_circleci(projects=6).workflows) > base
    assert len(_circleci(days=7).workflows) < 0.65 * base


def test_circleci_jobs_per_workflow_resizes_every_workflow():
    base = _circleci(days=5)
    two = _circleci(days=5, jobs_per_workflow=2)
    assert {len(jobs) for jobs in two.workflow_jobs.values()} == {2}
    wide = _circleci(days=5, jobs_per_workflow=7)
    assert {len(jobs) for jobs in wide.workflow_jobs.values()} == {7}
    assert sum(map(len, wide.workflow_jobs.values())) > 1.5 * sum(
        map(len, base.workflow_jobs.values())
    )
    for jobs in wide.workflow_jobs.values():
        ids = {job["id"] for job in jobs}
        assert len({job["name"] for job in jobs}) == 7
        assert all(dep in ids for job in jobs for dep in job["dependencies"])
    names = {job["name"] for jobs in wide.workflow_jobs.values() for job in jobs}
    assert {"unit-test-2", "install-2"} <= names
    # Extra copies of a test job report tests of their own.
    assert any(
        wide.job_tests("gh/acme/web-app", job["job_number"])
        for jobs in wide.workflow_jobs.values()
        for job in jobs
        if job["name"] == "unit-test-2" and job["status"] == "success"
    )


def test_circleci_tests_per_job_sets_every_suite_size():
    def sizes(org) -> collections.Counter:
        return collections.Counter(len(org.job_tests(slug, n)) for slug, n in org.job_details)

    base = sizes(_circleci(days=4))
    assert {60, 80} <= set(base)
    assert set(sizes(_circleci(days=4, tests_per_job=7))) == {0, 7}
    assert set(sizes(_circleci(days=4, tests_per_job=0))) == {0}
    big = sizes(_circleci(days=4, tests_per_job=150))
    assert set(big) == {0, 150} and big[150] >= base[60]


# -- GitHub, GitLab, Octopus ------------------------------------------------------------------


def test_github_deploy_cadence_scales_deployments():
    def counts(cadence: float) -> tuple[int, int]:
        org = GitHubOrganisation(AS_OF, seed=5, days=10, deploy_days=60, deploy_cadence=cadence)
        rows = list(org.deployments())
        return len(rows), sum(row["production_environment"] for row in rows)

    low, base, high = counts(0.5), counts(1.0), counts(2.0)
    assert low[0] < 0.7 * base[0] and low[1] < base[1]
    assert high[0] > 1.6 * base[0] and high[1] > 1.4 * base[1]


def _gitlab(**knobs) -> GitLabOrganisation:
    return GitLabOrganisation(AS_OF, seed=5, **{"days": 14, "deploy_days": 30, **knobs})


def test_gitlab_runs_jobs_tests_and_cadence_knobs():
    base = sum(1 for _ in _gitlab().pipelines())
    doubled = sum(1 for _ in _gitlab(pipelines_per_weekday=16).pipelines())
    assert 1.6 * base < doubled < 2.3 * base

    two = _gitlab(jobs_per_workflow=2)
    for project in two.projects:
        for plan in two.pipeline_plans(project):
            assert len({job.name for job in plan.jobs}) <= 2
    assert sum(1 for _ in two.deployments()) > 0  # deploy jobs outrank test jobs
    assert sum(1 for _ in two.jobs()) < 0.6 * sum(1 for _ in _gitlab().jobs())

    per_job = collections.Counter(row["job_id"] for row in _gitlab(tests_per_job=5).test_cases())
    assert per_job and set(per_job.values()) == {5}
    assert not list(_gitlab(tests_per_job=0).test_cases())

    def production(org: GitLabOrganisation) -> int:
        return sum(1 for d in org.deployments() if d["environment"] == "production")

    assert production(_gitlab(deploy_cadence=2.0)) > 1.5 * production(_gitlab())
    assert production(_gitlab(deploy_cadence=0.25)) < 0.5 * production(_gitlab())


def test_octopus_deploy_cadence_scales_releases_and_deployments():
    def counts(cadence: float) -> tuple[int, int]:
        org = OctopusOrganisation(AS_OF, seed=5, deploy_days=40, deploy_cadence=cadence)
        return sum(1 for _ in org.releases()), sum(1 for _ in org.deployments())

    low, base, high = counts(0.5), counts(1.0), counts(2.0)
    assert low[0] < 0.75 * base[0] and low[1] < base[1]
    assert high[0] > 1.6 * base[0] and high[1] > 1.5 * base[1]


def test_deployment_history_reaches_back_430_days():
    github, gitlab, octopus = (
        GitHubOrganisation(AS_OF),
        GitLabOrganisation(AS_OF),
        OctopusOrganisation(AS_OF),
    )
    first = AS_OF - dt.timedelta(days=429)
    assert github.deploy_day_list()[0] == first
    assert gitlab.deploy_days_list()[0] == first
    assert octopus.days[0] == first
    # The slack before the 365-day lookback has deployments in every provider.
    slack_end = AS_OF - dt.timedelta(days=365)
    assert any(
        record.created_at.date() < slack_end
        for repo in github.repositories
        for record in github.deployment_records(repo.full_name)
    )
    project = gitlab.projects[0]
    assert any(
        plan.created_at.date() < slack_end
        for day in days_between(first, slack_end)
        for plan in gitlab.day(project, day).deployments
    )
    assert any(octopus.day(0, day).deployments for day in days_between(first, slack_end))


def test_simulate_organisation_maps_the_knobs_onto_every_provider():
    org = simulate_organisation(
        AS_OF,
        projects=2,
        days=20,
        deploy_days=40,
        runs_per_weekday=5,
        jobs_per_workflow=3,
        tests_per_job=9,
        deploy_cadence=1.5,
    )
    assert len(org.circleci.projects) == 2 and org.circleci.days == 20
    assert org.circleci.pipelines_per_weekday == 5
    assert org.circleci.jobs_per_workflow == 3 and org.circleci.tests_per_job == 9
    assert len(org.github.repositories) == 2
    assert (org.github.days, org.github.deploy_days, org.github.deploy_cadence) == (20, 40, 1.5)
    assert len(org.gitlab.projects) == 2 and org.gitlab.deploy_days == 40
    assert (org.gitlab.jobs_per_workflow, org.gitlab.tests_per_job) == (3, 9)
    assert org.gitlab.deploy_cadence == 1.5
    assert len(org.octopus.specs) == 2 and org.octopus.deploy_cadence == 1.5
    assert len(org.gitlab.projects[0].tests["unit"]) == 9

    standard = simulate_organisation(AS_OF)
    assert len(standard.circleci.projects) == 3 and standard.circleci.days == 90
    assert standard.circleci.pipelines_per_weekday == 12
    assert standard.github.deploy_days == standard.gitlab.deploy_days == 430
    assert standard.octopus.deploy_days == 430 and len(standard.octopus.specs) == 4
    with pytest.raises(ValueError):
        simulate_organisation(AS_OF, days=100, deploy_days=50)


def test_state_at_is_the_checkpoint_of_the_day():
    def generate(day: dt.date, state: dict) -> tuple[list[int], dict]:
        count = rng_for(1, day).randrange(1, 4)
        return list(range(count)), {"total": state["total"] + count}

    days = days_between(dt.date(2026, 1, 1), dt.date(2026, 1, 6))
    partitioned = DayPartitioned(days, {"total": 0}, generate)
    running = 0
    for day in days:
        state = partitioned.state_at(day)
        assert state == {"total": running}
        state["total"] = -1  # a copy: the checkpoint is unharmed
        running += len(partitioned.day(day))
    assert partitioned.state_at(days[2]) != {"total": -1}
    with pytest.raises(KeyError):
        partitioned.state_at(dt.date(2025, 12, 31))


# -- streaming at scale ---------------------------------------------------------------------

MEMORY_CAP = 96 * 2**20  # address space of the crawling child, Python included

_CRAWLER = textwrap.dedent(
    """
    import datetime as dt, http.client, json, resource, sys, threading, time, urllib.parse

    def vm_kb(key):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(key))

    threading.stack_size(256 * 1024)  # server threads: small stacks, little address space
    from sandbox import CircleCIEmulator, generate_organisation

    baseline_kb = vm_kb("VmSize:")
    cap = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    started = time.monotonic()

    def deep_size(value):
        size = sys.getsizeof(value)
        if isinstance(value, dict):
            size += sum(deep_size(k) + deep_size(v) for k, v in value.items())
        elif isinstance(value, list):
            size += sum(deep_size(v) for v in value)
        return size

    org = generate_organisation(
        dt.date(2026, 11, 29), projects=6, days=90, pipelines_per_weekday=50
    )
    counts = dict(pages=0, pipelines=0, workflows=0, jobs=0, bodies=0, sampled_bytes=0)
    with CircleCIEmulator(org) as api:
        parts = urllib.parse.urlsplit(api.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Circle-Token": api.token}

        def get(path):
            conn.request("GET", parts.path + path, headers=headers)
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 200, (path, response.status, body)
            counts["bodies"] += 1
            if counts["bodies"] % 25 == 0:  # what holding every body would take, sampled
                counts["sampled_bytes"] += 25 * deep_size(body)
            return body

        def pages(path):
            token = None
            while True:
                body = get(path + (f"?page-token={token}" if token else ""))
                yield body["items"]
                token = body["next_page_token"]
                if token is None:
                    return

        for project in org.projects:
            for items in pages(f"/project/{project.slug}/pipeline"):
                counts["pages"] += 1
                for pipeline in items:
                    counts["pipelines"] += 1
                    for workflows in pages(f"/pipeline/{pipeline['id']}/workflow"):
                        for workflow in workflows:
                            counts["workflows"] += 1
                            jobs = get(f"/workflow/{workflow['id']}/job")["items"]
                            counts["jobs"] += len(jobs)
        conn.close()
    crawl_s = time.monotonic() - started

    # What the emulator should have served, counted straight from the generated days.
    now = org.now_ms()
    expected = dict(pipelines=0, workflows=0, jobs=0)
    for timeline in org.timelines.values():
        for day in org.day_list:
            for pipeline in timeline.day(day):
                if pipeline.created_ms < now:
                    expected["pipelines"] += 1
                    for workflow in pipeline.workflows:
                        if workflow.created_ms < now:
                            expected["workflows"] += 1
                            expected["jobs"] += len(workflow.jobs)
    try:  # the cap is real: the records we did not hold would not have fitted
        bytearray(cap)
        cap_bites = False
    except MemoryError:
        cap_bites = True
    print(json.dumps(dict(
        counts, expected=expected, baseline_kb=baseline_kb, peak_kb=vm_kb("VmPeak:"),
        rss_peak_kb=vm_kb("VmHWM:"), cap_bites=cap_bites,
        crawl_s=round(crawl_s, 1),
    )))
    """
)


def test_a_20k_run_organisation_is_served_within_a_memory_cap():
    """Crawl every pipeline page, workflow listing and job listing of a ~20k-workflow-run org
    over HTTP in a child process capped at 96 MiB of address space (RLIMIT_AS). Holding the
    served records alone would take about twice that (sampled deep size); the child must finish
    and have served exactly what was generated."""
    # One malloc arena: glibc would otherwise reserve 64 MiB of address space per thread.
    env = {**os.environ, "MALLOC_ARENA_MAX": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _CRAWLER, str(MEMORY_CAP)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    expected = report["expected"]
    assert 18_000 <= expected["workflows"] <= 24_000
    assert {k: report[k] for k in expected} == expected
    assert report["pages"] >= expected["pipelines"] / 20
    assert report["cap_bites"]
    assert report["baseline_kb"] * 1024 < MEMORY_CAP / 2
    assert report["peak_kb"] * 1024 <= MEMORY_CAP
    assert report["sampled_bytes"] > 1.5 * MEMORY_CAP
