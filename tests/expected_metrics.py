"""The CI metrics of specs/metrics.md §2 computed in plain Python from the generator's ground
truth, independently of the SQL, so the end-to-end tests compare two implementations."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

WINDOWS = {"24h": 1, "7d": 7, "30d": 30, "60d": 60, "90d": 90}

# metrics.md §1, CircleCI workflow column, restated here on purpose (not imported from dbt).
CANONICAL_WORKFLOW_STATUS = {
    "success": "success",
    "failed": "failed",
    "failing": "failed",
    "error": "failed",
    "unauthorized": "failed",
    "canceled": "cancelled",
    "not_run": "skipped",
    "running": "in_progress",
    "on_hold": "in_progress",
}


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, SQL percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def expected_runs(
    workflow_runs: Iterable[dict],
    first_job_queue: dict[str, float] | None = None,
    credits: dict[str, float] | None = None,
) -> list[dict]:
    """fct_ci_workflow_runs rows: canonical status, attempt number, duration, queue time."""
    runs = [dict(run) for run in workflow_runs]
    by_pipeline_and_name: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run in runs:
        by_pipeline_and_name[(run["pipeline_id"], run["workflow_name"])].append(run)
    for attempts in by_pipeline_and_name.values():
        attempts.sort(key=lambda run: (run["created_at"], run["workflow_id"]))
        for number, run in enumerate(attempts, start=1):
            run["run_attempt"] = number
    for run in runs:
        run["canonical_status"] = CANONICAL_WORKFLOW_STATUS[run["status"]]
        run["created_at"] = naive_utc(run["created_at"])
        run["stopped_at"] = naive_utc(run["stopped_at"])
        run["duration_seconds"] = (
            (run["stopped_at"] - run["created_at"]).total_seconds() if run["stopped_at"] else None
        )
        run["queued_seconds"] = (first_job_queue or {}).get(run["workflow_id"])
        run["credits_used"] = (credits or {}).get(run["workflow_id"])
    return runs


def expected_recoveries(runs: list[dict]) -> list[dict]:
    """Per (project, workflow, branch): failure streaks ended by a success (metrics.md §2 MTTR)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        if run["canonical_status"] in ("success", "failed") and run["stopped_at"] is not None:
            groups[(run["project_slug"], run["workflow_name"], run["branch"])].append(run)
    recoveries = []
    for (project, workflow, branch), group in groups.items():
        group.sort(key=lambda run: (run["stopped_at"], run["created_at"], run["workflow_id"]))
        failed_since = None
        for run in group:
            if run["canonical_status"] == "failed" and failed_since is None:
                failed_since = run["stopped_at"]
            elif run["canonical_status"] == "success" and failed_since is not None:
                recoveries.append(
                    {
                        "project_slug": project,
                        "workflow_name": workflow,
                        "branch": branch,
                        "created_at": run["created_at"],
                        "seconds": (run["stopped_at"] - failed_since).total_seconds(),
                    }
                )
                failed_since = None
    return recoveries


def measured_durations(runs: Iterable[dict]) -> list[float]:
    """Durations count finished work only: success and failed runs with an end time."""
    return [
        run["duration_seconds"]
        for run in runs
        if run["canonical_status"] in ("success", "failed") and run["duration_seconds"] is not None
    ]


def _with_all_branches(rows: Iterable[dict]) -> Iterable[tuple[str, dict]]:
    for row in rows:
        yield row["branch"], row
        yield "*", row


