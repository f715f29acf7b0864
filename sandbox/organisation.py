"""A deterministic, simulated engineering organisation that uses CircleCI, generated day by day.

Why this exists: the warehouse has to be developed, demoed, tested and benchmarked without a real
CircleCI account. This module invents CI activity for a few projects and serves it in two forms:

* **API objects**, each exactly in the shape CircleCI API v2 serves it (ISO timestamps with
  milliseconds, missing keys where CircleCI omits them, nulls where it sends nulls), produced on
  demand for :mod:`sandbox.circleci_emulator`;
* **ground truth** (:attr:`Organisation.pipelines`, :meth:`Organisation.workflow_runs`, ...),
  plain lists built from the same objects so tests can check what the warehouse computes. They
  are built on first use and cached: fine at test scale, never used by the emulator.

Streaming: nothing holds the whole organisation. Each project is a
:class:`~sandbox.partitions.DayPartitioned` timeline: day D's pipelines are generated from a
random stream seeded by (seed, project, D) and a small state carried from D-1 (pipeline and job
number counters, the default branch head, the release version, the broken (workflow, branch)
keys of the failure model). Pipelines are pushes of a per-project
:class:`~sandbox.repositories.RepositoryHistory` (``vcs.revision`` = the commit, branch = the
commit's branch). Ids are :func:`~sandbox.partitions.day_tagged_uuid` (tag = project index), and
job numbers are consecutive per day, so a lookup by id or number regenerates one day only.

Time: the generator records what *eventually* happens to every workflow (the truth, played to
its end). What the API shows is that truth *observed at an instant* ``now`` (by default the end
of ``as_of``; :meth:`Organisation.observed_at` or the emulator's ``at`` pick an earlier one):
nothing created after ``now`` exists, work in flight is ``running``/``on_hold``/``failing`` with
null stop times, its unstarted jobs ``queued``/``blocked``/``on_hold`` without numbers.

Determinism: every random draw comes from :func:`~sandbox.partitions.rng_for`; the wall clock
is never read. The same ``seed`` and ``as_of`` always give byte-identical data.

The simulation, in short:

* A pipeline per push (working hours, quiet weekends), an occasional release tag on the default
  branch head (``vcs.tag`` and no ``vcs.branch``, as CircleCI does), one ``scheduled_pipeline``
  per day running ``nightly``, and a manual pipeline near the end of ``as_of`` so the default
  observation catches work in flight.
* ``build-test`` runs on every push; ``deploy`` (with an approval job) on the default branch.
* Jobs form a small DAG with log-normal durations; queue times depend on the resource class
  (macOS capacity is scarce) and on office hours. Credits = ceil(minutes) x credits per minute
  of the resource class x parallelism.
* Failures follow a per (project, workflow, branch) two-state Markov chain (streaks that
  recover, what MTTR measures), plus isolated flaky failures; some workflows are canceled,
  ``not_run`` or end in ``error``. Failed workflows are sometimes rerun in the same pipeline
  (a new workflow of the same name), which mostly passes.
* Test jobs report test metadata: a broken streak fails the same test on every run; a flaky
  failure fails one of the suite's flaky tests, so a passing rerun makes it flaky (failed and
  passed on the same commit).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import hashlib
import math
import random
from dataclasses import dataclass, field

from sandbox.partitions import (
    DayPartitioned,
    day_of_uuid,
    day_tagged_uuid,
    days_between,
    random_uuid,
    rng_for,
)
from sandbox.repositories import AUTHORS, Commit, RepositoryHistory

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MS_PER_S = 1000
_MS_PER_DAY = 86_400_000

ORGANIZATION = "acme"
VCS_HOST = "https://github.com"

# Workflow statuses the insights endpoints report (the others are still in flight or never ran).
INSIGHTS_STATUSES = ("success", "failed", "error", "canceled", "unauthorized")


# --------------------------------------------------------------------------------------------
# Public data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CircleCIProject:
    """A followed CircleCI project (what ``GET /project/{slug}`` describes)."""

    slug: str  # e.g. "gh/acme/web-app"
    name: str  # "web-app"
    id: str  # uuid string
    organization: str  # "acme"
    default_branch: str  # "main" (one project uses "master")


def format_timestamp(ms: int) -> str:
    """Epoch milliseconds -> CircleCI's RFC 3339 form, e.g. ``2024-08-02T05:04:05.102Z``."""
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_timestamp(value: str | None) -> dt.datetime | None:
    """CircleCI timestamp (``...Z``) -> tz-aware UTC datetime; ``None`` stays ``None``."""
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).astimezone(UTC)


