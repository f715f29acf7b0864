"""The GitLab part of the simulated organisation: projects, pipelines, jobs, test reports,
environments and deployments, generated day by day (see :mod:`sandbox.partitions`).

Deterministic: the same ``seed`` and ``as_of`` give the same organisation, byte for byte, and
the clock is never read. CI history covers ``days`` UTC days ending with ``as_of``; deployments
(and the repository history they rest on) cover ``deploy_days``.

Every project is a :class:`~sandbox.repositories.RepositoryHistory`; each day's pipelines and
deployments derive from that day's commits plus a small carried state (iid counters, failure
streaks, the default branch head). Ids embed their day, so a lookup by id regenerates one day:

* pipeline id  = ``100_000_000 + day_number * 10_000 + project_index * 1_000 + sequence``
* job id       = ``pipeline_id * 100 + job_index``
* deployment id = ``300_000_000 + day_number * 10_000 + project_index * 1_000 + sequence``

where ``day_number`` counts days since 2000-01-01.

A record's *plan* holds its whole life (every job's enqueue, start and finish time); what the
API shows at a moment ``at`` is derived from the plan (:meth:`PipelinePlan.view`,
:meth:`JobPlan.status_at`, :meth:`DeploymentPlan.view`): records created after ``at`` do not exist
yet, and work not finished by ``at`` is pending or running. Ground truth (:meth:`pipelines`,
:meth:`jobs`, …) is the view at the end of ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from sandbox.partitions import EPOCH, DayPartitioned, days_between, rng_for
from sandbox.repositories import AUTHORS, Commit, RepositoryHistory

WEB_URL = "https://gitlab.example.com"
ZERO_SHA = "0" * 40
PIPELINE_ID_BASE = 100_000_000
DEPLOYMENT_ID_BASE = 300_000_000
ENVIRONMENT_ID_BASE = 7_000
# The default day cache holds about this many days x pushes per weekday per project: the whole
# history of the standard organisation (so paging, which scans every day, stays cheap) but a
# bounded amount (about 20 MB per project) however far the knobs scale it up.
CACHE_PUSH_DAYS = 4_000
MIN_CACHE_DAYS = 32

# (full path, default branch, pushes per weekday)
PROJECT_SPECS = (
    ("acme/backend/orders-api", "main", 8.0),
    ("acme/web/storefront", "main", 6.0),
    ("acme/platform/billing-service", "master", 4.0),
)
# (name, tier, state, external host prefix); deploy jobs exist for the first two only.
ENVIRONMENT_SPECS = (
    ("staging", "staging", "available"),
    ("production", "production", "available"),
    ("development", "development", "stopped"),
)
COMPLETED = frozenset({"success", "failed", "canceled", "skipped"})
RUNNERS = (
    (11, "shared-runner-amd64-1", "instance_type", True),
    (12, "shared-runner-amd64-2", "instance_type", True),
    (23, "acme-group-runner", "group_type", False),
)
TIMEZONES = (1, 2, 0, -5, 9, 1, 2, -8)  # commit author UTC offsets (hours), one per author


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def day_of_number(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=number)


def decode_id(value: int, base: int) -> tuple[dt.date, int] | None:
    """(day, project_index) of a pipeline or deployment id; None when it cannot be one."""
    rest = value - base
    if rest < 0:
        return None
    return day_of_number(rest // 10_000), (rest % 10_000) // 1_000


@dataclass(frozen=True)
class User:
    id: int
    name: str
    username: str
    email: str
    offset_hours: int


USERS = tuple(
    User(100 + index, name, email.split("@")[0], email, TIMEZONES[index])
    for index, (name, email) in enumerate(AUTHORS)
)
USER_BY_EMAIL = {user.email: user for user in USERS}


@dataclass(frozen=True)
class TestCaseSpec:
    classname: str
    name: str
    file: str
    base_time: float
    always_skipped: bool
    flaky: bool


@dataclass(frozen=True)
class GitLabProject:
    index: int
    id: int
    path_with_namespace: str
    default_branch: str
    created_at: dt.datetime
    repository: RepositoryHistory
    tests: dict[str, tuple[TestCaseSpec, ...]]  # suite name -> catalog

    @property
    def name(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[1]

    @property
    def web_url(self) -> str:
        return f"{WEB_URL}/{self.path_with_namespace}"


@dataclass(frozen=True)
class JobPlan:
    """One job's whole life. ``started_at`` None: it never ran (skipped, manual, canceled)."""

    index: int
    name: str
    stage: str
    status: str  # final status
    allow_failure: bool
    created_at: dt.datetime
    enqueued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None  # None with started_at set: still running at the end
    settled_at: dt.datetime | None  # when the final status shows (finished_at for run jobs)
    failure_reason: str | None = None
    runner: int | None = None
    failed_tests: tuple[int, ...] = ()
    retried_by: int | None = None  # index of the job that retried this one
    environment: str | None = None
    coverage: float | None = None

    def status_at(self, at: dt.datetime) -> str:
        if self.started_at is None:
            if self.settled_at is not None and at >= self.settled_at:
                return self.status
            if self.enqueued_at is not None and at >= self.enqueued_at:
                return "pending"
            return "created"
        if self.enqueued_at is not None and at < self.enqueued_at:
            return "created"
        if at < self.started_at:
            return "pending"
        if self.finished_at is None or at < self.finished_at:
            return "running"
        return self.status

    def events(self) -> list[dt.datetime]:
        return [
            t
            for t in (self.created_at, self.enqueued_at, self.started_at, self.settled_at)
            if t is not None
        ]


