"""A deterministic, simulated engineering organisation that uses CircleCI.

Why this exists: the warehouse has to be developed, demoed and tested without a real CircleCI
account. This module invents ~90 days of CI activity for a few projects and keeps it in two forms:

* **API objects** (``pipelines``, ``workflows``, ``workflow_jobs``, ``job_details``,
  ``insights_workflow_runs``), each exactly in the shape CircleCI API v2 serves it, so
  :mod:`sandbox.circleci_emulator` can serve them verbatim and the dlt source is exercised against
  realistic payloads (ISO timestamps with milliseconds, missing keys instead of nulls where CircleCI
  omits them, nulls where it sends nulls).
* **Ground truth** (:meth:`Organisation.workflow_runs`, :meth:`Organisation.job_runs`), plain
  Python rows derived from the same objects, so tests can check what the warehouse computes
  against what actually "happened".

Determinism: everything is drawn from ``random.Random(seed)`` (child generators are seeded from
it) and time is anchored on ``as_of``; the wall clock is never read. The same ``seed`` and
``as_of`` always give byte-identical data.

The simulation, in short:

* Each project gets pipelines on a weekday/hour pattern (busy office hours, quiet nights and
  weekends), ~60% on the default branch, the rest on a handful of feature/fix branches, plus an
  occasional release tag (``vcs.tag`` and no ``vcs.branch``, as CircleCI does) and one
  ``scheduled_pipeline`` per day running the ``nightly`` workflow.
* ``build-test`` runs on every push pipeline; ``deploy`` (with an approval job) only on the
  default branch.
* Jobs form a small DAG (``dependencies``/``requires``) with log-normal durations and queue times.
* Failures follow a per (project, workflow, branch) two-state Markov chain, so they come in
  streaks that later recover (what MTTR measures), plus isolated flaky failures. Some workflows
  are canceled, a few are ``not_run`` or end in ``error`` (infrastructure failure).
* Some failed workflows are rerun later in the same pipeline: a new workflow with the same name
  and a later ``created_at``, which mostly succeeds.
* The organisation is observed at the end of the window (``as_of`` + 1 day, 00:00 UTC): work
  still in flight at that instant is reported as ``running``/``on_hold``/``failing`` with null
  stop times, and its unstarted jobs as ``queued``/``blocked``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MS_PER_S = 1000
_MS_PER_DAY = 86_400_000

ORGANIZATION = "acme"
VCS_HOST = "https://github.com"


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


@dataclass
class Organisation:
    """The simulated organisation: served API objects plus ground-truth views over them.

    The organisation covers the ``days`` UTC days ending with ``as_of`` inclusive, i.e. every
    pipeline and workflow ``created_at`` lies in ``[as_of + 1d - days, as_of + 1d)``.
    """

    as_of: dt.date
    days: int
    seed: int
    projects: list[CircleCIProject]
    # Items of GET /project/{slug}/pipeline, oldest first.
    pipelines: list[dict]
    # Items of GET /pipeline/{id}/workflow, oldest first.
    workflows: list[dict]
    # workflow id -> items of GET /workflow/{id}/job, in API (topological) order.
    workflow_jobs: dict[str, list[dict]]
    # (project slug, job number) -> body of GET /project/{slug}/job/{number}.
    job_details: dict[tuple[str, int], dict]
    # Items of GET /insights/{slug}/workflows/{name}, plus "project_slug" and "workflow_name"
    # (which the emulator strips before serving), oldest first.
    insights_workflow_runs: list[dict]

    @property
    def window_start(self) -> dt.datetime:
        """First instant covered by the organisation (inclusive)."""
        return self.window_end - dt.timedelta(days=self.days)

    @property
    def window_end(self) -> dt.datetime:
        """End of the covered window (exclusive); also the instant the org is observed at."""
        return dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)

    def project(self, slug: str) -> CircleCIProject:
        """The project with this slug (KeyError if unknown)."""
        for project in self.projects:
            if project.slug == slug:
                return project
        raise KeyError(slug)

    def workflow_runs(self) -> list[dict]:
        """Ground truth as a plain table, one dict per workflow.

        Keys: project_slug, pipeline_id, pipeline_number, workflow_id, workflow_name, branch
        (str, '' for tag-triggered), tag (str|None), revision, trigger_type, status (raw
        CircleCI workflow status), created_at (tz-aware UTC datetime), stopped_at
        (datetime|None). Ordered by created_at.
        """
        pipelines = {p["id"]: p for p in self.pipelines}
        rows = []
        for wf in self.workflows:
            pipeline = pipelines[wf["pipeline_id"]]
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


def format_timestamp(ms: int) -> str:
    """Epoch milliseconds -> CircleCI's RFC 3339 form, e.g. ``2024-08-02T05:04:05.102Z``."""
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_timestamp(value: str | None) -> dt.datetime | None:
    """CircleCI timestamp (``...Z``) -> tz-aware UTC datetime; ``None`` stays ``None``."""
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).astimezone(UTC)


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