def to_ms(moment: dt.datetime) -> int:
    """A tz-aware datetime -> epoch milliseconds."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MS_PER_S + delta.microseconds // 1000


# --------------------------------------------------------------------------------------------
# Blueprints: what each project's CI configuration looks like
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _JobTemplate:
    name: str
    requires: tuple[str, ...] = ()
    median_s: float = 120.0  # median duration of a successful run
    sigma: float = 0.35  # log-normal spread
    resource_class: str = "medium"
    executor: str = "docker"
    parallelism: int = 1
    approval: bool = False
    contexts: tuple[str, ...] = ()
    failure_weight: float = 1.0  # how likely this job is the one that breaks
    tests: int = 0  # size of the test suite the job reports (0: no test metadata)


@dataclass(frozen=True)
class _ProjectBlueprint:
    name: str
    default_branch: str
    activity: float  # multiplier on pipelines_per_weekday
    build_test: tuple[_JobTemplate, ...]
    deploy: tuple[_JobTemplate, ...]
    nightly: tuple[_JobTemplate, ...]
    language: str = "python"  # shapes test names and files


_J = _JobTemplate
_BLUEPRINTS: tuple[_ProjectBlueprint, ...] = (
    _ProjectBlueprint(
        name="web-app",
        default_branch="main",
        language="typescript",
        activity=1.0,
        build_test=(
            _J("install", median_s=55, resource_class="small", failure_weight=0.2),
            _J("lint", ("install",), median_s=40, resource_class="small", failure_weight=0.8),
            _J(
                "unit-test",
                ("install",),
                median_s=230,
                parallelism=2,
                failure_weight=2.0,
                tests=60,
            ),
            _J(
                "e2e-test",
                ("unit-test",),
                median_s=410,
                sigma=0.45,
                resource_class="large",
                parallelism=2,
                failure_weight=2.5,
                tests=25,
            ),
        ),
        deploy=(
            _J("build-image", median_s=170, failure_weight=1.0),
            _J("hold", ("build-image",), approval=True),
            _J(
                "deploy-production",
                ("hold",),
                median_s=115,
                resource_class="small",
                contexts=("org-global", "aws-production"),
                failure_weight=1.0,
            ),
        ),
        nightly=(
            _J("security-scan", median_s=290, failure_weight=1.0),
            _J("dependency-audit", median_s=85, resource_class="small", failure_weight=1.0),
        ),
    ),
    _ProjectBlueprint(
        name="api-service",
        default_branch="main",
        activity=0.85,
        build_test=(
            _J("build", median_s=140, failure_weight=0.4),
            _J(
                "unit-test",
                ("build",),
                median_s=260,
                parallelism=4,
                failure_weight=2.0,
                tests=80,
            ),
            _J(
                "integration-test",
                ("build",),
                median_s=520,
                sigma=0.4,
                resource_class="large",
                contexts=("org-global",),
                failure_weight=2.5,
                tests=45,
            ),
        ),
        deploy=(
            _J("build-image", median_s=200, failure_weight=1.0),
            _J("hold", ("build-image",), approval=True),
            _J(
                "deploy-production",
                ("hold",),
                median_s=150,
                resource_class="small",
                contexts=("org-global", "aws-production"),
                failure_weight=1.0,
            ),
        ),
        nightly=(
            _J("load-test", median_s=880, sigma=0.25, resource_class="xlarge", failure_weight=1.5),
            _J("security-scan", median_s=310, failure_weight=1.0),
            _J(
                "report",
                ("load-test", "security-scan"),
                median_s=30,
                resource_class="small",
                failure_weight=0.1,
            ),
        ),
    ),
    _ProjectBlueprint(
        name="mobile-app",
        default_branch="master",
        language="kotlin",
        activity=0.7,
        build_test=(
            _J("lint", median_s=65, resource_class="small", failure_weight=0.6),
            _J(
                "build-android",
                ("lint",),
                median_s=590,
                sigma=0.3,
                resource_class="large",
                failure_weight=1.0,
            ),
            _J(
                "build-ios",
                ("lint",),
                median_s=840,
                sigma=0.3,
                resource_class="macos.m1.medium.gen1",
                executor="macos",
                failure_weight=1.2,
            ),
            _J(
                "ui-test",
                ("build-android", "build-ios"),
                median_s=720,
                sigma=0.5,
                resource_class="macos.m1.medium.gen1",
                executor="macos",
                parallelism=2,
                failure_weight=2.5,
                tests=30,
            ),
        ),
        deploy=(
            _J(
                "build-release",
                median_s=900,
                sigma=0.25,
                resource_class="macos.m1.medium.gen1",
                executor="macos",
                failure_weight=1.0,
            ),
            _J("hold", ("build-release",), approval=True),
            _J(
                "publish-beta",
                ("hold",),
                median_s=240,
                resource_class="small",
                contexts=("app-store-connect",),
                failure_weight=1.0,
            ),
        ),
        nightly=(
            _J(
                "device-farm-test",
                median_s=1500,
                sigma=0.3,
                resource_class="large",
                failure_weight=1.0,
                tests=20,
            ),
            _J("dependency-audit", median_s=80, resource_class="small", failure_weight=0.5),
        ),
    ),
    # Extra projects, only used when more than three are requested.
    _ProjectBlueprint(
        name="data-pipeline",
        default_branch="main",
        activity=0.5,
        build_test=(
            _J("build", median_s=90, resource_class="small", failure_weight=0.5),
            _J("test", ("build",), median_s=300, failure_weight=2.0, tests=40),
        ),
        deploy=(
            _J("hold", approval=True),
            _J("deploy-production", ("hold",), median_s=180, contexts=("org-global",)),
        ),
        nightly=(_J("backfill-check", median_s=600),),
    ),
    _ProjectBlueprint(
        name="docs-site",
        default_branch="main",
        activity=0.35,
        build_test=(
            _J("build", median_s=75, resource_class="small"),
            _J("link-check", ("build",), median_s=50, resource_class="small", failure_weight=2.0),
        ),
        deploy=(
            _J("hold", approval=True),
            _J("publish", ("hold",), median_s=45, resource_class="small"),
        ),
        nightly=(_J("link-check", median_s=60, resource_class="small"),),
    ),
    _ProjectBlueprint(
        name="infra",
        default_branch="main",
        activity=0.3,
        build_test=(
            _J("validate", median_s=40, resource_class="small"),
            _J(
                "plan",
                ("validate",),
                median_s=150,
                contexts=("aws-production",),
                failure_weight=2.0,
            ),
        ),
        deploy=(
            _J("plan", median_s=150, contexts=("aws-production",)),
            _J("hold", ("plan",), approval=True),
            _J("apply", ("hold",), median_s=240, contexts=("aws-production",)),
        ),
        nightly=(_J("drift-detect", median_s=200, contexts=("aws-production",)),),
    ),
)
del _J


MAX_PROJECTS = len(_BLUEPRINTS)

# Credits per minute per resource class (CircleCI's public price list, rounded).
CREDITS_PER_MINUTE = {
    "small": 5,
    "medium": 10,
    "large": 20,
    "xlarge": 40,
    "macos.m1.medium.gen1": 150,
}
# Median queue time (seconds) per resource class outside office hours; scarce classes wait longer.
QUEUE_MEDIAN_S = {
    "small": 1.5,
    "medium": 2.5,
    "large": 6.0,
    "xlarge": 12.0,
    "macos.m1.medium.gen1": 35.0,
}
_BUSY_QUEUE_FACTOR = 2.4

# Developers are the repository authors; the CircleCI login is their e-mail's local part.
_DEVELOPERS = tuple(email.split("@")[0] for _, email in AUTHORS)

# Failure dynamics (see _plan).
_P_BREAK_DEFAULT = 0.04
_P_BREAK_FEATURE = 0.09
_P_RECOVER = 0.45
_P_FLAKY = 0.03
_P_TIMEDOUT = 0.08  # share of failing jobs that time out rather than fail
_P_INFRA_ERROR = 0.007
_P_CANCEL_DEFAULT = 0.015
_P_CANCEL_FEATURE = 0.05
_P_NOT_RUN_FEATURE = 0.012
_P_CONFIG_ERROR = 0.01  # errored pipeline (no workflows), feature branches only
_P_RERUN = 0.45
_P_RERUN_SUCCEEDS = 0.78
_NO_OUTPUT_TIMEOUT_S = 600
_BROKEN_FORGOTTEN_AFTER_DAYS = 21  # a broken key untouched this long is dropped from the state


# --------------------------------------------------------------------------------------------
# Internal records: the truth, played to its end (observation happens when serving)
# --------------------------------------------------------------------------------------------


@dataclass
class _Job:
    id: str
    template: _JobTemplate
    status: str = "success"
    queued_ms: int | None = None
    started_ms: int | None = None
    stopped_ms: int | None = None
    created_ms: int | None = None
    number: int | None = None
    canceled_by: str | None = None
    approved_by: str | None = None
    parallel_statuses: list[str] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    failing_tests: tuple[int, ...] = ()  # suite indexes that fail in this run
    tests_seed: int = 0


@dataclass
class _Workflow:
    id: str
    name: str
    created_ms: int
    started_by: str
    jobs: list[_Job]
    status: str = "success"
    stopped_ms: int | None = None
    canceled_by: str | None = None


@dataclass
class _Pipeline:
    id: str
    number: int
    created_ms: int
    updated_ms: int
    received_ms: int
    trigger_type: str
    actor: str  # login
    branch: str | None
    tag: str | None
    revision: str
    subject: str | None
    body: str | None
    errored: bool = False
    workflows: list[_Workflow] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    """How a workflow run is going to end, decided before its jobs are simulated."""

    outcome: str  # success | failed | error | canceled | not_run
    failing_job: str | None = None  # for failed/error
    failing_status: str = "failed"  # failed | timedout | infrastructure_fail
    failing_test: int | None = None  # the suite index a failing test job fails on


@dataclass
class _State:
    """What one day of a project hands to the next. Small by design (one copy per day is kept)."""

    pipeline_number: int
    job_number: int  # the next job number to hand out
    default_head: str
    release: tuple[int, int, int]
    # (workflow, branch) -> (failing job, failing test index or -1, last day ordinal touched)
    broken: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _TestCase:
    classname: str
    name: str
    file: str
    median_s: float
    skipped: bool
    flaky: bool


# --------------------------------------------------------------------------------------------
# One project's timeline
# --------------------------------------------------------------------------------------------


class ProjectTimeline:
    """The CI history of one project, generated a day at a time and observed on demand.

    Every ``*_at`` accessor takes ``now`` (epoch ms): the instant the API is looked at.
    """

    def __init__(
        self,
        *,
        seed: int,
        index: int,
        blueprint: _ProjectBlueprint,
        project: CircleCIProject,
        days: list[dt.date],
        end_ms: int,
        pipelines_per_weekday: float,
        users: dict[str, str],
        scheduler_id: str,
    ) -> None:
        self.seed = seed
        self.index = index
        self.blueprint = blueprint
        self.project = project
        self.days = days
        self.end_ms = end_ms
        self.users = users
        self.scheduler_id = scheduler_id
        self.repo_url = f"{VCS_HOST}/{project.organization}/{project.name}"
        self.repository = RepositoryHistory(
            seed,
            project.name,
            days[0],
            days[-1],
            default_branch=project.default_branch,
            pushes_per_weekday=pipelines_per_weekday * blueprint.activity,
        )
        start = rng_for(seed, "circleci-start", project.slug)
        initial = _State(
            pipeline_number=start.randint(600, 4000),
            job_number=start.randint(10_000, 60_000),
            default_head=self.repository.root,
            release=(1, start.randint(0, 9), 0),
        )
        self.timeline: DayPartitioned[_State, _Pipeline] = DayPartitioned(
            days, initial, self._generate_day
        )
        self.templates = {
            "build-test": blueprint.build_test,
            "deploy": blueprint.deploy,
            "nightly": blueprint.nightly,
        }

    # -- generation ---------------------------------------------------------------------------

    def _generate_day(self, day: dt.date, state: _State) -> tuple[list[_Pipeline], _State]:
        rng = rng_for(self.seed, "circleci", self.project.slug, day)
        default = self.project.default_branch
        day_ms = to_ms(dt.datetime.combine(day, dt.time(), tzinfo=UTC))
        last_ms = day_ms + _MS_PER_DAY - 1
        events: list[tuple[int, int, str, Commit | None]] = []
        for order, commit in enumerate(self.repository.day(day)):
            created = min(to_ms(commit.committed_at) + rng.randint(500, 4000), last_ms)
            events.append((created, order, "push", commit))
        if day.weekday() < 5 and rng.random() < 0.2:  # release tags: about one a week
            hour = rng.choice((10, 11, 14, 15, 16))
            events.append((day_ms + hour * 3_600_000 + rng.randrange(3_600_000), -1, "tag", None))
        # The nightly schedule fires a few seconds after 02:00 UTC.
        events.append((day_ms + 2 * 3_600_000 + rng.randrange(1_000, 20_000), -2, "nightly", None))
        if day == self.days[-1]:
            # A manual pipeline on the default branch shortly before the window ends, so the
            # default observation always catches work in flight.
            events.append((self.end_ms - rng.randrange(4, 20) * 60_000, -3, "late", None))
        events.sort(key=lambda event: (event[0], event[1]))

        broken = dict(state.broken)
        number, head, release = state.pipeline_number, state.default_head, state.release
        pipelines: list[_Pipeline] = []
        for created_ms, _, kind, commit in events:
            number += 1
            pid = day_tagged_uuid(rng, day, self.index)
            common = {
                "id": pid,
                "number": number,
                "created_ms": created_ms,
                "updated_ms": created_ms + rng.randint(100, 900),
                "received_ms": created_ms - rng.randint(150, 1500),
            }
            if kind == "nightly":
                pipeline = _Pipeline(
                    **common,
                    trigger_type="scheduled_pipeline",
                    actor="scheduled-pipeline",
                    branch=default,
                    tag=None,
                    revision=head,
                    subject=None,
                    body=None,
                )
                pipelines.append(pipeline)
                self._run_workflow(rng, day, pipeline, "nightly", broken)
                continue
            if kind == "tag":
                release = _next_release(rng, release)
                tag = "v{}.{}.{}".format(*release)
                pipeline = _Pipeline(
                    **common,
                    trigger_type="webhook",
                    actor=rng.choice(_DEVELOPERS),
                    branch=None,
                    tag=tag,
                    revision=head,
                    subject=f"Release {tag}",
                    body=None,
                )
                pipelines.append(pipeline)
                self._run_workflow(rng, day, pipeline, "build-test", broken)
                continue
            if kind == "late":
                trigger, actor, branch, revision = (
                    "explicit",
                    rng.choice(_DEVELOPERS),
                    default,
                    head,
                )
                subject, body = "Rebuild", None
            else:
                assert commit is not None
                trigger = rng.choices(("webhook", "api", "explicit"), (0.9, 0.05, 0.05))[0]
                actor = commit.author_email.split("@")[0]
                branch, revision = commit.branch, commit.sha
                subject = commit.message
                body = rng.choice((None, None, None, "See the linked issue for details."))
            errored = branch != default and rng.random() < _P_CONFIG_ERROR
            pipeline = _Pipeline(
                **common,
                trigger_type=trigger,
                actor=actor,
                branch=branch,
                tag=None,
                revision=revision,
                subject=subject,
                body=body,
                errored=errored,
            )
            pipelines.append(pipeline)
            if branch == default:
                head = revision
            if errored:
                continue  # CircleCI creates no workflows when the config cannot be compiled
            self._run_workflow(rng, day, pipeline, "build-test", broken)
            if branch == default:
                self._run_workflow(rng, day, pipeline, "deploy", broken)

        # Job numbers: consecutive per project, in the order the day's jobs were queued. Only
        # jobs that start get one (approval jobs never do).
        started = [
            job
            for pipeline in pipelines
            for workflow in pipeline.workflows
            for job in workflow.jobs
            if not job.template.approval and job.started_ms is not None
        ]
        started.sort(key=lambda job: (job.queued_ms, job.id))
        job_number = state.job_number
        for job in started:
            job.number = job_number
            job_number += 1

        today = day.toordinal()
        for key in [k for k, v in broken.items() if today - v[2] > _BROKEN_FORGOTTEN_AFTER_DAYS]:
            del broken[key]
        return pipelines, _State(number, job_number, head, release, broken)

    def _run_workflow(
        self,
        rng: random.Random,
        day: dt.date,
        pipeline: _Pipeline,
        name: str,
        broken: dict[tuple[str, str], tuple[str, int, int]],
    ) -> None:
        templates = self.templates[name]
        branch = pipeline.branch or ""  # '' for tag pipelines
        # Release tags are cut from the default branch, so they share its reliability profile.
        on_default = branch in ("", self.project.default_branch)
        plan = self._plan(rng, day, name, branch, templates, broken, on_default=on_default)
        started_by = self.users.get(pipeline.actor, self.scheduler_id)
        created_ms = pipeline.created_ms + rng.randint(1000, 4000)
        workflow = self._simulate(rng, day, name, templates, created_ms, plan, started_by)
        pipeline.workflows.append(workflow)
        # Reruns: a new workflow of the same name in the same pipeline, some time later.
        attempts = 1
        while (
            workflow.status in ("failed", "error")
            and attempts < 3
            and rng.random() < _P_RERUN / attempts
        ):
            delay_s = min(rng.lognormvariate(math.log(20 * 60), 1.0), 8 * 3600)
            assert workflow.stopped_ms is not None
            rerun_created = workflow.stopped_ms + int(delay_s * _MS_PER_S)
            if rng.random() < _P_RERUN_SUCCEEDS:
                plan = _Plan("success")
            elif plan.failing_status == "infrastructure_fail":
                plan = dataclasses.replace(plan, outcome="failed", failing_status="failed")
            else:
                plan = dataclasses.replace(plan, outcome="failed", failing_status=_fail_status(rng))
            started_by = self.users[rng.choice(_DEVELOPERS)]
            workflow = self._simulate(rng, day, name, templates, rerun_created, plan, started_by)
            pipeline.workflows.append(workflow)
            attempts += 1

    def _plan(
        self,
        rng: random.Random,
        day: dt.date,
        workflow: str,
        branch: str,
        templates: tuple[_JobTemplate, ...],
        broken: dict[tuple[str, str], tuple[str, int, int]],
        *,
        on_default: bool,
    ) -> _Plan:
        """Two-state (healthy/broken) Markov chain per (workflow, branch).

        A broken key keeps failing on the same job and test until it recovers, so failures form
        streaks that end in a successful run (what MTTR needs). Flaky one-off failures, canceled,
        not_run and infrastructure errors are layered on top and leave the chain alone.
        """
        key = (workflow, branch)
        if rng.random() < _P_INFRA_ERROR:
            return _Plan("error", _pick_job(rng, templates), "infrastructure_fail")
        if not on_default and workflow == "build-test" and rng.random() < _P_NOT_RUN_FEATURE:
            return _Plan("not_run")
        cancel_p = _P_CANCEL_DEFAULT if on_default else _P_CANCEL_FEATURE
        if key not in broken and rng.random() < cancel_p:
            return _Plan("canceled")
        if key in broken:
            job, test, _ = broken[key]
            if rng.random() < _P_RECOVER:
                del broken[key]
                return _Plan("success")
            broken[key] = (job, test, day.toordinal())
            return _Plan("failed", job, _fail_status(rng), None if test < 0 else test)
        if rng.random() < (_P_BREAK_DEFAULT if on_default else _P_BREAK_FEATURE):
            job = _pick_job(rng, templates)
            suite = _suite(self.seed, self.project.slug, self.blueprint, job)
            healthy = [i for i, case in enumerate(suite) if not case.skipped and not case.flaky]
            test = rng.choice(healthy) if healthy else -1
            broken[key] = (job, test, day.toordinal())
            return _Plan("failed", job, _fail_status(rng), None if test < 0 else test)
        if rng.random() < _P_FLAKY:
            # A flaky failure: mostly a flaky test in a test job, sometimes a flaky build step.
            testing = [t for t in templates if t.tests]
            if testing and rng.random() < 0.8:
                job = rng.choice(testing).name
                suite = _suite(self.seed, self.project.slug, self.blueprint, job)
                flaky = [i for i, case in enumerate(suite) if case.flaky]
                return _Plan("failed", job, "failed", rng.choice(flaky) if flaky else None)
            return _Plan("failed", _pick_job(rng, templates), _fail_status(rng))
        return _Plan("success")

    def _simulate(
        self,
        rng: random.Random,
        day: dt.date,
        name: str,
        templates: tuple[_JobTemplate, ...],
        created_ms: int,
        plan: _Plan,
        started_by: str,
    ) -> _Workflow:
        """Play one workflow run to its end."""
        jobs = {
            t.name: _Job(id=day_tagged_uuid(rng, day, self.index), template=t) for t in templates
        }
        workflow = _Workflow(
            id=day_tagged_uuid(rng, day, self.index),
            name=name,
            created_ms=created_ms,
            started_by=started_by,
            jobs=list(jobs.values()),
        )
        if plan.outcome == "not_run":
            for job in workflow.jobs:
                job.status = "not_run"
            workflow.status = "not_run"
            return workflow

        busy = _is_busy_hour(created_ms)
        for job in workflow.jobs:
            t = job.template
            job.tests_seed = rng.getrandbits(32)
            deps = [jobs[r] for r in t.requires]
            if any(d.status != "success" for d in deps):
                job.status = "blocked"  # an upstream job did not succeed; this never runs
                continue
            ready_ms = max((d.stopped_ms or 0 for d in deps), default=created_ms)
            job.queued_ms = ready_ms + rng.randint(300, 2500)
            job.created_ms = job.queued_ms - rng.randint(80, 600)
            if t.approval:
                job.started_ms = job.queued_ms
                wait_s = min(rng.lognormvariate(math.log(12 * 60), 0.9), 90 * 60)
                job.stopped_ms = job.started_ms + int(wait_s * _MS_PER_S)
                job.approved_by = self.users[rng.choice(_DEVELOPERS)]
                continue
            queue_median = QUEUE_MEDIAN_S[t.resource_class] * (_BUSY_QUEUE_FACTOR if busy else 1)
            queue_s = rng.lognormvariate(math.log(queue_median), 0.8)
            job.started_ms = job.queued_ms + max(200, int(queue_s * _MS_PER_S))
            duration_s = rng.lognormvariate(math.log(t.median_s), t.sigma)
            job.parallel_statuses = ["success"] * t.parallelism
            if plan.failing_job == t.name:
                job.status = plan.failing_status
                if job.status == "timedout":
                    duration_s = _NO_OUTPUT_TIMEOUT_S + rng.uniform(0, 5)
                elif job.status == "infrastructure_fail":
                    duration_s = rng.uniform(5, 60)
                    job.messages = [
                        {
                            "type": "error",
                            "message": "The machine executor failed to start: capacity unavailable.",
                            "reason": "infrastructure_fail",
                        }
                    ]
                else:
                    duration_s *= rng.uniform(0.25, 0.95)  # fail fast
                    if t.tests and plan.failing_test is not None:
                        job.failing_tests = (plan.failing_test,)
                job.parallel_statuses[rng.randrange(t.parallelism)] = job.status
            job.stopped_ms = job.started_ms + max(1000, int(duration_s * _MS_PER_S))

        if plan.outcome == "canceled":
            _cancel(rng, workflow, self.users)
        stops = [j.stopped_ms for j in workflow.jobs if j.stopped_ms is not None]
        workflow.stopped_ms = max(stops) if stops else None
        if workflow.status != "canceled":
            statuses = {j.status for j in workflow.jobs}
            if "infrastructure_fail" in statuses:
                workflow.status = "error"
            elif statuses & {"failed", "timedout"}:
                workflow.status = "failed"
        return workflow

    # -- lookups ------------------------------------------------------------------------------

    def day(self, day: dt.date) -> list[_Pipeline]:
        return self.timeline.day(day)

    def _find_day(self, entity_id: str) -> list[_Pipeline]:
        tagged = day_of_uuid(entity_id)
        if tagged is None or tagged[1] != self.index:
            return []
        return self.day(tagged[0])

    def find_pipeline(self, pipeline_id: str) -> _Pipeline | None:
        return next((p for p in self._find_day(pipeline_id) if p.id == pipeline_id), None)

    def find_workflow(self, workflow_id: str) -> tuple[_Pipeline, _Workflow] | None:
        for pipeline in self._find_day(workflow_id):
            for workflow in pipeline.workflows:
                if workflow.id == workflow_id:
                    return pipeline, workflow
        return None

    def find_job(self, number: int) -> tuple[_Pipeline, _Workflow, _Job] | None:
        """The job with this number (binary search over the per-day number counters)."""
        # Day d's first job number is the counter in its starting state (counters only grow),
        # so the last day starting at or below ``number`` is the only one that can hold it.
        position = (
            bisect.bisect_right(
                range(len(self.days)),
                number,
                key=lambda i: self.timeline.state_at(self.days[i]).job_number,
            )
            - 1
        )
        if position < 0:
            return None
        for pipeline in self.day(self.days[position]):
            for workflow in pipeline.workflows:
                for job in workflow.jobs:
                    if job.number == number:
                        return pipeline, workflow, job
        return None

    # -- observation: API objects as seen at `now` ---------------------------------------------

    def pipeline_item(self, pipeline: _Pipeline, now: int) -> dict:
        vcs: dict = {"provider_name": "GitHub", "target_repository_url": self.repo_url}
        if pipeline.tag is not None:
            vcs["tag"] = pipeline.tag
        else:
            vcs["branch"] = pipeline.branch
            review = _review_id(self.project.slug, pipeline.branch or "")
            if pipeline.branch != self.project.default_branch and review is not None:
                vcs["review_id"] = str(review)
                vcs["review_url"] = f"{self.repo_url}/pull/{review}"
        vcs["revision"] = pipeline.revision
        vcs["commit"] = {"subject": pipeline.subject, "body": pipeline.body}
        vcs["origin_repository_url"] = self.repo_url
        if pipeline.trigger_type == "scheduled_pipeline":
            actor = {"login": "scheduled-pipeline", "avatar_url": None}
            parameters: dict = {"run_nightly": True}
        else:
            user = _DEVELOPERS.index(pipeline.actor) + 1048576
            actor = {
                "login": pipeline.actor,
                "avatar_url": f"https://avatars.githubusercontent.com/u/{user}?v=4",
            }
            parameters = (
                {"deploy_env": "staging", "run_integration": True}
                if pipeline.trigger_type == "api"
                else {}
            )
        set_up = pipeline.updated_ms < now
        errors = []
        if pipeline.errored and set_up:
            errors = [
                {
                    "type": "config",
                    "message": "Unable to parse YAML: mapping values are not allowed here",
                }
            ]
        state = ("errored" if pipeline.errored else "created") if set_up else "setup-pending"
        return {
            "id": pipeline.id,
            "errors": errors,
            "project_slug": self.project.slug,
            "updated_at": format_timestamp(pipeline.updated_ms if set_up else pipeline.created_ms),
            "number": pipeline.number,
            "trigger_parameters": parameters,
            "state": state,
            "created_at": format_timestamp(pipeline.created_ms),
            "trigger": {
                "type": pipeline.trigger_type,
                "received_at": format_timestamp(pipeline.received_ms),
                "actor": actor,
            },
            "vcs": vcs,
        }

    def pipelines_at(self, day: dt.date, now: int) -> list[dict]:
        """The day's pipelines that exist at ``now``, oldest first."""
        return [self.pipeline_item(p, now) for p in self.day(day) if p.created_ms < now]

    def workflow_item(self, pipeline: _Pipeline, workflow: _Workflow, now: int) -> dict:
        status, stopped_ms, canceled_by = _observed_workflow(workflow, now)
        item: dict = {"pipeline_id": pipeline.id}
        if canceled_by:
            item["canceled_by"] = canceled_by
        item.update(
            {
                "id": workflow.id,
                "name": workflow.name,
                "project_slug": self.project.slug,
                "status": status,
                "started_by": workflow.started_by,
                "pipeline_number": pipeline.number,
                "created_at": format_timestamp(workflow.created_ms),
                "stopped_at": _fmt_opt(stopped_ms),
            }
        )
        return item

    def workflows_at(self, pipeline: _Pipeline, now: int) -> list[dict]:
        """The pipeline's workflows that exist at ``now``, in creation order."""
        workflows = sorted(pipeline.workflows, key=lambda w: (w.created_ms, w.id))
        return [self.workflow_item(pipeline, w, now) for w in workflows if w.created_ms < now]

    def jobs_at(self, workflow: _Workflow, now: int) -> list[dict]:
        """Items of ``GET /workflow/{id}/job`` at ``now`` (topological order)."""
        ids = {job.template.name: job.id for job in workflow.jobs}
        return [self._job_item(_observed_job(job, workflow, now), ids) for job in workflow.jobs]

    def _job_item(self, job: _Job, ids: dict[str, str]) -> dict:
        deps = [ids[r] for r in job.template.requires]
        item: dict = {"dependencies": deps}
        if job.number is not None:
            item["job_number"] = job.number
        item["id"] = job.id
        item["started_at"] = _fmt_opt(job.started_ms)
        item["name"] = job.template.name
        if job.approved_by:
            item["approved_by"] = job.approved_by
        if job.canceled_by:
            item["canceled_by"] = job.canceled_by
        item["project_slug"] = self.project.slug
        item["status"] = job.status
        item["type"] = "approval" if job.template.approval else "build"
        if job.template.approval:
            item["approval_request_id"] = job.id
        item["requires"] = {dep: ["success"] for dep in deps}
        item["stopped_at"] = _fmt_opt(job.stopped_ms)
        return item

    def job_details_at(self, number: int, now: int) -> dict | None:
        """Body of ``GET /project/{slug}/job/{number}`` at ``now``; None if not started yet."""
        found = self.find_job(number)
        if found is None:
            return None
        pipeline, workflow, raw = found
        if workflow.created_ms >= now:
            return None
        job = _observed_job(raw, workflow, now)
        if job.number is None:
            return None
        return self._job_details(pipeline, workflow, job)

    def _job_details(self, pipeline: _Pipeline, workflow: _Workflow, job: _Job) -> dict:
        project, t = self.project, job.template
        assert job.started_ms is not None and job.queued_ms is not None
        assert job.created_ms is not None
        duration = None if job.stopped_ms is None else job.stopped_ms - job.started_ms
        return {
            "web_url": f"https://app.circleci.com/pipelines/github/{project.organization}/"
            f"{project.name}/{pipeline.number}/workflows/{workflow.id}/jobs/{job.number}",
            "project": {
                "id": project.id,
                "slug": project.slug,
                "name": project.name,
                "external_url": self.repo_url,
            },
            "parallel_runs": [
                {"index": i, "status": s} for i, s in enumerate(job.parallel_statuses)
            ],
            "started_at": format_timestamp(job.started_ms),
            "latest_workflow": {"id": workflow.id, "name": workflow.name},
            "name": t.name,
            "executor": {"resource_class": t.resource_class, "type": t.executor},
            "parallelism": t.parallelism,
            "status": job.status,
            "number": job.number,
            "pipeline": {"id": pipeline.id},
            "duration": duration,
            "created_at": format_timestamp(job.created_ms),
            "messages": list(job.messages),
            "contexts": [{"name": c} for c in t.contexts],
            "organization": {"name": project.organization},
            "queued_at": format_timestamp(job.queued_ms),
            "stopped_at": _fmt_opt(job.stopped_ms),
        }

    def job_tests_at(self, number: int, now: int) -> list[dict] | None:
        """Items of ``GET /project/{slug}/{number}/tests`` at ``now``; None for an unknown job.

        Results are stored when a job ends: a running job has none yet, and so do jobs that
        timed out, were canceled or never got a machine.
        """
        found = self.find_job(number)
        if found is None:
            return None
        _, workflow, raw = found
        if workflow.created_ms >= now:
            return None
        job = _observed_job(raw, workflow, now)
        if job.number is None:
            return None
        if job.status not in ("success", "failed") or not job.template.tests:
            return []
        return _test_results(self.seed, self.project.slug, self.blueprint, raw)

    def insights_runs_at(self, day: dt.date, now: int) -> list[tuple[str, dict]]:
        """(workflow name, insights run) of the workflows created on ``day`` and finished by
        ``now``, oldest first (reruns may be created the day after their pipeline)."""
        rows = []
        for source in (day - dt.timedelta(days=1), day):
            for pipeline in self.day(source):
                for workflow in pipeline.workflows:
                    if _day_of(workflow.created_ms) != day or workflow.created_ms >= now:
                        continue
                    status, stopped_ms, _ = _observed_workflow(workflow, now)
                    if status not in INSIGHTS_STATUSES:
                        continue
                    assert stopped_ms is not None
                    rows.append(
                        (
                            workflow.created_ms,
                            workflow.id,
                            workflow.name,
                            {
                                "id": workflow.id,
                                "branch": pipeline.branch or "",
                                "duration": (stopped_ms - workflow.created_ms) // _MS_PER_S,
                                "created_at": format_timestamp(workflow.created_ms),
                                "stopped_at": format_timestamp(stopped_ms),
                                "credits_used": sum(_credits(j) for j in workflow.jobs),
                                "status": status,
                                "is_approval": any(j.template.approval for j in workflow.jobs),
                            },
                        )
                    )
        rows.sort(key=lambda row: (row[0], row[1]))
        return [(name, run) for _, _, name, run in rows]

    def insights_job_runs_at(self, day: dt.date, now: int) -> list[tuple[str, str, str, dict]]:
        """(workflow name, job name, branch, run) of build jobs that started on ``day`` and
        finished by ``now``, oldest first: the insights job runs feed."""
        rows = []
        for offset in (2, 1, 0):
            for pipeline in self.day(day - dt.timedelta(days=offset)):
                for workflow in pipeline.workflows:
                    if workflow.created_ms >= now:
                        continue
                    for job in workflow.jobs:
                        if job.template.approval or job.started_ms is None:
                            continue
                        if _day_of(job.started_ms) != day:
                            continue
                        if job.stopped_ms is None or job.stopped_ms >= now:
                            continue
                        status = _JOB_INSIGHTS_STATUS.get(job.status)
                        if status is None:
                            continue
                        run = {
                            "id": job.id,
                            "started_at": format_timestamp(job.started_ms),
                            "stopped_at": format_timestamp(job.stopped_ms),
                            "status": status,
                            "credits_used": _credits(job),
                            "duration": (job.stopped_ms - job.started_ms) // _MS_PER_S,
                        }
                        key = (job.started_ms, job.id)
                        rows.append((key, workflow.name, job.template.name, pipeline.branch, run))
        rows.sort(key=lambda row: row[0])
        return [(wf, job, branch or "", run) for _, wf, job, branch, run in rows]


