"""A simulated Octopus Deploy space, generated day by day (see :mod:`sandbox.partitions`).

One space (``Spaces-1``) with a few projects. Every project lives through ``deploy_days`` UTC days
ending with ``as_of``: releases are cut from a :class:`~sandbox.repositories.RepositoryHistory`
(build information = the default-branch commits since the previous release), deployed
automatically to Development and promoted along the lifecycle (Development -> Staging ->
Production [-> Production EU]) with gaps of hours or days. Deployments fail, time out and get
cancelled; failures are followed by retries or a hotfix release; production deployments sometimes
stop on a guided failure (an interruption answered with Retry/Ignore/Abort); some releases get a
"do not promote" defect; now and then a release is redeployed to the same environment.

Streaming: each project is a :class:`DayPartitioned` whose state is small (version, commit
watermark, the queue of scheduled promotions/retries, the latest successful release and failure
streak per scope). Ids encode their day: ``number = day_index * 100 + slot * 25 + sequence``
(``day_index`` = days since 2000-01-01, ``slot`` = the project's position, ``sequence`` < 25 per
project and day), so ``Deployments-982917`` regenerates one (project, day). Tasks are
``ServerTasks-<number + 5000000>``; a deployment's guided failure is ``Interruptions-<number>``;
a release's defect is ``Defects-<release number>``.

Times are decided when a record is generated, possibly beyond ``as_of``; a reader picks a moment
``at`` (default: the end of ``as_of``) and sees only what had happened by then (:func:`task_state`).
"""

from __future__ import annotations

import copy
import datetime as dt
import heapq
import math
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.partitions import EPOCH, DayPartitioned, days_between, rng_for
from sandbox.repositories import AUTHORS, RepositoryHistory

SPACE_ID = "Spaces-1"
TASK_OFFSET = 5_000_000
SLOT_SIZE = 25
MAX_PROJECTS = 4

ERROR_FAILED = (
    "The deployment failed because one or more steps failed. "
    "Please see the deployment log for details."
)
ERROR_TIMED_OUT = "The task timed out: it did not complete within the allowed time."
ERROR_CANCELED = "The task was canceled."
TERMINAL = ("Success", "Failed", "TimedOut", "Canceled")
_TIME_KEYS = ("started_at", "completed_at", "cancel_requested_at", "final_state")


@dataclass(frozen=True)
class EnvironmentSpec:
    id: str
    name: str
    sort_order: int
    use_guided_failure: bool


ENVIRONMENTS = (
    EnvironmentSpec("Environments-1", "Development", 0, False),
    EnvironmentSpec("Environments-2", "Staging", 1, False),
    EnvironmentSpec("Environments-3", "Production", 2, True),
    EnvironmentSpec("Environments-4", "Production EU", 3, True),
)
ENV_BY_ID = {env.id: env for env in ENVIRONMENTS}

PROJECT_GROUPS = (
    ("ProjectGroups-1", "Default Project Group", "The default project group"),
    ("ProjectGroups-2", "Platform", "Shared platform services"),
)

TENANTS = (
    ("Tenants-1", "Acme Corp", "Tier/Gold"),
    ("Tenants-2", "Globex", "Tier/Silver"),
)

LIFECYCLES = (
    ("Lifecycles-1", "Default Lifecycle", ("Environments-1", "Environments-2", "Environments-3")),
    ("Lifecycles-2", "Hotfix", ("Environments-2", "Environments-3")),
)

USERS = tuple((f"Users-{n + 2}", name.split()[0].lower()) for n, (name, _) in enumerate(AUTHORS))


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    slug: str
    group_id: str
    repository: str
    package_id: str
    description: str
    environments: tuple[str, ...]  # promotion order
    hotfix_channel: bool
    tenanted: bool  # Production deployments go to each tenant
    releases_per_weekday: float


