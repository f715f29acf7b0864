"""The simulated organisation: determinism, time window, realism and internal consistency."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import json

import pytest

from sandbox import generate_organisation
from sandbox.organisation import CircleCIProject, parse_timestamp
from sandbox.partitions import day_of_uuid

AS_OF = dt.date(2026, 11, 29)
WINDOW_END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
WINDOW_START = WINDOW_END - dt.timedelta(days=90)

FAILED_JOB = {"failed", "timedout", "infrastructure_fail"}


def _dump(org) -> str:
    """Serialise every ground-truth view (and a few test listings) of the organisation."""
    data = {
        "projects": [dataclasses.astuple(p) for p in org.projects],
        "pipelines": org.pipelines,
        "workflows": org.workflows,
        "workflow_jobs": org.workflow_jobs,
        "job_details": {
            f"{slug}#{number}": body for (slug, number), body in org.job_details.items()
        },
        "insights": org.insights_workflow_runs,
        "job_runs": org.insights_job_runs,
        "tests": [org.job_tests(slug, number) for slug, number in list(org.job_details)[::50]],
    }
    return json.dumps(data, default=str)


def test_same_seed_and_date_give_identical_data(org):
    assert _dump(generate_organisation(AS_OF)) == _dump(org)


def _first_days(org) -> str:
    """A cheap fingerprint: every project's pipelines of the first three days."""
    now = org.now_ms()
    return json.dumps(
        [
            org.timeline(p.slug).pipelines_at(day, now)
            for p in org.projects
            for day in org.day_list[:3]
        ]
    )


def test_different_seed_or_date_gives_different_data(org):
    assert _first_days(generate_organisation(AS_OF)) == _first_days(org)
    assert _first_days(generate_organisation(AS_OF, seed=8)) != _first_days(org)
    assert _first_days(generate_organisation(AS_OF + dt.timedelta(days=1))) != _first_days(org)


def test_arguments_are_validated():
    with pytest.raises(TypeError):
        generate_organisation(dt.datetime(2026, 11, 29))
    with pytest.raises(ValueError):
        generate_organisation(AS_OF, projects=0)
    with pytest.raises(ValueError):
        generate_organisation(AS_OF, days=0)


def test_everything_is_created_inside_the_window(org):
    assert org.window_start == WINDOW_START and org.window_end == WINDOW_END
    for item in [*org.pipelines, *org.workflows, *org.insights_workflow_runs]:
        assert WINDOW_START <= parse_timestamp(item["created_at"]) < WINDOW_END
    for row in org.workflow_runs():
        assert WINDOW_START <= row["created_at"] < WINDOW_END
        assert row["stopped_at"] is None or row["stopped_at"] < WINDOW_END
    for row in org.job_runs():
        for key in ("started_at", "stopped_at"):
            assert row[key] is None or row[key] < WINDOW_END


def test_small_window_and_more_projects():
    small = generate_organisation(AS_OF, days=7, projects=5, seed=3)
    assert len(small.projects) == 5
    start = WINDOW_END - dt.timedelta(days=7)
    assert all(start <= parse_timestamp(p["created_at"]) < WINDOW_END for p in small.pipelines)


def test_projects(org):
    assert [p.slug for p in org.projects] == [
        "gh/acme/web-app",
        "gh/acme/api-service",
        "gh/acme/mobile-app",
    ]
    assert {p.default_branch for p in org.projects} == {"main", "master"}
    assert all(isinstance(p, CircleCIProject) and p.organization == "acme" for p in org.projects)
    assert len({p.id for p in org.projects}) == 3


def test_volume_and_variety(org):
    assert 2000 <= len(org.pipelines) <= 4000
    runs = org.workflow_runs()
    statuses = collections.Counter(r["status"] for r in runs)
    for status in ("success", "failed", "canceled", "not_run", "error"):
        assert statuses[status] > 0, status
    assert statuses["running"] + statuses["on_hold"] + statuses["failing"] > 0
    failure_share = (statuses["failed"] + statuses["error"]) / len(runs)
    assert 0.08 <= failure_share <= 0.18
    assert {r["workflow_name"] for r in runs} == {"build-test", "deploy", "nightly"}
    triggers = collections.Counter(r["trigger_type"] for r in runs)
    assert triggers["webhook"] > triggers["scheduled_pipeline"] > 0
    # Weekdays are much busier than weekends.
    per_weekday = collections.Counter(
        parse_timestamp(p["created_at"]).weekday() >= 5
        for p in org.pipelines
        if p["trigger"]["type"] != "scheduled_pipeline"
    )
    assert per_weekday[False] > 5 * per_weekday[True]