_JOB_INSIGHTS_STATUS = {
    "success": "success",
    "failed": "failed",
    "timedout": "failed",
    "infrastructure_fail": "error",
    "canceled": "canceled",
}


# --------------------------------------------------------------------------------------------
# The organisation
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Organisation:
    """The simulated organisation: project timelines plus ground-truth views over them.

    It covers the ``days`` UTC days ending with ``as_of`` inclusive: every pipeline and workflow
    ``created_at`` lies in ``[as_of + 1d - days, as_of + 1d)``. The ground-truth attributes show
    the organisation at :attr:`now` (the window end, or ``at`` for :meth:`observed_at` views);
    each is built on first access and then cached on this object.
    """

    as_of: dt.date
    days: int
    seed: int
    projects: list[CircleCIProject]
    pipelines_per_weekday: int = 12
    at: dt.datetime | None = None  # observation instant; None = the window end
    timelines: dict[str, ProjectTimeline] = field(default_factory=dict, repr=False)
    jobs_per_workflow: int | None = None  # None: each blueprint's own jobs
    tests_per_job: int | None = None  # None: each test job's own suite size

    @property
    def window_start(self) -> dt.datetime:
        """First instant covered by the organisation (inclusive)."""
        return self.window_end - dt.timedelta(days=self.days)

    @property
    def window_end(self) -> dt.datetime:
        """End of the covered window (exclusive); the default observation instant."""
        return dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)

    @property
    def now(self) -> dt.datetime:
        """The instant the ground truth is observed at."""
        return self.at if self.at is not None else self.window_end

    def now_ms(self, at: dt.datetime | None = None) -> int:
        """Epoch ms of ``at`` (validated), or of :attr:`now` when ``at`` is None."""
        moment = self.now if at is None else at
        if moment.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        if moment > self.window_end:
            raise ValueError(f"at must not be after the window end {self.window_end}")
        return to_ms(moment)

    def observed_at(self, at: dt.datetime) -> Organisation:
        """The same organisation as the API showed it at ``at`` (shares the generators)."""
        self.now_ms(at)
        return Organisation(
            self.as_of,
            self.days,
            self.seed,
            self.projects,
            self.pipelines_per_weekday,
            at,
            self.timelines,
            self.jobs_per_workflow,
            self.tests_per_job,
        )

    def project(self, slug: str) -> CircleCIProject:
        """The project with this slug (KeyError if unknown)."""
        return self.timelines[slug].project

    def timeline(self, slug: str) -> ProjectTimeline:
        return self.timelines[slug]

    @property
    def day_list(self) -> list[dt.date]:
        return days_between(self.as_of - dt.timedelta(days=self.days - 1), self.as_of)

    # -- ground truth (cached lists) ----------------------------------------------------------

    @functools.cached_property
    def _records(self) -> tuple[list, dict, dict, dict]:
        now = self.now_ms()
        pipelines, workflows, jobs, details = [], {}, {}, {}
        for timeline in self.timelines.values():
            for day in self.day_list:
                for raw in timeline.day(day):
                    if raw.created_ms >= now:
                        continue
                    pipeline = timeline.pipeline_item(raw, now)
                    pipelines.append(pipeline)
                    for wf in raw.workflows:
                        if wf.created_ms >= now:
                            continue
                        workflows[wf.id] = (timeline.workflow_item(raw, wf, now), pipeline)
                        items = timeline.jobs_at(wf, now)
                        jobs[wf.id] = items
                        for item in items:
                            if "job_number" in item:
                                number = item["job_number"]
                                key = (timeline.project.slug, number)
                                details[key] = timeline.job_details_at(number, now)
        pipelines.sort(key=lambda p: (p["created_at"], p["project_slug"], p["number"]))
        return pipelines, workflows, jobs, details

    @property
    def pipelines(self) -> list[dict]:
        """Items of ``GET /project/{slug}/pipeline`` of every project, oldest first."""
        return self._records[0]

    @functools.cached_property
    def workflows(self) -> list[dict]:
        """Items of ``GET /pipeline/{id}/workflow`` of every pipeline, oldest first."""
        items = [wf for wf, _ in self._records[1].values()]
        items.sort(key=lambda w: (w["created_at"], w["id"]))
        return items

    @property
    def workflow_jobs(self) -> dict[str, list[dict]]:
        """Workflow id -> items of ``GET /workflow/{id}/job``."""
        return self._records[2]

    @property
    def job_details(self) -> dict[tuple[str, int], dict]:
        """(project slug, job number) -> body of ``GET /project/{slug}/job/{number}``."""
        return self._records[3]

    @functools.cached_property
    def insights_workflow_runs(self) -> list[dict]:
        """Items of ``GET /insights/{slug}/workflows/{name}`` plus "project_slug" and
        "workflow_name" (which the emulator does not serve), oldest first."""
        now = self.now_ms()
        runs = []
        for slug, timeline in self.timelines.items():
            for day in self.day_list:
                for name, run in timeline.insights_runs_at(day, now):
                    runs.append({**run, "project_slug": slug, "workflow_name": name})
        runs.sort(key=lambda r: (r["created_at"], r["id"]))
        return runs

    @functools.cached_property
    def insights_job_runs(self) -> list[dict]:
        """Items of ``GET /insights/{slug}/workflows/{name}/jobs/{job}`` plus "project_slug",
        "workflow_name", "job_name" and "branch" (not served), oldest first."""
        now = self.now_ms()
        runs = []
        for slug, timeline in self.timelines.items():
            for day in self.day_list:
                for workflow, job, branch, run in timeline.insights_job_runs_at(day, now):
                    runs.append(
                        {
                            **run,
                            "project_slug": slug,
                            "workflow_name": workflow,
                            "job_name": job,
                            "branch": branch,
                        }
                    )
        return runs

    def job_tests(self, slug: str, number: int) -> list[dict] | None:
        """Items of ``GET /project/{slug}/{number}/tests`` at :attr:`now`."""
        return self.timelines[slug].job_tests_at(number, self.now_ms())

    def workflow_runs(self) -> list[dict]:
        """Ground truth as a plain table, one dict per workflow.

        Keys: project_slug, pipeline_id, pipeline_number, workflow_id, workflow_name, branch
        (str, '' for tag-triggered), tag (str|None), revision, trigger_type, status (raw
        CircleCI workflow status), created_at (tz-aware UTC datetime), stopped_at
        (datetime|None). Ordered by created_at.
        """
        rows = []
        for wf, pipeline in self._records[1].values():
            vcs = pipeline["vcs"]
            rows.append(
                {
                    "project_slug": wf["project_slug"],
                    "pipeline_id": wf["pipeline_id"],
                    "pipeline_number": wf["pipeline_number"],
                    "workflow_id": wf["id"],
                    "workflow_name": wf["name"],
                    "branch": vcs.get("branch", ""),
                    "tag": vcs.get("tag"),
                    "revision": vcs["revision"],
                    "trigger_type": pipeline["trigger"]["type"],
                    "status": wf["status"],
                    "created_at": parse_timestamp(wf["created_at"]),
                    "stopped_at": parse_timestamp(wf["stopped_at"]),
                }
            )
        rows.sort(key=lambda r: (r["created_at"], r["workflow_id"]))
        return rows

    def job_runs(self) -> list[dict]:
        """Ground truth, one dict per workflow job.

        Keys: project_slug, workflow_id, job_id, job_number (int|None), job_name, type, status,
        started_at, stopped_at (tz-aware datetimes or None). Ordered by workflow created_at, then
        API order within the workflow.
        """
        rows = []
        for wf in self.workflows:
            for job in self.workflow_jobs[wf["id"]]:
                rows.append(
                    {
                        "project_slug": job["project_slug"],
                        "workflow_id": wf["id"],
                        "job_id": job["id"],
                        "job_number": job.get("job_number"),
                        "job_name": job["name"],
                        "type": job["type"],
                        "status": job["status"],
                        "started_at": parse_timestamp(job["started_at"]),
                        "stopped_at": parse_timestamp(job["stopped_at"]),
                    }
                )
        return rows

    def iter_workflow_runs(self):
        """Every (project slug, workflow item, job items) at :attr:`now`, streamed day by day
        (nothing is cached beyond the timelines' few-day LRU)."""
        now = self.now_ms()
        for slug, timeline in self.timelines.items():
            for day in self.day_list:
                for raw in timeline.day(day):
                    for wf in raw.workflows:
                        if raw.created_ms < now and wf.created_ms < now:
                            yield (
                                slug,
                                timeline.workflow_item(raw, wf, now),
                                timeline.jobs_at(wf, now),
                            )