PROJECTS = (
    ProjectSpec(
        "Web App",
        "web-app",
        "ProjectGroups-1",
        "acme/web-app",
        "WebApp",
        "Customer-facing web application.",
        ("Environments-1", "Environments-2", "Environments-3", "Environments-4"),
        True,
        False,
        0.9,
    ),
    ProjectSpec(
        "Billing API",
        "billing-api",
        "ProjectGroups-2",
        "acme/billing-api",
        "BillingApi",
        "Invoices and payments, deployed per tenant.",
        ("Environments-1", "Environments-2", "Environments-3"),
        False,
        True,
        0.5,
    ),
    ProjectSpec(
        "Search Service",
        "search-service",
        "ProjectGroups-1",
        "acme/search-service",
        "SearchService",
        "Full-text search.",
        ("Environments-1", "Environments-2", "Environments-3"),
        True,
        False,
        0.7,
    ),
    ProjectSpec(
        "Mobile Backend",
        "mobile-backend",
        "ProjectGroups-2",
        "acme/mobile-backend",
        "MobileBackend",
        "API for the mobile apps.",
        ("Environments-1", "Environments-2", "Environments-3"),
        False,
        False,
        0.4,
    ),
)

# Per environment position: failure, time-out and cancel probabilities; duration (lognormal mu
# of seconds); promotion probability and gap (lognormal mu, sigma of hours) to the next one.
_FAIL = (0.08, 0.07, 0.06, 0.05)
_TIMEOUT = 0.015
_CANCEL = 0.02
_DURATION_MU = (math.log(70), math.log(240), math.log(420), math.log(360))
_PROMOTE_P = (0.85, 0.9, 0.97)
_PROMOTE_GAP = ((math.log(6), 0.9), (math.log(30), 0.8), (math.log(0.7), 0.6))
_GUIDED_P = 0.08
_DEFECT_P = 0.05


def is_production(environment_name: str) -> bool:
    return "prod" in environment_name.lower()


def number_of(value: str, prefix: str) -> int | None:
    """The number of an id such as ``Deployments-982917`` (None if it is not one)."""
    if not value.startswith(prefix + "-"):
        return None
    digits = value[len(prefix) + 1 :]
    return int(digits) if digits.isdigit() and len(digits) < 12 else None


def locate(number: int) -> tuple[dt.date, int, int]:
    """(day, project slot, sequence) encoded in a deployment, release or interruption number."""
    day_index, rest = divmod(number, 100)
    return EPOCH + dt.timedelta(days=day_index), rest // SLOT_SIZE, rest % SLOT_SIZE


def fmt(moment: dt.datetime | None) -> str | None:
    """Octopus's timestamp: milliseconds and an explicit offset."""
    if moment is None:
        return None
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def display(moment: dt.datetime) -> str:
    """The task's ``Completed`` display string, e.g. ``Friday, 02 August 2024 5:43:27 AM +00:00``."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{moment:%A}, {moment.day:02d} {moment:%B} {moment.year} "
        f"{hour}:{moment:%M}:{moment:%S} {half} +00:00"
    )


def humanize(seconds: float) -> str:
    """Octopus's ``Duration`` text: ``32 seconds``, ``1 minute``, ``3 hours``."""
    seconds = max(0.0, seconds)
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = round(seconds)
    return f"{count} second{'' if count == 1 else 's'}"


def _ms(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def task_state(deployment: dict, at: dt.datetime) -> str:
    """The task's ``State`` at moment ``at`` (the deployment must exist by then)."""
    if deployment["started_at"] is None or at < deployment["started_at"]:
        return "Queued"
    if deployment["completed_at"] is None or at < deployment["completed_at"]:
        cancel = deployment["cancel_requested_at"]
        return "Cancelling" if cancel is not None and at >= cancel else "Executing"
    return deployment["final_state"]


@dataclass
class _State:
    version: list[int]
    commit_cut: dt.datetime
    head: str
    counter: int = 0
    queue: list[tuple] = field(default_factory=list)  # (time, counter, kind, payload)
    releases: dict[int, dict] = field(default_factory=dict)  # in flight: number -> info
    latest_success: dict[str, int] = field(default_factory=dict)  # scope -> release number
    streak: dict[str, int] = field(default_factory=dict)  # scope -> failures in a row


@dataclass
class DayRecords:
    releases: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)
    interruptions: list[dict] = field(default_factory=list)
    defects: list[dict] = field(default_factory=list)