def test_branches_and_tags(org):
    default = {p.slug: p.default_branch for p in org.projects}
    pushes = [p for p in org.pipelines if p["trigger"]["type"] != "scheduled_pipeline"]
    on_default = sum(p["vcs"].get("branch") == default[p["project_slug"]] for p in pushes)
    # The shared repository history puts about 40% of its pushes on the default branch.
    assert 0.3 <= on_default / len(pushes) <= 0.7
    tagged = [p for p in org.pipelines if "tag" in p["vcs"]]
    assert tagged
    assert all("branch" not in p["vcs"] and p["vcs"]["tag"].startswith("v") for p in tagged)
    tag_rows = [r for r in org.workflow_runs() if r["tag"] is not None]
    assert tag_rows and all(r["branch"] == "" for r in tag_rows)
    # Deploys only from the default branch; nightly only from the schedule on the default branch.
    for row in org.workflow_runs():
        if row["workflow_name"] == "deploy":
            assert row["branch"] == default[row["project_slug"]]
        if row["workflow_name"] == "nightly":
            assert row["trigger_type"] == "scheduled_pipeline"
            assert row["branch"] == default[row["project_slug"]]


def test_workflow_status_and_stop_follow_the_jobs(org):
    window_end = WINDOW_END
    for wf in org.workflows:
        jobs = org.workflow_jobs[wf["id"]]
        assert 2 <= len(jobs) <= 5
        statuses = {j["status"] for j in jobs}
        stops = [parse_timestamp(j["stopped_at"]) for j in jobs if j["stopped_at"]]
        status = wf["status"]
        if status in ("running", "on_hold", "failing"):
            assert wf["stopped_at"] is None
            assert parse_timestamp(wf["created_at"]) > window_end - dt.timedelta(hours=3)
            assert statuses & {"running", "queued", "on_hold"}
            continue
        if status == "not_run":
            assert statuses == {"not_run"} and wf["stopped_at"] is None
            continue
        assert parse_timestamp(wf["stopped_at"]) == max(stops)
        if status == "success":
            assert statuses == {"success"}
        elif status == "failed":
            assert statuses & {"failed", "timedout"}
        elif status == "error":
            assert "infrastructure_fail" in statuses
        elif status == "canceled":
            assert "canceled" in statuses and "canceled_by" in wf
        else:
            pytest.fail(f"unexpected workflow status {status}")
        if status != "canceled":
            assert "canceled_by" not in wf


def test_workflows_start_seconds_after_their_pipeline(org):
    pipelines = {p["id"]: p for p in org.pipelines}
    first = {}
    for wf in org.workflows:
        first.setdefault((wf["pipeline_id"], wf["name"]), wf)
    for wf in first.values():
        pipeline = pipelines[wf["pipeline_id"]]
        gap = parse_timestamp(wf["created_at"]) - parse_timestamp(pipeline["created_at"])
        assert dt.timedelta(0) < gap < dt.timedelta(seconds=10)
        assert wf["pipeline_number"] == pipeline["number"]
        assert wf["project_slug"] == pipeline["project_slug"]


def test_errored_pipelines_have_no_workflows(org):
    with_workflows = {w["pipeline_id"] for w in org.workflows}
    errored = [p for p in org.pipelines if p["state"] == "errored"]
    assert errored
    for pipeline in errored:
        assert pipeline["errors"] and pipeline["id"] not in with_workflows


