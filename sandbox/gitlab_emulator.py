"""A local emulator of the GitLab REST API v4 endpoints the warehouse ingests.

It serves a :class:`~sandbox.gitlab_org.GitLabOrganisation` in the shapes of
``shared/api-samples/gitlab`` (official examples from the GitLab docs)::

    with GitLabEmulator(GitLabOrganisation(as_of)) as api:
        requests.get(f"{api.base_url}/projects/acme%2Fbackend%2Forders-api/pipelines",
                      headers={"PRIVATE-TOKEN": api.token})

Behaviour mirrored from GitLab:

* Auth with ``PRIVATE-TOKEN`` or ``Authorization: Bearer``; otherwise
  ``401 {"message": "401 Unauthorized"}``.
* ``:id`` is the numeric project id or the URL-encoded full path.
* Offset pagination (``page``, ``per_page`` default 20, max 100) with ``X-Page``,
  ``X-Per-Page``, ``X-Next-Page`` (empty on the last page), ``X-Prev-Page``, ``X-Total``,
  ``X-Total-Pages`` and a ``Link`` header (prev, next, first, last; query keys sorted as Rails'
  ``to_query`` does). Above 10,000 records ``X-Total``, ``X-Total-Pages`` and ``rel="last"``
  are left out.
* Pipelines list newest first (``order_by=id``, ``sort=desc``) and has no start/finish times;
  the single-pipeline endpoint has them. Pipeline jobs come by id descending; retried jobs only
  with ``include_retried=true``. Deployments list ``order_by=id``, ``sort=asc`` by default.
* Time travel: :attr:`GitLabEmulator.at` (None = the end of ``as_of``) serves the organisation
  as it looked then.
* ``inject_rate_limit`` answers 429 with GitLab's ``RateLimit-*`` and ``Retry-After`` headers.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import urllib.parse
from typing import Any

from sandbox.gitlab_org import (
    RUNNERS,
    USER_BY_EMAIL,
    WEB_URL,
    DeploymentPlan,
    GitLabOrganisation,
    GitLabProject,
    JobPlan,
    PipelinePlan,
    User,
    test_report_cases,
)
from sandbox.repositories import Commit
from sandbox.server import ApiError, EmulatorServer, Headers, Query, Response, last

MAX_TOTAL = 10_000
_P = r"/projects/(?P<id>[^/]+(?:/[^/]+)*?)"
_RUNNERS = {runner_id: (name, kind, shared) for runner_id, name, kind, shared in RUNNERS}


def ts(moment: dt.datetime | None) -> str | None:
    """GitLab's timestamp: UTC with milliseconds."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def commit_ts(moment: dt.datetime, offset_hours: int) -> str:
    """Commit times carry the author's offset (``2015-12-24T16:51:14.000+01:00``)."""
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
    sign = "+" if offset_hours >= 0 else "-"
    return local.strftime("%Y-%m-%dT%H:%M:%S.000") + f"{sign}{abs(offset_hours):02d}:00"


def parse_time(value: str, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} is invalid") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_DETAILED = {
    "success": ("status_success", "Passed", "passed", "success", "passed"),
    "warning": ("status_warning", "Warning", "passed with warnings", "success-with-warnings", "passed"),
    "failed": ("status_failed", "Failed", "failed", "failed", "failed"),
    "canceled": ("status_canceled", "Canceled", "canceled", "canceled", "canceled"),
    "skipped": ("status_skipped", "Skipped", "skipped", "skipped", "skipped"),
    "manual": ("status_manual", "Manual", "manual action", "manual", "manual action"),
    "running": ("status_running", "Running", "running", "running", "running"),
    "pending": ("status_pending", "Pending", "pending", "pending", "pending"),
    "created": ("status_created", "Created", "created", "created", "created"),
}  # fmt: skip