def window_statistics(group: list[dict], days: int) -> dict:
    """Counts, rates and duration/queue statistics of one summary row (metrics.md §2)."""
    statuses = [row["canonical_status"] for row in group]
    successes, failures = statuses.count("success"), statuses.count("failed")
    first = [row["canonical_status"] for row in group if row["run_attempt"] == 1]
    first_successes, first_failures = first.count("success"), first.count("failed")
    durations = measured_durations(group)
    queues = [row["queued_seconds"] for row in group if row.get("queued_seconds") is not None]
    credits = [row["credits_used"] for row in group if row.get("credits_used") is not None]
    return {
        "total_runs": len(group),
        "completed_runs": sum(s in ("success", "failed", "cancelled", "skipped") for s in statuses),
        "successful_runs": successes,
        "failed_runs": failures,
        "cancelled_runs": statuses.count("cancelled"),
        "success_rate": successes / (successes + failures) if successes + failures else None,
        "first_attempt_success_rate": (
            first_successes / (first_successes + first_failures)
            if first_successes + first_failures
            else None
        ),
        "throughput": len(group) / days,
        "total_credits_used": float(sum(credits)) if credits else None,
        "duration_sample_size": len(durations),
        "duration_min_seconds": min(durations) if durations else None,
        "duration_mean_seconds": statistics.fmean(durations) if durations else None,
        "duration_median_seconds": percentile(durations, 0.5),
        "duration_p95_seconds": percentile(durations, 0.95),
        "duration_max_seconds": max(durations) if durations else None,
        "duration_stddev_seconds": statistics.stdev(durations) if len(durations) > 1 else None,
        "queued_sample_size": len(queues),
        "queued_median_seconds": percentile(queues, 0.5),
        "queued_p95_seconds": percentile(queues, 0.95),
    }