def test_reruns_are_later_workflows_of_the_same_name_in_the_same_pipeline(org):
    attempts = collections.defaultdict(list)
    for wf in org.workflows:
        attempts[(wf["pipeline_id"], wf["name"])].append(wf)
    reruns = [group for group in attempts.values() if len(group) > 1]
    assert len(reruns) >= 50
    recovered = 0
    for group in reruns:
        group.sort(key=lambda w: w["created_at"])
        assert len({w["id"] for w in group}) == len(group)
        for earlier, later in itertools.pairwise(group):
            assert earlier["status"] in ("failed", "error")
            assert earlier["stopped_at"] < later["created_at"]
        recovered += group[-1]["status"] == "success"
    assert recovered / len(reruns) > 0.6


def test_failures_come_in_streaks_that_recover(org):
    by_key = collections.defaultdict(list)
    for row in org.workflow_runs():
        if row["status"] in ("success", "failed"):
            by_key[(row["project_slug"], row["workflow_name"], row["branch"])].append(row)
    recovered_streaks = 0
    for rows in by_key.values():
        rows.sort(key=lambda r: r["stopped_at"])
        streak = 0
        for row in rows:
            if row["status"] == "failed":
                streak += 1
            else:
                recovered_streaks += streak >= 2
                streak = 0
    assert recovered_streaks >= 10


def test_jobs(org):
    numbers = collections.defaultdict(list)
    for wf in org.workflows:
        jobs = org.workflow_jobs[wf["id"]]
        ids = {j["id"] for j in jobs}
        for job in jobs:
            assert job["project_slug"] == wf["project_slug"]
            assert set(job["dependencies"]) <= ids
            assert set(job["requires"]) == set(job["dependencies"])
            if job["type"] == "approval":
                assert "job_number" not in job
                assert job["approval_request_id"] == job["id"]
            started = job["started_at"] is not None
            if job["type"] == "build":
                assert ("job_number" in job) == started
                if started:
                    numbers[job["project_slug"]].append(
                        (job["job_number"], (wf["project_slug"], job["job_number"]))
                    )
            if job["status"] in ("blocked", "queued", "not_run", "on_hold"):
                assert job["started_at"] is None and job["stopped_at"] is None
            if job["status"] == "running":
                assert started and job["stopped_at"] is None
            if started and job["stopped_at"]:
                assert job["started_at"] < job["stopped_at"]
                assert job["started_at"] >= wf["created_at"]
    for slug, entries in numbers.items():
        values = [n for n, _ in entries]
        assert len(values) == len(set(values)), f"duplicate job numbers in {slug}"
    # Every started build job has details, and nothing else does.
    expected = {key for entries in numbers.values() for _, key in entries}
    assert set(org.job_details) == expected


def test_job_numbers_increase_with_queue_time(org):
    """Numbers are handed out per day in queue order; only a job queued after midnight for a
    workflow of the day before can be out of order."""
    by_project = collections.defaultdict(list)
    for (slug, number), details in org.job_details.items():
        by_project[slug].append((number, details["queued_at"]))
    for rows in by_project.values():
        rows.sort()
        inversions = sum(a[1] > b[1] for a, b in itertools.pairwise(rows))
        assert inversions <= len(rows) * 0.01


def test_job_details_match_the_workflow_jobs(org):
    jobs = {j["id"]: (wf, j) for wf in org.workflows for j in org.workflow_jobs[wf["id"]]}
    by_number = {(wf["project_slug"], j.get("job_number")): (wf, j) for wf, j in jobs.values()}
    for (slug, number), details in org.job_details.items():
        wf, job = by_number[(slug, number)]
        assert details["number"] == number and details["name"] == job["name"]
        assert details["status"] == job["status"]
        assert details["started_at"] == job["started_at"]
        assert details["stopped_at"] == job["stopped_at"]
        assert details["latest_workflow"] == {"id": wf["id"], "name": wf["name"]}
        assert details["pipeline"] == {"id": wf["pipeline_id"]}
        assert details["project"]["slug"] == slug
        assert details["created_at"] <= details["queued_at"] <= details["started_at"]
        assert len(details["parallel_runs"]) == details["parallelism"]
        if details["stopped_at"] is None:
            assert details["duration"] is None
        else:
            elapsed = parse_timestamp(details["stopped_at"]) - parse_timestamp(
                details["started_at"]
            )
            assert details["duration"] == elapsed // dt.timedelta(milliseconds=1)