def generate_organisation(
    as_of: dt.date,
    *,
    seed: int = 7,
    projects: int = 3,
    days: int = 90,
    pipelines_per_weekday: float = 12,
    jobs_per_workflow: int | None = None,
    tests_per_job: int | None = None,
) -> Organisation:
    """Set up ``days`` days of CircleCI activity ending with ``as_of`` (inclusive).

    Nothing is generated yet: days are generated when first looked at. Size knobs (the defaults
    give the standard organisation, byte for byte):

    * ``projects`` (1..6) and ``days`` (the CI window);
    * ``pipelines_per_weekday``: the mean number of push pipelines per weekday for the busiest
      project (others are scaled down; weekends are much quieter); one scheduled nightly
      pipeline per project per day and about one release tag a week come on top;
    * ``jobs_per_workflow``: None keeps each workflow's own jobs (2 to 4). N >= 1 gives every
      workflow exactly N jobs: the first N of its configuration (a prefix keeps the DAG whole),
      or, when it has fewer, its jobs plus parallel copies of its build jobs (``unit-test-2``,
      ``lint-2``, ... with the same upstream jobs);
    * ``tests_per_job``: None keeps each test job's own suite size (20 to 80 tests). N >= 0
      gives every job that reports test metadata a suite of N tests (0: no test metadata).
    """
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise TypeError("as_of must be a datetime.date")
    if not 1 <= projects <= MAX_PROJECTS:
        raise ValueError(f"projects must be between 1 and {MAX_PROJECTS}")
    if days < 1:
        raise ValueError("days must be >= 1")
    if pipelines_per_weekday < 0:
        raise ValueError("pipelines_per_weekday must be >= 0")
    if jobs_per_workflow is not None and jobs_per_workflow < 1:
        raise ValueError("jobs_per_workflow must be >= 1 (or None)")
    if tests_per_job is not None and tests_per_job < 0:
        raise ValueError("tests_per_job must be >= 0 (or None)")

    org = Organisation(
        as_of,
        days,
        seed,
        [],
        pipelines_per_weekday,
        jobs_per_workflow=jobs_per_workflow,
        tests_per_job=tests_per_job,
    )
    rng = rng_for(seed, "circleci-organisation")
    users = {login: random_uuid(rng) for login in _DEVELOPERS}
    scheduler_id = random_uuid(rng)
    end_ms = to_ms(org.window_end)
    for index, standard in enumerate(_BLUEPRINTS[:projects]):
        blueprint = _sized(standard, jobs_per_workflow, tests_per_job)
        project = CircleCIProject(
            slug=f"gh/{ORGANIZATION}/{blueprint.name}",
            name=blueprint.name,
            id=random_uuid(rng_for(seed, "circleci-project", blueprint.name)),
            organization=ORGANIZATION,
            default_branch=blueprint.default_branch,
        )
        org.projects.append(project)
        org.timelines[project.slug] = ProjectTimeline(
            seed=seed,
            index=index,
            blueprint=blueprint,
            project=project,
            days=org.day_list,
            end_ms=end_ms,
            pipelines_per_weekday=pipelines_per_weekday,
            users=users,
            scheduler_id=scheduler_id,
        )
    return org