@dataclass(frozen=True)
class PipelineView:
    status: str
    warnings: bool
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration: int | None
    queued_duration: int | None
    updated_at: dt.datetime
    coverage: str | None


@dataclass(frozen=True)
class PipelinePlan:
    id: int
    iid: int
    project_index: int
    commit: Commit
    before_sha: str
    ref: str
    tag: bool
    source: str
    name: str | None
    user: User
    created_at: dt.datetime
    jobs: tuple[JobPlan, ...]
    rerun_of: int | None = None  # a pipeline re-run on the same sha (web)

    @property
    def sha(self) -> str:
        return self.commit.sha

    def job_id(self, job: JobPlan) -> int:
        return self.id * 100 + job.index

    def jobs_at(self, at: dt.datetime, *, include_retried: bool = False) -> list[JobPlan]:
        """Jobs existing at ``at``; without retried ones unless asked (a job counts as retried
        once its retry exists)."""
        visible = [job for job in self.jobs if job.created_at <= at]
        if include_retried:
            return visible
        by_index = {job.index: job for job in self.jobs}
        return [
            job
            for job in visible
            if job.retried_by is None or by_index[job.retried_by].created_at > at
        ]

    def view(self, at: dt.datetime) -> PipelineView:
        jobs = self.jobs_at(at)
        events = [self.created_at] + [t for job in self.jobs for t in job.events() if t <= at]
        updated_at = max(events)
        if not self.jobs:
            return PipelineView(
                "skipped", False, None, self.created_at, None, None, updated_at, None
            )
        statuses = [(job, job.status_at(at)) for job in jobs]
        started = [job.started_at for job in jobs if job.started_at and job.started_at <= at]
        started_at = min(started) if started else None
        names = {s for _, s in statuses}
        settled = names <= COMPLETED | {"manual"}
        hard_failed = any(s == "failed" and not job.allow_failure for job, s in statuses)
        if "running" in names:
            status = "running"
        elif "pending" in names:
            status = "pending"
        elif "created" in names and not hard_failed:
            status = "running" if started_at else "created"
        elif hard_failed:
            status, settled = "failed", True
        elif "canceled" in names:
            status = "canceled"
        elif any(s == "manual" and not job.allow_failure for job, s in statuses):
            status = "manual"
        elif names <= {"skipped", "manual"}:
            status = "skipped"
        else:
            status = "success"
        warnings = status == "success" and any(
            s == "failed" and job.allow_failure for job, s in statuses
        )
        finished_at = duration = None
        if settled and status in COMPLETED:
            ends = [
                job.settled_at
                for job, s in statuses
                if s in COMPLETED and job.settled_at is not None and job.settled_at <= at
            ]
            finished_at = max(ends) if ends else self.created_at
            duration = round(_union_seconds(jobs, at)) if started_at else None
        queued = round((started_at - self.created_at).total_seconds()) if started_at else None
        coverage = None
        if status in COMPLETED:
            values = [
                job.coverage for job, s in statuses if job.coverage is not None and s == "success"
            ]
            coverage = f"{values[0]:.2f}" if values else None
        return PipelineView(
            status, warnings, started_at, finished_at, duration, queued, updated_at, coverage
        )


def _union_seconds(jobs: list[JobPlan], at: dt.datetime) -> float:
    """Length of the union of the jobs' running periods (GitLab's pipeline duration)."""
    periods = sorted(
        (job.started_at, job.finished_at)
        for job in jobs
        if job.started_at is not None and job.finished_at is not None and job.finished_at <= at
    )
    total, current_start, current_end = 0.0, None, None
    for start, end in periods:
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


@dataclass(frozen=True)
class DeploymentView:
    status: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class DeploymentPlan:
    id: int
    iid: int
    project_index: int
    environment: str
    pipeline: PipelinePlan
    job: JobPlan
    status: str  # final status
    created_at: dt.datetime

    def view(self, at: dt.datetime) -> DeploymentView:
        job = self.job
        events = [t for t in (self.created_at, job.started_at, job.settled_at) if t and t <= at]
        if self.status == "blocked":
            status = "blocked"
        elif job.started_at is None:
            settled = job.settled_at is not None and at >= job.settled_at
            status = self.status if settled else "created"
        elif at < job.started_at:
            status = "created"
        elif job.finished_at is None or at < job.finished_at:
            status = "running"
        else:
            status = self.status
        return DeploymentView(status, max(events))

    @property
    def finished_at(self) -> dt.datetime | None:
        if self.status in ("success", "failed", "canceled"):
            return self.job.finished_at
        return None


@dataclass
class DayRecords:
    pipelines: list[PipelinePlan] = field(default_factory=list)
    deployments: list[DeploymentPlan] = field(default_factory=list)


@dataclass
class ProjectState:
    """What one day hands to the next: counters, streaks and the default branch head."""

    default_head: Commit | None = None  # the default branch head (None: the root commit)
    pipeline_iid: int = 0
    deployment_iid: int = 0
    tags: int = 0
    default_failing: bool = False
    production_failing: bool = False


