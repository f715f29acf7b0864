"""Git history of a simulated repository, generated day by day (see :mod:`sandbox.partitions`).

Every CI run and deployment of the simulated organisation points at a commit made here, so
commit-based metrics (change lead time, "passed and failed on the same commit") have real
histories to work on: a default branch that moves forward, feature branches that fork from it,
collect commits and are merged back with a merge commit (two parents).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace

from sandbox.partitions import DayPartitioned, days_between, rng_for

AUTHORS = (
    ("Ada Okafor", "ada@acme.example"),
    ("Bram de Vries", "bram@acme.example"),
    ("Chen Wei", "chen@acme.example"),
    ("Dana Levi", "dana@acme.example"),
    ("Emil Novak", "emil@acme.example"),
    ("Farah Haddad", "farah@acme.example"),
    ("Goran Petrov", "goran@acme.example"),
    ("Hana Sato", "hana@acme.example"),
)
TOPICS = (
    "login",
    "billing",
    "search",
    "cache",
    "metrics",
    "retry",
    "export",
    "onboarding",
    "api",
    "docs",
)


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    branch: str  # the branch the commit was made on
    author_name: str
    author_email: str
    authored_at: dt.datetime  # when the change was written (before it was pushed)
    committed_at: dt.datetime  # when it landed on the branch (the push time)
    message: str


@dataclass
class RepositoryState:
    """What one day hands to the next: branch heads and a counter. Small by design."""

    heads: dict[str, str]
    open_branches: dict[str, int] = field(default_factory=dict)  # feature branch -> commits so far
    branch_counter: int = 0


def commit_sha(repository: str, number: int) -> str:
    return hashlib.sha1(f"{repository}:{number}".encode()).hexdigest()


def activity(moment: dt.datetime) -> float:
    """Relative push activity by weekday and UTC hour: working hours, quiet weekends."""
    weekday_weight = 1.0 if moment.weekday() < 5 else 0.12
    hour_weight = 1.0 if 8 <= moment.hour < 18 else (0.35 if 6 <= moment.hour < 22 else 0.05)
    return weekday_weight * hour_weight


class RepositoryHistory:
    """Commits of one repository between ``first_day`` and ``last_day`` (inclusive)."""

    def __init__(
        self,
        seed: int,
        repository: str,
        first_day: dt.date,
        last_day: dt.date,
        *,
        default_branch: str = "main",
        pushes_per_weekday: float = 10.0,
    ) -> None:
        self.seed = seed
        self.repository = repository
        self.default_branch = default_branch
        self.pushes_per_weekday = pushes_per_weekday
        root = commit_sha(repository, 0)
        self.root = root
        self.history: DayPartitioned[RepositoryState, Commit] = DayPartitioned(
            days_between(first_day, last_day),
            RepositoryState(heads={default_branch: root}),
            self._generate_day,
        )

    def day(self, day: dt.date) -> list[Commit]:
        return self.history.day(day)

    def _generate_day(
        self, day: dt.date, state: RepositoryState
    ) -> tuple[list[Commit], RepositoryState]:
        rng = rng_for(self.seed, "repository", self.repository, day)
        heads = dict(state.heads)
        open_branches = dict(state.open_branches)
        counter = state.branch_counter
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        # Candidate push times over the day, thinned by the activity curve (whose mean over a
        # weekday is about 0.5, hence twice as many candidates as pushes wanted).
        pushes = []
        for _ in range(round(self.pushes_per_weekday * 2)):
            moment = start + dt.timedelta(seconds=rng.randrange(86_400))
            if rng.random() < activity(moment):
                pushes.append(moment)
        pushes.sort()
        commits: list[Commit] = []
        for number, pushed_at in enumerate(pushes):
            name, email = rng.choice(AUTHORS)
            sha = commit_sha(self.repository, (day.toordinal() << 12) + number + 1)
            authored_at = pushed_at - dt.timedelta(minutes=rng.lognormvariate(3.5, 1.0))
            if open_branches and rng.random() < 0.25:
                # Merge a finished feature branch into the default branch.
                branch = rng.choice(sorted(open_branches))
                parents = (heads[self.default_branch], heads.pop(branch))
                open_branches.pop(branch)
                commits.append(
                    Commit(
                        sha,
                        parents,
                        self.default_branch,
                        name,
                        email,
                        authored_at,
                        pushed_at,
                        f"Merge branch '{branch}'",
                    )
                )
                heads[self.default_branch] = sha
                continue
            if open_branches and rng.random() < 0.55:
                branch = rng.choice(sorted(open_branches))
                open_branches[branch] += 1
            elif rng.random() < 0.5:
                counter += 1
                branch = f"{rng.choice(('feature', 'fix', 'chore'))}/{rng.choice(TOPICS)}-{counter}"
                open_branches[branch] = 1
                heads[branch] = heads[self.default_branch]
            else:
                branch = self.default_branch
            parents = (heads[branch],)
            message = (
                f"{rng.choice(('Add', 'Fix', 'Refactor', 'Tune', 'Document'))} {rng.choice(TOPICS)}"
            )
            commits.append(
                Commit(sha, parents, branch, name, email, authored_at, pushed_at, message)
            )
            heads[branch] = sha
        # Branches abandoned after a while are dropped so the state stays small.
        for branch in [b for b, size in open_branches.items() if size > 8]:
            open_branches.pop(branch)
            heads.pop(branch, None)
        return commits, replace(
            state, heads=heads, open_branches=open_branches, branch_counter=counter
        )