# --------------------------------------------------------------------------------------------
# Observation, tests and small helpers
# --------------------------------------------------------------------------------------------


def _observed_workflow(workflow: _Workflow, now: int) -> tuple[str, int | None, str | None]:
    """(status, stopped_ms, canceled_by) of a workflow at ``now``."""
    if workflow.status == "not_run" or (
        workflow.stopped_ms is not None and workflow.stopped_ms < now
    ):
        return workflow.status, workflow.stopped_ms, workflow.canceled_by
    statuses = {_observed_job(job, workflow, now).status for job in workflow.jobs}
    if statuses & {"failed", "timedout", "infrastructure_fail"}:
        return "failing", None, None
    if statuses & {"running", "queued"}:
        return "running", None, None
    if "on_hold" in statuses:
        return "on_hold", None, None
    return "running", None, None


def _observed_job(job: _Job, workflow: _Workflow, now: int) -> _Job:
    """The job as the API shows it at ``now`` (the truth itself once it is settled)."""
    if workflow.status == "not_run" or (
        workflow.stopped_ms is not None and workflow.stopped_ms < now
    ):
        return job
    if job.started_ms is not None and job.started_ms < now:
        assert job.stopped_ms is not None
        if job.stopped_ms < now:
            return job  # finished before we look
        if job.template.approval:
            return dataclasses.replace(
                job,
                status="on_hold",
                started_ms=None,  # CircleCI shows waiting approvals with no start
                stopped_ms=None,
                canceled_by=None,
                approved_by=None,
            )
        return dataclasses.replace(
            job,
            status="running",
            stopped_ms=None,
            canceled_by=None,
            parallel_statuses=["running"] * job.template.parallelism,
            messages=[],
        )
    # Not started at `now`: queued if it was ready, otherwise blocked on upstream jobs.
    ready = job.queued_ms is not None and job.queued_ms < now
    if ready:
        status = "on_hold" if job.template.approval else "queued"
    else:
        status = "blocked"
    return dataclasses.replace(
        job,
        status=status,
        number=None,
        created_ms=job.created_ms if ready else None,
        queued_ms=job.queued_ms if ready else None,
        started_ms=None,
        stopped_ms=None,
        canceled_by=None,
        approved_by=None,
        parallel_statuses=[],
        messages=[],
    )