@dataclass(frozen=True)
class _ProjectBlueprint:
    name: str
    default_branch: str
    activity: float  # multiplier on pipelines_per_weekday
    build_test: tuple[_JobTemplate, ...]
    deploy: tuple[_JobTemplate, ...]
    nightly: tuple[_JobTemplate, ...]


_J = _JobTemplate
_BLUEPRINTS: tuple[_ProjectBlueprint, ...] = (
    _ProjectBlueprint(
        name="web-app",
        default_branch="main",
        activity=1.0,
        build_test=(
            _J("install", median_s=55, resource_class="small", failure_weight=0.2),
            _J("lint", ("install",), median_s=40, resource_class="small", failure_weight=0.8),
            _J("unit-test", ("install",), median_s=230, parallelism=2, failure_weight=2.0),
            _J(
                "e2e-test",
                ("unit-test",),
                median_s=410,
                sigma=0.45,
                resource_class="large",
                parallelism=2,
                failure_weight=2.5,
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
            _J("unit-test", ("build",), median_s=260, parallelism=4, failure_weight=2.0),
            _J(
                "integration-test",
                ("build",),
                median_s=520,
                sigma=0.4,
                resource_class="large",
                contexts=("org-global",),
                failure_weight=2.5,
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
            _J("test", ("build",), median_s=300, failure_weight=2.0),
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
_CREDITS_PER_MINUTE = {
    "small": 5,
    "medium": 10,
    "large": 20,
    "xlarge": 40,
    "macos.m1.medium.gen1": 150,
}

_BRANCH_POOL = (
    "feature/checkout-redesign",
    "feature/dark-mode",
    "feature/search-api",
    "feature/rate-limiter",
    "feature/onboarding-flow",
    "feature/push-notifications",
    "fix/login-timeout",
    "fix/flaky-e2e",
    "fix/null-currency",
    "fix/memory-leak",
    "chore/bump-deps",
    "chore/ci-cache",
)

_DEVELOPERS = (
    "alice-chen",
    "bob-okafor",
    "carla-mendes",
    "dmitri-volkov",
    "emma-larsen",
    "farid-haddad",
    "grace-kim",
    "hugo-martin",
)

_COMMIT_SUBJECTS = (
    "Fix flaky retry test",
    "Add pagination to orders endpoint",
    "Refactor session handling",
    "Bump dependencies",
    "Improve error messages",
    "Cache build artefacts",
    "Add metrics for checkout",
    "Handle empty cart edge case",
    "Update translations",
    "Speed up CI by splitting tests",
    "Remove dead feature flag",
    "Tighten input validation",
)

_COMMIT_BODIES = (
    None,
    None,
    "Co-authored-by: pair <pair@users.noreply.github.com>",
    "See the linked issue for details.",
)

# Weekday/hour shape of pipeline creation (UTC): quiet nights, busy office hours.
_WEEKDAY_HOUR_WEIGHTS = (
    0.15,
    0.1,
    0.1,
    0.1,
    0.15,
    0.3,
    0.6,
    1.2,
    2.2,
    3.2,
    3.6,
    3.4,
    2.6,
    3.0,
    3.5,
    3.4,
    3.1,
    2.5,
    1.6,
    1.0,
    0.7,
    0.5,
    0.35,
    0.25,
)
_WEEKEND_HOUR_WEIGHTS = (
    0.2,
    0.15,
    0.1,
    0.1,
    0.1,
    0.1,
    0.2,
    0.3,
    0.5,
    0.8,
    1.0,
    1.1,
    1.1,
    1.1,
    1.1,
    1.0,
    1.0,
    0.9,
    0.8,
    0.7,
    0.6,
    0.5,
    0.4,
    0.3,
)
_WEEKEND_FACTOR = 0.12  # weekend volume relative to a weekday

# Failure dynamics (see _Reliability).
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


# --------------------------------------------------------------------------------------------
# Internal simulation records
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


@dataclass
class _Workflow:
    id: str
    name: str
    pipeline: dict
    created_ms: int
    started_by: str
    jobs: list[_Job]
    status: str = "success"
    stopped_ms: int | None = None
    canceled_by: str | None = None


@dataclass(frozen=True)
class _Plan:
    """How a workflow run is going to end, decided before its jobs are simulated."""

    outcome: str  # success | failed | error | canceled | not_run
    failing_job: str | None = None  # for failed/error
    failing_status: str = "failed"  # failed | timedout | infrastructure_fail


class _Reliability:
    """Two-state (healthy/broken) Markov chain per (workflow, branch) of one project.

    A broken key keeps failing on the same job until it recovers, so failures form streaks that
    end in a successful run, which is exactly what MTTR needs. Flaky one-off failures, canceled,
    not_run and infrastructure errors are layered on top and do not change the chain's state.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._broken: dict[tuple[str, str], str] = {}

    def plan(
        self,
        workflow: str,
        branch: str,
        templates: tuple[_JobTemplate, ...],
        *,
        default_branch: bool,
    ) -> _Plan:
        rng = self._rng
        key = (workflow, branch)
        if rng.random() < _P_INFRA_ERROR:
            return _Plan("error", self._pick_job(templates), "infrastructure_fail")
        if not default_branch and workflow == "build-test" and rng.random() < _P_NOT_RUN_FEATURE:
            return _Plan("not_run")
        cancel_p = _P_CANCEL_DEFAULT if default_branch else _P_CANCEL_FEATURE
        if key not in self._broken and rng.random() < cancel_p:
            return _Plan("canceled")
        broken_job = self._broken.get(key)
        if broken_job is not None:
            if rng.random() < _P_RECOVER:
                del self._broken[key]
                return _Plan("success")
            return _Plan("failed", broken_job, self._fail_status())
        p_break = _P_BREAK_DEFAULT if default_branch else _P_BREAK_FEATURE
        if rng.random() < p_break:
            job = self._pick_job(templates)
            self._broken[key] = job
            return _Plan("failed", job, self._fail_status())
        if rng.random() < _P_FLAKY:
            return _Plan("failed", self._pick_job(templates), self._fail_status())
        return _Plan("success")

    def rerun_plan(self, original: _Plan) -> _Plan:
        """A rerun mostly passes (flaky test, transient infra); otherwise fails the same way."""
        if self._rng.random() < _P_RERUN_SUCCEEDS:
            return _Plan("success")
        status = (
            "failed" if original.failing_status == "infrastructure_fail" else self._fail_status()
        )
        return _Plan("failed", original.failing_job, status)

    def _fail_status(self) -> str:
        return "timedout" if self._rng.random() < _P_TIMEDOUT else "failed"

    def _pick_job(self, templates: tuple[_JobTemplate, ...]) -> str:
        candidates = [t for t in templates if not t.approval]
        weights = [t.failure_weight for t in candidates]
        return self._rng.choices(candidates, weights=weights)[0].name


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------


def generate_organisation(
    as_of: dt.date,
    *,
    seed: int = 7,
    projects: int = 3,
    days: int = 90,
    pipelines_per_weekday: int = 12,
) -> Organisation:
    """Simulate ``days`` days of CircleCI activity ending with ``as_of`` (inclusive).

    ``pipelines_per_weekday`` is the mean number of push pipelines per weekday for the busiest
    project (others are scaled down; weekends are much quieter); one scheduled nightly pipeline
    per project per day comes on top. With the defaults this is roughly 2,400 pipelines.
    """
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise TypeError("as_of must be a datetime.date")
    if not 1 <= projects <= MAX_PROJECTS:
        raise ValueError(f"projects must be between 1 and {MAX_PROJECTS}")
    if days < 1:
        raise ValueError("days must be >= 1")
    if pipelines_per_weekday < 0:
        raise ValueError("pipelines_per_weekday must be >= 0")

    rng = random.Random(seed)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
    end_ms = _to_ms(end)
    start_ms = end_ms - days * _MS_PER_DAY

    users = {login: _uuid(rng) for login in _DEVELOPERS}
    scheduler_id = _uuid(rng)

    org = Organisation(
        as_of=as_of,
        days=days,
        seed=seed,
        projects=[],
        pipelines=[],
        workflows=[],
        workflow_jobs={},
        job_details={},
        insights_workflow_runs=[],
    )
    for blueprint in _BLUEPRINTS[:projects]:
        project = CircleCIProject(
            slug=f"gh/{ORGANIZATION}/{blueprint.name}",
            name=blueprint.name,
            id=_uuid(rng),
            organization=ORGANIZATION,
            default_branch=blueprint.default_branch,
        )
        org.projects.append(project)
        # Each project gets its own generator seeded from the org's, so adding a project or
        # tweaking one project's volume does not reshuffle the others.
        sim = _ProjectSimulation(
            project=project,
            blueprint=blueprint,
            rng=random.Random(rng.getrandbits(64)),
            start_ms=start_ms,
            end_ms=end_ms,
            pipelines_per_weekday=pipelines_per_weekday,
            users=users,
            scheduler_id=scheduler_id,
        )
        sim.run()
        sim.export(org)

    org.pipelines.sort(key=lambda p: (p["created_at"], p["project_slug"], p["number"]))
    org.workflows.sort(key=lambda w: (w["created_at"], w["id"]))
    org.insights_workflow_runs.sort(key=lambda r: (r["created_at"], r["id"]))
    return org


class _ProjectSimulation:
    """Simulates one project; ``export`` turns the internal records into API objects."""

    def __init__(
        self,
        *,
        project: CircleCIProject,
        blueprint: _ProjectBlueprint,
        rng: random.Random,
        start_ms: int,
        end_ms: int,
        pipelines_per_weekday: int,
        users: dict[str, str],
        scheduler_id: str,
    ) -> None:
        self.project = project
        self.blueprint = blueprint
        self.rng = rng
        self.start_ms = start_ms
        self.end_ms = end_ms  # also "now": the instant the organisation is observed at
        self.pipelines_per_weekday = pipelines_per_weekday
        self.users = users
        self.scheduler_id = scheduler_id
        self.reliability = _Reliability(rng)
        self.repo_url = f"{VCS_HOST}/{project.organization}/{project.name}"
        self.branches = rng.sample(_BRANCH_POOL, 6)
        self.pull_requests = {b: rng.randint(40, 400) for b in self.branches}
        self.pipelines: list[dict] = []
        self.workflows: list[_Workflow] = []

    # -- timeline ---------------------------------------------------------------------------

    def run(self) -> None:
        events = self._pipeline_events()
        events.sort(key=lambda e: e[0])
        number = self.rng.randint(600, 4000)
        latest_default_revision = _sha(self.rng)
        release = [1, self.rng.randint(0, 9), 0]
        for created_ms, kind in events:
            number += 1
            if kind == "nightly":
                pipeline = self._pipeline(
                    number,
                    created_ms,
                    self.project.default_branch,
                    trigger_type="scheduled_pipeline",
                )
                self.pipelines.append(pipeline)
                self._run_workflow(pipeline, "nightly", self.blueprint.nightly)
                continue
            if kind == "tag":
                release = _next_release(self.rng, release)
                tag = "v{}.{}.{}".format(*release)
                pipeline = self._pipeline(
                    number,
                    created_ms,
                    None,
                    trigger_type="webhook",
                    tag=tag,
                    revision=latest_default_revision,
                )
                self.pipelines.append(pipeline)
                self._run_workflow(pipeline, "build-test", self.blueprint.build_test)
                continue
            on_default = kind == "push-late" or self.rng.random() < 0.6
            branch = self.project.default_branch if on_default else self._feature_branch()
            trigger_type = self.rng.choices(("webhook", "api", "explicit"), (0.9, 0.05, 0.05))[0]
            errored = not on_default and self.rng.random() < _P_CONFIG_ERROR
            pipeline = self._pipeline(
                number, created_ms, branch, trigger_type=trigger_type, errored=errored
            )
            self.pipelines.append(pipeline)
            if on_default:
                latest_default_revision = pipeline["vcs"]["revision"]
            if errored:
                continue  # CircleCI creates no workflows when the config cannot be compiled
            self._run_workflow(pipeline, "build-test", self.blueprint.build_test)
            if on_default:
                self._run_workflow(pipeline, "deploy", self.blueprint.deploy)

    def _pipeline_events(self) -> list[tuple[int, str]]:
        """(created_ms, kind) for every pipeline: push, tag or nightly."""
        rng = self.rng
        events: list[tuple[int, str]] = []
        days = (self.end_ms - self.start_ms) // _MS_PER_DAY
        weekday_mean = self.pipelines_per_weekday * self.blueprint.activity
        for day in range(days):
            day_ms = self.start_ms + day * _MS_PER_DAY
            weekday = (_EPOCH + dt.timedelta(milliseconds=day_ms)).weekday()
            weekend = weekday >= 5
            mean = weekday_mean * (_WEEKEND_FACTOR if weekend else 1.0)
            weights = _WEEKEND_HOUR_WEIGHTS if weekend else _WEEKDAY_HOUR_WEIGHTS
            for _ in range(_poisson(rng, mean)):
                hour = rng.choices(range(24), weights=weights)[0]
                events.append((day_ms + hour * 3_600_000 + rng.randrange(3_600_000), "push"))
            # Release tags: roughly one a week, on a working day.
            if not weekend and rng.random() < 0.2:
                hour = rng.choice((10, 11, 14, 15, 16))
                events.append((day_ms + hour * 3_600_000 + rng.randrange(3_600_000), "tag"))
            # The nightly schedule fires a few seconds after 02:00 UTC.
            events.append((day_ms + 2 * 3_600_000 + rng.randrange(1_000, 20_000), "nightly"))
        # Make sure the observation instant catches work in flight: one push to the default
        # branch in the last ~20 minutes of the window (so its workflows are still running).
        if days:
            events.append((self.end_ms - rng.randrange(4, 20) * 60_000, "push-late"))
        return events

    def _feature_branch(self) -> str:
        # A few branches are much busier than others, like real teams.
        return self.rng.choices(self.branches, weights=(5, 4, 3, 2, 1, 1))[0]

    def _pipeline(
        self,
        number: int,
        created_ms: int,
        branch: str | None,
        *,
        trigger_type: str,
        tag: str | None = None,
        revision: str | None = None,
        errored: bool = False,
    ) -> dict:
        rng = self.rng
        if trigger_type == "scheduled_pipeline":
            actor = {"login": "scheduled-pipeline", "avatar_url": None}
        else:
            login = rng.choice(_DEVELOPERS)
            actor = {
                "login": login,
                "avatar_url": f"https://avatars.githubusercontent.com/u/"
                f"{_DEVELOPERS.index(login) + 1048576}?v=4",
            }
        trigger_parameters: dict = {}
        if trigger_type == "scheduled_pipeline":
            trigger_parameters = {"run_nightly": True}
        elif trigger_type == "api":
            trigger_parameters = {"deploy_env": "staging", "run_integration": True}
        vcs: dict = {
            "provider_name": "GitHub",
            "target_repository_url": self.repo_url,
        }
        if tag is not None:
            vcs["tag"] = tag
        else:
            vcs["branch"] = branch
            if branch != self.project.default_branch and rng.random() < 0.8:
                pr = self.pull_requests[branch]
                vcs["review_id"] = str(pr)
                vcs["review_url"] = f"{self.repo_url}/pull/{pr}"
        vcs["revision"] = revision or _sha(rng)
        if trigger_type == "scheduled_pipeline":
            vcs["commit"] = {"subject": None, "body": None}
        elif tag is not None:
            vcs["commit"] = {"subject": f"Release {tag}", "body": None}
        else:
            vcs["commit"] = {
                "subject": rng.choice(_COMMIT_SUBJECTS),
                "body": rng.choice(_COMMIT_BODIES),
            }
        vcs["origin_repository_url"] = self.repo_url
        errors = []
        if errored:
            errors = [
                {
                    "type": "config",
                    "message": "Unable to parse YAML: mapping values are not allowed here",
                }
            ]
        return {
            "id": _uuid(rng),
            "errors": errors,
            "project_slug": self.project.slug,
            "updated_at": format_timestamp(created_ms + rng.randint(100, 900)),
            "number": number,
            "trigger_parameters": trigger_parameters,
            "state": "errored" if errored else "created",
            "created_at": format_timestamp(created_ms),
            "trigger": {
                "type": trigger_type,
                "received_at": format_timestamp(created_ms - rng.randint(150, 1500)),
                "actor": actor,
            },
            "vcs": vcs,
            # Private bookkeeping, removed in export().
            "_created_ms": created_ms,
            "_actor_id": self.users.get(actor["login"], self.scheduler_id),
        }

    # -- workflows --------------------------------------------------------------------------

    def _run_workflow(self, pipeline: dict, name: str, templates: tuple[_JobTemplate, ...]) -> None:
        branch = pipeline["vcs"].get("branch", "")  # '' for tag pipelines
        # Release tags are cut from the default branch, so they share its reliability profile.
        plan = self.reliability.plan(
            name, branch, templates, default_branch=branch in ("", self.project.default_branch)
        )
        created_ms = pipeline["_created_ms"] + self.rng.randint(400, 4000)
        workflow = self._simulate(
            pipeline, name, templates, created_ms, plan, started_by=pipeline["_actor_id"]
        )
        if workflow is None:
            return
        # Reruns: a new workflow of the same name in the same pipeline, some time later.
        attempts = 1
        while (
            workflow.status in ("failed", "error")
            and attempts < 3
            and self.rng.random() < _P_RERUN / attempts
        ):
            delay_ms = int(
                min(self.rng.lognormvariate(math.log(20 * 60), 1.0), 8 * 3600) * _MS_PER_S
            )
            rerun_plan = self.reliability.rerun_plan(plan)
            rerun_by = self.users[self.rng.choice(_DEVELOPERS)]
            workflow = self._simulate(
                pipeline,
                name,
                templates,
                workflow.stopped_ms + delay_ms,
                rerun_plan,
                started_by=rerun_by,
            )
            if workflow is None:
                return
            plan = rerun_plan
            attempts += 1

    def _simulate(
        self,
        pipeline: dict,
        name: str,
        templates: tuple[_JobTemplate, ...],
        created_ms: int,
        plan: _Plan,
        *,
        started_by: str,
    ) -> _Workflow | None:
        """Play one workflow run forward, then observe it at ``end_ms``.

        Returns None (and records nothing) when the workflow would be created after the
        observation instant.
        """
        if created_ms >= self.end_ms:
            return None
        rng = self.rng
        jobs = {t.name: _Job(id=_uuid(rng), template=t) for t in templates}
        workflow = _Workflow(
            id=_uuid(rng),
            name=name,
            pipeline=pipeline,
            created_ms=created_ms,
            started_by=started_by,
            jobs=list(jobs.values()),
        )
        if plan.outcome == "not_run":
            for job in workflow.jobs:
                job.status = "not_run"
            workflow.status = "not_run"
            self.workflows.append(workflow)
            return workflow

        busy = self._is_busy_hour(created_ms)
        for job in workflow.jobs:
            t = job.template
            deps = [jobs[r] for r in t.requires]
            if any(d.status != "success" for d in deps):
                job.status = "blocked"  # an upstream job did not succeed; this never runs
                continue
            ready_ms = max((d.stopped_ms for d in deps), default=created_ms)
            job.queued_ms = ready_ms + rng.randint(300, 2500)
            job.created_ms = job.queued_ms - rng.randint(80, 600)
            if t.approval:
                job.started_ms = job.queued_ms
                wait_s = min(rng.lognormvariate(math.log(12 * 60), 0.9), 90 * 60)
                job.stopped_ms = job.started_ms + int(wait_s * _MS_PER_S)
                job.approved_by = self.users[rng.choice(_DEVELOPERS)]
                continue
            queue_s = rng.lognormvariate(math.log(6.0 if busy else 2.5), 0.8)
            if t.executor == "macos":
                queue_s *= 3  # macOS capacity is scarcer
            job.started_ms = job.queued_ms + int(queue_s * _MS_PER_S)
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
                job.parallel_statuses[rng.randrange(t.parallelism)] = job.status
            job.stopped_ms = job.started_ms + max(1000, int(duration_s * _MS_PER_S))

        if plan.outcome == "canceled":
            self._cancel(workflow, jobs)
        self._settle(workflow)
        self._observe(workflow, jobs)
        self.workflows.append(workflow)
        return workflow

    def _cancel(self, workflow: _Workflow, jobs: dict[str, _Job]) -> None:
        """Cancel the workflow part-way through one of its build jobs."""
        rng = self.rng
        started = [j for j in workflow.jobs if j.started_ms is not None]
        victim = rng.choice([j for j in started if not j.template.approval] or started)
        cancel_ms = victim.started_ms + int(
            (victim.stopped_ms - victim.started_ms) * rng.uniform(0.1, 0.9)
        )
        canceled_by = self.users[rng.choice(_DEVELOPERS)]
        workflow.canceled_by = canceled_by
        for job in workflow.jobs:
            if job.started_ms is not None and job.started_ms < cancel_ms:
                if job.stopped_ms > cancel_ms:  # running when canceled
                    job.status = "canceled"
                    job.stopped_ms = cancel_ms
                    job.canceled_by = canceled_by
                    job.approved_by = None
                    job.parallel_statuses = ["canceled"] * len(job.parallel_statuses)
                continue
            # Not started yet: it never will be.
            job.status = "canceled"
            job.canceled_by = canceled_by
            job.approved_by = None
            job.queued_ms = job.started_ms = job.stopped_ms = job.created_ms = None
            job.parallel_statuses = []
        workflow.status = "canceled"

    @staticmethod
    def _settle(workflow: _Workflow) -> None:
        """Derive the finished workflow's status and stop time from its jobs."""
        stops = [j.stopped_ms for j in workflow.jobs if j.stopped_ms is not None]
        workflow.stopped_ms = max(stops) if stops else None
        if workflow.status == "canceled":
            return
        statuses = {j.status for j in workflow.jobs}
        if "infrastructure_fail" in statuses:
            workflow.status = "error"
        elif statuses & {"failed", "timedout"}:
            workflow.status = "failed"
        else:
            workflow.status = "success"

    def _observe(self, workflow: _Workflow, jobs: dict[str, _Job]) -> None:
        """Rewrite a workflow still in flight at ``end_ms`` as the API would show it then."""
        now = self.end_ms
        if workflow.stopped_ms is not None and workflow.stopped_ms < now:
            return
        for job in workflow.jobs:
            t = job.template
            if job.started_ms is not None and job.started_ms < now:
                if job.stopped_ms < now:
                    continue  # finished before we look
                job.stopped_ms = None
                job.canceled_by = None
                if t.approval:
                    job.status = "on_hold"
                    job.started_ms = None  # CircleCI shows waiting approvals with no start
                    job.approved_by = None
                else:
                    job.status = "running"
                    job.parallel_statuses = ["running"] * t.parallelism
                continue
            # Not started at `now`: queued if it was ready, otherwise blocked on upstream jobs.
            ready = job.queued_ms is not None and job.queued_ms < now
            job.status = "queued" if ready and not t.approval else "blocked"
            if ready and t.approval:
                job.status = "on_hold"
            if not ready:
                job.created_ms = None
            job.queued_ms = job.queued_ms if ready else None
            job.started_ms = job.stopped_ms = None
            job.canceled_by = job.approved_by = None
            job.parallel_statuses = []
            job.messages = []
        statuses = {j.status for j in workflow.jobs}
        workflow.canceled_by = None
        workflow.stopped_ms = None
        if statuses & {"failed", "timedout", "infrastructure_fail"}:
            workflow.status = "failing"
        elif statuses & {"running", "queued"}:
            workflow.status = "running"
        elif "on_hold" in statuses:
            workflow.status = "on_hold"
        else:
            workflow.status = "running"

    def _is_busy_hour(self, ms: int) -> bool:
        moment = _EPOCH + dt.timedelta(milliseconds=ms)
        return moment.weekday() < 5 and 9 <= moment.hour < 18

    # -- export -----------------------------------------------------------------------------

    def export(self, org: Organisation) -> None:
        """Number the jobs and append API-shaped objects for this project to ``org``."""
        project = self.project
        self._number_jobs()
        for pipeline in self.pipelines:
            org.pipelines.append({k: v for k, v in pipeline.items() if not k.startswith("_")})
        for wf in self.workflows:
            pipeline = wf.pipeline
            item: dict = {
                "pipeline_id": pipeline["id"],
            }
            if wf.canceled_by:
                item["canceled_by"] = wf.canceled_by
            item.update(
                {
                    "id": wf.id,
                    "name": wf.name,
                    "project_slug": project.slug,
                    "status": wf.status,
                    "started_by": wf.started_by,
                    "pipeline_number": pipeline["number"],
                    "created_at": format_timestamp(wf.created_ms),
                    "stopped_at": _fmt_opt(wf.stopped_ms),
                }
            )
            org.workflows.append(item)
            org.workflow_jobs[wf.id] = [self._job_item(job, wf) for job in wf.jobs]
            for job in wf.jobs:
                if job.number is not None:
                    org.job_details[(project.slug, job.number)] = self._job_details(job, wf)
            insight = self._insight(wf)
            if insight is not None:
                org.insights_workflow_runs.append(insight)

    def _number_jobs(self) -> None:
        """Job numbers are per project and increase in the order jobs were queued.

        Only jobs that actually started get a number (as in list-workflow-jobs.json, where the
        blocked build job has none); approval jobs never have one.
        """
        started = [
            j
            for wf in self.workflows
            for j in wf.jobs
            if not j.template.approval and j.started_ms is not None
        ]
        started.sort(key=lambda j: (j.queued_ms, j.id))
        first = self.rng.randint(10_000, 60_000)
        for offset, job in enumerate(started):
            job.number = first + offset

    def _job_item(self, job: _Job, wf: _Workflow) -> dict:
        by_name = {j.template.name: j for j in wf.jobs}
        deps = [by_name[r].id for r in job.template.requires]
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

    def _job_details(self, job: _Job, wf: _Workflow) -> dict:
        project = self.project
        t = job.template
        pipeline = wf.pipeline
        duration = None if job.stopped_ms is None else job.stopped_ms - job.started_ms
        return {
            "web_url": f"https://app.circleci.com/pipelines/github/{project.organization}/"
            f"{project.name}/{pipeline['number']}/workflows/{wf.id}/jobs/{job.number}",
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
            "latest_workflow": {"id": wf.id, "name": wf.name},
            "name": t.name,
            "executor": {"resource_class": t.resource_class, "type": t.executor},
            "parallelism": t.parallelism,
            "status": job.status,
            "number": job.number,
            "pipeline": {"id": pipeline["id"]},
            "duration": duration,
            "created_at": format_timestamp(job.created_ms),
            "messages": list(job.messages),
            "contexts": [{"name": c} for c in t.contexts],
            "organization": {"name": project.organization},
            "queued_at": format_timestamp(job.queued_ms),
            "stopped_at": _fmt_opt(job.stopped_ms),
        }

    def _insight(self, wf: _Workflow) -> dict | None:
        """One insights run per finished workflow whose status the insights enum allows."""
        if wf.status not in ("success", "failed", "error", "canceled", "unauthorized"):
            return None
        credits = 0
        for job in wf.jobs:
            if job.template.approval or job.started_ms is None or job.stopped_ms is None:
                continue
            minutes = math.ceil((job.stopped_ms - job.started_ms) / 60_000)
            credits += (
                minutes
                * _CREDITS_PER_MINUTE[job.template.resource_class]
                * job.template.parallelism
            )
        return {
            "id": wf.id,
            "branch": wf.pipeline["vcs"].get("branch", ""),
            "duration": (wf.stopped_ms - wf.created_ms) // _MS_PER_S,
            "created_at": format_timestamp(wf.created_ms),
            "stopped_at": format_timestamp(wf.stopped_ms),
            "credits_used": credits,
            "status": wf.status,
            "is_approval": any(j.template.approval for j in wf.jobs),
            "project_slug": self.project.slug,
            "workflow_name": wf.name,
        }


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _to_ms(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MS_PER_S + delta.microseconds // 1000


def _fmt_opt(ms: int | None) -> str | None:
    return None if ms is None else format_timestamp(ms)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's Poisson sampler; fine for the small means used here."""
    if mean <= 0:
        return 0
    limit = math.exp(-mean)
    k, product = 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _next_release(rng: random.Random, release: list[int]) -> list[int]:
    major, minor, patch = release
    if rng.random() < 0.7:
        return [major, minor, patch + 1]
    return [major, minor + 1, 0]