class GitLabOrganisation:
    """The GitLab projects of the simulated organisation, generated lazily day by day."""

    def __init__(
        self,
        as_of: dt.date,
        *,
        seed: int = 20261129,
        days: int = 90,
        deploy_days: int = 430,
        project_count: int = 3,
        cache_days: int | None = None,
        pipelines_per_weekday: float | None = None,
        jobs_per_workflow: int | None = None,
        tests_per_job: int | None = None,
        deploy_cadence: float = 1.0,
    ) -> None:
        """``days`` of CI and ``deploy_days`` of deployments (430 by default, so the 365-day
        lookback and its slack have data), both ending with ``as_of``.

        Size knobs (the defaults give the standard organisation, byte for byte):

        * ``project_count`` (1..3);
        * ``pipelines_per_weekday``: mean pushes (so push pipelines) per weekday of the busiest
          project, the others scaled alike (None: 8, 6 and 4); at most 400;
        * ``jobs_per_workflow``: None keeps every pipeline's jobs (4 to 7 planned, plus
          retries). N >= 1 caps the jobs a pipeline plans at N (retries of a planned job come
          on top), keeping by priority build, then the deploy/release/review jobs, then
          unit-tests, integration-tests and lint;
        * ``tests_per_job``: None keeps the suites (36 unit, 14 integration test cases); N >= 0
          gives each test job's suite N cases;
        * ``deploy_cadence``: multiplier on the share of default-branch pipelines that deploy to
          production (0.4 at 1.0, capped at every pipeline); staging gets one deployment per
          default-branch pipeline whatever the cadence.

        ``cache_days`` is how many generated days each project keeps cached. The default keeps
        the whole history while it is small (the standard organisation) and about
        ``CACHE_PUSH_DAYS / pushes per weekday`` days (at least 32) beyond that, so memory stays
        bounded however far ``days``, ``deploy_days`` or ``pipelines_per_weekday`` scale it up.
        """
        if not 1 <= project_count <= len(PROJECT_SPECS):
            raise ValueError(f"project_count must be between 1 and {len(PROJECT_SPECS)}")
        if pipelines_per_weekday is not None and not 0 <= pipelines_per_weekday <= 400:
            raise ValueError("pipelines_per_weekday must be between 0 and 400 (or None)")
        if jobs_per_workflow is not None and jobs_per_workflow < 1:
            raise ValueError("jobs_per_workflow must be >= 1 (or None)")
        if tests_per_job is not None and tests_per_job < 0:
            raise ValueError("tests_per_job must be >= 0 (or None)")
        if deploy_cadence < 0:
            raise ValueError("deploy_cadence must be >= 0")
        deploy_days = max(deploy_days, days)
        self.jobs_per_workflow = jobs_per_workflow
        self.tests_per_job = tests_per_job
        self.deploy_cadence = deploy_cadence
        self.as_of = as_of
        self.seed = seed
        self.days = days
        self.deploy_days = deploy_days
        self.end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        self.ci_first_day = as_of - dt.timedelta(days=days - 1)
        self.first_day = as_of - dt.timedelta(days=deploy_days - 1)
        self.projects: list[GitLabProject] = []
        self._partitions: list[DayPartitioned[ProjectState, DayRecords]] = []
        self._commit_index: dict[int, dict[str, Commit]] = {}
        all_days = days_between(self.first_day, as_of)
        busiest = max(pushes for _, _, pushes in PROJECT_SPECS)
        for index, (path, branch, pushes) in enumerate(PROJECT_SPECS[:project_count]):
            if pipelines_per_weekday is not None:
                pushes = pushes / busiest * pipelines_per_weekday
            repository = RepositoryHistory(
                seed, path, self.first_day, as_of, default_branch=branch, pushes_per_weekday=pushes
            )
            project = GitLabProject(
                index=index,
                id=27_000_000 + 1_013 * (index + 1),
                path_with_namespace=path,
                default_branch=branch,
                created_at=dt.datetime.combine(self.first_day, dt.time(9, 30), tzinfo=dt.UTC)
                - dt.timedelta(days=30 + 11 * index),
                repository=repository,
                tests=_test_catalog(seed, path, tests_per_job),
            )
            self.projects.append(project)
            self._partitions.append(
                DayPartitioned(
                    all_days,
                    ProjectState(),
                    self._day_generator(project),
                    cache_days=cache_days or _default_cache_days(len(all_days), pushes),
                )
            )

    # -- lookups --------------------------------------------------------------------------

    def project(self, key: str | int) -> GitLabProject | None:
        """A project by numeric id or full path."""
        for project in self.projects:
            if str(key) == str(project.id) or key == project.path_with_namespace:
                return project
        return None

    def day(self, project: GitLabProject, day: dt.date) -> DayRecords:
        records = self._partitions[project.index].day(day)
        return records if isinstance(records, DayRecords) else DayRecords()

    def ci_days(self, until: dt.datetime | None = None) -> list[dt.date]:
        last = min(self.as_of, (until or self.end).date())
        return days_between(self.ci_first_day, last)

    def deploy_days_list(self, until: dt.datetime | None = None) -> list[dt.date]:
        last = min(self.as_of, (until or self.end).date())
        return days_between(self.first_day, last)

    def pipeline_plans(
        self, project: GitLabProject, at: dt.datetime | None = None
    ) -> Iterator[PipelinePlan]:
        """Pipelines of the CI window that exist at ``at``, oldest first."""
        at = at or self.end
        for day in self.ci_days(at):
            for plan in self.day(project, day).pipelines:
                if plan.created_at <= at:
                    yield plan

    def pipeline_plan(self, project: GitLabProject, pipeline_id: int) -> PipelinePlan | None:
        decoded = decode_id(pipeline_id, PIPELINE_ID_BASE)
        if decoded is None or decoded[1] != project.index or decoded[0] < self.ci_first_day:
            return None
        for plan in self.day(project, decoded[0]).pipelines:
            if plan.id == pipeline_id:
                return plan
        return None

    def deployment_plans(
        self, project: GitLabProject, at: dt.datetime | None = None
    ) -> Iterator[DeploymentPlan]:
        at = at or self.end
        for day in self.deploy_days_list(at):
            for plan in self.day(project, day).deployments:
                if plan.created_at <= at:
                    yield plan

    def environment_specs(self, project: GitLabProject) -> list[tuple[int, str, str, str]]:
        """(id, name, tier, state) of the project's environments."""
        return [
            (ENVIRONMENT_ID_BASE + project.index * 10 + k, name, tier, state)
            for k, (name, tier, state) in enumerate(ENVIRONMENT_SPECS)
        ]

    def environment_created_at(self, project: GitLabProject, k: int) -> dt.datetime:
        return project.created_at + dt.timedelta(days=1 + k, hours=k)

    def commit(self, project: GitLabProject, sha: str) -> Commit | None:
        return self._commits(project).get(sha)

    def _commits(self, project: GitLabProject) -> dict[str, Commit]:
        index = self._commit_index.get(project.index)
        if index is None:
            index = {}
            for day in days_between(self.first_day, self.as_of):
                for commit in project.repository.day(day):
                    index[commit.sha] = commit
            self._commit_index[project.index] = index
        return index

    def commits_between(self, project: GitLabProject, base: str, head: str) -> list[Commit]:
        """Commits reachable from ``head`` but not from ``base``, oldest first (git log
        base..head, what GitLab's compare lists)."""
        commits = self._commits(project)

        def ancestors(sha: str) -> set[str]:
            seen, stack = set(), [sha]
            while stack:
                current = stack.pop()
                if current in seen or current not in commits:
                    continue
                seen.add(current)
                stack.extend(commits[current].parents)
            return seen

        wanted = ancestors(head) - ancestors(base)
        return sorted((commits[sha] for sha in wanted), key=lambda c: (c.committed_at, c.sha))

    # -- generation -----------------------------------------------------------------------

    def _day_generator(self, project: GitLabProject):
        def generate(day: dt.date, state: ProjectState) -> tuple[DayRecords, ProjectState]:
            return _DayBuilder(self, project, day, state).build()

        return generate

    # -- ground truth (the view at the end of as_of) --------------------------------------

    def pipelines(self) -> Iterator[dict]:
        for project in self.projects:
            for plan in self.pipeline_plans(project):
                view = plan.view(self.end)
                yield {
                    "project_id": project.id,
                    "project_path": project.path_with_namespace,
                    "pipeline_id": plan.id,
                    "iid": plan.iid,
                    "sha": plan.sha,
                    "ref": plan.ref,
                    "tag": plan.tag,
                    "source": plan.source,
                    "name": plan.name,
                    "workflow_name": plan.name or "pipeline",
                    "status": view.status,
                    "created_at": plan.created_at,
                    "updated_at": view.updated_at,
                    "started_at": view.started_at,
                    "finished_at": view.finished_at,
                    "duration": view.duration,
                    "queued_duration": view.queued_duration,
                    "rerun_of": plan.rerun_of,
                }

    def jobs(self) -> Iterator[dict]:
        for project in self.projects:
            for plan in self.pipeline_plans(project):
                by_index = {job.index: job for job in plan.jobs}
                for job in plan.jobs_at(self.end, include_retried=True):
                    retried = job.retried_by is not None and (
                        by_index[job.retried_by].created_at <= self.end
                    )
                    yield {
                        "project_id": project.id,
                        "pipeline_id": plan.id,
                        "job_id": plan.job_id(job),
                        "name": job.name,
                        "stage": job.stage,
                        "status": job.status_at(self.end),
                        "retried": retried,
                        "allow_failure": job.allow_failure,
                        "created_at": job.created_at,
                        "started_at": job.started_at
                        if job.started_at and job.started_at <= self.end
                        else None,
                        "finished_at": job.finished_at
                        if job.finished_at and job.finished_at <= self.end
                        else None,
                        "queued_duration": _seconds(job.enqueued_at, job.started_at),
                        "duration": _seconds(job.started_at, job.finished_at),
                        "failure_reason": job.failure_reason,
                        "runner_id": job.runner,
                    }

    def test_cases(self) -> Iterator[dict]:
        for project in self.projects:
            for plan in self.pipeline_plans(project):
                for job, cases in test_report_cases(project, plan, self.end, self.seed):
                    for case in cases:
                        yield {
                            "project_id": project.id,
                            "pipeline_id": plan.id,
                            "job_id": plan.job_id(job),
                            "sha": plan.sha,
                            "suite": suite_name(job),
                            **case,
                        }

    def deployments(self) -> Iterator[dict]:
        for project in self.projects:
            for plan in self.deployment_plans(project):
                view = plan.view(self.end)
                finished = plan.finished_at
                yield {
                    "project_id": project.id,
                    "deployment_id": plan.id,
                    "iid": plan.iid,
                    "environment": plan.environment,
                    "sha": plan.pipeline.sha,
                    "ref": plan.pipeline.ref,
                    "status": view.status,
                    "created_at": plan.created_at,
                    "updated_at": view.updated_at,
                    "started_at": plan.job.started_at,
                    "finished_at": finished if finished and finished <= self.end else None,
                    "pipeline_id": plan.pipeline.id,
                    "job_id": plan.pipeline.job_id(plan.job),
                }

    def environments(self) -> Iterator[dict]:
        for project in self.projects:
            for k, (env_id, name, tier, state) in enumerate(self.environment_specs(project)):
                yield {
                    "project_id": project.id,
                    "environment_id": env_id,
                    "name": name,
                    "tier": tier,
                    "state": state,
                    "created_at": self.environment_created_at(project, k),
                }

    def commits(self) -> Iterator[dict]:
        for project in self.projects:
            for day in days_between(self.first_day, self.as_of):
                for commit in project.repository.day(day):
                    yield {
                        "project_id": project.id,
                        "sha": commit.sha,
                        "parents": list(commit.parents),
                        "branch": commit.branch,
                        "author_name": commit.author_name,
                        "author_email": commit.author_email,
                        "authored_at": commit.authored_at,
                        "committed_at": commit.committed_at,
                        "message": commit.message,
                    }