class _Project:
    """One project's history, day by day."""

    def __init__(self, org: OctopusOrganisation, slot: int, spec: ProjectSpec) -> None:
        self.org = org
        self.slot = slot
        self.spec = spec
        self.id = f"Projects-{slot + 1}"
        self.default_channel, self.hotfix_channel = org.channel_ids[self.id]
        self.repo = RepositoryHistory(
            org.seed, spec.repository, org.first_day - dt.timedelta(days=30), org.as_of
        )
        start = dt.datetime.combine(org.first_day, dt.time(), tzinfo=dt.UTC)
        initial = _State(
            version=[1 + slot, 0, 0],
            commit_cut=start - dt.timedelta(days=10),
            head=self.repo.root,
        )
        self.history: DayPartitioned[_State, DayRecords] = DayPartitioned(
            days_between(org.first_day, org.as_of), initial, self._generate_day, cache_days=48
        )

    def day(self, day: dt.date) -> DayRecords:
        records = self.history.day(day)
        return records if isinstance(records, DayRecords) else DayRecords()

    # -- one day -------------------------------------------------------------------------------

    def _generate_day(self, day: dt.date, state: _State) -> tuple[DayRecords, _State]:
        rng = rng_for(self.org.seed, "octopus", self.spec.slug, day)
        st = copy.deepcopy(state)
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        end = start + dt.timedelta(days=1)
        out = DayRecords()
        rate = self.spec.releases_per_weekday * self.org.deploy_cadence
        mean = rate * (1.0 if day.weekday() < 5 else 0.12)
        for _ in range(_poisson(rng, mean)):
            moment = start + dt.timedelta(seconds=rng.uniform(7.5 * 3600, 19 * 3600))
            self._push(st, moment, "release", {})
        if day == self.org.first_day:
            # The history starts with a release on its first day, weekday or not.
            self._push(st, start + dt.timedelta(hours=9, minutes=17 * self.slot), "release", {})
        if day == self.org.as_of and self.slot < 3:
            # Something is always in flight at the end of the report day.
            force = ("executing", "queued", "cancelling")[self.slot]
            moment = start + dt.timedelta(hours=23, minutes=(20, 50, 56)[self.slot])
            self._push(st, moment, "release", {"force": force})
        while st.queue and st.queue[0][0] < end:
            moment, _, kind, payload = heapq.heappop(st.queue)
            if kind == "release":
                self._release(rng, st, max(moment, start), payload, out, end)
            else:
                self._deploy(rng, st, max(moment, start), payload, out, end)
        referenced = {payload["release"] for _, _, kind, payload in st.queue if kind == "deploy"}
        st.releases = {n: info for n, info in st.releases.items() if n in referenced}
        return out, st

    def _push(self, st: _State, moment: dt.datetime, kind: str, payload: dict) -> None:
        st.counter += 1
        heapq.heappush(st.queue, (_ms(moment), st.counter, kind, payload))

    def _number(self, day: dt.date, sequence: int) -> int:
        return (day - EPOCH).days * 100 + self.slot * SLOT_SIZE + sequence

    def _release(
        self,
        rng: random.Random,
        st: _State,
        moment: dt.datetime,
        payload: dict,
        out: DayRecords,
        end: dt.datetime,
    ) -> None:
        if len(out.releases) >= SLOT_SIZE:
            self._push(st, end + dt.timedelta(minutes=5), "release", payload)
            return
        hotfix = bool(payload.get("hotfix"))
        major, minor, patch = st.version
        if hotfix:
            patch += 1
        elif rng.random() < 0.015:
            major, minor, patch = major + 1, 0, 0
        else:
            minor, patch = minor + 1, 0
        st.version = [major, minor, patch]
        version = f"{major}.{minor}.{patch}"
        number = self._number(moment.date(), len(out.releases))
        commits = self._commits(st, moment)
        channel = self.hotfix_channel if hotfix and self.hotfix_channel else self.default_channel
        release = {
            "id": f"Releases-{number}",
            "number": number,
            "project_id": self.id,
            "version": version,
            "channel_id": channel,
            "created_at": moment,
            "is_hotfix": hotfix,
            "commit_sha": st.head,
            "commits": commits,
        }
        out.releases.append(release)
        info: dict[str, Any] = {
            "hotfix": hotfix,
            "version": version,
            "channel": channel,
            "defect_at": None,
            "resolved_at": None,
        }
        if not hotfix and "force" not in payload and rng.random() < _DEFECT_P:
            defect_at = _ms(moment + dt.timedelta(hours=rng.uniform(6, 72)))
            resolved_at = None
            if rng.random() < 0.5:
                resolved_at = _ms(defect_at + dt.timedelta(days=rng.uniform(1, 10)))
            info.update(defect_at=defect_at, resolved_at=resolved_at)
            name, _ = rng.choice(USERS)
            out.defects.append(
                {
                    "id": f"Defects-{number}",
                    "release_id": release["id"],
                    "project_id": self.id,
                    "description": f"Regression found in {version}: "
                    f"{rng.choice(('checkout', 'login', 'search', 'exports', 'latency'))}",
                    "created_at": defect_at,
                    "resolved_at": resolved_at,
                    "reported_by": name,
                }
            )
        st.releases[number] = info
        first = 1 if hotfix else 0  # the Hotfix lifecycle starts at Staging
        delay = rng.uniform(120, 600) if hotfix else rng.uniform(20, 240)
        event = {"release": number, "env": first, "tenant": None, "reason": "promote"}
        if not hotfix:
            event["reason"] = "auto"
        if "force" in payload:
            event["force"] = payload["force"]
            delay = (300, 480, 180)[("executing", "queued", "cancelling").index(payload["force"])]
        self._push(st, moment + dt.timedelta(seconds=delay), "deploy", event)

    def _commits(self, st: _State, moment: dt.datetime) -> list[dict]:
        """Default-branch commits since the previous release (newest first)."""
        found = []
        day = max(st.commit_cut.date(), moment.date() - dt.timedelta(days=30))
        while day <= moment.date():
            for commit in self.repo.day(day):
                if (
                    commit.branch == self.repo.default_branch
                    and st.commit_cut < commit.committed_at <= moment
                ):
                    found.append(commit)
            day += dt.timedelta(days=1)
        st.commit_cut = moment
        if found:
            st.head = found[-1].sha
        return [
            {
                "sha": c.sha,
                "message": c.message,
                "author": c.author_name,
                "authored_at": _ms(c.authored_at),
                "committed_at": _ms(c.committed_at),
            }
            for c in reversed(found)
        ]

    def _deploy(
        self,
        rng: random.Random,
        st: _State,
        moment: dt.datetime,
        event: dict,
        out: DayRecords,
        end: dt.datetime,
    ) -> None:
        number_r = event["release"]
        info = st.releases.get(number_r)
        if info is None:
            return
        position, tenant = event["env"], event["tenant"]
        scope = f"{position}|{tenant or ''}"
        if event["reason"] == "promote":
            if st.latest_success.get(scope, -1) > number_r:
                return  # a newer release got there first
            defect_at, resolved_at = info["defect_at"], info["resolved_at"]
            if (
                defect_at is not None
                and defect_at <= moment
                and (resolved_at is None or resolved_at > moment)
            ):
                return  # do not promote
        if len(out.deployments) >= SLOT_SIZE:
            self._push(st, end + dt.timedelta(minutes=1), "deploy", event)
            return
        env = ENV_BY_ID[self.spec.environments[position]]
        force = event.get("force")
        number = self._number(moment.date(), len(out.deployments))
        queued_at = _ms(moment)
        wait = rng.uniform(0.2, 3.0) if rng.random() > 0.05 else rng.uniform(60, 900)
        if force == "queued":
            wait = 900.0
        started_at = _ms(queued_at + dt.timedelta(seconds=wait))
        duration = min(rng.lognormvariate(_DURATION_MU[position], 0.5), 5400.0)
        fail_p = _FAIL[position] * (0.5 if st.streak.get(scope) else 1.0)
        draw = rng.random()
        if draw < fail_p:
            final = "Failed"
        elif draw < fail_p + _TIMEOUT:
            final = "TimedOut"
        elif draw < fail_p + _TIMEOUT + _CANCEL:
            final = "Canceled"
        else:
            final = "Success"
        if force:
            final = "Canceled" if force == "cancelling" else "Success"
        cancel_at = guided = None
        if final == "Canceled":
            cancel_at = started_at + dt.timedelta(seconds=duration * rng.uniform(0.1, 0.9))
            completed_at = cancel_at + dt.timedelta(seconds=rng.uniform(3, 40))
            if force == "cancelling":
                cancel_at = started_at + dt.timedelta(seconds=40)
                completed_at = cancel_at + dt.timedelta(seconds=90)
            cancel_at = _ms(cancel_at)
        elif final == "TimedOut":
            completed_at = started_at + dt.timedelta(minutes=rng.uniform(30, 60))
        elif final == "Failed":
            completed_at = started_at + dt.timedelta(seconds=duration * rng.uniform(0.2, 1.0))
        else:
            completed_at = started_at + dt.timedelta(seconds=duration)
            if force == "executing":
                completed_at = started_at + dt.timedelta(minutes=50)
        if env.use_guided_failure and final in ("Success", "Failed") and not force:
            if rng.random() < _GUIDED_P:
                raised = started_at + dt.timedelta(seconds=duration * rng.uniform(0.3, 0.8))
                answered = raised + dt.timedelta(minutes=rng.uniform(3, 90))
                guidance = rng.choices(("Retry", "Ignore", "Abort"), (0.6, 0.15, 0.25))[0]
                final = "Failed" if guidance == "Abort" else "Success"
                rest = duration * rng.uniform(0.1, 0.5) if guidance != "Abort" else 2.0
                completed_at = answered + dt.timedelta(seconds=rest)
                guided = (_ms(raised), _ms(answered), guidance)
        completed_at = _ms(completed_at)
        user_id, user = rng.choice(USERS)
        if event["reason"] == "auto":
            user_id, user = "Users-1", "system"
        tenant_name = dict((t[0], t[1]) for t in TENANTS).get(tenant or "")
        deployment = {
            "id": f"Deployments-{number}",
            "number": number,
            "task_id": f"ServerTasks-{number + TASK_OFFSET}",
            "project_id": self.id,
            "release_id": f"Releases-{number_r}",
            "release_version": info["version"],
            "environment_id": env.id,
            "environment_name": env.name,
            "tenant_id": tenant,
            "tenant_name": tenant_name,
            "channel_id": info["channel"],
            "created_at": queued_at,
            "queued_at": queued_at,
            "started_at": started_at,
            "completed_at": completed_at,
            "cancel_requested_at": cancel_at,
            "final_state": final,
            "error_message": {
                "Failed": ERROR_FAILED,
                "TimedOut": ERROR_TIMED_OUT,
                "Canceled": ERROR_CANCELED,
            }.get(final, ""),
            "had_guided_failure": guided is not None,
            "reason": event["reason"],
            "deployed_by": user,
            "deployed_by_id": user_id,
            "has_warnings": guided is not None or final != "Success" or rng.random() < 0.1,
        }
        out.deployments.append(deployment)
        if guided is not None:
            out.interruptions.append(
                {
                    "id": f"Interruptions-{number}",
                    "number": number,
                    "deployment_id": deployment["id"],
                    "task_id": deployment["task_id"],
                    "project_id": self.id,
                    "environment_id": env.id,
                    "type": "GuidedFailure",
                    "created_at": guided[0],
                    "responded_at": guided[1],
                    "guidance": guided[2],
                    "responsible": user,
                }
            )
        self._after(rng, st, deployment, event, info, scope)

    def _after(
        self, rng: random.Random, st: _State, deployment: dict, event: dict, info: dict, scope: str
    ) -> None:
        """Schedule what follows a deployment: promotion, retry, hotfix or a redeploy."""
        done = deployment["completed_at"]
        position = event["env"]
        release = event["release"]
        final = deployment["final_state"]
        if event.get("force"):
            return
        if final == "Success":
            st.streak.pop(scope, None)
            st.latest_success[scope] = max(st.latest_success.get(scope, -1), release)
            if event["reason"] == "redeploy":
                return
            if rng.random() < 0.03:
                later = done + dt.timedelta(hours=rng.uniform(1, 8))
                self._push(st, later, "deploy", {**event, "reason": "redeploy"})
            nxt = position + 1
            if nxt >= len(self.spec.environments) or rng.random() > _PROMOTE_P[min(position, 2)]:
                return
            mu, sigma = _PROMOTE_GAP[min(position, 2)]
            hours = rng.lognormvariate(mu, sigma) * (0.1 if info["hotfix"] else 1.0)
            when = done + dt.timedelta(hours=min(hours, 240))
            if when.weekday() >= 5 and not info["hotfix"]:
                when += dt.timedelta(days=7 - when.weekday())  # no weekend promotions
            env = ENV_BY_ID[self.spec.environments[nxt]]
            tenants: list[str | None] = [None]
            if self.spec.tenanted and is_production(env.name):
                tenants = [t[0] for t in TENANTS]
            for offset, tenant in enumerate(tenants):
                later = when + dt.timedelta(minutes=offset * rng.uniform(5, 60))
                payload = {"release": release, "env": nxt, "tenant": tenant, "reason": "promote"}
                self._push(st, later, "deploy", payload)
            return
        if final in ("Failed", "TimedOut"):
            st.streak[scope] = st.streak.get(scope, 0) + 1
            env_name = ENV_BY_ID[self.spec.environments[position]].name
            if (
                is_production(env_name)
                and self.hotfix_channel
                and event["tenant"] is None
                and rng.random() < 0.35
            ):
                later = done + dt.timedelta(minutes=rng.uniform(30, 240))
                self._push(st, later, "release", {"hotfix": True})
                return
            if position == 0 and rng.random() < 0.5:
                return  # the next release will fix Development
        elif rng.random() > 0.6:  # cancelled: sometimes retried
            return
        minutes = min(max(rng.lognormvariate(math.log(45), 0.9), 5), 480)
        later = done + dt.timedelta(minutes=minutes)
        self._push(st, later, "deploy", {**event, "reason": "retry"})


