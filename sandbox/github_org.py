"""A deterministic simulated GitHub organisation: repositories, Actions runs and Deployments.

Why this exists: the GitHub source (Actions workflow runs and jobs, Deployments and their status
histories, commit comparisons for lead time) must be developed and tested offline. This module
invents that activity from a seed and a report date; :mod:`sandbox.github_emulator` serves it in
the exact shapes of the GitHub REST API, and the ground-truth tables here (plain dict rows) say
what "really happened" so tests can check what the warehouse computes.

Everything is relative to ``as_of`` (a date) and never reads the clock:

* Commits come from :class:`~sandbox.repositories.RepositoryHistory` over ``deploy_days`` days.
* Actions runs cover the last ``days`` days (ending with ``as_of`` inclusive): one ``CI`` run per
  pushed commit (``push`` or ``pull_request``), a ``Deploy`` run per default-branch commit (plus
  the odd ``workflow_dispatch``), and a ``Nightly`` ``schedule`` run a day. Failures on the
  default branch follow a per-workflow streak that recovers; feature branches fail at random;
  some runs are cancelled, skipped, time out, fail at startup or wait for approval, and some
  failed runs are re-run (``run_attempt`` 2..3).
* Deployments cover ``deploy_days`` days: default-branch commits go to ``staging`` and some of
  those on to ``production``; statuses go queued -> in_progress -> success/failure/error, and a
  success marks the environment's previous successful deployment ``inactive``. A failed
  production deployment is often followed by a redeploy of the same sha.

Generation is streamed per (repository, UTC day) with :class:`~sandbox.partitions.DayPartitioned`;
numeric ids embed their day (``base + (day_number * 16 + repo_index) * stride + sequence``) so a
lookup by id regenerates a single day.

Time travel: every record keeps its whole future (final times and conclusions); the emulator and
the ground-truth functions take an instant ``at`` and show the organisation as it looked then.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import heapq
import math
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.partitions import EPOCH, DayPartitioned, days_between, rng_for
from sandbox.repositories import Commit, RepositoryHistory

UTC = dt.UTC
OWNER = "acme"

RUN_ID_BASE = 10_000_000_000
RUN_ID_STRIDE = 10_000  # runs per (repository, day)
DEPLOYMENT_ID_BASE = 1_000_000_000
DEPLOYMENT_ID_STRIDE = 100  # deployments per (repository, day)
MAX_REPOSITORIES = 16


# --------------------------------------------------------------------------------------------
# Static description of the organisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoSpec:
    """What to simulate for one repository (the knobs a test may turn)."""

    name: str
    default_branch: str = "main"
    pushes_per_weekday: float = 10.0


DEFAULT_REPOSITORIES = (
    RepoSpec("storefront", "main", 10.0),
    RepoSpec("payments", "main", 6.0),
    RepoSpec("platform", "master", 8.0),
)


@dataclass(frozen=True)
class JobTemplate:
    name: str
    median_seconds: float
    steps: tuple[str, ...]
    labels: tuple[str, ...] = ("ubuntu-latest",)
    runner_group_id: int = 0
    runner_group_name: str = "GitHub Actions"


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    path: str  # ".github/workflows/ci.yml"
    stages: tuple[tuple[JobTemplate, ...], ...]  # jobs of a stage start when the previous ends
    created_at: dt.datetime


@dataclass(frozen=True)
class Environment:
    id: int
    name: str
    production: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class GitHubRepository:
    index: int
    owner: str
    name: str
    id: int
    default_branch: str
    created_at: dt.datetime
    workflows: tuple[Workflow, ...]
    environments: tuple[Environment, ...]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def workflow(self, name: str) -> Workflow:
        return next(w for w in self.workflows if w.name == name)


def _job(name: str, median: float, *middle: str, **kw: object) -> JobTemplate:
    steps = ("Set up job", "Run actions/checkout@v4", *middle, "Post Run actions/checkout@v4")
    return JobTemplate(name, median, (*steps, "Complete job"), **kw)  # type: ignore[arg-type]


_CI_STAGES = (
    (
        _job("lint", 50, "Set up Python", "Run ruff"),
        _job("typecheck", 80, "Set up Python", "Run mypy"),
    ),
    (
        _job("test (3.12)", 300, "Set up Python", "Install dependencies", "Run pytest"),
        _job("test (3.13)", 320, "Set up Python", "Install dependencies", "Run pytest"),
    ),
    (_job("build", 140, "Set up Docker Buildx", "Build image"),),
)
_DEPLOY_STAGES = (
    (_job("build-image", 180, "Set up Docker Buildx", "Build and push image"),),
    (_job("deploy", 120, "Configure credentials", "Roll out"),),
)
_SELF_HOSTED = {
    "labels": ("self-hosted", "linux", "x64"),
    "runner_group_id": 1,
    "runner_group_name": "Default",
}
_NIGHTLY_STAGES = (
    (
        _job("e2e (chrome)", 900, "Install browsers", "Run e2e suite", **_SELF_HOSTED),
        _job("e2e (firefox)", 960, "Install browsers", "Run e2e suite", **_SELF_HOSTED),
        _job("security-scan", 240, "Run scanner"),
    ),
)


def _stable_int(*parts: object, modulo: int) -> int:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


def login_of(name: str) -> str:
    """The GitHub login of a simulated author ("Ada Okafor" -> "ada-okafor")."""
    return "-".join(name.lower().split())


def user_id_of(login: str) -> int:
    return 1_000_000 + _stable_int("user", login, modulo=90_000_000)


# --------------------------------------------------------------------------------------------
# Records (immutable; every time is final; ``at`` decides what is visible)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    name: str
    number: int
    started_at: dt.datetime
    completed_at: dt.datetime
    conclusion: str  # success | failure | cancelled | skipped


@dataclass(frozen=True)
class JobRecord:
    id: int
    name: str
    template: JobTemplate
    created_at: dt.datetime
    started_at: dt.datetime
    completed_at: dt.datetime
    conclusion: str  # success | failure | cancelled | skipped | timed_out
    steps: tuple[StepRecord, ...]
    runner_id: int | None
    runner_name: str | None


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    started_at: dt.datetime  # run_started_at
    completed_at: dt.datetime  # when the attempt's status became "completed"
    conclusion: str
    jobs: tuple[JobRecord, ...]
    actor: str  # login of the triggering actor
    first_start: dt.datetime | None = None  # when its first job started (None: none ran)

    def status_at(self, at: dt.datetime) -> str:
        """queued until a job starts, in_progress until the attempt completes, then completed."""
        if at >= self.completed_at:
            return "completed"
        if self.first_start is not None and self.first_start <= at:
            return "in_progress"
        return "queued"

    @property
    def stopped_at(self) -> dt.datetime | None:
        """The latest job completion of the attempt (None when it has no jobs)."""
        return max((job.completed_at for job in self.jobs), default=None)


@dataclass(frozen=True)
class RunRecord:
    id: int
    repository: str
    workflow: Workflow
    run_number: int
    event: str
    head_branch: str
    commit: Commit
    created_at: dt.datetime
    actor: str
    pull_request: int | None  # PR number for pull_request events
    attempts: tuple[AttemptRecord, ...]

    @property
    def head_sha(self) -> str:
        return self.commit.sha

    def attempt_at(self, at: dt.datetime) -> AttemptRecord | None:
        """The latest attempt that exists at ``at`` (None when the run itself does not)."""
        if self.created_at > at:
            return None
        visible = [a for a in self.attempts if a.number == 1 or a.started_at <= at]
        return visible[-1]


@dataclass(frozen=True)
class StatusRecord:
    id: int
    deployment_id: int
    state: str
    environment: str
    created_at: dt.datetime
    description: str
    creator: str


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    repository: str
    sha: str
    ref: str
    task: str
    environment: str
    production: bool
    created_at: dt.datetime
    creator: str
    description: str | None
    statuses: tuple[StatusRecord, ...]  # its own history, oldest first (no ``inactive``)


@dataclass(frozen=True)
class InactiveRecord:
    """A success elsewhere marks an older deployment of the environment inactive (day record)."""

    status: StatusRecord


def visible_state(created: dt.datetime, started: dt.datetime, done: dt.datetime, at: dt.datetime):
    """(status, finished?) of something created/started/completed at these times, seen at ``at``."""
    if at >= done:
        return "completed", True
    if at >= started:
        return "in_progress", False
    return "queued", False


# --------------------------------------------------------------------------------------------
# Per-repository simulation
# --------------------------------------------------------------------------------------------


@dataclass
class _CIState:
    run_numbers: dict[str, int]
    broken: dict[str, bool]
    head: Commit | None  # default-branch head at the start of the day


@dataclass
class _DeployState:
    active: dict[str, int] = field(default_factory=dict)  # environment -> active deployment id
    failing: dict[str, bool] = field(default_factory=dict)
    last_staged: str | None = None


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _s(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=max(1, round(seconds)))


RUN_SUMMARY_CACHE_DAYS = 128
DEPLOYMENT_CACHE_DAYS = 512


def _cached(cache: collections.OrderedDict, day: dt.date) -> Any:
    value = cache.get(day)
    if value is not None:
        cache.move_to_end(day)
    return value


def _remember(cache: collections.OrderedDict, day: dt.date, value: Any, limit: int) -> None:
    cache[day] = value
    cache.move_to_end(day)
    while len(cache) > limit:
        cache.popitem(last=False)


class _RepoSim:
    def __init__(self, org: GitHubOrganisation, repo: GitHubRepository, spec: RepoSpec) -> None:
        self.org = org
        self.repo = repo
        days = days_between(org.deploy_start.date(), org.as_of)
        self.history = RepositoryHistory(
            org.seed,
            repo.full_name,
            days[0],
            days[-1],
            default_branch=repo.default_branch,
            pushes_per_weekday=spec.pushes_per_weekday,
        )
        self.runs: DayPartitioned[_CIState, RunRecord] = DayPartitioned(
            days,
            _CIState(
                run_numbers={w.name: 100 + 37 * i for i, w in enumerate(repo.workflows)},
                broken={w.name: False for w in repo.workflows},
                head=None,
            ),
            self._runs_of_day,
        )
        self.deployments: DayPartitioned[_DeployState, DeploymentRecord | InactiveRecord] = (
            DayPartitioned(days, _DeployState(), self._deployments_of_day)
        )
        self._lock = threading.Lock()
        self._commit_index: dict[str, tuple[dt.date, int]] | None = None
        self._branch_commits: dict[str, list[str]] | None = None
        # Bounded caches of listing-sized records: the standard organisation fits whole (fast
        # listings); a benchmark-scale one regenerates older days instead of holding them all.
        self._run_summaries: collections.OrderedDict[dt.date, list[RunRecord]] = (
            collections.OrderedDict()
        )
        self._deployment_days: collections.OrderedDict[
            dt.date, list[DeploymentRecord | InactiveRecord]
        ] = collections.OrderedDict()

    # -- ids ------------------------------------------------------------------------------------

    def run_id(self, day: dt.date, seq: int) -> int:
        if seq >= RUN_ID_STRIDE:
            raise ValueError("too many runs in one day for the id scheme")
        return (
            RUN_ID_BASE
            + ((day - EPOCH).days * MAX_REPOSITORIES + self.repo.index) * RUN_ID_STRIDE
            + seq
        )

    def deployment_id(self, day: dt.date, seq: int) -> int:
        if seq >= DEPLOYMENT_ID_STRIDE:
            raise ValueError("too many deployments in one day for the id scheme")
        slot = (day - EPOCH).days * MAX_REPOSITORIES + self.repo.index
        return DEPLOYMENT_ID_BASE + slot * DEPLOYMENT_ID_STRIDE + seq

    def day_of_id(self, value: int, base: int, stride: int) -> dt.date | None:
        slot = (value - base) // stride
        if value < base or slot % MAX_REPOSITORIES != self.repo.index:
            return None
        return EPOCH + dt.timedelta(days=slot // MAX_REPOSITORIES)

    # -- CI runs --------------------------------------------------------------------------------

    def _runs_of_day(self, day: dt.date, state: _CIState) -> tuple[list[RunRecord], _CIState]:
        commits = self.history.day(day)
        numbers = dict(state.run_numbers)
        broken = dict(state.broken)
        head = state.head
        default = self.repo.default_branch
        if day < self.org.ci_start.date():
            # Before the CI window: only carry the state forward (run numbers, head).
            for commit in commits:
                numbers["CI"] += 1
                if commit.branch == default:
                    numbers["Deploy"] += 1
                    head = commit
            numbers["Nightly"] += 1
            return [], replace(state, run_numbers=numbers, head=head)
        rng = rng_for(self.org.seed, "github-runs", self.repo.full_name, day)
        start = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
        planned: list[
            tuple[dt.datetime, str, str, Commit]
        ] = []  # (created, workflow, event, commit)
        if head is not None:
            planned.append(
                (start + _s(3 * 3600 + rng.uniform(60, 1500)), "Nightly", "schedule", head)
            )
        for commit in commits:
            created = commit.committed_at + _s(rng.uniform(1, 6))
            if commit.branch == default:
                head = commit
                planned.append((created, "CI", "push", commit))
                planned.append((created + _s(rng.uniform(0, 2)), "Deploy", "push", commit))
                if rng.random() < 0.05:
                    later = created + _s(rng.uniform(600, 3600))
                    if later.date() == day:
                        planned.append((later, "Deploy", "workflow_dispatch", commit))
            else:
                event = "pull_request" if rng.random() < 0.6 else "push"
                planned.append((created, "CI", event, commit))
        planned.sort(key=lambda item: item[0])
        runs = []
        for seq, (created, name, event, commit) in enumerate(planned):
            numbers[name] += 1
            workflow = self.repo.workflow(name)
            on_default = commit.branch == default
            runs.append(
                self._run(
                    rng,
                    day,
                    seq,
                    workflow,
                    numbers[name],
                    event,
                    commit,
                    created,
                    on_default,
                    broken,
                )
            )
        return runs, replace(state, run_numbers=numbers, broken=broken, head=head)

    def _outcome(
        self, rng: random.Random, workflow: Workflow, on_default: bool, broken: dict[str, bool]
    ) -> str:
        roll = rng.random()
        if roll < 0.04:
            return "cancelled"
        if roll < 0.05:
            return "timed_out"
        if workflow.name == "Deploy":
            if rng.random() < 0.08:
                return "skipped"
            return "failure" if rng.random() < 0.05 else "success"
        if not on_default:
            return "failure" if rng.random() < 0.15 else "success"
        # The default branch is either green or broken; broken streaks recover.
        if broken[workflow.name]:
            failed = rng.random() < 0.6
        else:
            failed = rng.random() < 0.07
        broken[workflow.name] = failed
        return "failure" if failed else "success"

    def _run(
        self,
        rng: random.Random,
        day: dt.date,
        seq: int,
        workflow: Workflow,
        number: int,
        event: str,
        commit: Commit,
        created: dt.datetime,
        on_default: bool,
        broken: dict[str, bool],
    ) -> RunRecord:
        run_id = self.run_id(day, seq)
        actor = "github-actions[bot]" if event == "schedule" else login_of(commit.author_name)
        pr = None
        if event == "pull_request":
            suffix = commit.branch.rsplit("-", 1)[-1]
            pr = int(suffix) + 10 if suffix.isdigit() else 1
        special = rng.random()
        attempts: list[AttemptRecord] = []
        if event == "pull_request" and special < 0.03:
            conclusion = "action_required"
            attempts.append(
                AttemptRecord(1, created, created + _s(rng.uniform(1, 3)), conclusion, (), actor)
            )
        elif special < 0.01 or (event == "pull_request" and special < 0.035):
            attempts.append(
                AttemptRecord(
                    1, created, created + _s(rng.uniform(1, 4)), "startup_failure", (), actor
                )
            )
        else:
            outcome = self._outcome(rng, workflow, on_default, broken)
            attempt = self._attempt(rng, run_id, 1, workflow, created, outcome, actor)
            attempts.append(attempt)
            while (
                attempt.conclusion in ("failure", "timed_out", "cancelled") and attempt.number < 3
            ):
                if rng.random() >= (0.3 if attempt.conclusion != "cancelled" else 0.15):
                    break
                rerun_at = attempt.completed_at + _s(_lognormal(rng, 600, 0.8))
                outcome = "success" if rng.random() < 0.7 else "failure"
                attempt = self._attempt(
                    rng, run_id, attempt.number + 1, workflow, rerun_at, outcome, actor
                )
                attempts.append(attempt)
        return RunRecord(
            run_id,
            self.repo.full_name,
            workflow,
            number,
            event,
            commit.branch,
            commit,
            created,
            actor,
            pr,
            tuple(attempts),
        )

    def _attempt(
        self,
        rng: random.Random,
        run_id: int,
        number: int,
        workflow: Workflow,
        started: dt.datetime,
        outcome: str,
        actor: str,
    ) -> AttemptRecord:
        jobs: list[JobRecord] = []
        templates = [t for stage in workflow.stages for t in stage]
        failing = rng.randrange(len(templates)) if outcome in ("failure", "timed_out") else -1
        stage_start = started + _s(rng.uniform(1, 4))
        failed_at: dt.datetime | None = None
        position = 0
        for stage in workflow.stages:
            stage_end = stage_start
            for template in stage:
                job_id = run_id * 100 + number * 10 + position
                created = stage_start
                if outcome == "skipped" or failed_at is not None:
                    job = self._job(rng, job_id, template, created, created, created, "skipped")
                else:
                    queued = _s(_lognormal(rng, 8, 1.0))
                    begun = created + queued
                    if position == failing:
                        if outcome == "timed_out":
                            duration = 30 * 60.0
                        else:
                            duration = _lognormal(rng, template.median_seconds, 0.35) * rng.uniform(
                                0.2, 1.0
                            )
                        job = self._job(
                            rng, job_id, template, created, begun, begun + _s(duration), outcome
                        )
                    else:
                        duration = _lognormal(rng, template.median_seconds, 0.35)
                        job = self._job(
                            rng, job_id, template, created, begun, begun + _s(duration), "success"
                        )
                jobs.append(job)
                stage_end = max(stage_end, job.completed_at)
                position += 1
            if any(job.conclusion in ("failure", "timed_out") for job in jobs):
                failed_at = failed_at or stage_end
            stage_start = stage_end + _s(rng.uniform(1, 5))
        conclusion = outcome
        if outcome == "cancelled":
            end = max(job.completed_at for job in jobs)
            cancel_at = max(started + (end - started) * rng.uniform(0.1, 0.9), jobs[0].created_at)
            jobs = [self._cancel(job, cancel_at) for job in jobs if job.created_at <= cancel_at]
        completed = max(job.completed_at for job in jobs) + _s(rng.uniform(1, 3))
        ran = [job.started_at for job in jobs if job.conclusion != "skipped"]
        first = min(ran, default=None)
        return AttemptRecord(number, started, completed, conclusion, tuple(jobs), actor, first)

    def _job(
        self,
        rng: random.Random,
        job_id: int,
        template: JobTemplate,
        created: dt.datetime,
        started: dt.datetime,
        completed: dt.datetime,
        conclusion: str,
    ) -> JobRecord:
        if conclusion == "skipped":
            return JobRecord(
                job_id,
                template.name,
                template,
                created,
                created,
                created,
                "skipped",
                (),
                None,
                None,
            )
        weights = [1.0] + [rng.uniform(0.5, 6.0) for _ in template.steps[1:-2]] + [0.2, 0.1]
        total = sum(weights)
        steps, cursor, failed = [], started, False
        span = (completed - started).total_seconds()
        for number, (name, weight) in enumerate(zip(template.steps, weights, strict=True), start=1):
            end = (
                completed
                if number == len(weights)
                else cursor + dt.timedelta(seconds=round(span * weight / total))
            )
            if failed and name != "Complete job" and not name.startswith("Post "):
                step_conclusion = "skipped"
                end = cursor
            elif conclusion in ("failure", "timed_out") and number == len(weights) - 2:
                step_conclusion = "failure" if conclusion == "failure" else "cancelled"
                failed = True
            else:
                step_conclusion = "success"
            steps.append(StepRecord(name, number, cursor, min(end, completed), step_conclusion))
            cursor = min(end, completed)
        runner = template.runner_group_id * 1000 + rng.randrange(1, 40)
        runner_name = (
            f"GitHub Actions {runner}"
            if template.runner_group_id == 0
            else f"ci-runner-{runner % 8:02d}"
        )
        return JobRecord(
            job_id,
            template.name,
            template,
            created,
            started,
            completed,
            conclusion,
            tuple(steps),
            runner,
            runner_name,
        )

    @staticmethod
    def _cancel(job: JobRecord, at: dt.datetime) -> JobRecord:
        if job.completed_at <= at:
            return job
        started = min(job.started_at, at)
        steps = []
        for step in job.steps:
            if step.completed_at <= at:
                steps.append(step)
            elif step.started_at <= at:
                steps.append(replace(step, completed_at=at, conclusion="cancelled"))
            else:
                steps.append(replace(step, started_at=at, completed_at=at, conclusion="skipped"))
        return replace(
            job, started_at=started, completed_at=at, conclusion="cancelled", steps=tuple(steps)
        )

    def run_summaries(self, day: dt.date) -> list[RunRecord]:
        """The day's runs without their jobs (small, kept for listings), oldest first."""
        with self._lock:
            summary = _cached(self._run_summaries, day)
        if summary is None:
            summary = [
                replace(run, attempts=tuple(replace(a, jobs=()) for a in run.attempts))
                for run in self.runs.day(day)
            ]
            with self._lock:
                _remember(self._run_summaries, day, summary, RUN_SUMMARY_CACHE_DAYS)
        return summary

    def deployment_day(self, day: dt.date) -> list[DeploymentRecord | InactiveRecord]:
        """The day's deployments and inactive marks (small, kept)."""
        with self._lock:
            records = _cached(self._deployment_days, day)
        if records is None:
            records = self.deployments.day(day)
            with self._lock:
                _remember(self._deployment_days, day, records, DEPLOYMENT_CACHE_DAYS)
        return records

    def run(self, run_id: int) -> RunRecord | None:
        day = self.day_of_id(run_id, RUN_ID_BASE, RUN_ID_STRIDE)
        if day is None:
            return None
        return next((r for r in self.runs.day(day) if r.id == run_id), None)

    # -- deployments ----------------------------------------------------------------------------

    def _deployments_of_day(
        self, day: dt.date, state: _DeployState
    ) -> tuple[list[DeploymentRecord | InactiveRecord], _DeployState]:
        rng = rng_for(self.org.seed, "github-deployments", self.repo.full_name, day)
        active = dict(state.active)
        failing = dict(state.failing)
        last_staged = state.last_staged
        records: list[DeploymentRecord | InactiveRecord] = []
        default = self.repo.default_branch
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
        plans: list[tuple[dt.datetime, str, Commit, bool]] = []  # (created, env, commit, redeploy)
        commits = [c for c in self.history.day(day) if c.branch == default]
        # 0.7 staging deployments per default-branch commit at the standard cadence; a cadence
        # beyond 1/0.7 deploys some commits to staging again later the same day.
        per_commit = 0.7 * self.org.deploy_cadence
        whole = int(per_commit)
        for commit in commits:
            copies = whole + (rng.random() < per_commit - whole)
            created = commit.committed_at
            for copy_number in range(copies):
                gap = rng.uniform(300, 900) if copy_number == 0 else rng.uniform(600, 3600)
                created += _s(gap)
                plans.append((created, "staging", commit, False))
                last_staged = commit.sha
        if day == self.org.as_of and commits:
            # Something is always in flight at the end of the report day.
            plans.append((end_of_day - _s(rng.uniform(30, 90)), "staging", commits[-1], False))
        plans.sort(key=lambda plan: plan[0])
        queue = list(plans)
        seq = 0
        while queue:
            created, env, commit, redeploy = queue.pop(0)
            if created >= end_of_day or seq >= DEPLOYMENT_ID_STRIDE:
                continue
            deployment = self._deployment(rng, day, seq, created, env, commit, redeploy, failing)
            seq += 1
            records.append(deployment)
            terminal = deployment.statuses[-1]
            if terminal.state == "success":
                previous = active.get(env)
                if previous is not None:
                    records.append(
                        InactiveRecord(
                            StatusRecord(
                                previous * 10 + 3,
                                previous,
                                "inactive",
                                env,
                                terminal.created_at,
                                f"Superseded by deployment {deployment.id}",
                                terminal.creator,
                            )
                        )
                    )
                active[env] = deployment.id
                if env == "staging" and rng.random() < 0.5:
                    promote = terminal.created_at + _s(rng.uniform(1800, 4 * 3600))
                    queue.append((promote, "production", commit, False))
            elif (
                terminal.state in ("failure", "error")
                and env == "production"
                and rng.random() < 0.7
            ):
                queue.append((terminal.created_at + _s(rng.uniform(600, 5400)), env, commit, True))
            queue.sort(key=lambda plan: plan[0])
        return records, _DeployState(active=active, failing=failing, last_staged=last_staged)

    def _deployment(
        self,
        rng: random.Random,
        day: dt.date,
        seq: int,
        created: dt.datetime,
        env: str,
        commit: Commit,
        redeploy: bool,
        failing: dict[str, bool],
    ) -> DeploymentRecord:
        deployment_id = self.deployment_id(day, seq)
        creator = "github-actions[bot]"
        production = env == "production"
        queued = created + _s(rng.uniform(0, 2))
        running = queued + _s(rng.uniform(5, 60))
        finished = running + _s(_lognormal(rng, 480 if production else 240, 0.5))
        fail_p = 0.3 if failing.get(env) else (0.1 if production else 0.08)
        if redeploy:
            fail_p = 0.2
        roll = rng.random()
        state = "error" if roll < fail_p * 0.2 else ("failure" if roll < fail_p else "success")
        failing[env] = state != "success"
        descriptions = {
            "success": "Deployment finished successfully.",
            "failure": "Deployment failed.",
            "error": "Deployment errored: runner lost.",
        }
        statuses = (
            StatusRecord(deployment_id * 10, deployment_id, "queued", env, queued, "", creator),
            StatusRecord(
                deployment_id * 10 + 1, deployment_id, "in_progress", env, running, "", creator
            ),
            StatusRecord(
                deployment_id * 10 + 2,
                deployment_id,
                state,
                env,
                finished,
                descriptions[state],
                creator,
            ),
        )
        return DeploymentRecord(
            deployment_id,
            self.repo.full_name,
            commit.sha,
            commit.sha if redeploy else self.repo.default_branch,
            "deploy",
            env,
            production,
            created,
            creator,
            f"Redeploy {commit.sha[:7]} to {env}" if redeploy else None,
            statuses,
        )

    def deployment(self, deployment_id: int) -> DeploymentRecord | None:
        day = self.day_of_id(deployment_id, DEPLOYMENT_ID_BASE, DEPLOYMENT_ID_STRIDE)
        if day is None:
            return None
        return next(
            (
                d
                for d in self.deployments.day(day)
                if isinstance(d, DeploymentRecord) and d.id == deployment_id
            ),
            None,
        )

    def inactive_status(self, deployment: DeploymentRecord) -> StatusRecord | None:
        """The ``inactive`` status a later success gave this deployment, if any."""
        if deployment.statuses[-1].state != "success":
            return None
        day = deployment.created_at.date()
        while day <= self.org.as_of:
            for record in self.deployments.day(day):
                if (
                    isinstance(record, InactiveRecord)
                    and record.status.deployment_id == deployment.id
                ):
                    return record.status
            day += dt.timedelta(days=1)
        return None

    def statuses(self, deployment: DeploymentRecord, at: dt.datetime) -> list[StatusRecord]:
        """Statuses that exist at ``at``, oldest first."""
        found = [s for s in deployment.statuses if s.created_at <= at]
        inactive = (
            self.inactive_status(deployment) if len(found) == len(deployment.statuses) else None
        )
        if inactive is not None and inactive.created_at <= at:
            found.append(inactive)
        return found

    # -- commits --------------------------------------------------------------------------------

    def _index(self) -> tuple[dict[str, tuple[dt.date, int]], dict[str, list[str]]]:
        with self._lock:
            if self._commit_index is None:
                index: dict[str, tuple[dt.date, int]] = {}
                branches: dict[str, list[str]] = {}
                for day, commits in self.history.history:
                    for position, commit in enumerate(commits):
                        index[commit.sha] = (day, position)
                        branches.setdefault(commit.branch, []).append(commit.sha)
                self._commit_index, self._branch_commits = index, branches
            assert self._branch_commits is not None
            return self._commit_index, self._branch_commits

    def root_commit(self) -> Commit:
        moment = self.org.deploy_start - dt.timedelta(days=1)
        return Commit(
            self.history.root,
            (),
            self.repo.default_branch,
            "Ada Okafor",
            "ada@acme.example",
            moment,
            moment,
            "Initial commit",
        )

    def _commit(self, sha: str) -> Commit | None:
        if sha == self.history.root:
            return self.root_commit()
        located = self._index()[0].get(sha)
        if located is None:
            return None
        day, position = located
        return self.history.day(day)[position]

    def commit(self, sha: str) -> Commit | None:
        return self._commit(sha)

    def resolve(self, ref: str, at: dt.datetime) -> Commit | None:
        """A branch name (its head at ``at``) or a full sha, as GitHub resolves ``sha``/basehead."""
        branches = self._index()[1]
        if ref in branches or ref == self.repo.default_branch:
            shas = branches.get(ref, [])
            for sha in reversed(shas):
                commit = self._commit(sha)
                if commit is not None and commit.committed_at <= at:
                    return commit
            return self.root_commit() if ref == self.repo.default_branch else None
        commit = self._commit(ref)
        return commit if commit is not None and commit.committed_at <= at else None

    def _order(self, sha: str) -> tuple[int, int]:
        if sha == self.history.root:
            return (0, -1)
        day, position = self._index()[0][sha]
        return (day.toordinal(), position)

    def ancestors(self, head: str) -> Iterator[Commit]:
        """``git log head``: the commit and its ancestors, newest first."""
        seen = {head}
        heap = [(tuple(-x for x in self._order(head)), head)]
        while heap:
            _, sha = heapq.heappop(heap)
            commit = self._commit(sha)
            if commit is None:
                continue
            yield commit
            for parent in commit.parents:
                if parent not in seen:
                    seen.add(parent)
                    heapq.heappush(heap, (tuple(-x for x in self._order(parent)), parent))

    def between(self, base: str, head: str) -> list[Commit]:
        """Commits reachable from ``head`` and not from ``base``, oldest first (git's paint-down)."""
        flags: dict[str, int] = {head: 1}
        flags[base] = flags.get(base, 0) | 2
        heap = [(tuple(-x for x in self._order(sha)), sha) for sha in {head, base}]
        heapq.heapify(heap)
        result = []
        while heap and any(flags[sha] != 2 for _, sha in heap):
            _, sha = heapq.heappop(heap)
            flag = flags[sha]
            commit = self._commit(sha)
            if commit is None:
                continue
            if flag == 1:
                result.append(commit)
            for parent in commit.parents:
                old = flags.get(parent, 0)
                if old | flag != old:
                    if old == 0:
                        heapq.heappush(heap, (tuple(-x for x in self._order(parent)), parent))
                    flags[parent] = old | flag
        return list(reversed(result))