def _default_cache_days(history_days: int, pushes_per_weekday: float) -> int:
    if pushes_per_weekday * history_days <= CACHE_PUSH_DAYS:
        return history_days + 1
    return max(MIN_CACHE_DAYS, int(CACHE_PUSH_DAYS / pushes_per_weekday))


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


# -- test reports ---------------------------------------------------------------------------

_MODULES = ("orders", "checkout", "pricing", "auth", "search", "inventory", "billing", "export")


def _test_catalog(
    seed: int, path: str, size: int | None = None
) -> dict[str, tuple[TestCaseSpec, ...]]:
    """The unit (36 cases, 3 flaky) and integration (14, 2 flaky) suites; ``size`` gives both
    that many cases, the flaky share kept."""
    rng = rng_for(seed, "gitlab-tests", path)
    catalog = {}
    for suite, count, flaky in (("unit", 36, 3), ("integration", 14, 2)):
        if size is not None:
            count, flaky = size, round(size * flaky / count)
        specs = []
        for number in range(count):
            module = rng.choice(_MODULES)
            specs.append(
                TestCaseSpec(
                    classname=f"tests.{suite}.test_{module}.Test{module.title()}",
                    name=f"test_{rng.choice(('creates', 'rejects', 'updates', 'lists'))}"
                    f"_{module}_{number}",
                    file=f"tests/{suite}/test_{module}.py",
                    base_time=rng.lognormvariate(-1.5 if suite == "unit" else 0.8, 0.9),
                    always_skipped=number in (5, 11) if suite == "unit" else number == 9,
                    flaky=number in range(count - flaky, count),
                )
            )
        catalog[suite] = tuple(specs)
    return catalog