def _cancel(rng: random.Random, workflow: _Workflow, users: dict[str, str]) -> None:
    """Cancel the workflow part-way through one of its build jobs."""
    started = [j for j in workflow.jobs if j.started_ms is not None]
    victim = rng.choice([j for j in started if not j.template.approval] or started)
    assert victim.started_ms is not None and victim.stopped_ms is not None
    cancel_ms = victim.started_ms + int(
        (victim.stopped_ms - victim.started_ms) * rng.uniform(0.1, 0.9)
    )
    canceled_by = users[rng.choice(_DEVELOPERS)]
    workflow.canceled_by = canceled_by
    for job in workflow.jobs:
        if job.started_ms is not None and job.started_ms < cancel_ms:
            assert job.stopped_ms is not None
            if job.stopped_ms > cancel_ms:  # running when canceled
                job.status = "canceled"
                job.stopped_ms = cancel_ms
                job.canceled_by = canceled_by
                job.approved_by = None
                job.failing_tests = ()
                job.parallel_statuses = ["canceled"] * len(job.parallel_statuses)
            continue
        # Not started yet: it never will be.
        job.status = "canceled"
        job.canceled_by = canceled_by
        job.approved_by = None
        job.queued_ms = job.started_ms = job.stopped_ms = job.created_ms = None
        job.parallel_statuses = []
        job.failing_tests = ()
    workflow.status = "canceled"