def in_windows(rows: list[dict], as_of: dt.date, created: str, key: Callable[[dict], tuple]):
    """(key + (window,), window start, end, days, rows) for every window and key with rows;
    each row also counts under branch '*'."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    for window, days in WINDOWS.items():
        start = end - dt.timedelta(days=days)
        grouped: dict[tuple, list[dict]] = defaultdict(list)
        for branch, row in _with_all_branches(r for r in rows if start <= r[created] < end):
            grouped[(*key(row), branch)].append(row)
        for group_key, group in grouped.items():
            yield (*group_key, window), start, end, days, group


def expected_summary(
    workflow_runs: Iterable[dict],
    as_of: dt.date,
    first_job_queue: dict[str, float] | None = None,
    credits: dict[str, float] | None = None,
) -> dict[tuple, dict]:
    """ci_workflow_summary keyed by (project, workflow, branch, window)."""
    runs = expected_runs(workflow_runs, first_job_queue, credits)
    by_recovery: dict[tuple, list[float]] = defaultdict(list)
    for key, *_, group in in_windows(
        expected_recoveries(runs),
        as_of,
        "created_at",
        lambda r: (r["project_slug"], r["workflow_name"]),
    ):
        by_recovery[key] = [recovery["seconds"] for recovery in group]
    summary = {}
    for key, start, end, days, group in in_windows(
        runs, as_of, "created_at", lambda r: (r["project_slug"], r["workflow_name"])
    ):
        recovery_times = by_recovery.get(key, [])
        summary[key] = {
            "window_start": start,
            "window_end": end,
            **window_statistics(group, days),
            "mttr_seconds": statistics.fmean(recovery_times) if recovery_times else None,
            "total_recoveries": len(recovery_times),
        }
    return summary


# metrics.md §1, CircleCI job column, restated on purpose.
CANONICAL_JOB_STATUS = {
    "success": "success",
    "failed": "failed",
    "infrastructure_fail": "failed",
    "timedout": "failed",
    "unauthorized": "failed",
    "terminated-unknown": "failed",
    "canceled": "cancelled",
    "retried": "cancelled",
    "not_run": "skipped",
    "blocked": "skipped",
    "running": "in_progress",
    "queued": "in_progress",
    "not_running": "in_progress",
    "on_hold": "in_progress",
}


def parse_api_time(value: str | None) -> dt.datetime | None:
    return (
        None
        if value is None
        else naive_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    )


def expected_job_runs(job_runs: Iterable[dict], job_details: dict, runs: list[dict]) -> list[dict]:
    """fct_ci_job_runs rows: the run's attributes, canonical status, queue time from the details
    of finished build jobs, duration from the listing."""
    run_by_id = {run["workflow_id"]: run for run in runs}
    rows = []
    for job in job_runs:
        run = run_by_id[job["workflow_id"]]
        details = (
            job_details.get((job["project_slug"], job["job_number"])) if job["job_number"] else None
        )
        # The source fetches details once a build job has finished (it has a stop time).
        finished = (
            job["stopped_at"] is not None and CANONICAL_JOB_STATUS[job["status"]] != "in_progress"
        )
        queued_at = parse_api_time(details["queued_at"]) if details and finished else None
        details_started = parse_api_time(details["started_at"]) if details and finished else None
        started, stopped = naive_utc(job["started_at"]), naive_utc(job["stopped_at"])
        rows.append(
            {
                "job_id": job["job_id"],
                "workflow_id": job["workflow_id"],
                "project_slug": job["project_slug"],
                "workflow_name": run["workflow_name"],
                "job_name": job["job_name"],
                "branch": run["branch"],
                "run_attempt": run["run_attempt"],
                "run_created_at": run["created_at"],
                "canonical_status": CANONICAL_JOB_STATUS[job["status"]],
                "queued_at": queued_at,
                "queued_seconds": (
                    (details_started - queued_at).total_seconds()
                    if queued_at and details_started
                    else None
                ),
                "duration_seconds": (stopped - started).total_seconds()
                if started and stopped
                else None,
                "parallelism": details["parallelism"] if details and finished else None,
            }
        )
    return rows


def first_job_queues(job_rows: list[dict]) -> dict[str, float]:
    """A run's queue time: its first-queued job's (ties broken by job id)."""
    first: dict[str, dict] = {}
    for row in job_rows:
        if row["queued_seconds"] is None:
            continue
        current = first.get(row["workflow_id"])
        if current is None or (row["queued_at"], row["job_id"]) < (
            current["queued_at"],
            current["job_id"],
        ):
            first[row["workflow_id"]] = row
    return {workflow_id: row["queued_seconds"] for workflow_id, row in first.items()}


def expected_job_summary(job_rows: list[dict], as_of: dt.date) -> dict[tuple, dict]:
    """ci_job_summary keyed by (project, workflow, job, branch, window)."""
    return {
        key: {"window_start": start, "window_end": end, **window_statistics(group, days)}
        for key, start, end, days, group in in_windows(
            job_rows,
            as_of,
            "run_created_at",
            lambda r: (r["project_slug"], r["workflow_name"], r["job_name"]),
        )
    }


def expected_daily(
    workflow_runs: Iterable[dict], as_of: dt.date, credits: dict[str, float] | None = None
) -> dict[tuple, dict]:
    """ci_workflow_daily keyed by (project, workflow, branch, day), the 90 days up to as_of."""
    first_day = as_of - dt.timedelta(days=89)
    runs = [
        run
        for run in expected_runs(workflow_runs, credits=credits)
        if first_day <= run["created_at"].date() <= as_of
    ]
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for branch, run in _with_all_branches(runs):
        grouped[
            (run["project_slug"], run["workflow_name"], branch, run["created_at"].date())
        ].append(run)
    daily = {}
    for key, group in grouped.items():
        statuses = [run["canonical_status"] for run in group]
        successes, failures = statuses.count("success"), statuses.count("failed")
        durations = measured_durations(group)
        daily[key] = {
            "total_runs": len(group),
            "successful_runs": successes,
            "failed_runs": failures,
            "success_rate": successes / (successes + failures) if successes + failures else None,
            "duration_median_seconds": percentile(durations, 0.5),
            "duration_p95_seconds": percentile(durations, 0.95),
            "credits_used": window_statistics(group, 1)["total_credits_used"],
        }
    return daily


# The marts below are recomputed with pandas/numpy (numpy's default, linear percentile), from the
# same generator records, as a second independent implementation beside the SQL.


def _percentile(values: pd.Series, fraction: float) -> float | None:
    """numpy's default (linear) percentile of the non-null values; None when there are none."""
    present = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(present, fraction * 100)) if len(present) else None