def test_insights_runs_cover_every_finished_workflow(org):
    workflows = {w["id"]: w for w in org.workflows}
    pipelines = {p["id"]: p for p in org.pipelines}
    finished = {
        w["id"]
        for w in org.workflows
        if w["status"] in ("success", "failed", "error", "canceled", "unauthorized")
    }
    runs = {r["id"]: r for r in org.insights_workflow_runs}
    assert set(runs) == finished
    for run in runs.values():
        wf = workflows[run["id"]]
        assert run["workflow_name"] == wf["name"] and run["project_slug"] == wf["project_slug"]
        assert run["status"] == wf["status"]
        assert run["created_at"] == wf["created_at"] and run["stopped_at"] == wf["stopped_at"]
        elapsed = parse_timestamp(wf["stopped_at"]) - parse_timestamp(wf["created_at"])
        assert run["duration"] == int(elapsed.total_seconds())
        assert run["branch"] == pipelines[wf["pipeline_id"]]["vcs"].get("branch", "")
        assert run["is_approval"] == (wf["name"] == "deploy")
        assert isinstance(run["credits_used"], int) and run["credits_used"] >= 0
    assert sum(r["credits_used"] for r in runs.values()) > 0


def test_ground_truth_tables_reflect_the_objects(org):
    runs = org.workflow_runs()
    assert len(runs) == len(org.workflows)
    assert [r["created_at"] for r in runs] == sorted(r["created_at"] for r in runs)
    row = runs[0]
    assert set(row) == {
        "project_slug",
        "pipeline_id",
        "pipeline_number",
        "workflow_id",
        "workflow_name",
        "branch",
        "tag",
        "revision",
        "trigger_type",
        "status",
        "created_at",
        "stopped_at",
    }
    assert row["created_at"].tzinfo is not None
    jobs = org.job_runs()
    assert len(jobs) == sum(len(v) for v in org.workflow_jobs.values())
    assert set(jobs[0]) == {
        "project_slug",
        "workflow_id",
        "job_id",
        "job_number",
        "job_name",
        "type",
        "status",
        "started_at",
        "stopped_at",
    }


# -- streaming, repository history, time travel ----------------------------------------------


def test_ids_carry_their_day_and_project(org):
    for index, project in enumerate(org.projects):
        timeline = org.timeline(project.slug)
        assert timeline.index == index
    for pipeline in org.pipelines[::7]:
        day, partition = day_of_uuid(pipeline["id"])
        assert day == parse_timestamp(pipeline["created_at"]).date()
        assert org.projects[partition].slug == pipeline["project_slug"]


def test_push_pipelines_build_commits_of_the_repository_history(org):
    for project in org.projects:
        history = org.timeline(project.slug).repository
        commits = {}
        for day in org.day_list:
            commits.update({c.sha: c for c in history.day(day)})
        pushes = [
            p
            for p in org.pipelines
            if p["project_slug"] == project.slug
            and p["trigger"]["type"] in ("webhook", "api")
            and "branch" in p["vcs"]
        ]
        assert pushes
        for pipeline in pushes:
            commit = commits[pipeline["vcs"]["revision"]]
            assert commit.branch == pipeline["vcs"]["branch"]
            assert pipeline["vcs"]["commit"]["subject"] == commit.message
            created = parse_timestamp(pipeline["created_at"])
            assert dt.timedelta(0) <= created - commit.committed_at < dt.timedelta(seconds=5)
        # Tags and nightlies build the default branch head: a commit made on the default branch.
        for pipeline in org.pipelines:
            if (
                pipeline["project_slug"] == project.slug
                and pipeline["trigger"]["type"] == "scheduled_pipeline"
            ):
                sha = pipeline["vcs"]["revision"]
                assert sha == history.root or commits[sha].branch == project.default_branch