TEST_JOBS = {"unit-tests": "unit", "integration-tests": "integration"}


def suite_name(job: JobPlan) -> str:
    return TEST_JOBS[job.name]


def test_report_cases(
    project: GitLabProject, plan: PipelinePlan, at: dt.datetime, seed: int
) -> list[tuple[JobPlan, list[dict]]]:
    """The test suites of a pipeline's report at ``at``: latest test jobs that finished."""
    result = []
    for job in plan.jobs_at(at):
        if job.name not in TEST_JOBS or job.status_at(at) not in ("success", "failed"):
            continue
        rng = rng_for(seed, "gitlab-test-run", plan.job_id(job))
        cases = []
        for number, spec in enumerate(project.tests[suite_name(job)]):
            time = round(spec.base_time * rng.uniform(0.7, 1.4), 3)
            failing = number in job.failed_tests
            error = failing and rng.random() < 0.2
            if spec.always_skipped:
                status, time = "skipped", 0.0
            elif failing:
                status = "error" if error else "failed"
            else:
                status = "success"
            cases.append(
                {
                    "status": status,
                    "name": spec.name,
                    "classname": spec.classname,
                    "file": spec.file,
                    "execution_time": time,
                    "system_output": f"AssertionError: {spec.name} expected 200, got 500"
                    if failing
                    else None,
                    "stack_trace": f'File "{spec.file}", line {40 + number}, in {spec.name}'
                    if failing
                    else None,
                }
            )
        result.append((job, cases))
    return result


# -- one day of one project -----------------------------------------------------------------


