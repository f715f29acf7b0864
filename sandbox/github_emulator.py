"""A local emulator of the GitHub REST API endpoints the warehouse ingests (Actions, Deployments).

It serves a :class:`~sandbox.github_org.GitHubOrganisation` in the shapes of
``shared/api-samples/github`` (beside the checkout) and behaves like GitHub where clients notice:

* Auth: ``Authorization: Bearer <token>`` or ``token <token>``; otherwise ``401`` with
  ``{"message": "Bad credentials", "documentation_url": ..., "status": "401"}``.
* Every response carries ``x-ratelimit-limit/remaining/used/reset/resource`` (a 5,000/hour
  budget; ``GET /rate_limit`` is free). :meth:`GitHubEmulator.inject_rate_limit` produces the
  primary (remaining 0) and secondary (message, optional ``retry-after``) limit responses.
* ``page``/``per_page`` (default 30, max 100) with a ``link`` header (rel prev/next/last/first in
  GitHub's order, absent on a single page) whose URLs use ``/repositories/{id}/...`` as GitHub's
  do; those routes are served too. Runs and jobs are wrapped ``{total_count, ...}``; deployments,
  statuses and commits are bare arrays.
* Runs: newest first, the latest attempt only; ``created`` (search syntax), ``branch``,
  ``event``, ``status`` (status or conclusion), ``actor``, ``head_sha``, ``check_suite_id``,
  ``exclude_pull_requests``. With any of those filters only the first 1,000 results can be
  paged to; ``total_count`` still reports every match.
* Time travel: :attr:`GitHubEmulator.at` (default the end of ``as_of``) is the instant served.

Unknown repositories, ids and paths give GitHub's 404 body.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.github_org import (
    DeploymentRecord,
    GitHubOrganisation,
    GitHubRepository,
    JobRecord,
    RunRecord,
    StatusRecord,
    _RepoSim,
    login_of,
    user_id_of,
    visible_state,
)
from sandbox.repositories import Commit
from sandbox.server import ApiError, EmulatorServer, Headers, Query, Response, last

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
PRIMARY_MESSAGE = "API rate limit exceeded for user ID 1."
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
SEARCH_CAP = 1000
_CAPPED_FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
_CONCLUSIONS = {
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "skipped",
    "stale",
    "success",
    "timed_out",
    "startup_failure",
}
BOT = "github-actions[bot]"


def ts(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_ms(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def node_id(kind: str, value: object) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{value}".encode()).decode()


# -- created=... (GitHub search date syntax) ---------------------------------------------------


def _bound(text: str) -> tuple[dt.datetime, dt.datetime]:
    """[first instant, last instant] a date or date-time stands for."""
    text = text.strip()
    try:
        if "T" not in text:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ApiError(422, "Validation Failed") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment, moment


def _comparison(
    operator: str, low: dt.datetime, high: dt.datetime
) -> Callable[[dt.datetime], bool]:
    if operator == ">=":
        return lambda t: t >= low
    if operator == "<=":
        return lambda t: t <= high
    if operator == ">":
        return lambda t: t > high
    return lambda t: t < low


def parse_created(expression: str) -> Callable[[dt.datetime], bool]:
    """``>=X``, ``>X``, ``<=X``, ``<X``, ``X..Y`` (``*`` open), or ``X`` (a whole day or instant)."""
    text = expression.strip()
    for operator in (">=", "<=", ">", "<"):
        if text.startswith(operator):
            low, high = _bound(text[len(operator) :])
            return _comparison(operator, low, high)
    if ".." in text:
        first, second = text.split("..", 1)
        low = _bound(first)[0] if first.strip() != "*" else None
        high = _bound(second)[1] if second.strip() != "*" else None
        return lambda t: (low is None or t >= low) and (high is None or t <= high)
    low, high = _bound(text)
    return lambda t: low <= t <= high


def created_days(expression: str) -> tuple[dt.date | None, dt.date | None]:
    """The UTC days a ``created`` filter can match, widened by a day each side (a cheap bound to
    skip whole days; parse_created still decides each run). None: open on that side."""
    text = expression.strip()
    low: dt.datetime | None
    high: dt.datetime | None
    if text[:2] in (">=", "<=") or text[:1] in (">", "<"):
        operator = text[:2] if text[:2] in (">=", "<=") else text[:1]
        first, last_ = _bound(text[len(operator) :])
        low, high = (first, None) if operator.startswith(">") else (None, last_)
    elif ".." in text:
        start, end = text.split("..", 1)
        low = _bound(start)[0] if start.strip() != "*" else None
        high = _bound(end)[1] if end.strip() != "*" else None
    else:
        low, high = _bound(text)
    day = dt.timedelta(days=1)
    return (
        None if low is None else low.date() - day,
        None if high is None else high.date() + day,
    )


class GitHubEmulator(EmulatorServer):
    """Serves a :class:`GitHubOrganisation` as the GitHub REST API on ``127.0.0.1``."""

    name = "github"

    def __init__(
        self,
        org: GitHubOrganisation,
        *,
        token: str = "sandbox-github-token",
        prefix: str = "",
        at: dt.datetime | None = None,
        api_url: str | None = None,
        html_url: str = "https://github.com",
        rate_limit: int = 5000,
        enforce_rate_limit: bool = False,
    ) -> None:
        super().__init__()
        self.org = org
        self.token = token
        self.prefix = prefix.rstrip("/")
        self.at: dt.datetime | None = at or org.end
        self.api_url = api_url  # the API root written into bodies; default: this server
        self.html_url = html_url.rstrip("/")
        self.rate_limit = rate_limit
        self.enforce_rate_limit = enforce_rate_limit
        self._rate_lock = threading.Lock()
        self._window_start = time.time()
        self._used = 0
        self._rate_faults: list[list[Any]] = []  # [kind, remaining, status, retry_after]
        repo_routes: tuple[tuple[str, str, Callable[..., Any]], ...] = (
            ("", "", self.get_repo),
            ("/actions/workflows", "/actions/workflows", self.list_workflows),
            ("/actions/runs", "/actions/runs", self.list_runs),
            ("/actions/runs/{run_id}", r"/actions/runs/(?P<run_id>\d+)", self.get_run),
            (
                "/actions/runs/{run_id}/attempts/{attempt_number}",
                r"/actions/runs/(?P<run_id>\d+)/attempts/(?P<attempt>\d+)",
                self.get_attempt,
            ),
            ("/actions/runs/{run_id}/jobs", r"/actions/runs/(?P<run_id>\d+)/jobs", self.list_jobs),
            (
                "/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
                r"/actions/runs/(?P<run_id>\d+)/attempts/(?P<attempt>\d+)/jobs",
                self.list_attempt_jobs,
            ),
            ("/deployments", "/deployments", self.list_deployments),
            (
                "/deployments/{deployment_id}",
                r"/deployments/(?P<deployment_id>\d+)",
                self.get_deployment,
            ),
            (
                "/deployments/{deployment_id}/statuses",
                r"/deployments/(?P<deployment_id>\d+)/statuses",
                self.list_statuses,
            ),
            ("/environments", "/environments", self.list_environments),
            ("/compare/{basehead}", r"/compare/(?P<basehead>.+)", self.compare),
            ("/commits", "/commits", self.list_commits),
        )
        for suffix_template, suffix_pattern, handler in repo_routes:
            self.route(
                f"GET /repos/{{owner}}/{{repo}}{suffix_template}",
                rf"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+){suffix_pattern}$",
                handler,
            )
            self.route(
                f"GET /repositories/{{repository_id}}{suffix_template}",
                rf"^/repositories/(?P<repository_id>\d+){suffix_pattern}$",
                handler,
            )
        self.route("GET /rate_limit", r"^/rate_limit$", self.get_rate_limit)

    # -- auth, errors, rate limits ----------------------------------------------------------------

    def authorised(self, headers: Headers, query: Query) -> bool:
        scheme, _, value = headers.get("authorization", "").strip().partition(" ")
        return scheme.lower() in ("bearer", "token") and value.strip() == self.token

    def unauthorized(self) -> Response:
        return Response(401, self.error_body(401, "Bad credentials"))

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message, "documentation_url": DOCS, "status": str(status)}

    def inject_rate_limit(
        self,
        kind: str,
        count: int,
        *,
        retry_after: int | None = None,
        status: int = 403,
    ) -> None:
        """The next ``count`` requests hit GitHub's primary or secondary rate limit."""
        if kind not in ("primary", "secondary"):
            raise ValueError("kind must be 'primary' or 'secondary'")
        if count >= 1:
            with self._rate_lock:
                self._rate_faults.append([kind, count, status, retry_after])

    def clear_faults(self) -> None:
        super().clear_faults()
        with self._rate_lock:
            self._rate_faults.clear()

    def _rate_state(self, count: bool) -> tuple[int, int, int]:
        """(used, remaining, reset epoch) after counting this request when ``count``."""
        with self._rate_lock:
            now = time.time()
            if now >= self._window_start + 3600 or (
                not self.enforce_rate_limit and self._used >= self.rate_limit
            ):
                self._window_start, self._used = now, 0
            if count and self._used < self.rate_limit:
                self._used += 1
            reset = int(self._window_start + 3600)
            return self._used, self.rate_limit - self._used, reset

    def _rate_headers(self, used: int, remaining: int, reset: int) -> Headers:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }

    def handle(self, method: str, raw_target: str, headers: Headers):
        path = urllib.parse.urlsplit(raw_target).path
        template = self._match(method, path)[0]
        free = template == "GET /rate_limit"
        with self._rate_lock:
            fault = self._rate_faults[0] if self._rate_faults else None
            if fault is not None:
                fault[1] -= 1
                if fault[1] <= 0:
                    self._rate_faults.pop(0)
        if fault is not None:
            kind, _, status, retry_after = fault
            used, remaining, reset = self._rate_state(count=False)
            if kind == "primary":
                extra = self._rate_headers(self.rate_limit, 0, reset)
                message, docs = PRIMARY_MESSAGE, RATE_DOCS
            else:
                extra = self._rate_headers(used, remaining, reset)
                message, docs = SECONDARY_MESSAGE, RATE_DOCS + "#about-secondary-rate-limits"
            if retry_after is not None:
                extra = {"retry-after": str(retry_after), **extra}
            body = {"message": message, "documentation_url": docs, "status": str(status)}
            return template, Response(status, body, extra), None
        used, remaining, reset = self._rate_state(count=not free)
        if self.enforce_rate_limit and remaining <= 0 and not free:
            body = {"message": PRIMARY_MESSAGE, "documentation_url": RATE_DOCS, "status": "403"}
            return template, Response(403, body, self._rate_headers(used, 0, reset)), None
        template, response, body_fault = super().handle(method, raw_target, headers)
        response.headers = {**self._rate_headers(used, remaining, reset), **response.headers}
        return template, response, body_fault

    def get_rate_limit(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        used, remaining, reset = self._rate_state(count=False)
        core = {"limit": self.rate_limit, "used": used, "remaining": remaining, "reset": reset}
        resources = {
            "core": core,
            "search": {"limit": 30, "used": 0, "remaining": 30, "reset": reset},
            "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset},
            "actions_runner_registration": {
                "limit": 10000,
                "used": 0,
                "remaining": 10000,
                "reset": reset,
            },
        }
        return {"resources": resources, "rate": dict(core)}

    # -- helpers --------------------------------------------------------------------------------

    @property
    def _now(self) -> dt.datetime:
        return self.at or self.org.end

    @property
    def _api(self) -> str:
        return (self.api_url or self.base_url).rstrip("/")

    def _sim(self, params: dict[str, str]) -> _RepoSim:
        if "repository_id" in params:
            wanted = int(params["repository_id"])
            repo = next((r for r in self.org.repositories if r.id == wanted), None)
            sim = self.org.sim(repo.full_name) if repo else None
        else:
            sim = self.org.sim(f"{params['owner']}/{params['repo']}")
        if sim is None:
            raise ApiError(404, "Not Found")
        return sim

    @staticmethod
    def _page_args(query: Query) -> tuple[int, int]:
        def number(name: str, default: int) -> int:
            try:
                value = int(last(query, name) or default)
            except ValueError:
                return default
            return value if value >= 1 else default

        return number("page", 1), min(number("per_page", 30), 100)

    def _link(
        self, repo: GitHubRepository, suffix: str, query: Query, page: int, last_page: int
    ) -> Headers:
        """GitHub's ``link`` header (absent when everything fits one page)."""
        if last_page <= 1 and page <= 1:
            return {}

        def url(number: int) -> str:
            pairs = [(k, v) for k, values in query.items() for v in values if k != "page"]
            if "page" in query:
                position = list(query).index("page")
                pairs.insert(position, ("page", str(number)))
            else:
                pairs.append(("page", str(number)))
            return f"{self._api}/repositories/{repo.id}{suffix}?{urllib.parse.urlencode(pairs)}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last_page))}>; rel="prev"')
        if page < last_page:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last_page)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return {"link": ", ".join(links)}

    def _paged(
        self, repo: GitHubRepository, suffix: str, query: Query, items: list, reachable: int
    ) -> tuple[list, Headers]:
        page, per_page = self._page_args(query)
        last_page = max(1, math.ceil(reachable / per_page))
        start = (page - 1) * per_page
        chunk = items[start : min(start + per_page, reachable)] if start < reachable else []
        return chunk, self._link(repo, suffix, query, page, last_page)

    def _user(self, login: str) -> dict:
        bot = login.endswith("[bot]")
        user_id = 41898282 if login == BOT else user_id_of(login)
        base = f"https://api.github.com/users/{login}"
        return {
            "login": login,
            "id": user_id,
            "node_id": node_id("Bot" if bot else "User", user_id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": base,
            "html_url": f"{self.html_url}/{login}"
            if not bot
            else f"{self.html_url}/apps/github-actions",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": "Bot" if bot else "User",
            "site_admin": False,
        }

    def _owner(self, repo: GitHubRepository) -> dict:
        owner = self._user(repo.owner)
        owner["id"] = 9_000_000 + repo.id % 1000
        owner["node_id"] = node_id("Organization", owner["id"])
        owner["type"] = "Organization"
        return owner

    def _repo_json(self, repo: GitHubRepository, *, full: bool = False) -> dict:
        api = f"{self._api}/repos/{repo.full_name}"
        html = f"{self.html_url}/{repo.full_name}"
        body: dict[str, Any] = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": True,
            "owner": self._owner(repo),
            "html_url": html,
            "description": f"The {repo.name} service",
            "fork": False,
            "url": api,
        }
        for name, suffix in (
            ("archive_url", "/{archive_format}{/ref}"),
            ("assignees_url", "/assignees{/user}"),
            ("blobs_url", "/git/blobs{/sha}"),
            ("branches_url", "/branches{/branch}"),
            ("collaborators_url", "/collaborators{/collaborator}"),
            ("comments_url", "/comments{/number}"),
            ("commits_url", "/commits{/sha}"),
            ("compare_url", "/compare/{base}...{head}"),
            ("contents_url", "/contents/{+path}"),
            ("contributors_url", "/contributors"),
            ("deployments_url", "/deployments"),
            ("downloads_url", "/downloads"),
            ("events_url", "/events"),
            ("forks_url", "/forks"),
            ("git_commits_url", "/git/commits{/sha}"),
            ("git_refs_url", "/git/refs{/sha}"),
            ("git_tags_url", "/git/tags{/sha}"),
            ("hooks_url", "/hooks"),
            ("issue_comment_url", "/issues/comments{/number}"),
            ("issue_events_url", "/issues/events{/number}"),
            ("issues_url", "/issues{/number}"),
            ("keys_url", "/keys{/key_id}"),
            ("labels_url", "/labels{/name}"),
            ("languages_url", "/languages"),
            ("merges_url", "/merges"),
            ("milestones_url", "/milestones{/number}"),
            ("notifications_url", "/notifications{?since,all,participating}"),
            ("pulls_url", "/pulls{/number}"),
            ("releases_url", "/releases{/id}"),
            ("stargazers_url", "/stargazers"),
            ("statuses_url", "/statuses/{sha}"),
            ("subscribers_url", "/subscribers"),
            ("subscription_url", "/subscription"),
            ("tags_url", "/tags"),
            ("teams_url", "/teams"),
            ("trees_url", "/git/trees{/sha}"),
        ):
            body[name] = api + suffix
        if full:
            sim = self.org.sim(repo.full_name)
            assert sim is not None
            head = sim.resolve(repo.default_branch, self._now)
            pushed = head.committed_at if head else repo.created_at
            body.update(
                {
                    "git_url": f"git://github.com/{repo.full_name}.git",
                    "ssh_url": f"git@github.com:{repo.full_name}.git",
                    "clone_url": f"{html}.git",
                    "svn_url": html,
                    "homepage": None,
                    "language": "Python",
                    "forks_count": 0,
                    "stargazers_count": 3,
                    "watchers_count": 3,
                    "size": 10240,
                    "default_branch": repo.default_branch,
                    "open_issues_count": 4,
                    "is_template": False,
                    "topics": [],
                    "has_issues": True,
                    "has_projects": False,
                    "has_wiki": False,
                    "has_pages": False,
                    "has_downloads": True,
                    "has_discussions": False,
                    "archived": False,
                    "disabled": False,
                    "visibility": "private",
                    "pushed_at": ts(pushed),
                    "created_at": ts(repo.created_at),
                    "updated_at": ts(pushed),
                    "permissions": {
                        "admin": False,
                        "maintain": False,
                        "push": False,
                        "triage": False,
                        "pull": True,
                    },
                    "allow_forking": False,
                    "web_commit_signoff_required": False,
                    "forks": 0,
                    "open_issues": 4,
                    "watchers": 3,
                    "network_count": 0,
                    "subscribers_count": 5,
                }
            )
        return body

    # -- repositories and workflows -------------------------------------------------------------

    def get_repo(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        return self._repo_json(self._sim(params).repo, full=True)

    def list_workflows(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        repo = self._sim(params).repo
        items = [w for w in repo.workflows if w.created_at <= self._now]
        chunk, link = self._paged(repo, "/actions/workflows", query, items, len(items))
        body = {
            "total_count": len(items),
            "workflows": [
                {
                    "id": w.id,
                    "node_id": node_id("Workflow", w.id),
                    "name": w.name,
                    "path": w.path,
                    "state": "active",
                    "created_at": ts(w.created_at),
                    "updated_at": ts(w.created_at),
                    "url": f"{self._api}/repos/{repo.full_name}/actions/workflows/{w.id}",
                    "html_url": f"{self.html_url}/{repo.full_name}/blob/{repo.default_branch}/{w.path}",
                    "badge_url": f"{self.html_url}/{repo.full_name}/workflows/{w.name}/badge.svg",
                }
                for w in chunk
            ],
        }
        return Response(200, body, link)

    # -- workflow runs --------------------------------------------------------------------------

    def _run_json(
        self, repo: GitHubRepository, run: RunRecord, number: int | None, exclude_prs: bool
    ) -> dict:
        at = self._now
        attempt = run.attempt_at(at) if number is None else run.attempts[number - 1]
        assert attempt is not None
        status = attempt.status_at(at)
        done = status == "completed"
        api = f"{self._api}/repos/{repo.full_name}"
        run_url = f"{api}/actions/runs/{run.id}"
        check_suite = run.id + 7_000_000_000 + attempt.number
        commit = run.commit
        if done:
            updated = attempt.completed_at
        elif attempt.first_start is not None and attempt.first_start <= at:
            updated = attempt.first_start
        else:
            updated = attempt.started_at
        prs = []
        if run.pull_request is not None and not exclude_prs:
            repo_ref = {"id": repo.id, "url": api, "name": repo.name}
            prs.append(
                {
                    "url": f"{api}/pulls/{run.pull_request}",
                    "id": 1_500_000_000 + run.pull_request * 7 + repo.index,
                    "number": run.pull_request,
                    "head": {"ref": run.head_branch, "sha": run.head_sha, "repo": repo_ref},
                    "base": {
                        "ref": repo.default_branch,
                        "sha": commit.parents[0] if commit.parents else run.head_sha,
                        "repo": repo_ref,
                    },
                }
            )
        startup_failure = done and attempt.conclusion == "startup_failure"
        title = commit.message.splitlines()[0]
        if run.event == "schedule":
            title = run.workflow.name
        repository = self._repo_json(repo)
        return {
            "id": run.id,
            "name": run.workflow.path if startup_failure else run.workflow.name,
            "node_id": node_id("WorkflowRun", run.id),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.workflow.path,
            "display_title": title,
            "run_number": run.run_number,
            "event": run.event,
            "status": status,
            "conclusion": attempt.conclusion if done else None,
            "workflow_id": run.workflow.id,
            "check_suite_id": check_suite,
            "check_suite_node_id": node_id("CheckSuite", check_suite),
            "url": run_url,
            "html_url": f"{self.html_url}/{repo.full_name}/actions/runs/{run.id}",
            "pull_requests": prs,
            "created_at": ts(run.created_at),
            "updated_at": ts(updated),
            "actor": self._user(run.actor),
            "run_attempt": attempt.number,
            "referenced_workflows": [],
            "run_started_at": ts(attempt.started_at),
            "triggering_actor": self._user(attempt.actor),
            "jobs_url": f"{run_url}/jobs",
            "logs_url": f"{run_url}/logs",
            "check_suite_url": f"{api}/check-suites/{check_suite}",
            "artifacts_url": f"{run_url}/artifacts",
            "cancel_url": f"{run_url}/cancel",
            "rerun_url": f"{run_url}/rerun",
            "previous_attempt_url": (
                f"{run_url}/attempts/{attempt.number - 1}" if attempt.number > 1 else None
            ),
            "workflow_url": f"{api}/actions/workflows/{run.workflow.id}",
            "head_commit": {
                "id": commit.sha,
                "tree_id": commit.sha[::-1],
                "message": commit.message,
                "timestamp": ts(commit.committed_at),
                "author": {"name": commit.author_name, "email": commit.author_email},
                "committer": {"name": commit.author_name, "email": commit.author_email},
            },
            "repository": repository,
            "head_repository": repository,
        }

    def _matching_runs(self, sim: _RepoSim, query: Query) -> Iterator[RunRecord]:
        at = self._now
        created = last(query, "created")
        created_ok = parse_created(created) if created else None
        branch, event = last(query, "branch"), last(query, "event")
        actor, head_sha = last(query, "actor"), last(query, "head_sha")
        status = last(query, "status")
        suite = last(query, "check_suite_id")
        first_day, last_day = created_days(created) if created else (None, None)
        for day in reversed(self.org.ci_days()):
            if day > at.date():
                continue
            # Only the days the created filter can reach (the source pages through windows).
            if (first_day is not None and day < first_day) or (
                last_day is not None and day > last_day
            ):
                continue
            for run in reversed(sim.run_summaries(day)):
                if run.created_at > at:
                    continue
                if created_ok and not created_ok(run.created_at):
                    continue
                if branch is not None and run.head_branch != branch:
                    continue
                if event is not None and run.event != event:
                    continue
                if actor is not None and run.actor != actor:
                    continue
                if head_sha is not None and run.head_sha != head_sha:
                    continue
                attempt = run.attempt_at(at)
                assert attempt is not None
                if suite is not None and str(run.id + 7_000_000_000 + attempt.number) != suite:
                    continue
                if status is not None:
                    current = attempt.status_at(at)
                    if status in _CONCLUSIONS:
                        if current != "completed" or attempt.conclusion != status:
                            continue
                    elif current != status:
                        continue
                yield run

    def list_runs(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        runs = list(self._matching_runs(sim, query))
        capped = any(last(query, name) is not None for name in _CAPPED_FILTERS)
        reachable = min(len(runs), SEARCH_CAP) if capped else len(runs)
        chunk, link = self._paged(sim.repo, "/actions/runs", query, runs, reachable)
        exclude = _flag(query, "exclude_pull_requests")
        body = {
            "total_count": len(runs),
            "workflow_runs": [self._run_json(sim.repo, run, None, exclude) for run in chunk],
        }
        return Response(200, body, link)

    def _run(self, sim: _RepoSim, params: dict[str, str]) -> RunRecord:
        run = sim.run(int(params["run_id"]))
        if run is None or run.created_at > self._now:
            raise ApiError(404, "Not Found")
        return run

    def _attempt_number(self, run: RunRecord, params: dict[str, str]) -> int:
        number = int(params["attempt"])
        latest = run.attempt_at(self._now)
        assert latest is not None
        if not 1 <= number <= latest.number:
            raise ApiError(404, "Not Found")
        return number

    def get_run(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        exclude = _flag(query, "exclude_pull_requests")
        return self._run_json(sim.repo, self._run(sim, params), None, exclude)

    def get_attempt(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        run = self._run(sim, params)
        exclude = _flag(query, "exclude_pull_requests")
        return self._run_json(sim.repo, run, self._attempt_number(run, params), exclude)

    # -- jobs -----------------------------------------------------------------------------------

    def _job_json(
        self, repo: GitHubRepository, run: RunRecord, attempt: int, job: JobRecord
    ) -> dict:
        at = self._now
        status, done = visible_state(job.created_at, job.started_at, job.completed_at, at)
        api = f"{self._api}/repos/{repo.full_name}"
        steps = []
        if status != "queued":
            for step in job.steps:
                step_status, step_done = visible_state(
                    step.started_at, step.started_at, step.completed_at, at
                )
                started = step.started_at <= at
                steps.append(
                    {
                        "name": step.name,
                        "status": step_status,
                        "conclusion": step.conclusion if step_done else None,
                        "number": step.number,
                        "started_at": ts_ms(step.started_at) if started else None,
                        "completed_at": ts_ms(step.completed_at) if step_done else None,
                    }
                )
        running = status != "queued" and job.conclusion != "skipped"
        return {
            "id": job.id,
            "run_id": run.id,
            "workflow_name": run.workflow.name,
            "head_branch": run.head_branch,
            "run_url": f"{api}/actions/runs/{run.id}",
            "run_attempt": attempt,
            "node_id": node_id("CheckRun", job.id),
            "head_sha": run.head_sha,
            "url": f"{api}/actions/jobs/{job.id}",
            "html_url": f"{self.html_url}/{repo.full_name}/actions/runs/{run.id}/job/{job.id}",
            "status": status,
            "conclusion": job.conclusion if done else None,
            "created_at": ts(job.created_at),
            "started_at": ts(job.started_at if status != "queued" else job.created_at),
            "completed_at": ts(job.completed_at) if done else None,
            "name": job.name,
            "steps": steps,
            "check_run_url": f"{api}/check-runs/{job.id}",
            "labels": list(job.template.labels),
            "runner_id": job.runner_id if running else None,
            "runner_name": job.runner_name if running else None,
            "runner_group_id": job.template.runner_group_id if running else None,
            "runner_group_name": job.template.runner_group_name if running else None,
        }

    def _jobs_response(
        self, sim: _RepoSim, run: RunRecord, numbers: list[int], suffix: str, query: Query
    ) -> Response:
        at = self._now
        items = [
            (number, job)
            for number in numbers
            for job in run.attempts[number - 1].jobs
            if job.created_at <= at
        ]
        chunk, link = self._paged(sim.repo, suffix, query, items, len(items))
        body = {
            "total_count": len(items),
            "jobs": [self._job_json(sim.repo, run, number, job) for number, job in chunk],
        }
        return Response(200, body, link)

    def list_jobs(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        run = self._run(sim, params)
        latest = run.attempt_at(self._now)
        assert latest is not None
        which = last(query, "filter") or "latest"
        if which not in ("latest", "all"):
            raise ApiError(422, "Validation Failed")
        numbers = list(range(1, latest.number + 1)) if which == "all" else [latest.number]
        return self._jobs_response(sim, run, numbers, f"/actions/runs/{run.id}/jobs", query)

    def list_attempt_jobs(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        run = self._run(sim, params)
        number = self._attempt_number(run, params)
        suffix = f"/actions/runs/{run.id}/attempts/{number}/jobs"
        return self._jobs_response(sim, run, [number], suffix, query)

    # -- deployments ----------------------------------------------------------------------------

    def _deployment_json(self, sim: _RepoSim, deployment: DeploymentRecord) -> dict:
        repo = sim.repo
        api = f"{self._api}/repos/{repo.full_name}"
        statuses = sim.statuses(deployment, self._now)
        updated = statuses[-1].created_at if statuses else deployment.created_at
        return {
            "url": f"{api}/deployments/{deployment.id}",
            "id": deployment.id,
            "node_id": node_id("Deployment", deployment.id),
            "sha": deployment.sha,
            "ref": deployment.ref,
            "task": deployment.task,
            "payload": {},
            "original_environment": deployment.environment,
            "environment": deployment.environment,
            "description": deployment.description,
            "creator": self._user(deployment.creator),
            "created_at": ts(deployment.created_at),
            "updated_at": ts(updated),
            "statuses_url": f"{api}/deployments/{deployment.id}/statuses",
            "repository_url": api,
            "transient_environment": False,
            "production_environment": deployment.production,
            "performed_via_github_app": None,
        }

    def _status_json(self, sim: _RepoSim, status: StatusRecord) -> dict:
        repo = sim.repo
        api = f"{self._api}/repos/{repo.full_name}"
        log = f"{self.html_url}/{repo.full_name}/deployments/{status.environment}"
        environment_url = (
            f"https://{status.environment}.{repo.name}.acme.example"
            if status.state == "success"
            else ""
        )
        return {
            "url": f"{api}/deployments/{status.deployment_id}/statuses/{status.id}",
            "id": status.id,
            "node_id": node_id("DeploymentStatus", status.id),
            "state": status.state,
            "creator": self._user(status.creator),
            "description": status.description,
            "environment": status.environment,
            "target_url": log,
            "created_at": ts(status.created_at),
            "updated_at": ts(status.created_at),
            "deployment_url": f"{api}/deployments/{status.deployment_id}",
            "repository_url": api,
            "environment_url": environment_url,
            "log_url": log,
            "performed_via_github_app": None,
        }

    def list_deployments(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        at = self._now
        wanted = {name: last(query, name) for name in ("sha", "ref", "task", "environment")}
        items = []
        for day in reversed(self.org.deploy_day_list()):
            if day > at.date():
                continue
            for record in reversed(sim.deployment_day(day)):
                if not isinstance(record, DeploymentRecord) or record.created_at > at:
                    continue
                if any(
                    value not in (None, "none") and getattr(record, name) != value
                    for name, value in wanted.items()
                ):
                    continue
                items.append(record)
        chunk, link = self._paged(sim.repo, "/deployments", query, items, len(items))
        return Response(200, [self._deployment_json(sim, d) for d in chunk], link)

    def _deployment(self, sim: _RepoSim, params: dict[str, str]) -> DeploymentRecord:
        deployment = sim.deployment(int(params["deployment_id"]))
        if deployment is None or deployment.created_at > self._now:
            raise ApiError(404, "Not Found")
        return deployment

    def get_deployment(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        return self._deployment_json(sim, self._deployment(sim, params))

    def list_statuses(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        deployment = self._deployment(sim, params)
        items = list(reversed(sim.statuses(deployment, self._now)))
        suffix = f"/deployments/{deployment.id}/statuses"
        chunk, link = self._paged(sim.repo, suffix, query, items, len(items))
        return Response(200, [self._status_json(sim, s) for s in chunk], link)

    def list_environments(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        repo = self._sim(params).repo
        api = f"{self._api}/repos/{repo.full_name}"
        items = [e for e in repo.environments if e.created_at <= self._now]
        chunk, link = self._paged(repo, "/environments", query, items, len(items))
        environments = []
        for env in chunk:
            rules = []
            if env.production:
                rules.append(
                    {
                        "id": env.id + 1,
                        "node_id": node_id("Gate", env.id + 1),
                        "type": "branch_policy",
                    }
                )
            environments.append(
                {
                    "id": env.id,
                    "node_id": node_id("Environment", env.id),
                    "name": env.name,
                    "url": f"{api}/environments/{env.name}",
                    "html_url": f"{self.html_url}/{repo.full_name}/deployments/activity_log?environments_filter={env.name}",
                    "created_at": ts(env.created_at),
                    "updated_at": ts(env.created_at),
                    "protection_rules": rules,
                    "deployment_branch_policy": (
                        {"protected_branches": True, "custom_branch_policies": False}
                        if env.production
                        else None
                    ),
                }
            )
        return Response(200, {"total_count": len(items), "environments": environments}, link)

    # -- commits --------------------------------------------------------------------------------

    def _commit_json(self, repo: GitHubRepository, commit: Commit) -> dict:
        api = f"{self._api}/repos/{repo.full_name}"
        html = f"{self.html_url}/{repo.full_name}"
        person = {"name": commit.author_name, "email": commit.author_email}
        user = self._user(login_of(commit.author_name))
        return {
            "sha": commit.sha,
            "node_id": node_id("Commit", commit.sha),
            "commit": {
                "author": {**person, "date": ts(commit.authored_at)},
                "committer": {**person, "date": ts(commit.committed_at)},
                "message": commit.message,
                "tree": {"sha": commit.sha[::-1], "url": f"{api}/git/trees/{commit.sha[::-1]}"},
                "url": f"{api}/git/commits/{commit.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": f"{api}/commits/{commit.sha}",
            "html_url": f"{html}/commit/{commit.sha}",
            "comments_url": f"{api}/commits/{commit.sha}/comments",
            "author": user,
            "committer": user,
            "parents": [
                {"sha": sha, "url": f"{api}/commits/{sha}", "html_url": f"{html}/commit/{sha}"}
                for sha in commit.parents
            ],
        }

    def compare(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        repo = sim.repo
        base_ref, sep, head_ref = params["basehead"].partition("...")
        if not sep:
            raise ApiError(404, "Not Found")
        base = sim.resolve(base_ref, self._now)
        head = sim.resolve(head_ref, self._now)
        if base is None or head is None:
            raise ApiError(404, "Not Found")
        ahead = sim.between(base.sha, head.sha)
        behind = sim.between(head.sha, base.sha)
        if behind:
            base_ancestors = {c.sha for c in sim.ancestors(base.sha)}
            merge_base = next(c for c in sim.ancestors(head.sha) if c.sha in base_ancestors)
        else:
            merge_base = base
        status = (
            "identical"
            if not ahead and not behind
            else "ahead"
            if not behind
            else "behind"
            if not ahead
            else "diverged"
        )
        link: Headers = {}
        if "page" in query or "per_page" in query:
            commits, link = self._paged(
                repo, f"/compare/{params['basehead']}", query, ahead, len(ahead)
            )
        else:
            commits = ahead[:250]
        html = f"{self.html_url}/{repo.full_name}"
        spec = params["basehead"]
        body = {
            "url": f"{self._api}/repos/{repo.full_name}/compare/{spec}",
            "html_url": f"{html}/compare/{spec}",
            "permalink_url": f"{html}/compare/{repo.owner}:{base.sha}...{repo.owner}:{head.sha}",
            "diff_url": f"{html}/compare/{spec}.diff",
            "patch_url": f"{html}/compare/{spec}.patch",
            "base_commit": self._commit_json(repo, base),
            "merge_base_commit": self._commit_json(repo, merge_base),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [self._commit_json(repo, c) for c in commits],
            "files": [],
        }
        return Response(200, body, link)

    def list_commits(self, params: dict[str, str], query: Query, headers: Headers) -> Any:
        sim = self._sim(params)
        ref = last(query, "sha") or sim.repo.default_branch
        head = sim.resolve(ref, self._now)
        if head is None:
            raise ApiError(404, "Not Found")
        since = _bound(last(query, "since") or "")[0] if last(query, "since") else None
        until = _bound(last(query, "until") or "")[1] if last(query, "until") else None
        items = [
            c
            for c in sim.ancestors(head.sha)
            if (since is None or c.committed_at >= since)
            and (until is None or c.committed_at <= until)
        ]
        chunk, link = self._paged(sim.repo, "/commits", query, items, len(items))
        return Response(200, [self._commit_json(sim.repo, c) for c in chunk], link)


def _flag(query: Query, name: str) -> bool:
    return (last(query, name) or "").lower() in ("true", "1")