def _none_for_nan(value: object) -> object:
    """pandas' missing values (NaN, NaT) as None, the way the warehouse returns NULL."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _window_bounds(as_of: dt.date, days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    end = pd.Timestamp(as_of + dt.timedelta(days=1))
    return end - pd.Timedelta(days=days), end


def runs_frame(runs: list[dict]) -> pd.DataFrame:
    """expected_runs() rows as a frame, with the columns the marts read."""
    frame = pd.DataFrame(runs)
    return frame.assign(
        status=frame["canonical_status"],
        run_id=frame["workflow_id"],
        commit_sha=frame["revision"],
        created_at=pd.to_datetime(frame["created_at"]),
    )


def expected_recent_builds(runs: list[dict], as_of: dt.date) -> dict[tuple, dict]:
    """ci_recent_builds keyed by (project, workflow, branch, recency_rank): the newest 50 runs
    created before midnight after as_of, by created_at, then run id and attempt, descending."""
    frame = runs_frame(runs)
    frame = frame[frame["created_at"] < _window_bounds(as_of, 1)[1]]
    frame = frame.sort_values(
        ["created_at", "run_id", "run_attempt"], ascending=False, kind="mergesort"
    )
    frame["recency_rank"] = (
        frame.groupby(["project_slug", "workflow_name", "branch"]).cumcount() + 1
    )
    frame = frame[frame["recency_rank"] <= 50]
    columns = ["run_id", "run_attempt", "status", "created_at", "stopped_at", "duration_seconds",
               "commit_sha"]  # fmt: skip
    return {
        (row.project_slug, row.workflow_name, row.branch, int(row.recency_rank)): {
            column: _none_for_nan(getattr(row, column)) for column in columns
        }
        for row in frame.itertuples(index=False)
    }


def expected_project_overview(
    runs: list[dict], jobs: list[dict], default_branches: dict[str, str], as_of: dt.date
) -> dict[str, dict]:
    """ci_project_overview keyed by project: on the default branch over the 90 days up to as_of,
    median queue and build (success + failed) times, success rate, last build, median job
    parallelism; branch_count over every run of those 90 days."""
    start, end = _window_bounds(as_of, 90)
    frame = runs_frame(runs)
    frame = frame[(frame["created_at"] >= start) & (frame["created_at"] < end)]
    job_frame = pd.DataFrame(jobs)
    job_frame["run_created_at"] = pd.to_datetime(job_frame["run_created_at"])
    job_frame = job_frame[
        (job_frame["run_created_at"] >= start) & (job_frame["run_created_at"] < end)
    ]
    overview = {}
    for project, default_branch in default_branches.items():
        in_project = frame[frame["project_slug"] == project]
        default = in_project[in_project["branch"] == default_branch]
        decided = default[default["status"].isin(["success", "failed"])]
        successes = int((decided["status"] == "success").sum())
        latest = default.sort_values(
            ["created_at", "run_id", "run_attempt"], ascending=False, kind="mergesort"
        ).head(1)
        project_jobs = job_frame[
            (job_frame["project_slug"] == project) & (job_frame["branch"] == default_branch)
        ]
        overview[project] = {
            "default_branch": default_branch,
            "median_queue_seconds": _percentile(default["queued_seconds"].astype(float), 0.5),
            "median_build_seconds": _percentile(decided["duration_seconds"].astype(float), 0.5),
            "branch_count": int(in_project["branch"].nunique()),
            "last_build_at": latest["created_at"].iloc[0].to_pydatetime() if len(latest) else None,
            "last_build_status": latest["status"].iloc[0] if len(latest) else None,
            "success_rate": successes / len(decided) if len(decided) else None,
            "median_parallelism": _percentile(project_jobs["parallelism"].astype(float), 0.5),
            "default_branch_runs": len(default),
        }
    return overview


TEST_RESULTS = {"success": "passed", "failure": "failed", "error": "failed", "failed": "failed",
                "skipped": "skipped"}  # fmt: skip


def executions_frame(
    job_runs: Iterable[dict], job_tests, revisions: dict[str, str]
) -> pd.DataFrame:
    """One row per test execution of a finished job: project, test key, result, run time, the
    run's commit and executed_at (the job's stop time, naive UTC)."""
    rows = []
    for job in job_runs:
        if job["job_number"] is None or job["stopped_at"] is None:
            continue
        for test in job_tests(job["project_slug"], job["job_number"]) or []:
            rows.append(
                {
                    "project_slug": job["project_slug"],
                    "test_key": f"{test['classname'] or ''}::{test['name']}::{test['file'] or ''}",
                    "result": TEST_RESULTS.get(test["result"]),
                    "run_time_seconds": test["run_time"],
                    "commit_sha": revisions[job["workflow_id"]],
                    "executed_at": naive_utc(job["stopped_at"]),
                }
            )
    frame = pd.DataFrame(rows)
    frame["executed_at"] = pd.to_datetime(frame["executed_at"])
    frame["run_time_seconds"] = frame["run_time_seconds"].astype(float)
    return frame


def expected_flaky_keys(executions: pd.DataFrame, as_of: dt.date) -> set[tuple[str, str]]:
    """(project, test key) that both passed and failed on one commit in the 14 days up to as_of."""
    start, end = _window_bounds(as_of, 14)
    recent = executions[(executions["executed_at"] >= start) & (executions["executed_at"] < end)]
    recent = recent[recent["result"].isin(["passed", "failed"])]
    outcomes = recent.groupby(["project_slug", "test_key", "commit_sha"])["result"].nunique()
    return {(project, key) for project, key, _ in outcomes[outcomes == 2].index}


def expected_test_summary(executions: pd.DataFrame, as_of: dt.date) -> dict[tuple, dict]:
    """ci_test_summary keyed by (project, test key, window) for 7d, 30d and 90d."""
    flaky = expected_flaky_keys(executions, as_of)
    summary = {}
    for window, days in (("7d", 7), ("30d", 30), ("90d", 90)):
        start, end = _window_bounds(as_of, days)
        in_window = executions[
            (executions["executed_at"] >= start) & (executions["executed_at"] < end)
        ].assign(
            failed=lambda f: f["result"] == "failed",
            decided=lambda f: f["result"].isin(["passed", "failed"]),
            decided_run_time=lambda f: f["run_time_seconds"].where(f["decided"]),
        )
        per_test = in_window.groupby(["project_slug", "test_key"]).agg(
            total_runs=("result", "size"),
            failed_runs=("failed", "sum"),
            decided_runs=("decided", "sum"),
            p95_run_time_seconds=("decided_run_time", lambda v: _percentile(v, 0.95)),
        )
        per_test = per_test.reset_index()
        per_test["failure_rate"] = per_test["failed_runs"] / per_test["decided_runs"].where(
            per_test["decided_runs"] > 0
        )
        per_test["p95_run_time_seconds"] = per_test["p95_run_time_seconds"].astype(float)
        by_failures = per_test.assign(rate=per_test["failure_rate"].fillna(-1)).sort_values(
            ["project_slug", "failed_runs", "rate", "test_key"],
            ascending=[True, False, False, True],
            kind="mergesort",
        )
        per_test["most_failed_rank"] = by_failures.groupby("project_slug").cumcount() + 1
        by_time = per_test.assign(p95=per_test["p95_run_time_seconds"].fillna(-1)).sort_values(
            ["project_slug", "p95", "test_key"], ascending=[True, False, True], kind="mergesort"
        )
        per_test["slowest_rank"] = by_time.groupby("project_slug").cumcount() + 1
        for row in per_test.itertuples(index=False):
            summary[(row.project_slug, row.test_key, window)] = {
                "total_runs": int(row.total_runs),
                "failed_runs": int(row.failed_runs),
                "failure_rate": _none_for_nan(float(row.failure_rate)),
                "p95_run_time_seconds": _none_for_nan(float(row.p95_run_time_seconds)),
                "is_flaky": (row.project_slug, row.test_key) in flaky,
                "most_failed_rank": int(row.most_failed_rank),
                "slowest_rank": int(row.slowest_rank),
            }
    return summary