class OctopusOrganisation:
    """The Octopus Deploy part of the simulated organisation (ground truth + day lookups).

    Nothing beyond the static catalogue (projects, environments, channels, tenants) is built
    here; histories are generated per (project, day) on demand.
    """

    def __init__(
        self,
        as_of: dt.date,
        *,
        seed: int = 7,
        deploy_days: int = 430,
        projects: int = 4,
        deploy_cadence: float = 1.0,
    ) -> None:
        """``deploy_days`` of history ending with ``as_of`` (430 by default, so the 365-day
        lookback and its slack have data) for the first ``projects`` (1..4) projects.

        ``deploy_cadence`` multiplies every project's release rate (0.4 to 0.9 releases per
        weekday at 1.0, the standard organisation), and with it the deployments that promote
        them. A project cuts at most 25 releases and runs at most 25 deployments a day; more
        spill over to the next day.
        """
        if not 1 <= projects <= MAX_PROJECTS:
            raise ValueError(f"projects must be between 1 and {MAX_PROJECTS}")
        if deploy_cadence < 0:
            raise ValueError("deploy_cadence must be >= 0")
        self.deploy_cadence = deploy_cadence
        self.as_of = as_of
        self.seed = seed
        self.deploy_days = deploy_days
        self.first_day = as_of - dt.timedelta(days=deploy_days - 1)
        self.end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        self.specs = PROJECTS[:projects]
        self.channel_ids: dict[str, tuple[str, str | None]] = {}
        counter = 0
        for slot, spec in enumerate(self.specs):
            counter += 1
            default = f"Channels-{counter}"
            hotfix = None
            if spec.hotfix_channel:
                counter += 1
                hotfix = f"Channels-{counter}"
            self.channel_ids[f"Projects-{slot + 1}"] = (default, hotfix)
        self._projects = [_Project(self, slot, spec) for slot, spec in enumerate(self.specs)]
        self._lock = threading.Lock()
        self._deployment_index: list[tuple] | None = None
        self._release_index: list[tuple] | None = None
        self._interruption_index: list[tuple] | None = None

    @property
    def days(self) -> list[dt.date]:
        return days_between(self.first_day, self.as_of)

    def project_slot(self, project_id: str) -> int | None:
        number = number_of(project_id, "Projects")
        if number is None or not 1 <= number <= len(self._projects):
            return None
        return number - 1

    def day(self, slot: int, day: dt.date) -> DayRecords:
        if not 0 <= slot < len(self._projects):
            return DayRecords()
        return self._projects[slot].day(day)

    # -- lookups by id (one day regenerated) ---------------------------------------------------

    def _by_number(self, number: int | None, kind: str) -> dict | None:
        if number is None:
            return None
        day, slot, sequence = locate(number)
        records = getattr(self.day(slot, day), kind)
        if kind in ("interruptions", "defects"):
            key = "id"
            wanted = {"interruptions": "Interruptions", "defects": "Defects"}[kind]
            return next((r for r in records if r[key] == f"{wanted}-{number}"), None)
        return records[sequence] if sequence < len(records) else None

    def deployment(self, deployment_id: str) -> dict | None:
        return self._by_number(number_of(deployment_id, "Deployments"), "deployments")

    def task(self, task_id: str) -> dict | None:
        number = number_of(task_id, "ServerTasks")
        if number is None or number < TASK_OFFSET:
            return None
        return self._by_number(number - TASK_OFFSET, "deployments")

    def release(self, release_id: str) -> dict | None:
        return self._by_number(number_of(release_id, "Releases"), "releases")

    def interruption(self, interruption_id: str) -> dict | None:
        return self._by_number(number_of(interruption_id, "Interruptions"), "interruptions")

    def release_defects(self, release_id: str) -> list[dict]:
        defect = self._by_number(number_of(release_id, "Releases"), "defects")
        return [defect] if defect is not None else []

    # -- compact indexes for listing (built lazily, a few tuples per record) -------------------

    def deployment_index(self) -> list[tuple]:
        """(created_at, number, project_id, environment_id, tenant_id, channel_id, times), newest
        first; ``times`` holds what :func:`task_state` needs, so state filters need no bodies."""
        with self._lock:
            if self._deployment_index is None:
                rows = [
                    (
                        d["created_at"],
                        d["number"],
                        d["project_id"],
                        d["environment_id"],
                        d["tenant_id"],
                        d["channel_id"],
                        {k: d[k] for k in _TIME_KEYS},
                    )
                    for d in self._all("deployments")
                ]
                self._deployment_index = sorted(rows, key=lambda r: r[:2], reverse=True)
            return self._deployment_index

    def release_index(self) -> list[tuple]:
        """(created_at, number, project_id, channel_id), newest first."""
        with self._lock:
            if self._release_index is None:
                rows = [
                    (r["created_at"], r["number"], r["project_id"], r["channel_id"])
                    for r in self._all("releases")
                ]
                self._release_index = sorted(rows, reverse=True)
            return self._release_index

    def interruption_index(self) -> list[tuple]:
        """(created_at, number), newest first."""
        with self._lock:
            if self._interruption_index is None:
                rows = [(i["created_at"], i["number"]) for i in self._all("interruptions")]
                self._interruption_index = sorted(rows, reverse=True)
            return self._interruption_index

    def _all(self, kind: str) -> Iterator[dict]:
        for project in self._projects:
            for day in project.history.days:
                yield from getattr(project.day(day), kind)

    # -- ground truth --------------------------------------------------------------------------

    def projects(self) -> Iterator[dict]:
        for slot, spec in enumerate(self.specs):
            project_id = f"Projects-{slot + 1}"
            yield {
                "id": project_id,
                "name": spec.name,
                "slug": spec.slug,
                "project_group_id": spec.group_id,
                "lifecycle_id": "Lifecycles-1",
                "repository": spec.repository,
                "tenanted_deployment_mode": "TenantedOrUntenanted"
                if spec.tenanted
                else "Untenanted",
                "environment_ids": list(spec.environments),
            }

    def environments(self) -> Iterator[dict]:
        for env in ENVIRONMENTS:
            yield {
                "id": env.id,
                "name": env.name,
                "sort_order": env.sort_order,
                "use_guided_failure": env.use_guided_failure,
                "is_production": is_production(env.name),
            }

    def channels(self) -> Iterator[dict]:
        for project_id, (default, hotfix) in self.channel_ids.items():
            yield {
                "id": default,
                "project_id": project_id,
                "name": "Default",
                "is_default": True,
                "lifecycle_id": None,
            }
            if hotfix:
                yield {
                    "id": hotfix,
                    "project_id": project_id,
                    "name": "Hotfix",
                    "is_default": False,
                    "lifecycle_id": "Lifecycles-2",
                }

    def tenants(self) -> Iterator[dict]:
        tenanted = [f"Projects-{s + 1}" for s, spec in enumerate(self.specs) if spec.tenanted]
        for tenant_id, name, tag in TENANTS:
            yield {
                "id": tenant_id,
                "name": name,
                "tags": [tag],
                "project_environments": {p: ["Environments-3"] for p in tenanted},
            }

    def releases(self) -> Iterator[dict]:
        """Every release (created by the end of as_of), day by day per project."""
        for release in self._all("releases"):
            yield {k: v for k, v in release.items() if k != "number"}

    def deployments(self, at: dt.datetime | None = None) -> Iterator[dict]:
        """Every deployment created by ``at`` (default: end of as_of), state as of ``at``.

        ``completed_at`` is None (and ``state`` Queued/Executing/Cancelling) for tasks still
        running at ``at``; ``final_state`` is how the task eventually ends.
        """
        at = at or self.end
        for d in self._all("deployments"):
            if d["created_at"] > at:
                continue
            state = task_state(d, at)
            finished = state in TERMINAL
            row = {k: v for k, v in d.items() if k not in ("number", "has_warnings")}
            row["state"] = state
            row["started_at"] = d["started_at"] if d["started_at"] <= at else None
            row["completed_at"] = d["completed_at"] if finished else None
            row["error_message"] = d["error_message"] if finished else ""
            yield row

    def interruptions(self, at: dt.datetime | None = None) -> Iterator[dict]:
        at = at or self.end
        for i in self._all("interruptions"):
            if i["created_at"] <= at:
                pending = i["responded_at"] > at
                yield {
                    **{k: v for k, v in i.items() if k != "number"},
                    "is_pending": pending,
                    "responded_at": None if pending else i["responded_at"],
                    "guidance": None if pending else i["guidance"],
                }

    def defects(self, at: dt.datetime | None = None) -> Iterator[dict]:
        at = at or self.end
        for d in self._all("defects"):
            if d["created_at"] <= at:
                resolved = d["resolved_at"] is not None and d["resolved_at"] <= at
                yield {
                    **d,
                    "resolved_at": d["resolved_at"] if resolved else None,
                    "status": "Resolved" if resolved else "Unresolved",
                }


def _poisson(rng: random.Random, mean: float) -> int:
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def generate_octopus(
    as_of: dt.date,
    *,
    seed: int = 7,
    deploy_days: int = 430,
    projects: int = 4,
    deploy_cadence: float = 1.0,
) -> OctopusOrganisation:
    return OctopusOrganisation(
        as_of, seed=seed, deploy_days=deploy_days, projects=projects, deploy_cadence=deploy_cadence
    )