class GitLabEmulator(EmulatorServer):
    """Serves a :class:`GitLabOrganisation` as GitLab REST API v4 on ``127.0.0.1``."""

    name = "gitlab"
    prefix = "/api/v4"

    def __init__(self, org: GitLabOrganisation, *, token: str = "sandbox-gitlab-token") -> None:
        super().__init__()
        self.org = org
        self.token = token
        self.at: dt.datetime | None = None  # None: the end of as_of
        routes = (
            ("GET /projects/:id", r"$", self._get_project),
            ("GET /projects/:id/pipelines", r"/pipelines$", self._list_pipelines),
            ("GET /projects/:id/pipelines/:pipeline_id", r"/pipelines/(?P<pid>\d+)$",
             self._get_pipeline),
            ("GET /projects/:id/pipelines/:pipeline_id/jobs", r"/pipelines/(?P<pid>\d+)/jobs$",
             self._list_jobs),
            ("GET /projects/:id/pipelines/:pipeline_id/test_report_summary",
             r"/pipelines/(?P<pid>\d+)/test_report_summary$", self._test_report_summary),
            ("GET /projects/:id/pipelines/:pipeline_id/test_report",
             r"/pipelines/(?P<pid>\d+)/test_report$", self._test_report),
            ("GET /projects/:id/deployments", r"/deployments$", self._list_deployments),
            ("GET /projects/:id/environments", r"/environments$", self._list_environments),
            ("GET /projects/:id/environments/:environment_id", r"/environments/(?P<eid>\d+)$",
             self._get_environment),
            ("GET /projects/:id/repository/compare", r"/repository/compare$", self._compare),
        )  # fmt: skip
        # Sub-resources first: a full path has slashes, so the project pattern is lazy.
        for template, tail, handler in sorted(routes, key=lambda r: -len(r[1])):
            self.route(template, "^" + _P + tail, handler)

    @property
    def now(self) -> dt.datetime:
        """The moment served: :attr:`at`, or the end of ``as_of``."""
        return self.at or self.org.end

    # -- provider specifics --------------------------------------------------------------------

    def authorised(self, headers: Headers, query: Query) -> bool:
        if headers.get("private-token") == self.token:
            return True
        return headers.get("authorization", "") == f"Bearer {self.token}"

    def unauthorized(self) -> Response:
        return Response(401, {"message": "401 Unauthorized"})

    def error_body(self, status: int, message: str) -> Any:
        if status == 404 and message == "Not Found":
            return {"error": "404 Not Found"}  # an unknown route
        if status == 429:
            return b"Retry later"  # GitLab's throttle answers in plain text
        if message[:3].isdigit():
            return {"message": message}
        return {"message": f"{status} {message}"}

    def inject_rate_limit(
        self, count: int, *, retry_after: int = 30, path_contains: str = ""
    ) -> None:
        """The next ``count`` matching requests are throttled as GitLab's rack-attack does."""
        reset = int(self.now.timestamp()) + retry_after
        headers = {
            "RateLimit-Limit": "2000",
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Observed": "2001",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True),
        }
        self.inject_faults(
            429, count, retry_after=retry_after, headers=headers, path_contains=path_contains
        )

    # -- helpers --------------------------------------------------------------------------------

    def _project(self, params: dict[str, str]) -> GitLabProject:
        project = self.org.project(params["id"])
        if project is None or project.created_at > self.now:
            raise ApiError(404, "404 Project Not Found")
        return project

    def _pipeline(self, params: dict[str, str]) -> tuple[GitLabProject, PipelinePlan]:
        project = self._project(params)
        plan = self.org.pipeline_plan(project, int(params["pid"]))
        if plan is None or plan.created_at > self.now:
            raise ApiError(404, "404 Not found")
        return project, plan

    def _paginate(
        self,
        items: list,
        query: Query,
        headers: Headers,
        path: str,
        route_params: dict[str, str],
        render,
    ) -> Response:
        page = _int(query, "page", 1)
        per_page = min(_int(query, "per_page", 20), 100)
        if page < 1:
            page = 1
        if per_page < 1:
            per_page = 20
        total = len(items)
        total_pages = max(1, -(-total // per_page))
        body = [render(item) for item in items[(page - 1) * per_page : page * per_page]]
        next_page = page + 1 if page < total_pages else None
        prev_page = page - 1 if page > 1 else None
        host = headers.get("host") or self.origin.split("//", 1)[1]
        base = f"http://{host}{self.prefix}{path}"
        params = {k: v[-1] for k, v in query.items() if k not in ("page", "per_page")}
        params.update(route_params)

        def link(number: int) -> str:
            values = dict(params, page=str(number), per_page=str(per_page))
            return base + "?" + urllib.parse.urlencode(sorted(values.items()))

        links = []
        if prev_page:
            links.append(f'<{link(prev_page)}>; rel="prev"')
        if next_page:
            links.append(f'<{link(next_page)}>; rel="next"')
        links.append(f'<{link(1)}>; rel="first"')
        out = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(next_page or ""),
            "X-Prev-Page": str(prev_page or ""),
        }
        if total <= MAX_TOTAL:
            links.append(f'<{link(total_pages)}>; rel="last"')
            out["X-Total"] = str(total)
            out["X-Total-Pages"] = str(total_pages)
        out["Link"] = ", ".join(links)
        return Response(200, body, out)

    # -- projects -------------------------------------------------------------------------------

    def _get_project(self, params: dict[str, str], query: Query, headers: Headers) -> dict:
        project = self._project(params)
        namespace = project.path_with_namespace.rsplit("/", 1)[0]
        activity = [self.org.end if self.now >= self.org.end else self.now]
        return {
            "id": project.id,
            "description": f"The {project.name} service.",
            "name": project.name,
            "name_with_namespace": " / ".join(project.path_with_namespace.split("/")),
            "path": project.name,
            "path_with_namespace": project.path_with_namespace,
            "created_at": ts(project.created_at),
            "default_branch": project.default_branch,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@gitlab.example.com:{project.path_with_namespace}.git",
            "http_url_to_repo": f"{project.web_url}.git",
            "web_url": project.web_url,
            "readme_url": f"{project.web_url}/-/blob/{project.default_branch}/README.md",
            "avatar_url": None,
            "forks_count": 0,
            "star_count": 2,
            "last_activity_at": ts(activity[0]),
            "namespace": {
                "id": 500 + project.index,
                "name": namespace.rsplit("/", 1)[-1],
                "path": namespace.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": namespace,
                "parent_id": 500 if "/" in namespace else None,
                "avatar_url": None,
                "web_url": f"{WEB_URL}/groups/{namespace}",
            },
            "visibility": "private",
            "archived": False,
            "empty_repo": False,
        }

    # -- pipelines ------------------------------------------------------------------------------

    def _list_pipelines(self, params: dict[str, str], query: Query, headers: Headers) -> Response:
        project = self._project(params)
        at = self.now
        filters = {name: last(query, name) for name in ("ref", "status", "source", "sha", "name")}
        bounds = {
            name: parse_time(value, name)
            for name in ("updated_after", "updated_before", "created_after", "created_before")
            if (value := last(query, name))
        }
        scope = last(query, "scope")
        order_by = last(query, "order_by") or "id"
        sort = last(query, "sort") or "desc"
        if order_by not in ("id", "status", "ref", "updated_at", "user_id"):
            raise ApiError(400, "400 Bad request - order_by does not have a valid value")
        if sort not in ("asc", "desc"):
            raise ApiError(400, "400 Bad request - sort does not have a valid value")
        rows = []
        for plan in self.org.pipeline_plans(project, at):
            view = plan.view(at)
            values = {"ref": plan.ref, "status": view.status, "source": plan.source,
                      "sha": plan.sha, "name": plan.name}  # fmt: skip
            if any(want is not None and values[key] != want for key, want in filters.items()):
                continue
            if not _in_bounds(plan.created_at, view.updated_at, bounds):
                continue
            if scope and not _pipeline_scope(scope, plan, view.status):
                continue
            rows.append((plan, view))
        keys = {
            "id": lambda row: row[0].id,
            "status": lambda row: (row[1].status, row[0].id),
            "ref": lambda row: (row[0].ref, row[0].id),
            "updated_at": lambda row: (row[1].updated_at, row[0].id),
            "user_id": lambda row: (row[0].user.id, row[0].id),
        }
        rows.sort(key=keys[order_by], reverse=sort == "desc")
        return self._paginate(
            rows, query, headers, f"/projects/{params['id']}/pipelines",
            {"id": params["id"]}, lambda row: self._pipeline_basic(project, *row),
        )  # fmt: skip

    def _pipeline_basic(self, project: GitLabProject, plan: PipelinePlan, view) -> dict:
        return {
            "id": plan.id,
            "iid": plan.iid,
            "project_id": project.id,
            "status": view.status,
            "source": plan.source,
            "ref": plan.ref,
            "sha": plan.sha,
            "name": plan.name,
            "web_url": f"{project.web_url}/-/pipelines/{plan.id}",
            "created_at": ts(plan.created_at),
            "updated_at": ts(view.updated_at),
        }

    def _get_pipeline(self, params: dict[str, str], query: Query, headers: Headers) -> dict:
        project, plan = self._pipeline(params)
        view = plan.view(self.now)
        key = "warning" if view.warnings else view.status
        icon, text, label, group, tooltip = _DETAILED.get(key, _DETAILED["created"])
        path = f"/{project.path_with_namespace}/-/pipelines/{plan.id}"
        return {
            "id": plan.id,
            "iid": plan.iid,
            "project_id": project.id,
            "name": plan.name,
            "sha": plan.sha,
            "ref": plan.ref,
            "status": view.status,
            "source": plan.source,
            "created_at": ts(plan.created_at),
            "updated_at": ts(view.updated_at),
            "web_url": f"{project.web_url}/-/pipelines/{plan.id}",
            "before_sha": plan.before_sha,
            "tag": plan.tag,
            "yaml_errors": None,
            "user": _user(plan.user),
            "started_at": ts(view.started_at),
            "finished_at": ts(view.finished_at),
            "committed_at": None,
            "duration": view.duration,
            "queued_duration": view.queued_duration,
            "coverage": view.coverage,
            "detailed_status": {
                "icon": icon,
                "text": text,
                "label": label,
                "group": group,
                "tooltip": tooltip,
                "has_details": False,
                "details_path": path,
                "illustration": None,
                "favicon": f"/assets/ci_favicons/favicon_{icon}.png",
            },
        }

    def _list_jobs(self, params: dict[str, str], query: Query, headers: Headers) -> Response:
        project, plan = self._pipeline(params)
        at = self.now
        include_retried = (last(query, "include_retried") or "false").lower() == "true"
        scopes = set(query.get("scope[]", []) + query.get("scope", []))
        view_status = plan.view(at).status
        rows = []
        for job in plan.jobs_at(at, include_retried=include_retried):
            status = job.status_at(at)
            if scopes and status not in scopes:
                continue
            rows.append((job, status))
        rows.sort(key=lambda row: row[0].index, reverse=True)
        return self._paginate(
            rows, query, headers,
            f"/projects/{params['id']}/pipelines/{plan.id}/jobs",
            {"id": params["id"], "pipeline_id": str(plan.id)},
            lambda row: self._job(project, plan, row[0], row[1], view_status),
        )  # fmt: skip

    def _job(
        self, project: GitLabProject, plan: PipelinePlan, job: JobPlan, status: str, pstatus: str
    ) -> dict:
        at = self.now
        started = job.started_at if job.started_at and job.started_at <= at else None
        finished = job.finished_at if job.finished_at and job.finished_at <= at else None
        if status not in ("success", "failed", "canceled"):
            finished = None
        duration = queued = None
        if started:
            duration = round(((finished or at) - started).total_seconds(), 3)
            queued = round((started - (job.enqueued_at or job.created_at)).total_seconds(), 3)
        elif status == "pending" and job.enqueued_at:
            queued = round((at - job.enqueued_at).total_seconds(), 3)
        job_id = plan.job_id(job)
        artifacts, archive = _artifacts(job, job_id) if finished else ([], None)
        body = {
            "commit": _commit_short(plan.commit),
            "coverage": job.coverage if finished and status == "success" else None,
            "archived": False,
            "source": plan.source,
            "allow_failure": job.allow_failure,
            "created_at": ts(job.created_at),
            "started_at": ts(started),
            "finished_at": ts(finished),
            "erased_at": None,
            "duration": duration,
            "queued_duration": queued,
        }
        if archive is not None:
            body["artifacts_file"] = archive
        body.update(
            {
                "artifacts": artifacts,
                "artifacts_expire_at": ts(finished + dt.timedelta(days=30))
                if archive is not None
                else None,
                "tag_list": ["docker", "linux"],
                "id": job_id,
                "name": job.name,
                "pipeline": {
                    "id": plan.id,
                    "project_id": project.id,
                    "ref": plan.ref,
                    "sha": plan.sha,
                    "status": pstatus,
                },
                "ref": plan.ref,
                "runner": _runner(job.runner) if started else None,
                "runner_manager": _runner_manager(job.runner, started) if started else None,
                "stage": job.stage,
                "status": status,
            }
        )
        if status == "failed":
            body["failure_reason"] = job.failure_reason or "script_failure"
        body.update(
            {
                "tag": plan.tag,
                "web_url": f"{project.web_url}/-/jobs/{job_id}",
                "project": {"ci_job_token_scope_enabled": False},
                "user": _user_full(plan.user),
            }
        )
        return body

    def _report(self, params: dict[str, str]):
        project, plan = self._pipeline(params)
        return plan, test_report_cases(project, plan, self.now, self.org.seed)

    def _test_report_summary(self, params: dict[str, str], query: Query, headers: Headers) -> dict:
        plan, suites = self._report(params)
        rows = []
        for job, cases in suites:
            counts = _counts(cases)
            rows.append(
                {
                    "name": _suite(job),
                    "total_time": counts["time"],
                    "total_count": counts["count"],
                    "success_count": counts["success"],
                    "failed_count": counts["failed"],
                    "skipped_count": counts["skipped"],
                    "error_count": counts["error"],
                    "build_ids": [plan.job_id(job)],
                    "suite_error": None,
                }
            )
        total = _counts([case for _, cases in suites for case in cases])
        return {"total": dict(total, suite_error=None), "test_suites": rows}

    def _test_report(self, params: dict[str, str], query: Query, headers: Headers) -> dict:
        _, suites = self._report(params)
        rank = {"failed": 0, "error": 1, "skipped": 2, "success": 3}
        rows = []
        for job, cases in suites:
            counts = _counts(cases)
            ordered = sorted(cases, key=lambda c: (rank[c["status"]], -c["execution_time"]))
            rows.append(
                {
                    "name": _suite(job),
                    "total_time": counts["time"],
                    "total_count": counts["count"],
                    "success_count": counts["success"],
                    "failed_count": counts["failed"],
                    "skipped_count": counts["skipped"],
                    "error_count": counts["error"],
                    "test_cases": ordered,
                }
            )
        total = _counts([case for _, cases in suites for case in cases])
        return {
            "total_time": total["time"],
            "total_count": total["count"],
            "success_count": total["success"],
            "failed_count": total["failed"],
            "skipped_count": total["skipped"],
            "error_count": total["error"],
            "test_suites": rows,
        }

    # -- deployments and environments -------------------------------------------------------

    def _list_deployments(self, params: dict[str, str], query: Query, headers: Headers) -> Response:
        project = self._project(params)
        at = self.now
        environment, status = last(query, "environment"), last(query, "status")
        order_by = last(query, "order_by") or "id"
        sort = last(query, "sort") or "asc"
        bounds = {
            name: parse_time(value, name)
            for name in ("updated_after", "updated_before", "finished_after", "finished_before")
            if (value := last(query, name))
        }
        if order_by not in ("id", "iid", "created_at", "updated_at", "finished_at", "ref"):
            raise ApiError(400, "400 Bad request - order_by does not have a valid value")
        if sort not in ("asc", "desc"):
            raise ApiError(400, "400 Bad request - sort does not have a valid value")
        if ("finished_after" in bounds or "finished_before" in bounds) and (
            order_by != "finished_at" or status != "success"
        ):
            raise ApiError(
                400,
                "400 Bad request - `finished_at` filter requires `finished_at` sort "
                "and `success` status",
            )
        rows = []
        for plan in self.org.deployment_plans(project, at):
            view = plan.view(at)
            if environment and plan.environment != environment:
                continue
            if status and view.status != status:
                continue
            finished = (
                plan.finished_at if view.status in ("success", "failed", "canceled") else None
            )
            if "updated_after" in bounds and not view.updated_at > bounds["updated_after"]:
                continue
            if "updated_before" in bounds and not view.updated_at < bounds["updated_before"]:
                continue
            if "finished_after" in bounds and not (
                finished and finished >= bounds["finished_after"]
            ):
                continue
            if "finished_before" in bounds and not (
                finished and finished < bounds["finished_before"]
            ):
                continue
            rows.append((plan, view, finished))
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        keys = {
            "id": lambda row: row[0].id,
            "iid": lambda row: row[0].iid,
            "created_at": lambda row: (row[0].created_at, row[0].id),
            "updated_at": lambda row: (row[1].updated_at, row[0].id),
            "finished_at": lambda row: (row[2] or epoch, row[0].id),
            "ref": lambda row: (row[0].pipeline.ref, row[0].id),
        }
        rows.sort(key=keys[order_by], reverse=sort == "desc")
        return self._paginate(
            rows, query, headers, f"/projects/{params['id']}/deployments",
            {"id": params["id"]}, lambda row: self._deployment(project, row[0], row[1].status,
                                                               row[1].updated_at),
        )  # fmt: skip

    def _environment_ref(self, project: GitLabProject, name: str) -> dict:
        for env_id, env_name, _, _ in self.org.environment_specs(project):
            if env_name == name:
                return {
                    "external_url": _external_url(project, name),
                    "id": env_id,
                    "name": name,
                }
        raise KeyError(name)

    def _deployment(
        self, project: GitLabProject, plan: DeploymentPlan, status: str, updated: dt.datetime
    ) -> dict:
        at = self.now
        pipeline, job = plan.pipeline, plan.job
        pview = pipeline.view(at)
        job_status = job.status_at(at)
        started = job.started_at if job.started_at and job.started_at <= at else None
        finished = job.finished_at if job.finished_at and job.finished_at <= at else None
        return {
            "created_at": ts(plan.created_at),
            "updated_at": ts(updated),
            "status": status,
            "deployable": {
                "commit": _commit_short(pipeline.commit),
                "coverage": None,
                "created_at": ts(job.created_at),
                "finished_at": ts(finished),
                "id": pipeline.job_id(job),
                "name": job.name,
                "ref": pipeline.ref,
                "runner": _runner(job.runner) if started else None,
                "stage": job.stage,
                "started_at": ts(started),
                "status": job_status,
                "tag": pipeline.tag,
                "project": {"ci_job_token_scope_enabled": False},
                "user": _user_full(pipeline.user),
                "pipeline": {
                    "created_at": ts(pipeline.created_at),
                    "id": pipeline.id,
                    "ref": pipeline.ref,
                    "sha": pipeline.sha,
                    "status": pview.status,
                    "updated_at": ts(pview.updated_at),
                    "web_url": f"{project.web_url}/-/pipelines/{pipeline.id}",
                },
            },
            "environment": self._environment_ref(project, plan.environment),
            "id": plan.id,
            "iid": plan.iid,
            "ref": pipeline.ref,
            "sha": pipeline.sha,
            "user": {
                "avatar_url": _avatar(pipeline.user),
                "id": pipeline.user.id,
                "name": pipeline.user.name,
                "state": "active",
                "username": pipeline.user.username,
                "web_url": f"{WEB_URL}/{pipeline.user.username}",
            },
        }

    def _environment(
        self, project: GitLabProject, k: int, spec
    ) -> tuple[dict, DeploymentPlan | None]:
        env_id, name, tier, state = spec
        at = self.now
        created = self.org.environment_created_at(project, k)
        latest = latest_success = None
        for plan in self.org.deployment_plans(project, at):
            if plan.environment != name:
                continue
            latest = plan
            if plan.view(at).status == "success":
                latest_success = plan
        updated = created
        if latest is not None:
            updated = max(updated, latest.view(at).updated_at)
        slug = f"{name.replace('/', '-')}-{_slug_suffix(project, name)}"
        body = {
            "id": env_id,
            "name": name,
            "slug": slug,
            "description": f"{name.title()} environment of {project.name}",
            "external_url": _external_url(project, name),
            "state": state,
            "tier": tier,
            "created_at": ts(created),
            "updated_at": ts(updated),
            "enable_advanced_logs_querying": False,
            "logs_api_path": f"/{project.path_with_namespace}/-/logs/k8s.json?environment_name={name}",
            "auto_stop_at": None,
            "kubernetes_namespace": None,
            "flux_resource_path": None,
            "auto_stop_setting": "always",
        }
        return body, latest_success

    def _visible_environments(self, project: GitLabProject):
        for k, spec in enumerate(self.org.environment_specs(project)):
            if self.org.environment_created_at(project, k) <= self.now:
                yield k, spec

    def _list_environments(
        self, params: dict[str, str], query: Query, headers: Headers
    ) -> Response:
        project = self._project(params)
        name, search, states = last(query, "name"), last(query, "search"), last(query, "states")
        rows = []
        for k, spec in self._visible_environments(project):
            if name and spec[1] != name:
                continue
            if search and search not in spec[1]:
                continue
            if states and spec[3] != states:
                continue
            rows.append(self._environment(project, k, spec)[0])
        return self._paginate(
            rows, query, headers, f"/projects/{params['id']}/environments",
            {"id": params["id"]}, lambda row: row,
        )  # fmt: skip

    def _get_environment(self, params: dict[str, str], query: Query, headers: Headers) -> dict:
        project = self._project(params)
        for k, spec in self._visible_environments(project):
            if spec[0] == int(params["eid"]):
                body, deployment = self._environment(project, k, spec)
                break
        else:
            raise ApiError(404, "404 Environment Not Found")
        last_deployment = None
        if deployment is not None:
            full = self._deployment(
                project, deployment, "success", deployment.view(self.now).updated_at
            )
            deployable = full["deployable"]
            job = deployment.job
            last_deployment = {
                "id": full["id"],
                "iid": full["iid"],
                "ref": full["ref"],
                "sha": full["sha"],
                "created_at": full["created_at"],
                "status": full["status"],
                "user": {
                    key: full["user"][key]
                    for key in ("id", "name", "state", "username", "avatar_url", "web_url")
                },
                "deployable": {
                    "id": deployable["id"],
                    "status": deployable["status"],
                    "stage": deployable["stage"],
                    "name": deployable["name"],
                    "ref": deployable["ref"],
                    "tag": deployable["tag"],
                    "coverage": None,
                    "created_at": deployable["created_at"],
                    "started_at": deployable["started_at"],
                    "finished_at": deployable["finished_at"],
                    "duration": round((job.finished_at - job.started_at).total_seconds(), 3),
                    "project": {"ci_job_token_scope_enabled": False},
                    "user": deployable["user"],
                    "commit": _commit_full(deployment.pipeline.commit),
                    "pipeline": {
                        key: deployable["pipeline"][key]
                        for key in ("id", "sha", "ref", "status", "web_url")
                    },
                    "web_url": f"{project.web_url}/-/jobs/{deployable['id']}",
                    "artifacts": _artifacts(job, deployable["id"])[0],
                    "runner": deployable["runner"],
                    "artifacts_expire_at": None,
                },
            }
        body = dict(body)
        tail = {key: body.pop(key) for key in
                ("kubernetes_namespace", "flux_resource_path", "auto_stop_setting")}  # fmt: skip
        body["last_deployment"] = last_deployment
        body["cluster_agent"] = None
        body.update(tail)
        return body

    # -- repository -----------------------------------------------------------------------------

    def _compare(self, params: dict[str, str], query: Query, headers: Headers) -> dict:
        project = self._project(params)
        source, target = last(query, "from"), last(query, "to")
        if not source or not target:
            raise ApiError(400, "400 Bad request - from, to are missing")
        resolved = []
        for ref in (source, target):
            commit = self.org.commit(project, ref)
            if commit is None or commit.committed_at > self.now:
                raise ApiError(404, "404 Ref Not Found")
            resolved.append(commit)
        commits = self.org.commits_between(project, resolved[0].sha, resolved[1].sha)
        rendered = [_commit_full(commit) for commit in commits]
        return {
            "commit": rendered[-1] if rendered else None,
            "commits": rendered,
            "diffs": [],
            "compare_timeout": False,
            "compare_same_ref": source == target,
            "web_url": f"{project.web_url}/-/compare/{source}...{target}",
        }


# -- rendering helpers ------------------------------------------------------------------------


def _int(query: Query, name: str, default: int) -> int:
    value = last(query, name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"400 Bad request - {name} is invalid") from None


def _in_bounds(created: dt.datetime, updated: dt.datetime, bounds: dict) -> bool:
    checks = (
        ("updated_after", updated, lambda v, b: v > b),
        ("updated_before", updated, lambda v, b: v < b),
        ("created_after", created, lambda v, b: v > b),
        ("created_before", created, lambda v, b: v < b),
    )
    return all(name not in bounds or test(value, bounds[name]) for name, value, test in checks)


def _pipeline_scope(scope: str, plan: PipelinePlan, status: str) -> bool:
    if scope == "tags":
        return plan.tag
    if scope == "branches":
        return not plan.tag
    if scope == "finished":
        return status in ("success", "failed", "canceled", "skipped")
    return status == scope  # running, pending


def _avatar(user: User) -> str:
    return f"https://www.gravatar.com/avatar/{user.username}?s=80&d=identicon"


def _user(user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "avatar_url": _avatar(user),
        "web_url": f"{WEB_URL}/{user.username}",
    }


def _user_full(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "state": "active",
        "avatar_url": _avatar(user),
        "web_url": f"{WEB_URL}/{user.username}",
        "created_at": "2021-03-01T09:00:00.000Z",
        "bio": "",
        "location": None,
        "public_email": "",
        "linkedin": "",
        "twitter": "",
        "website_url": "",
        "organization": "Acme",
    }


def _offset(commit: Commit) -> int:
    user = USER_BY_EMAIL.get(commit.author_email)
    return user.offset_hours if user else 0


def _commit_short(commit: Commit) -> dict:
    return {
        "author_email": commit.author_email,
        "author_name": commit.author_name,
        "created_at": commit_ts(commit.committed_at, _offset(commit)),
        "id": commit.sha,
        "message": commit.message + "\n",
        "short_id": commit.sha[:8],
        "title": commit.message,
    }


def _commit_full(commit: Commit) -> dict:
    offset = _offset(commit)
    return {
        "id": commit.sha,
        "short_id": commit.sha[:8],
        "created_at": commit_ts(commit.committed_at, offset),
        "parent_ids": list(commit.parents),
        "title": commit.message,
        "message": commit.message + "\n",
        "author_name": commit.author_name,
        "author_email": commit.author_email,
        "authored_date": commit_ts(commit.authored_at, offset),
        "committer_name": commit.author_name,
        "committer_email": commit.author_email,
        "committed_date": commit_ts(commit.committed_at, offset),
    }


def _runner(runner_id: int | None) -> dict | None:
    if runner_id is None:
        return None
    name, kind, shared = _RUNNERS[runner_id]
    return {
        "id": runner_id,
        "description": name,
        "ip_address": None,
        "active": True,
        "paused": False,
        "is_shared": shared,
        "runner_type": kind,
        "name": "gitlab-runner",
        "online": True,
        "status": "online",
    }


def _runner_manager(runner_id: int | None, started: dt.datetime) -> dict | None:
    if runner_id is None:
        return None
    return {
        "id": runner_id * 10,
        "system_id": f"s_{runner_id:012x}",
        "version": "17.5.2",
        "revision": "c6eae8d7",
        "platform": "linux",
        "architecture": "amd64",
        "created_at": "2025-01-15T08:00:00.000Z",
        "contacted_at": ts(started),
        "ip_address": f"10.0.0.{runner_id}",
        "status": "online",
    }


def _artifacts(job: JobPlan, job_id: int) -> tuple[list[dict], dict | None]:
    size = 800 + job_id % 9_000
    artifacts = []
    archive = None
    if job.name == "build" and job.status == "success":
        archive = {"filename": "artifacts.zip", "size": size * 40}
        artifacts.append({"file_type": "archive", "size": size * 40,
                          "filename": "artifacts.zip", "file_format": "zip"})  # fmt: skip
        artifacts.append({"file_type": "metadata", "size": 190,
                          "filename": "metadata.gz", "file_format": "gzip"})  # fmt: skip
    artifacts.append({"file_type": "trace", "size": size, "filename": "job.log",
                      "file_format": None})  # fmt: skip
    if job.name in ("unit-tests", "integration-tests"):
        artifacts.append({"file_type": "junit", "size": size // 3,
                          "filename": "junit.xml.gz", "file_format": "gzip"})  # fmt: skip
    return artifacts, archive


def _counts(cases: list[dict]) -> dict:
    return {
        "time": round(sum(case["execution_time"] for case in cases), 2),
        "count": len(cases),
        "success": sum(case["status"] == "success" for case in cases),
        "failed": sum(case["status"] == "failed" for case in cases),
        "skipped": sum(case["status"] == "skipped" for case in cases),
        "error": sum(case["status"] == "error" for case in cases),
    }


def _suite(job: JobPlan) -> str:
    # GitLab names a pipeline's test suite after the job whose JUnit report it holds.
    return job.name


def _external_url(project: GitLabProject, name: str) -> str:
    host = "" if name == "production" else f"{name}."
    return f"https://{host}{project.name}.acme.example"


def _slug_suffix(project: GitLabProject, name: str) -> str:
    return hashlib.sha1(f"{project.id}:{name}".encode()).hexdigest()[:6]