def _credits(job: _Job) -> int:
    """Credits of one job run: ceil(minutes) x the resource class's rate x parallelism."""
    if job.template.approval or job.started_ms is None or job.stopped_ms is None:
        return 0
    minutes = math.ceil((job.stopped_ms - job.started_ms) / 60_000)
    t = job.template
    return minutes * CREDITS_PER_MINUTE[t.resource_class] * t.parallelism


_LANGUAGES = {
    # language -> (file pattern, classname pattern, test name pattern)
    "python": ("tests/{area}/test_{topic}.py", "tests.{area}.test_{topic}", "test_{verb}_{topic}"),
    "typescript": ("src/{area}/__tests__/{topic}.test.ts", "{area}.{topic}", "{verb}s {topic}"),
    "kotlin": (
        "app/src/test/java/com/acme/{area}/{Topic}Test.kt",
        "com.acme.{area}.{Topic}Test",
        "{verb}{Topic}",
    ),
}
_AREAS = ("api", "billing", "auth", "search", "orders", "ui", "storage", "sync")
_TOPICS = ("login", "checkout", "cache", "retry", "export", "session", "refund", "upload", "feed")
_VERBS = ("creates", "updates", "rejects", "renders", "handles", "retries", "parses", "loads")
_FAILURES = (
    "AssertionError: expected 201, got 500",
    "AssertionError: expected [] to equal ['order-1']",
    "TimeoutError: waited 30s for element #submit",
    "ConnectionResetError: [Errno 104] Connection reset by peer",
    "KeyError: 'currency'",
)