def test_observed_at_shows_the_past_consistently(org):
    at = dt.datetime(2026, 11, 25, 11, 30, tzinfo=dt.UTC)  # a Wednesday, office hours
    past = org.observed_at(at)
    assert past.now == at and org.now == WINDOW_END
    final = {w["id"]: w for w in org.workflows}
    assert 0 < len(past.workflows) < len(org.workflows)
    in_flight = 0
    for pipeline in past.pipelines:
        assert parse_timestamp(pipeline["created_at"]) < at
        assert parse_timestamp(pipeline["updated_at"]) <= at
    for wf in past.workflows:
        assert parse_timestamp(wf["created_at"]) < at
        later = final[wf["id"]]
        if wf["stopped_at"] is not None:
            assert parse_timestamp(wf["stopped_at"]) < at
            assert wf == later  # settled: it never changes again
            continue
        if wf["status"] == "not_run":
            continue
        in_flight += 1
        assert wf["status"] in ("running", "on_hold", "failing")
        assert later["stopped_at"] is None or parse_timestamp(later["stopped_at"]) >= at
        for job in past.workflow_jobs[wf["id"]]:
            for key in ("started_at", "stopped_at"):
                assert job[key] is None or parse_timestamp(job[key]) < at
            if job["status"] in ("queued", "blocked", "on_hold"):
                assert "job_number" not in job
    assert in_flight > 0
    for details in past.job_details.values():
        assert parse_timestamp(details["started_at"]) < at
    with pytest.raises(ValueError):
        org.observed_at(WINDOW_END + dt.timedelta(seconds=1))


def test_queue_times_depend_on_the_resource_class(org):
    queues = collections.defaultdict(list)
    for details in org.job_details.values():
        wait = parse_timestamp(details["started_at"]) - parse_timestamp(details["queued_at"])
        queues[details["executor"]["resource_class"]].append(wait.total_seconds())
    median = {rc: sorted(v)[len(v) // 2] for rc, v in queues.items()}
    assert median["small"] < median["large"] < median["macos.m1.medium.gen1"]
    assert all(min(v) > 0 for v in queues.values())


def test_credits_follow_resource_class_duration_and_parallelism(org):
    rates = {"small": 5, "medium": 10, "large": 20, "xlarge": 40, "macos.m1.medium.gen1": 150}
    by_workflow = collections.Counter()
    for details in org.job_details.values():
        if details["stopped_at"] is None:
            continue
        minutes = -(-details["duration"] // 60_000)
        rate = rates[details["executor"]["resource_class"]]
        by_workflow[details["latest_workflow"]["id"]] += minutes * rate * details["parallelism"]
    for run in org.insights_workflow_runs:
        assert run["credits_used"] == by_workflow[run["id"]]
    job_credits = {r["id"]: r["credits_used"] for r in org.insights_job_runs}
    # Jobs of workflows still running at the end are in the job feed only.
    assert sum(job_credits.values()) >= sum(r["credits_used"] for r in org.insights_workflow_runs)


def test_test_results_and_flaky_tests(org):
    """A broken streak fails the same test; a flaky failure passes when its workflow is rerun,
    so the same test fails and passes on the same commit."""
    revision = {p["id"]: p["vcs"]["revision"] for p in org.pipelines}
    workflow = {w["id"]: w for w in org.workflows}
    outcomes = collections.defaultdict(set)  # (slug, commit, test key) -> results
    results = collections.Counter()
    for (slug, number), details in org.job_details.items():
        tests = org.job_tests(slug, number)
        assert tests is not None
        if details["status"] not in ("success", "failed"):
            assert tests == []
            continue
        if details["status"] == "success":
            assert all(t["result"] in ("success", "skipped") for t in tests)
        for test in tests:
            results[test["result"]] += 1
            key = (test["classname"], test["name"], test["file"])
            sha = revision[workflow[details["latest_workflow"]["id"]]["pipeline_id"]]
            outcomes[(slug, sha, key)].add(test["result"])
            assert (test["message"] is None) == (test["result"] == "success")
            assert isinstance(test["run_time"], float) and test["run_time"] >= 0
    assert results["success"] > 100 * results["failure"] > 0 and results["skipped"] > 0
    flaky = {key for key, seen in outcomes.items() if {"success", "failure"} <= seen}
    assert len(flaky) >= 5
    assert org.job_tests("gh/acme/web-app", 1) is None
