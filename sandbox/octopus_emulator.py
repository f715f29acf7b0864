"""A local emulator of the Octopus Deploy REST API endpoints the warehouse ingests.

It serves an :class:`~sandbox.octopus_org.OctopusOrganisation` in the shapes of Octopus Server
2024.x (field sets and order from ``shared/api-samples/octopus``; the API root after the 2019
recording in ``shared/real-recordings/octopus``)::

    with OctopusEmulator(OctopusOrganisation(as_of)) as api:
        requests.get(f"{api.base_url}/api/Spaces-1/deployments",
                     headers={"X-Octopus-ApiKey": api.api_key})

Behaviour mirrored from Octopus:

* Auth with the ``X-Octopus-ApiKey`` header or the ``ApiKey`` query parameter; otherwise 401
  with Octopus's error body ``{ErrorMessage, Errors, FullException, HelpText, Details}``. Unknown
  ids and paths give 404 in the same shape; so do injected faults (429/503).
* Collections are ``{ItemType, TotalResults, ItemsPerPage, NumberOfPages, LastPageNumber, Items,
  Links}``, paged with ``skip``/``take`` (default 30); ``Links["Page.Next"]`` only when another
  page exists, ``Page.Previous`` when ``skip > 0``. Filters are kept in the page links.
* Deployments, releases, tasks and interruptions come newest first; environments by SortOrder;
  projects, tenants and channels by name.
* A deployment has no status: its task (``Links.Task`` = ``/api/tasks/ServerTasks-n``) has
  ``State``, ``QueueTime``, ``StartTime``, ``CompletedTime``, the display string ``Completed``,
  the human ``Duration`` and ``ErrorMessage`` ("" unless it failed).

Time travel: :attr:`OctopusEmulator.at` (default: the end of ``as_of``) is the server's "now".
Nothing created after it is served; tasks not finished by then are Queued/Executing/Cancelling
with null ``CompletedTime``; guided failures not yet answered are pending; defects raised later
are absent and defects resolved later are still Unresolved.
"""

from __future__ import annotations

import datetime as dt
import math
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.octopus_org import (
    ENV_BY_ID,
    ENVIRONMENTS,
    LIFECYCLES,
    PROJECT_GROUPS,
    SPACE_ID,
    TASK_OFFSET,
    TERMINAL,
    OctopusOrganisation,
    display,
    fmt,
    humanize,
    number_of,
    task_state,
)
from sandbox.partitions import rng_for
from sandbox.server import ApiError, EmulatorServer, Headers, Query, Response, last

DEFAULT_TAKE = 30
_TASK_FILTERS = (
    "name",
    "project",
    "environment",
    "tenant",
    "states",
    "ids",
    "fromCompletedDate",
    "toCompletedDate",
)
ALL = 2_147_483_647
VERSION = "2024.3.10989"
UNAUTHORIZED_MESSAGE = (
    "You must be logged in to perform this action. Please provide a valid API key or log in again."
)
_SPACE = r"(?P<space>[^/]+)"
_ID = r"(?P<id>[^/]+)"
_SP = f"/api/{SPACE_ID}"

TEMPLATES = {
    "Channels": f"{_SP}/channels{{/id}}{{?skip,take,ids,partialName}}",
    "Deployments": f"{_SP}/deployments{{/id}}"
    "{?skip,take,ids,projects,environments,tenants,channels,taskState,partialName}",
    "Environments": f"{_SP}/environments{{/id}}{{?name,skip,ids,take,partialName}}",
    "Interruptions": f"{_SP}/interruptions{{/id}}{{?skip,take,regarding,pendingOnly,ids}}",
    "Lifecycles": f"{_SP}/lifecycles{{/id}}{{?skip,take,ids,partialName}}",
    "ProjectGroups": f"{_SP}/projectgroups{{/id}}{{?skip,take,ids,partialName}}",
    "Projects": f"{_SP}/projects{{/id}}"
    "{?name,skip,ids,clone,take,partialName,clonedFromProjectId}",
    "Releases": f"{_SP}/releases{{/id}}{{?skip,ignoreChannelRules,take,ids}}",
    "SpaceHome": "/api/{spaceId}",
    "Spaces": "/api/spaces{/id}{?name,skip,ids,take,partialName}",
    "Tasks": f"{_SP}/tasks{{/id}}"
    "{?skip,active,environment,tenant,runbook,project,name,node,running,states,"
    "hasPendingInterruptions,hasWarningsOrErrors,take,ids,partialName,spaces,includeSystem,"
    "fromCompletedDate,toCompletedDate}",
    "Tenants": f"{_SP}/tenants{{/id}}"
    "{?skip,projectId,name,tags,take,ids,clone,partialName,clonedFromTenantId}",
}


def _split(query: Query, name: str) -> set[str]:
    value = last(query, name)
    return {v for v in (value or "").split(",") if v}