class _DayBuilder:
    def __init__(
        self, org: GitLabOrganisation, project: GitLabProject, day: dt.date, state: ProjectState
    ) -> None:
        self.org = org
        self.project = project
        self.day = day
        self.state = replace(state)
        self.rng = rng_for(org.seed, "gitlab-day", project.path_with_namespace, day)
        self.day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        self.in_ci = day >= org.ci_first_day
        self.drafts: list[dict] = []

    def build(self) -> tuple[DayRecords, ProjectState]:
        rng, state, project = self.rng, self.state, self.project
        commits = self.project.repository.day(self.day)
        schedule_at = dt.datetime.combine(self.day, dt.time(2, 0), tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randrange(900)
        )
        scheduled = False
        for commit in commits:
            if self.in_ci and not scheduled and commit.committed_at > schedule_at:
                self._scheduled(schedule_at)
                scheduled = True
            on_default = commit.branch == project.default_branch
            if on_default:
                state.default_head = commit
            if not self.in_ci and not on_default:
                continue  # outside the CI window only deploying pipelines matter
            created = commit.committed_at + dt.timedelta(seconds=rng.uniform(1, 8))
            kind = "default" if on_default else "feature"
            self._push(commit, created, kind)
            if on_default and self.in_ci and rng.random() < 0.04:
                state.tags += 1
                tag = f"v1.{state.tags}.0"
                self._draft(
                    commit,
                    created + dt.timedelta(minutes=rng.uniform(1, 20)),
                    ref=tag,
                    tag=True,
                    source="push",
                    name=f"Release {tag}",
                    kind="tag",
                    before_sha=ZERO_SHA,
                )
        if self.in_ci and not scheduled:
            self._scheduled(schedule_at)
        return self._finish()

    def _scheduled(self, at: dt.datetime) -> None:
        commit = self.state.default_head
        if commit is None:
            return
        self._draft(
            commit, at, ref=self.project.default_branch, tag=False, source="schedule",
            name="Nightly build", kind="schedule", before_sha=ZERO_SHA, user=USERS[0],
        )  # fmt: skip

    def _push(self, commit: Commit, created: dt.datetime, kind: str) -> None:
        self._draft(
            commit,
            created,
            ref=commit.branch,
            tag=False,
            source="push",
            name=None,
            kind=kind,
            before_sha=commit.parents[0] if commit.parents else ZERO_SHA,
        )

    def _draft(self, commit: Commit, created: dt.datetime, **fields) -> None:
        created = _ms(created)
        if created >= self.day_end:
            return
        jobs, rerun = _plan_jobs(self, created, fields["kind"])
        user = fields.pop("user", None) or USER_BY_EMAIL[commit.author_email]
        draft = dict(fields, commit=commit, created=created, jobs=jobs, user=user, rerun_of=None)
        self.drafts.append(draft)
        if rerun is not None and _ms(rerun) < self.day_end:
            rerun = _ms(rerun)
            # The flaky failure is re-run from the UI on the same sha; this time it passes.
            jobs2, _ = _plan_jobs(self, rerun, fields["kind"], clean=True)
            self.drafts.append(dict(draft, created=rerun, jobs=jobs2, source="web", rerun_of=draft))

    def _finish(self) -> tuple[DayRecords, ProjectState]:
        state, project = self.state, self.project
        number = day_number(self.day)
        drafts = sorted(self.drafts, key=lambda d: (d["created"], d["ref"], d["source"]))
        if self.day == self.org.as_of and drafts:
            _hold_last(drafts, project.default_branch)
        pipelines: list[PipelinePlan] = []
        ids: dict[int, int] = {}
        for seq, draft in enumerate(drafts):
            state.pipeline_iid += 1
            pipeline_id = PIPELINE_ID_BASE + number * 10_000 + project.index * 1_000 + seq
            ids[id(draft)] = pipeline_id
            pipelines.append(
                PipelinePlan(
                    id=pipeline_id,
                    iid=state.pipeline_iid,
                    project_index=project.index,
                    commit=draft["commit"],
                    before_sha=draft["before_sha"],
                    ref=draft["ref"],
                    tag=draft["tag"],
                    source=draft["source"],
                    name=draft["name"],
                    user=draft["user"],
                    created_at=draft["created"],
                    jobs=tuple(draft["jobs"]),
                    rerun_of=ids.get(id(draft["rerun_of"])) if draft["rerun_of"] else None,
                )
            )
        deployments = []
        candidates = sorted(
            (
                (job.created_at, plan.id, job.index, plan, job)
                for plan in pipelines
                for job in plan.jobs
                if job.environment
            ),
            key=lambda item: item[:3],
        )
        for seq, (created, _, _, plan, job) in enumerate(candidates):
            state.deployment_iid += 1
            status = {"manual": "blocked"}.get(job.status, job.status)
            deployments.append(
                DeploymentPlan(
                    id=DEPLOYMENT_ID_BASE + number * 10_000 + project.index * 1_000 + seq,
                    iid=state.deployment_iid,
                    project_index=project.index,
                    environment=job.environment,
                    pipeline=plan,
                    job=job,
                    status=status,
                    created_at=created,
                )
            )
        if not self.in_ci:
            pipelines = []  # outside the CI window only their deployments are served
        return DayRecords(pipelines, deployments), state