# --------------------------------------------------------------------------------------------
# The organisation
# --------------------------------------------------------------------------------------------


class GitHubOrganisation:
    """The simulated GitHub organisation (nothing is generated until asked for)."""

    def __init__(
        self,
        as_of: dt.date,
        *,
        seed: int = 7,
        days: int = 90,
        deploy_days: int = 430,
        repositories: tuple[RepoSpec, ...] = DEFAULT_REPOSITORIES,
        owner: str = OWNER,
        deploy_cadence: float = 1.0,
    ) -> None:
        """``days`` of Actions runs and ``deploy_days`` of deployments (430 by default, so the
        365-day lookback and its slack have data), both ending with ``as_of``.

        Size knobs: ``repositories`` (each with its ``pushes_per_weekday``) and
        ``deploy_cadence``, a multiplier on how often deployments happen: 0.7 x cadence staging
        deployments per default-branch commit (half of the successful ones are promoted to
        production, so production scales alike). 1.0 is the standard organisation.
        """
        if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
            raise TypeError("as_of must be a datetime.date")
        if days < 1 or deploy_days < days:
            raise ValueError("need 1 <= days <= deploy_days")
        if not 1 <= len(repositories) <= MAX_REPOSITORIES:
            raise ValueError(f"between 1 and {MAX_REPOSITORIES} repositories")
        if deploy_cadence < 0:
            raise ValueError("deploy_cadence must be >= 0")
        self.deploy_cadence = deploy_cadence
        self.as_of = as_of
        self.seed = seed
        self.days = days
        self.deploy_days = deploy_days
        self.owner = owner
        self.end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
        self.ci_start = self.end - dt.timedelta(days=days)
        self.deploy_start = self.end - dt.timedelta(days=deploy_days)
        self.repositories: list[GitHubRepository] = []
        self._sims: dict[str, _RepoSim] = {}
        for index, spec in enumerate(repositories):
            repo = self._repository(index, spec)
            self.repositories.append(repo)
            self._sims[repo.full_name.lower()] = _RepoSim(self, repo, spec)

    def _repository(self, index: int, spec: RepoSpec) -> GitHubRepository:
        full_name = f"{self.owner}/{spec.name}"
        created = self.deploy_start - dt.timedelta(
            days=30 + _stable_int(self.seed, full_name, modulo=700)
        )
        repo_id = 600_000_000 + _stable_int(self.seed, "repo", full_name, modulo=100_000_000)
        workflows = tuple(
            Workflow(
                70_000_000
                + _stable_int(self.seed, full_name, name, modulo=9_000_000) * 10
                + position,
                name,
                f".github/workflows/{name.lower()}.yml",
                stages,
                created + dt.timedelta(hours=2 + position),
            )
            for position, (name, stages) in enumerate(
                (("CI", _CI_STAGES), ("Deploy", _DEPLOY_STAGES), ("Nightly", _NIGHTLY_STAGES))
            )
        )
        environments = tuple(
            Environment(
                160_000_000
                + _stable_int(self.seed, full_name, env, modulo=9_000_000) * 10
                + position,
                env,
                env == "production",
                created + dt.timedelta(days=1, hours=position),
            )
            for position, env in enumerate(("staging", "production"))
        )
        return GitHubRepository(
            index,
            self.owner,
            spec.name,
            repo_id,
            spec.default_branch,
            created,
            workflows,
            environments,
        )

    # -- lookups --------------------------------------------------------------------------------

    def sim(self, full_name: str) -> _RepoSim | None:
        return self._sims.get(full_name.lower())

    def repository(self, full_name: str) -> GitHubRepository:
        sim = self.sim(full_name)
        if sim is None:
            raise KeyError(full_name)
        return sim.repo

    def ci_days(self) -> list[dt.date]:
        return days_between(self.ci_start.date(), self.as_of)

    def deploy_day_list(self) -> list[dt.date]:
        return days_between(self.deploy_start.date(), self.as_of)

    def runs(self, full_name: str) -> Iterator[RunRecord]:
        sim = self._sims[full_name.lower()]
        for day in self.ci_days():
            yield from sim.runs.day(day)

    def deployment_records(self, full_name: str) -> Iterator[DeploymentRecord]:
        sim = self._sims[full_name.lower()]
        for day in self.deploy_day_list():
            for record in sim.deployment_day(day):
                if isinstance(record, DeploymentRecord):
                    yield record

    # -- ground truth (plain rows) --------------------------------------------------------------

    def workflow_runs(self, at: dt.datetime | None = None) -> Iterator[dict]:
        """One row per run attempt that exists at ``at`` (default: the end of ``as_of``)."""
        at = at or self.end
        for repo in self.repositories:
            for run in self.runs(repo.full_name):
                if run.created_at > at:
                    continue
                for attempt in run.attempts:
                    if attempt.number > 1 and attempt.started_at > at:
                        continue
                    status = attempt.status_at(at)
                    done = status == "completed"
                    stopped = attempt.stopped_at
                    yield {
                        "repository": repo.full_name,
                        "run_id": run.id,
                        "workflow_id": run.workflow.id,
                        "workflow_name": run.workflow.name,
                        "run_number": run.run_number,
                        "run_attempt": attempt.number,
                        "event": run.event,
                        "head_branch": run.head_branch,
                        "head_sha": run.head_sha,
                        "status": status,
                        "conclusion": attempt.conclusion if done else None,
                        "created_at": run.created_at,
                        "run_started_at": attempt.started_at,
                        "stopped_at": stopped if done else None,
                        "job_count": len([j for j in attempt.jobs if j.created_at <= at]),
                    }

    def jobs(self, at: dt.datetime | None = None) -> Iterator[dict]:
        """One row per job (every attempt) that exists at ``at``."""
        at = at or self.end
        for repo in self.repositories:
            for run in self.runs(repo.full_name):
                for attempt in run.attempts:
                    if run.created_at > at or (attempt.number > 1 and attempt.started_at > at):
                        continue
                    for job in attempt.jobs:
                        if job.created_at > at:
                            continue
                        status, done = visible_state(
                            job.created_at, job.started_at, job.completed_at, at
                        )
                        yield {
                            "repository": repo.full_name,
                            "run_id": run.id,
                            "run_attempt": attempt.number,
                            "job_id": job.id,
                            "name": job.name,
                            "workflow_name": run.workflow.name,
                            "head_branch": run.head_branch,
                            "head_sha": run.head_sha,
                            "status": status,
                            "conclusion": job.conclusion if done else None,
                            "created_at": job.created_at,
                            "started_at": job.started_at,
                            "completed_at": job.completed_at if done else None,
                            "labels": list(job.template.labels),
                            "runner_group_name": job.template.runner_group_name
                            if status != "queued"
                            else None,
                        }

    def deployments(self, at: dt.datetime | None = None) -> Iterator[dict]:
        """One row per deployment created by ``at``, with its latest status at ``at``."""
        at = at or self.end
        for repo in self.repositories:
            sim = self._sims[repo.full_name.lower()]
            for deployment in self.deployment_records(repo.full_name):
                if deployment.created_at > at:
                    continue
                statuses = sim.statuses(deployment, at)
                terminal = next(
                    (s for s in reversed(statuses) if s.state in ("success", "failure", "error")),
                    None,
                )
                yield {
                    "repository": repo.full_name,
                    "deployment_id": deployment.id,
                    "sha": deployment.sha,
                    "ref": deployment.ref,
                    "environment": deployment.environment,
                    "production_environment": deployment.production,
                    "created_at": deployment.created_at,
                    "latest_state": statuses[-1].state if statuses else None,
                    "terminal_state": terminal.state if terminal else None,
                    "completed_at": terminal.created_at if terminal else None,
                    "started_at": next(
                        (s.created_at for s in statuses if s.state == "in_progress"), None
                    ),
                }

    def deployment_statuses(self, at: dt.datetime | None = None) -> Iterator[dict]:
        at = at or self.end
        for repo in self.repositories:
            sim = self._sims[repo.full_name.lower()]
            for deployment in self.deployment_records(repo.full_name):
                if deployment.created_at > at:
                    continue
                for status in sim.statuses(deployment, at):
                    yield {
                        "repository": repo.full_name,
                        "deployment_id": deployment.id,
                        "status_id": status.id,
                        "state": status.state,
                        "environment": status.environment,
                        "created_at": status.created_at,
                    }

    def commits(self, at: dt.datetime | None = None) -> Iterator[dict]:
        at = at or self.end
        for repo in self.repositories:
            sim = self._sims[repo.full_name.lower()]
            for _, day_commits in sim.history.history:
                for commit in day_commits:
                    if commit.committed_at > at:
                        continue
                    yield {
                        "repository": repo.full_name,
                        "sha": commit.sha,
                        "parents": list(commit.parents),
                        "branch": commit.branch,
                        "author_name": commit.author_name,
                        "author_email": commit.author_email,
                        "authored_at": commit.authored_at,
                        "committed_at": commit.committed_at,
                        "message": commit.message,
                    }


def generate_github_organisation(as_of: dt.date, **options: object) -> GitHubOrganisation:
    """``GitHubOrganisation(as_of, **options)``: same seed and as_of give identical data."""
    return GitHubOrganisation(as_of, **options)  # type: ignore[arg-type]