def _parse_time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"The '{name}' parameter is not a valid date.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class OctopusEmulator(EmulatorServer):
    name = "octopus"
    prefix = ""

    def __init__(
        self, org: OctopusOrganisation, *, api_key: str = "API-SANDBOX0000000000000000000"
    ) -> None:
        super().__init__()
        self.org = org
        self.api_key = api_key
        self.at: dt.datetime = org.end
        self.installation_id = str(uuid.UUID(int=rng_for(org.seed, "octopus-id").getrandbits(128)))
        space = rf"^/api/{_SPACE}"
        for template, pattern, handler in (
            ("GET /api", r"^/api$", self._root),
            ("GET /api/spaces", r"^/api/spaces$", self._spaces),
            ("GET /api/spaces/{id}", rf"^/api/spaces/{_ID}$", self._space),
            ("GET /api/tasks", r"^/api/tasks$", self._tasks),
            ("GET /api/tasks/{id}", rf"^/api/tasks/{_ID}$", self._task),
            ("GET /api/{baseSpaceId}", rf"{space}$", self._space_home),
            ("GET /api/{baseSpaceId}/projects", rf"{space}/projects$", self._projects),
            ("GET /api/{baseSpaceId}/projects/{id}", rf"{space}/projects/{_ID}$", self._project),
            (
                "GET /api/{baseSpaceId}/projects/{id}/channels",
                rf"{space}/projects/{_ID}/channels$",
                self._project_channels,
            ),
            (
                "GET /api/{baseSpaceId}/projects/{id}/releases",
                rf"{space}/projects/{_ID}/releases$",
                self._project_releases,
            ),
            ("GET /api/{baseSpaceId}/projectgroups", rf"{space}/projectgroups$", self._groups),
            ("GET /api/{baseSpaceId}/environments", rf"{space}/environments$", self._envs),
            ("GET /api/{baseSpaceId}/lifecycles", rf"{space}/lifecycles$", self._lifecycles),
            ("GET /api/{baseSpaceId}/channels", rf"{space}/channels$", self._channels),
            ("GET /api/{baseSpaceId}/tenants", rf"{space}/tenants$", self._tenants),
            ("GET /api/{baseSpaceId}/releases", rf"{space}/releases$", self._releases),
            ("GET /api/{baseSpaceId}/releases/{id}", rf"{space}/releases/{_ID}$", self._release),
            (
                "GET /api/{baseSpaceId}/releases/{id}/defects",
                rf"{space}/releases/{_ID}/defects$",
                self._defects,
            ),
            ("GET /api/{baseSpaceId}/deployments", rf"{space}/deployments$", self._deployments),
            (
                "GET /api/{baseSpaceId}/deployments/{id}",
                rf"{space}/deployments/{_ID}$",
                self._deployment,
            ),
            ("GET /api/{baseSpaceId}/tasks", rf"{space}/tasks$", self._tasks),
            ("GET /api/{baseSpaceId}/tasks/{id}", rf"{space}/tasks/{_ID}$", self._task),
            (
                "GET /api/{baseSpaceId}/interruptions",
                rf"{space}/interruptions$",
                self._interruptions,
            ),
            (
                "GET /api/{baseSpaceId}/interruptions/{id}",
                rf"{space}/interruptions/{_ID}$",
                self._interruption,
            ),
        ):
            self.route(template, pattern, handler)

    # -- auth and errors -----------------------------------------------------------------------

    def authorised(self, headers: Headers, query: Query) -> bool:
        if headers.get("x-octopus-apikey") == self.api_key:
            return True
        return any(k.lower() == "apikey" and self.api_key in v for k, v in query.items())

    def unauthorized(self) -> Response:
        return Response(401, self.error_body(401, UNAUTHORIZED_MESSAGE))

    def error_body(self, status: int, message: str) -> Any:
        errors: list[str] = []
        if status == 400:
            errors, message = [message], "There was a problem with your request."
        elif status == 404 and message == "Not Found":
            message = "The resource you requested was not found."
        return {
            "ErrorMessage": message,
            "Errors": errors,
            "FullException": None,
            "HelpText": None,
            "Details": None,
        }

    @staticmethod
    def _not_found(resource_id: str) -> ApiError:
        return ApiError(404, f"The resource '{resource_id}' was not found.")

    def _check_space(self, params: dict[str, str]) -> None:
        if params.get("space", SPACE_ID) != SPACE_ID:
            raise self._not_found(params["space"])

    # -- paging --------------------------------------------------------------------------------

    def _page(
        self,
        path: str,
        template: str,
        item_type: str,
        query: Query,
        rows: Sequence[Any],
        render: Callable[[Any], dict],
        keep: Sequence[str] = (),
    ) -> dict:
        skip = self._int(query, "skip", 0)
        take = self._int(query, "take", DEFAULT_TAKE)
        total = len(rows)
        pages = max(1, math.ceil(total / take)) if take else 1
        extra = [(name, last(query, name) or "") for name in keep if last(query, name) is not None]

        def link(s: int, t: int) -> str:
            return f"{path}?{urllib.parse.urlencode([('skip', s), ('take', t), *extra])}"

        links = {"Self": link(skip, take), "Template": template, "Page.All": link(0, ALL)}
        if skip > 0:
            links["Page.Previous"] = link(max(0, skip - take), take)
        if take and skip + take < total:
            links["Page.Next"] = link(skip + take, take)
        links["Page.Current"] = link(skip, take)
        links["Page.Last"] = link((pages - 1) * take, take)
        return {
            "ItemType": item_type,
            "TotalResults": total,
            "ItemsPerPage": take,
            "NumberOfPages": pages,
            "LastPageNumber": pages - 1,
            "Items": [render(row) for row in rows[skip : skip + take]],
            "Links": links,
        }

    @staticmethod
    def _int(query: Query, name: str, default: int) -> int:
        value = last(query, name)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except ValueError:
            raise ApiError(400, f"The '{name}' parameter must be a number.") from None
        if number < 0:
            raise ApiError(400, f"The '{name}' parameter must be a positive number.")
        return number

    # -- root and spaces -----------------------------------------------------------------------

    def _root(self, params: dict, query: Query, headers: Headers) -> dict:
        links = {"Self": "/api", **dict(sorted(TEMPLATES.items())), "Web": "/app"}
        links["Tasks"] = "/api/tasks{/id}" + TEMPLATES["Tasks"].split("{/id}", 1)[1]
        links["SpaceTasks"] = TEMPLATES["Tasks"]
        return {
            "Application": "Octopus Deploy",
            "Version": VERSION,
            "ApiVersion": "3.0.0",
            "InstallationId": self.installation_id,
            "Links": links,
        }

    def _space_body(self) -> dict:
        return {
            "Id": SPACE_ID,
            "Name": "Default",
            "Slug": "default",
            "Description": "",
            "IsDefault": True,
            "IsPrivate": False,
            "TaskQueueStopped": False,
            "SpaceManagersTeams": ["teams-spacemanagers-Spaces-1"],
            "SpaceManagersTeamMembers": [],
            "Icon": None,
            "ExtensionSettings": [],
            "LastModifiedOn": None,
            "Links": {
                "Self": f"/api/spaces/{SPACE_ID}",
                "SpaceHome": f"/api/{SPACE_ID}",
                "Web": f"/app#/spaces/{SPACE_ID}",
                "Logo": f"/api/spaces/{SPACE_ID}/logo?cb={VERSION}",
            },
        }

    def _spaces(self, params: dict, query: Query, headers: Headers) -> dict:
        return self._page(
            "/api/spaces",
            TEMPLATES["Spaces"],
            "Space",
            query,
            [None],
            lambda _: self._space_body(),
        )

    def _space(self, params: dict, query: Query, headers: Headers) -> dict:
        if params["id"] != SPACE_ID:
            raise self._not_found(params["id"])
        return self._space_body()

    def _space_home(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        links = {"Self": _SP, **{k: v for k, v in TEMPLATES.items() if k.startswith(("P", "E"))}}
        links.update(
            {k: TEMPLATES[k] for k in ("Channels", "Deployments", "Interruptions", "Releases")}
        )
        links.update({k: TEMPLATES[k] for k in ("Lifecycles", "Tasks", "Tenants")})
        return {"Links": links}

    # -- catalogue -----------------------------------------------------------------------------

    def _project_body(self, project: dict) -> dict:
        pid = project["id"]
        base = f"{_SP}/projects/{pid}"
        return {
            "Id": pid,
            "SpaceId": SPACE_ID,
            "VariableSetId": f"variableset-{pid}",
            "DeploymentProcessId": f"deploymentprocess-{pid}",
            "ClonedFromProjectId": None,
            "DiscreteChannelRelease": False,
            "IncludedLibraryVariableSetIds": [],
            "DefaultToSkipIfAlreadyInstalled": False,
            "TenantedDeploymentMode": project["tenanted_deployment_mode"],
            "DefaultGuidedFailureMode": "EnvironmentDefault",
            "VersioningStrategy": {
                "Template": "#{Octopus.Version.LastMajor}.#{Octopus.Version.NextMinor}.0",
                "DonorPackage": None,
            },
            "ReleaseCreationStrategy": {
                "ChannelId": None,
                "ReleaseCreationPackage": None,
                "ReleaseCreationPackageStepId": None,
            },
            "Templates": [],
            "AutoDeployReleaseOverrides": [],
            "ReleaseNotesTemplate": None,
            "DeploymentChangesTemplate": None,
            "ForcePackageDownload": False,
            "Icon": {"Id": "map-signs", "Color": "#5E2EA2"},
            "AllowIgnoreChannelRules": True,
            "ExecuteDeploymentsOnResilientPipeline": None,
            "ExtensionSettings": [],
            "Name": project["name"],
            "Slug": project["slug"],
            "Description": self.org.specs[int(pid.split("-")[1]) - 1].description,
            "IsDisabled": False,
            "ProjectGroupId": project["project_group_id"],
            "LifecycleId": project["lifecycle_id"],
            "AutoCreateRelease": False,
            "IsVersionControlled": False,
            "PersistenceSettings": {"Type": "Database"},
            "ProjectConnectivityPolicy": {
                "SkipMachineBehavior": "None",
                "TargetRoles": [],
                "AllowDeploymentsToNoTargets": False,
                "ExcludeUnhealthyTargets": False,
            },
            "Links": {
                "Self": base,
                "Variables": f"{base}/variables",
                "Releases": f"{base}/releases{{/version}}{{?skip,take,searchByVersion}}",
                "Channels": f"{base}/channels{{/id}}{{?skip,take,partialName}}",
                "Triggers": f"{base}/triggers{{?skip,take,partialName,triggerActionType,"
                "triggerActionCategory,runbooks}",
                "Progression": f"{base}/progression{{?releaseHistoryCount}}",
                "DeploymentProcess": f"{base}/deploymentprocesses",
                "DeploymentSettings": f"{base}/deploymentsettings",
                "Web": f"/app#/{SPACE_ID}/projects/{pid}",
                "Metadata": f"{base}/metadata",
                "Runbooks": f"{base}/runbooks{{?skip,take,partialName}}",
                "Summary": f"{base}/summary",
            },
        }

    def _projects(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        rows = sorted(self.org.projects(), key=lambda p: p["name"])
        ids = _split(query, "ids")
        rows = [p for p in rows if not ids or p["id"] in ids]
        return self._page(
            f"{_SP}/projects",
            TEMPLATES["Projects"],
            "Project",
            query,
            rows,
            self._project_body,
            ("ids",),
        )

    def _project(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        for project in self.org.projects():
            if project["id"] == params["id"]:
                return self._project_body(project)
        raise self._not_found(params["id"])

    def _groups(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)

        def render(group: tuple) -> dict:
            gid, name, description = group
            return {
                "Id": gid,
                "Name": name,
                "Slug": name.lower().replace(" ", "-"),
                "Description": description,
                "EnvironmentIds": [],
                "RetentionPolicyId": None,
                "SpaceId": SPACE_ID,
                "Links": {
                    "Self": f"{_SP}/projectgroups/{gid}",
                    "Projects": f"{_SP}/projectgroups/{gid}/projects{{?skip,take}}",
                    "Web": f"/app#/{SPACE_ID}/projectgroups/{gid}",
                },
            }

        return self._page(
            f"{_SP}/projectgroups",
            TEMPLATES["ProjectGroups"],
            "ProjectGroup",
            query,
            sorted(PROJECT_GROUPS, key=lambda g: g[1]),
            render,
        )

    def _envs(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)

        def render(env: Any) -> dict:
            base = f"{_SP}/environments/{env.id}"
            return {
                "Id": env.id,
                "Name": env.name,
                "Slug": env.name.lower().replace(" ", "-"),
                "Description": "",
                "SortOrder": env.sort_order,
                "UseGuidedFailure": env.use_guided_failure,
                "AllowDynamicInfrastructure": not env.use_guided_failure,
                "SpaceId": SPACE_ID,
                "ExtensionSettings": [],
                "Links": {
                    "Self": base,
                    "Machines": f"{base}/machines{{?skip,take,partialName,roles,isDisabled,"
                    "healthStatuses,commStyles,tenantIds,tenantTags,shellNames}",
                    "SinglyScopedVariableDetails": f"{base}/singlyScopedVariableDetails",
                    "Metadata": f"{base}/metadata",
                    "Web": f"/app#/{SPACE_ID}/infrastructure/environments/{env.id}",
                },
            }

        name = last(query, "name")
        rows = [e for e in ENVIRONMENTS if name is None or e.name == name]
        return self._page(
            f"{_SP}/environments",
            TEMPLATES["Environments"],
            "Environment",
            query,
            sorted(rows, key=lambda e: e.sort_order),
            render,
            ("name",),
        )

    def _lifecycles(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        keep = {"Unit": "Days", "QuantityToKeep": 30, "ShouldKeepForever": False}

        def render(lifecycle: tuple) -> dict:
            lid, name, env_ids = lifecycle
            phases = [
                {
                    "Id": f"{lid}-phase-{n}",
                    "Name": ENV_BY_ID[env_id].name,
                    "AutomaticDeploymentTargets": [env_id] if n == 0 and lid.endswith("1") else [],
                    "OptionalDeploymentTargets": [] if n == 0 and lid.endswith("1") else [env_id],
                    "MinimumEnvironmentsBeforePromotion": 0,
                    "IsOptionalPhase": False,
                    "ReleaseRetentionPolicy": None,
                    "TentacleRetentionPolicy": None,
                }
                for n, env_id in enumerate(env_ids)
            ]
            return {
                "Id": lid,
                "Name": name,
                "Slug": name.lower().replace(" ", "-"),
                "Description": "",
                "SpaceId": SPACE_ID,
                "Phases": phases,
                "ReleaseRetentionPolicy": keep,
                "TentacleRetentionPolicy": keep,
                "Links": {"Self": f"{_SP}/lifecycles/{lid}"},
            }

        return self._page(
            f"{_SP}/lifecycles", TEMPLATES["Lifecycles"], "Lifecycle", query, LIFECYCLES, render
        )

    def _channel_body(self, channel: dict) -> dict:
        pid, cid = channel["project_id"], channel["id"]
        rules = []
        if not channel["is_default"]:
            rules = [
                {
                    "Id": str(uuid.UUID(int=rng_for(self.org.seed, cid).getrandbits(128))),
                    "VersionRange": "",
                    "Tag": "^hotfix$",
                    "ActionPackages": [{"DeploymentAction": "Deploy", "PackageReference": ""}],
                    "Links": {},
                }
            ]
        return {
            "Id": cid,
            "Name": channel["name"],
            "Description": "" if channel["is_default"] else "Emergency fixes straight to Staging",
            "ProjectId": pid,
            "LifecycleId": channel["lifecycle_id"],
            "IsDefault": channel["is_default"],
            "Rules": rules,
            "TenantTags": [],
            "SpaceId": SPACE_ID,
            "Slug": channel["name"].lower(),
            "Links": {
                "Self": f"{_SP}/projects/{pid}/channels/{cid}",
                "Releases": f"{_SP}/projects/{pid}/channels/{cid}/releases"
                "{?skip,take,searchByVersion}",
                "Project": f"{_SP}/projects/{pid}",
            },
        }

    def _channels(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        rows = sorted(self.org.channels(), key=lambda c: (c["name"], int(c["id"].split("-")[1])))
        return self._page(
            f"{_SP}/channels", TEMPLATES["Channels"], "Channel", query, rows, self._channel_body
        )

    def _project_channels(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        if self.org.project_slot(params["id"]) is None:
            raise self._not_found(params["id"])
        rows = [c for c in self.org.channels() if c["project_id"] == params["id"]]
        path = f"{_SP}/projects/{params['id']}/channels"
        return self._page(
            path,
            path + "{/id}{?skip,take,partialName}",
            "Channel",
            query,
            sorted(rows, key=lambda c: c["name"]),
            self._channel_body,
        )

    def _tenants(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)

        def render(tenant: dict) -> dict:
            tid = tenant["id"]
            return {
                "Id": tid,
                "Name": tenant["name"],
                "TenantTags": tenant["tags"],
                "ProjectEnvironments": tenant["project_environments"],
                "SpaceId": SPACE_ID,
                "ClonedFromTenantId": None,
                "Description": "",
                "IsDisabled": False,
                "Slug": tenant["name"].lower().replace(" ", "-"),
                "Links": {
                    "Self": f"{_SP}/tenants/{tid}",
                    "Variables": f"{_SP}/tenants/{tid}/variables",
                    "Web": f"/app#/{SPACE_ID}/tenants/{tid}/overview",
                    "Logo": f"{_SP}/tenants/{tid}/logo?cb={VERSION}",
                },
            }

        project = last(query, "projectId")
        rows = [
            t
            for t in sorted(self.org.tenants(), key=lambda t: t["name"])
            if project is None or project in t["project_environments"]
        ]
        return self._page(
            f"{_SP}/tenants", TEMPLATES["Tenants"], "Tenant", query, rows, render, ("projectId",)
        )

    # -- releases ------------------------------------------------------------------------------

    def _release_body(self, release: dict) -> dict:
        rid, pid = release["id"], release["project_id"]
        spec = self.org.specs[int(pid.split("-")[1]) - 1]
        repo = f"https://github.com/{spec.repository}"
        version = release["version"]
        snapshot = f"s-{release['number']}"
        build = {
            "PackageId": spec.package_id,
            "Version": version,
            "BuildEnvironment": "GitHub Actions",
            "BuildNumber": version,
            "BuildUrl": f"{repo}/actions/runs/{release['number']}",
            "Branch": "refs/heads/main",
            "VcsType": "Git",
            "VcsRoot": repo,
            "VcsCommitNumber": release["commit_sha"],
            "VcsCommitUrl": f"{repo}/commit/{release['commit_sha']}",
            "IssueTrackerName": None,
            "WorkItems": [],
            "Commits": [
                {"Id": c["sha"], "LinkUrl": f"{repo}/commit/{c['sha']}", "Comment": c["message"]}
                for c in release["commits"]
            ],
        }
        base = f"{_SP}/releases/{rid}"
        return {
            "Id": rid,
            "SpaceId": SPACE_ID,
            "ProjectId": pid,
            "Version": version,
            "ChannelId": release["channel_id"],
            "ReleaseNotes": None,
            "ProjectDeploymentProcessSnapshotId": f"deploymentprocess-{pid}-{snapshot}",
            "IgnoreChannelRules": False,
            "BuildInformation": [build],
            "Assembled": fmt(release["created_at"]),
            "LibraryVariableSetSnapshotIds": [],
            "SelectedPackages": [
                {
                    "ActionName": "Deploy",
                    "StepName": "Deploy",
                    "PackageReferenceName": "",
                    "Version": version,
                }
            ],
            "SelectedGitResources": [],
            "ProjectVariableSetSnapshotId": f"variableset-{pid}-{snapshot}",
            "VersionControlReference": None,
            "Links": {
                "Self": base,
                "Project": f"{_SP}/projects/{pid}",
                "Channel": f"{_SP}/projects/{pid}/channels/{release['channel_id']}",
                "Progression": f"{base}/progression",
                "Deployments": f"{base}/deployments{{?skip,take}}",
                "DeploymentTemplate": f"{base}/deployments/template",
                "Artifacts": f"{_SP}/artifacts?regarding={rid}",
                "Web": f"/app#/{SPACE_ID}/releases/{rid}",
                "Defects": f"{base}/defects",
            },
        }

    def _release_rows(self, project_id: str | None, ids: set[str]) -> list[tuple]:
        return [
            row
            for row in self.org.release_index()
            if row[0] <= self.at
            and (project_id is None or row[2] == project_id)
            and (not ids or f"Releases-{row[1]}" in ids)
        ]

    def _render_release(self, row: tuple) -> dict:
        release = self.org.release(f"Releases-{row[1]}")
        assert release is not None
        return self._release_body(release)

    def _releases(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        rows = self._release_rows(None, _split(query, "ids"))
        return self._page(
            f"{_SP}/releases",
            TEMPLATES["Releases"],
            "Release",
            query,
            rows,
            self._render_release,
            ("ids",),
        )

    def _project_releases(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        if self.org.project_slot(params["id"]) is None:
            raise self._not_found(params["id"])
        rows = self._release_rows(params["id"], set())
        search = last(query, "searchByVersion")
        path = f"{_SP}/projects/{params['id']}/releases"
        if search:
            rows = [r for r in rows if self._render_release(r)["Version"] == search]
        return self._page(
            path,
            path + "{/version}{?skip,take,searchByVersion}",
            "Release",
            query,
            rows,
            self._render_release,
            ("searchByVersion",),
        )

    def _visible_release(self, params: dict) -> dict:
        self._check_space(params)
        release = self.org.release(params["id"])
        if release is None or release["created_at"] > self.at:
            raise self._not_found(params["id"])
        return release

    def _release(self, params: dict, query: Query, headers: Headers) -> dict:
        return self._release_body(self._visible_release(params))

    def _defects(self, params: dict, query: Query, headers: Headers) -> dict:
        release = self._visible_release(params)

        def render(defect: dict) -> dict:
            resolved = defect["resolved_at"] is not None and defect["resolved_at"] <= self.at
            return {
                "Id": defect["id"],
                "Description": defect["description"],
                "Status": "Resolved" if resolved else "Unresolved",
                "LastModifiedOn": fmt(defect["resolved_at"] if resolved else defect["created_at"]),
                "LastModifiedBy": defect["reported_by"],
            }

        rows = [d for d in self.org.release_defects(release["id"]) if d["created_at"] <= self.at]
        path = f"{_SP}/releases/{release['id']}/defects"
        return self._page(path, path, "Defect", query, rows, render)

    # -- deployments and tasks -----------------------------------------------------------------

    def _deployment_body(self, d: dict) -> dict:
        did, rid, pid, tid = d["id"], d["release_id"], d["project_id"], d["task_id"]
        process = f"deploymentprocess-{pid}-s-{rid.split('-')[1]}"
        name = f"Deploy to {d['environment_name']}"
        if d["tenant_name"]:
            name += f" for {d['tenant_name']}"
        failure = self._state(d) in ("Failed", "TimedOut") or (
            d["had_guided_failure"] and self._interruption_raised(d)
        )
        return {
            "Id": did,
            "SpaceId": SPACE_ID,
            "ReleaseId": rid,
            "ChannelId": d["channel_id"],
            "DeploymentProcessId": process,
            "Changes": [],
            "ChangesMarkdown": None,
            "EnvironmentId": d["environment_id"],
            "TenantId": d["tenant_id"],
            "ForcePackageDownload": False,
            "ForcePackageRedeployment": d["reason"] == "redeploy",
            "Priority": "LifecycleDefault",
            "SkipActions": [],
            "SpecificMachineIds": [],
            "ExcludedMachineIds": [],
            "ManifestVariableSetId": None,
            "TaskId": tid,
            "ProjectId": pid,
            "UseGuidedFailure": False,
            "Comments": None,
            "FormValues": {},
            "QueueTime": None,
            "QueueTimeExpiry": None,
            "Name": name,
            "Created": fmt(d["created_at"]),
            "TentacleRetentionPeriod": None,
            "ChangeRequestSettings": None,
            "DeployedBy": d["deployed_by"],
            "DeployedById": d["deployed_by_id"],
            "FailureEncountered": failure,
            "DeployedToMachineIds": [f"Machines-{ENV_BY_ID[d['environment_id']].sort_order + 1}"],
            "ExecutionPlanLogContext": {"Steps": []},
            "Links": {
                "Self": f"{_SP}/deployments/{did}",
                "Release": f"{_SP}/releases/{rid}",
                "Environment": f"{_SP}/environments/{d['environment_id']}",
                "Project": f"{_SP}/projects/{pid}",
                "Task": f"/api/tasks/{tid}",
                "Web": f"/app#/{SPACE_ID}/deployments/{did}",
                "Artifacts": f"{_SP}/artifacts?regarding={did}",
                "Interruptions": f"{_SP}/interruptions?regarding={did}",
                "DeploymentProcess": f"{_SP}/deploymentprocesses/{process}",
            },
        }

    def _state(self, d: dict) -> str:
        return task_state(d, self.at)

    def _interruption_raised(self, d: dict) -> bool:
        interruption = self.org.interruption(f"Interruptions-{d['number']}")
        return interruption is not None and interruption["created_at"] <= self.at

    def _task_body(self, d: dict) -> dict:
        at, tid = self.at, d["task_id"]
        state = self._state(d)
        finished = state in TERMINAL
        started = d["started_at"] <= at
        if finished:
            seconds = (d["completed_at"] - d["started_at"]).total_seconds()
            updated = d["completed_at"]
        else:
            seconds = (at - (d["started_at"] if started else d["queued_at"])).total_seconds()
            updated = d["started_at"] if started else d["queued_at"]
            if d["cancel_requested_at"] is not None and d["cancel_requested_at"] <= at:
                updated = d["cancel_requested_at"]
        pending = False
        if d["had_guided_failure"]:
            interruption = self.org.interruption(f"Interruptions-{d['number']}")
            assert interruption is not None
            if interruption["created_at"] <= at:
                updated = max(updated, interruption["created_at"])
                pending = interruption["responded_at"] > at
        description = (
            f"Deploy {self.org.specs[int(d['project_id'].split('-')[1]) - 1].name} "
            f"release {d['release_version']} to {d['environment_name']}"
        )
        if d["tenant_name"]:
            description += f" for {d['tenant_name']}"
        base = f"/api/tasks/{tid}"
        return {
            "Id": tid,
            "SpaceId": SPACE_ID,
            "Name": "Deploy",
            "Description": description,
            "Arguments": {"DeploymentId": d["id"]},
            "State": state,
            "Completed": display(d["completed_at"]) if finished else None,
            "QueueTime": fmt(d["queued_at"]),
            "QueueTimeExpiry": None,
            "StartTime": fmt(d["started_at"]) if started else None,
            "LastUpdatedTime": fmt(updated),
            "CompletedTime": fmt(d["completed_at"]) if finished else None,
            "ServerNode": "octopus-i001" if started else None,
            "Duration": humanize(seconds),
            "ErrorMessage": d["error_message"] if finished else "",
            "HasBeenPickedUpByProcessor": started,
            "IsCompleted": finished,
            "FinishedSuccessfully": state == "Success",
            "HasPendingInterruptions": pending,
            "CanRerun": finished and state != "Success",
            "HasWarningsOrErrors": (finished and d["has_warnings"]) or pending,
            "ProjectId": d["project_id"],
            "Links": {
                "Self": base,
                "Web": f"/app#/{SPACE_ID}/tasks/{tid}",
                "Raw": f"{base}/raw",
                "Rerun": f"/api/tasks/rerun/{tid}",
                "Cancel": f"{base}/cancel",
                "State": f"{base}/state",
                "QueuedBehind": f"{base}/queued-behind{{?skip,take}}",
                "Details": f"{base}/details{{?verbose,tail,ranges}}",
                "StatusMessages": f"{base}/status/messages",
                "Artifacts": f"{_SP}/artifacts?regarding={tid}",
                "Interruptions": f"{_SP}/interruptions?regarding={tid}",
            },
        }

    def _deployment_rows(
        self,
        projects: set[str],
        environments: set[str],
        tenants: set[str],
        channels: set[str],
        ids: set[str],
    ) -> list[tuple]:
        return [
            row
            for row in self.org.deployment_index()
            if row[0] <= self.at
            and (not projects or row[2] in projects)
            and (not environments or row[3] in environments)
            and (not tenants or row[4] in tenants)
            and (not channels or row[5] in channels)
            and (not ids or f"Deployments-{row[1]}" in ids)
        ]

    def _deployment_of(self, row: tuple) -> dict:
        record = self.org.deployment(f"Deployments-{row[1]}")
        assert record is not None
        return record

    def _deployments(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        rows: list[Any] = self._deployment_rows(
            _split(query, "projects"),
            _split(query, "environments"),
            _split(query, "tenants"),
            _split(query, "channels"),
            _split(query, "ids"),
        )
        states = _split(query, "taskState")
        if states:
            rows = [r for r in rows if task_state(r[6], self.at) in states]
        return self._page(
            f"{_SP}/deployments",
            TEMPLATES["Deployments"],
            "Deployment",
            query,
            rows,
            lambda row: self._deployment_body(self._deployment_of(row)),
            ("ids", "projects", "environments", "tenants", "channels", "taskState"),
        )

    def _deployment(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        record = self.org.deployment(params["id"])
        if record is None or record["created_at"] > self.at:
            raise self._not_found(params["id"])
        return self._deployment_body(record)

    def _tasks(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        name = last(query, "name")
        rows: list[Any] = []
        if name in (None, "", "Deploy"):
            rows = self._deployment_rows(
                _split(query, "project"),
                _split(query, "environment"),
                _split(query, "tenant"),
                set(),
                {
                    f"Deployments-{n - TASK_OFFSET}"
                    for n in (number_of(i, "ServerTasks") for i in _split(query, "ids"))
                    if n is not None
                },
            )
        states = _split(query, "states")
        since = _parse_time(last(query, "fromCompletedDate"), "fromCompletedDate")
        until = _parse_time(last(query, "toCompletedDate"), "toCompletedDate")
        if states or since or until:
            kept = []
            for row in rows:
                record = row[6]
                state = task_state(record, self.at)
                if states and state not in states:
                    continue
                if since or until:
                    if state not in TERMINAL:
                        continue
                    if since and record["completed_at"] < since:
                        continue
                    if until and record["completed_at"] > until:
                        continue
                kept.append(row)
            rows = kept
        path = f"/api/{params['space']}/tasks" if "space" in params else "/api/tasks"
        return self._page(
            path,
            TEMPLATES["Tasks"],
            "Task",
            query,
            rows,
            lambda row: self._task_body(self._deployment_of(row)),
            _TASK_FILTERS,
        )

    def _task(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        record = self.org.task(params["id"])
        if record is None or record["created_at"] > self.at:
            raise self._not_found(params["id"])
        return self._task_body(record)

    # -- interruptions -------------------------------------------------------------------------

    def _interruption_body(self, i: dict) -> dict:
        iid = i["id"]
        pending = i["responded_at"] > self.at
        guidance = None if pending else i["guidance"]
        buttons = [
            {"Text": "Fail", "Value": "Abort", "RequiresConfirmation": False},
            {"Text": "Retry", "Value": "Retry", "RequiresConfirmation": False},
            {"Text": "Ignore", "Value": "Ignore", "RequiresConfirmation": False},
        ]
        env_name = ENV_BY_ID[i["environment_id"]].name
        return {
            "Id": iid,
            "SpaceId": SPACE_ID,
            "Title": f"Deploy to {env_name} failed: guidance required",
            "Created": fmt(i["created_at"]),
            "IsPending": pending,
            "Form": {
                "Values": {"Guidance": guidance, "Notes": None if pending else ""},
                "Elements": [
                    {
                        "Name": "Guidance",
                        "Control": {"Type": "SubmitButtonGroup", "Buttons": buttons},
                        "IsValueRequired": False,
                    },
                    {
                        "Name": "Notes",
                        "Control": {"Type": "TextArea", "Label": "Notes"},
                        "IsValueRequired": False,
                    },
                ],
            },
            "RelatedDocumentIds": [
                i["deployment_id"],
                i["task_id"],
                i["environment_id"],
                i["project_id"],
            ],
            "ResponsibleTeamIds": ["teams-everyone"],
            "ResponsibleUserId": None if pending else "Users-2",
            "CanTakeResponsibility": True,
            "HasResponsibility": not pending,
            "TaskId": i["task_id"],
            "CorrelationId": f"{i['task_id']}_guided-failure",
            "IsLinkedToOtherInterruption": False,
            "Type": "GuidedFailure",
            "Links": {
                "Self": f"{_SP}/interruptions/{iid}",
                "Submit": f"{_SP}/interruptions/{iid}/submit",
                "Responsible": f"{_SP}/interruptions/{iid}/responsible",
            },
        }

    def _interruptions(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        regarding = last(query, "regarding")
        if regarding:
            record = self.org.deployment(regarding) or self.org.task(regarding)
            numbers = [record["number"]] if record is not None else []
            candidates = [self.org.interruption(f"Interruptions-{n}") for n in numbers]
        else:
            candidates = [
                self.org.interruption(f"Interruptions-{n}")
                for created, n in self.org.interruption_index()
                if created <= self.at
            ]
        rows = [i for i in candidates if i is not None and i["created_at"] <= self.at]
        ids = _split(query, "ids")
        rows = [i for i in rows if not ids or i["id"] in ids]
        if (last(query, "pendingOnly") or "").lower() == "true":
            rows = [i for i in rows if i["responded_at"] > self.at]
        return self._page(
            f"{_SP}/interruptions",
            TEMPLATES["Interruptions"],
            "Interruption",
            query,
            rows,
            self._interruption_body,
            ("regarding", "pendingOnly", "ids"),
        )

    def _interruption(self, params: dict, query: Query, headers: Headers) -> dict:
        self._check_space(params)
        record = self.org.interruption(params["id"])
        if record is None or record["created_at"] > self.at:
            raise self._not_found(params["id"])
        return self._interruption_body(record)


__all__ = ["OctopusEmulator"]