@functools.lru_cache(maxsize=64)
def _suite(seed: int, slug: str, blueprint: _ProjectBlueprint, job: str) -> tuple[_TestCase, ...]:
    """The test suite a job runs: fixed per (seed, project, job)."""
    template = next((t for t in _all_templates(blueprint) if t.name == job), None)
    if template is None or not template.tests:
        return ()
    rng = rng_for(seed, "suite", slug, job)
    file_pattern, class_pattern, name_pattern = _LANGUAGES[blueprint.language]
    cases, seen = [], set()
    while len(cases) < template.tests:
        area, topic, verb = rng.choice(_AREAS), rng.choice(_TOPICS), rng.choice(_VERBS)
        words = {"area": area, "topic": topic, "Topic": topic.title(), "verb": verb}
        name = name_pattern.format(**words)
        if rng.random() < 0.5:
            name += f"_{len(cases)}" if blueprint.language == "python" else f" #{len(cases)}"
        key = (class_pattern.format(**words), name)
        if key in seen:
            continue
        seen.add(key)
        cases.append(
            _TestCase(
                classname=key[0],
                name=name,
                file=file_pattern.format(**words),
                median_s=rng.lognormvariate(math.log(template.median_s / template.tests / 3), 1),
                skipped=rng.random() < 0.04,
                flaky=False,
            )
        )
    # A few tests are flaky: they fail now and then and pass when rerun.
    for index in rng.sample(range(len(cases)), max(1, len(cases) // 15)):
        cases[index] = dataclasses.replace(cases[index], flaky=True, skipped=False)
    cases.sort(key=lambda case: (case.file, case.classname, case.name))
    return tuple(cases)


def _sized(
    blueprint: _ProjectBlueprint, jobs_per_workflow: int | None, tests_per_job: int | None
) -> _ProjectBlueprint:
    """The blueprint with every workflow resized to ``jobs_per_workflow`` jobs and every test
    job's suite to ``tests_per_job`` tests (None: unchanged; both None: the blueprint itself)."""
    if jobs_per_workflow is None and tests_per_job is None:
        return blueprint

    def resize(templates: tuple[_JobTemplate, ...]) -> tuple[_JobTemplate, ...]:
        if tests_per_job is not None:
            templates = tuple(
                dataclasses.replace(t, tests=tests_per_job) if t.tests else t for t in templates
            )
        if jobs_per_workflow is None:
            return templates
        if jobs_per_workflow <= len(templates):
            # Templates are listed in topological order, so a prefix never loses an upstream.
            return templates[:jobs_per_workflow]
        builds = [t for t in templates if not t.approval] or list(templates)
        extra, copy_number = [], 2
        while len(templates) + len(extra) < jobs_per_workflow:
            for template in builds:
                if len(templates) + len(extra) == jobs_per_workflow:
                    break
                extra.append(dataclasses.replace(template, name=f"{template.name}-{copy_number}"))
            copy_number += 1
        return templates + tuple(extra)

    return dataclasses.replace(
        blueprint,
        build_test=resize(blueprint.build_test),
        deploy=resize(blueprint.deploy),
        nightly=resize(blueprint.nightly),
    )


def _all_templates(blueprint: _ProjectBlueprint) -> tuple[_JobTemplate, ...]:
    return blueprint.build_test + blueprint.deploy + blueprint.nightly


def _test_results(seed: int, slug: str, blueprint: _ProjectBlueprint, job: _Job) -> list[dict]:
    suite = _suite(seed, slug, blueprint, job.template.name)
    rng = random.Random(job.tests_seed)
    failing = set(job.failing_tests)
    if job.status == "failed" and not failing:
        # A failure without a planned test (a build step): one test fails with it.
        failing = {rng.randrange(len(suite))}
    items = []
    for index, case in enumerate(suite):
        run_time = round(rng.lognormvariate(math.log(case.median_s), 0.3), 3)
        if index in failing:
            result, message = "failure", rng.choice(_FAILURES)
        elif case.skipped:
            result, message, run_time = "skipped", "skipped: requires a live service", 0.0
        else:
            result, message = "success", None
        items.append(
            {
                "message": message,
                "source": "unknown",
                "run_time": run_time,
                "file": case.file,
                "result": result,
                "name": case.name,
                "classname": case.classname,
            }
        )
    return items


def _pick_job(rng: random.Random, templates: tuple[_JobTemplate, ...]) -> str:
    candidates = [t for t in templates if not t.approval]
    return rng.choices(candidates, weights=[t.failure_weight for t in candidates])[0].name


def _fail_status(rng: random.Random) -> str:
    return "timedout" if rng.random() < _P_TIMEDOUT else "failed"


def _review_id(slug: str, branch: str) -> int | None:
    """The pull request of a feature branch (most have one), stable per branch."""
    digest = int.from_bytes(hashlib.sha256(f"{slug}:{branch}".encode()).digest()[:4], "big")
    return None if digest % 5 == 0 else 40 + digest % 900


def _is_busy_hour(ms: int) -> bool:
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return moment.weekday() < 5 and 9 <= moment.hour < 18


def _day_of(ms: int) -> dt.date:
    return (_EPOCH + dt.timedelta(milliseconds=ms)).date()


def _fmt_opt(ms: int | None) -> str | None:
    return None if ms is None else format_timestamp(ms)


def _next_release(rng: random.Random, release: tuple[int, int, int]) -> tuple[int, int, int]:
    major, minor, patch = release
    if rng.random() < 0.7:
        return (major, minor, patch + 1)
    return (major, minor + 1, 0)