def _hold_last(drafts: list[dict], default_branch: str) -> None:
    """The last pipeline of the report day (a default-branch push when there is one) never
    finishes its last job: it, and a deployment, are in progress at the end of the history."""
    pushes = [d for d in drafts if d["kind"] == "default" and d["source"] == "push"]
    draft = pushes[-1] if pushes else drafts[-1]
    jobs = [job for job in draft["jobs"] if job.retried_by is None]
    if not jobs:
        return
    last = max(jobs, key=lambda job: (job.started_at or job.created_at, job.index))
    blocked = any(
        job.status in ("failed", "canceled", "manual") and not job.allow_failure
        for job in jobs
        if job is not last
    )
    if last.started_at is None or blocked:
        return
    held = replace(last, status="running", finished_at=None, settled_at=None)
    draft["jobs"] = [held if job is last else job for job in draft["jobs"]]


def _plan_jobs(
    builder: _DayBuilder, created: dt.datetime, kind: str, *, clean: bool = False
) -> tuple[list[JobPlan], dt.datetime | None]:
    """Jobs of one pipeline, and when a flaky failure gets re-run (None: no re-run)."""
    rng, state = builder.rng, builder.state
    if kind == "feature" and not clean and rng.random() < 0.01:
        return [], None  # [ci skip]: a skipped pipeline without jobs
    stages: list[list[tuple[str, bool, str | None]]] = [
        [("build", False, None)],
        [("unit-tests", False, None), ("integration-tests", False, None), ("lint", True, None)],
    ]
    production = False
    if kind == "default":
        deploy = [("deploy:staging", False, "staging")]
        if rng.random() < min(1.0, 0.4 * builder.org.deploy_cadence):
            deploy.append(("deploy:production", False, "production"))
            production = True
        stages.append(deploy)
    elif kind == "tag":
        stages.append([("release", False, None)])
    if builder.org.jobs_per_workflow is not None:
        stages = _capped(stages, builder.org.jobs_per_workflow)
    # Outcome of this pipeline.
    failing = state.default_failing if kind in ("default", "schedule") else False
    p_fail = 0.45 if failing else (0.08 if kind in ("default", "tag") else 0.16)
    fail_job = None
    if not clean and rng.random() < p_fail:
        fail_job = rng.choices(("build", "unit-tests", "integration-tests"), (2, 5, 3))[0]
    flaky_job = None
    if not clean and fail_job is None and rng.random() < 0.09:
        flaky_job = rng.choice(("unit-tests", "integration-tests"))
    flaky_retry = flaky_job is not None and rng.random() < 0.5
    cancel = kind == "feature" and not clean and fail_job is None and rng.random() < 0.04
    cancel_stage = rng.randrange(len(stages)) if cancel else -1
    lint_fails = rng.random() < 0.06
    manual_review = kind == "feature" and not clean and rng.random() < 0.05
    if manual_review:
        stages.append([("deploy:review", False, None)])
        if builder.org.jobs_per_workflow is not None:
            stages = _capped(stages, builder.org.jobs_per_workflow)
    prod_fail = rng.random() < (0.4 if state.production_failing else 0.07)
    prod_retry = rng.random() < 0.6
    blocked = production and rng.random() < 0.03
    redeploy = production and not prod_fail and rng.random() < 0.03
    prod_cancel = production and not prod_fail and not redeploy and rng.random() < 0.03

    jobs: list[JobPlan] = []
    stage_start = created
    broken = None  # (time, "failed"|"canceled") once the pipeline stops
    rerun_at = None
    index = 0
    for stage_number, stage in enumerate(stages):
        stage_end = stage_start
        for name, allow_failure, environment in stage:
            stage_name = _STAGE_OF.get(name, "deploy")
            if broken is not None:
                when, reason = broken
                status = "canceled" if reason == "canceled" else "skipped"
                jobs.append(_never_ran(index, name, stage_name, created, when, status, environment))
                index += 1
                continue
            if name == "deploy:review" or (environment == "production" and blocked):
                jobs.append(
                    _never_ran(index, name, stage_name, created, stage_start, "manual", environment)
                )
                index += 1
                continue
            outcome = "success"
            tests: tuple[int, ...] = ()
            reason = None
            if name == fail_job:
                outcome, reason = (
                    "failed",
                    rng.choice(
                        ("script_failure",) * 6
                        + ("stuck_or_timeout_failure", "runner_system_failure")
                    ),
                )
                if name in TEST_JOBS:
                    count = len(builder.project.tests[TEST_JOBS[name]])
                    healthy = range(max(count - 5, 0))
                    picked = min(rng.randint(1, 3), len(healthy))
                    tests = tuple(sorted(rng.sample(healthy, picked)))
            elif name == "lint" and lint_fails:
                outcome, reason = "failed", "script_failure"
            elif name == "deploy:staging" and rng.random() < 0.05:
                outcome, reason = "failed", "script_failure"
            elif name == "deploy:production" and prod_fail:
                outcome, reason = "failed", "script_failure"
            elif name == "deploy:production" and prod_cancel:
                outcome = "canceled"
            if name == flaky_job:
                outcome, reason = "failed", "script_failure"
                suite = builder.project.tests[TEST_JOBS[name]]
                flaky = [n for n, spec in enumerate(suite) if spec.flaky]
                tests = (rng.choice(flaky),) if flaky else ()
            job = _run(rng, index, name, stage_name, created, stage_start, outcome, reason)
            job = replace(job, allow_failure=allow_failure, failed_tests=tests,
                          environment=environment)  # fmt: skip
            if name == "unit-tests" and outcome == "success":
                job = replace(job, coverage=round(rng.uniform(72, 91), 2))
            index += 1
            retry = None
            if outcome == "failed" and (
                (name == flaky_job and flaky_retry)
                or (name == "deploy:production" and prod_retry)
                or (name == "deploy:staging")
            ):
                retry_outcome = "success"
                if name == "deploy:production" and rng.random() < 0.3:
                    retry_outcome = "failed"
                retry_start = _ms(job.finished_at + dt.timedelta(minutes=rng.uniform(0.5, 10)))
                retry = _run(rng, index, name, stage_name, retry_start, retry_start,
                             retry_outcome, "script_failure" if retry_outcome == "failed" else None)  # fmt: skip
                retry = replace(retry, allow_failure=allow_failure, environment=environment)
                jobs.append(replace(job, retried_by=index))
                index += 1
                jobs.append(retry)
                final = retry
            elif outcome == "success" and name == "deploy:production" and redeploy:
                again = _ms(job.finished_at + dt.timedelta(minutes=rng.uniform(5, 60)))
                retry = _run(rng, index, name, stage_name, again, again, "success", None)
                retry = replace(retry, environment=environment)
                jobs.append(replace(job, retried_by=index))
                index += 1
                jobs.append(retry)
                final = retry
            else:
                jobs.append(job)
                final = job
            stage_end = max(stage_end, final.finished_at)
            if final.status in ("failed", "canceled") and not allow_failure:
                broken = (final.finished_at, final.status)
                if name == flaky_job and not flaky_retry:
                    rerun_at = final.finished_at + dt.timedelta(minutes=rng.uniform(2, 40))
            if name == "deploy:production":
                state.production_failing = final.status == "failed"
        if cancel and stage_number == cancel_stage and broken is None:
            # Auto-cancelled by a newer push: the stage's jobs stop midway.
            cut = _ms(stage_start + (stage_end - stage_start) / 2)
            for position, job in enumerate(jobs):
                if not (job.started_at and job.finished_at and job.finished_at > cut):
                    continue
                ran = job.started_at < cut
                jobs[position] = replace(
                    job, status="canceled", started_at=job.started_at if ran else None,
                    finished_at=cut if ran else None, settled_at=cut, failure_reason=None,
                    failed_tests=(), coverage=None, runner=job.runner if ran else None,
                )  # fmt: skip
            broken, stage_end = (cut, "canceled"), cut
        stage_start = stage_end
    if kind in ("default", "schedule"):
        latest = [job for job in jobs if job.retried_by is None]
        state.default_failing = any(
            job.status == "failed" and not job.allow_failure for job in latest
        )
    return jobs, rerun_at


_STAGE_OF = {"build": "build", "unit-tests": "test", "integration-tests": "test", "lint": "test"}
# Which jobs a capped pipeline keeps first (see ``jobs_per_workflow``).
_KEEP_ORDER = ("build", "deploy:staging", "deploy:production", "release", "deploy:review")
_KEEP_ORDER += ("unit-tests", "integration-tests", "lint")


def _capped(
    stages: list[list[tuple[str, bool, str | None]]], limit: int
) -> list[list[tuple[str, bool, str | None]]]:
    """The stages with at most ``limit`` jobs, kept in :data:`_KEEP_ORDER` priority."""
    names = [job[0] for stage in stages for job in stage]
    kept = set(sorted(names, key=_KEEP_ORDER.index)[:limit])
    capped = [[job for job in stage if job[0] in kept] for stage in stages]
    return [stage for stage in capped if stage]


def _run(
    rng: random.Random,
    index: int,
    name: str,
    stage: str,
    created: dt.datetime,
    enqueued: dt.datetime,
    status: str,
    reason: str | None,
) -> JobPlan:
    queued = rng.lognormvariate(1.6, 0.8)
    if rng.random() < 0.05:
        queued += rng.uniform(60, 600)  # runners busy
    base = {
        "build": 110,
        "unit-tests": 230,
        "integration-tests": 420,
        "lint": 45,
        "release": 80,
    }.get(name, 150)
    duration = base * rng.lognormvariate(0, 0.25)
    if status == "failed":
        duration *= rng.uniform(0.2, 0.9)
    started = enqueued + dt.timedelta(seconds=queued)
    finished = started + dt.timedelta(seconds=duration)
    return JobPlan(
        index=index,
        name=name,
        stage=stage,
        status=status,
        allow_failure=False,
        created_at=_ms(created),
        enqueued_at=_ms(enqueued),
        started_at=_ms(started),
        finished_at=_ms(finished),
        settled_at=_ms(finished),
        failure_reason=reason,
        runner=rng.choice(RUNNERS)[0],
    )


def _never_ran(
    index: int,
    name: str,
    stage: str,
    created: dt.datetime,
    settled: dt.datetime,
    status: str,
    environment: str | None,
) -> JobPlan:
    return JobPlan(
        index=index,
        name=name,
        stage=stage,
        status=status,
        allow_failure=False,
        created_at=created,
        enqueued_at=None,
        started_at=None,
        finished_at=None,
        settled_at=settled,
        environment=environment,
    )


def _ms(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
