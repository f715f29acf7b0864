"""dbt build: a full build, then the incremental build of the next day, then a full refresh.

    python -m bench.dbt_build [--runs-per-weekday 7] [--days 90] [--deploy-days 200] [--no-full-refresh]

Day 1: the emulators serve the organisation as it was at the end of the day before the report
date; every source is loaded and `dbt build` runs on a fresh warehouse (everything built).
Day 2: the emulators move to the end of the report date, the sources load incrementally and
`dbt build` runs again: the CI facts merge only their lookback window, every other model is
rebuilt. Then, unless --no-full-refresh, `dbt build --full-refresh` on the same day-2 data: the
like-for-like comparison for the incremental build. Each dbt run is its own process (wall time
and peak RSS); per-model times come from its target/run_results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import common

DBT_PROJECT = common.REPO_ROOT / "dbt_project"


def dbt_command(as_of: dt.date, target: Path, *extra: str) -> list[str]:
    dbt = Path(sys.executable).parent / "dbt"
    return [
        str(dbt),
        "build",
        "--vars",
        json.dumps({"as_of": as_of.isoformat()}),
        "--profiles-dir",
        ".",
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        *extra,
    ]


def model_timings(target: Path) -> dict[str, Any]:
    """Per node execution times from run_results.json, with each model's materialization."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())["nodes"]
    models = {}
    tests_s = 0.0
    for result in results:
        unique_id = result["unique_id"]
        if unique_id.startswith("model."):
            models[unique_id.split(".")[-1]] = {
                "seconds": round(result["execution_time"], 3),
                "materialized": manifest[unique_id]["config"]["materialized"],
                "status": result["status"],
            }
        else:
            tests_s += result["execution_time"]
    return {
        "nodes": len(results),
        "models_s": round(sum(m["seconds"] for m in models.values()), 3),
        "tests_s": round(tests_s, 3),
        "models": dict(sorted(models.items(), key=lambda item: -item[1]["seconds"])),
    }


def build(
    name: str, as_of: dt.date, env: dict[str, str], workdir: Path, *extra: str
) -> dict[str, Any]:
    target = workdir / f"target-{name}"
    if target.exists():
        shutil.rmtree(target)
    measured = common.measure(
        dbt_command(as_of, target, *extra), env, workdir / "logs" / f"dbt-{name}.log", DBT_PROJECT
    )
    return {
        "build": name,
        "command": " ".join(["dbt", *dbt_command(as_of, target, *extra)[1:]]),
        "wall_s": measured.wall_s,
        "peak_rss_mib": measured.peak_rss_mib,
        **model_timings(target),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dbt_build", description=__doc__.split("\n")[0]
    )
    common.add_scale_arguments(parser)
    common.add_output_arguments(parser, "dbt_build")
    parser.add_argument("--no-full-refresh", action="store_true")
    parser.add_argument("--top", type=int, default=10, help="slowest models to show")
    args = parser.parse_args(argv)
    machine_info = common.machine()
    scale = common.scale_from(args)
    workdir = common.fresh_dir(args.workdir)
    warehouse = workdir / "insights.duckdb"
    day_1 = scale.as_of - dt.timedelta(days=1)

    loads, builds = [], []
    with common.served(scale) as (organisation, emulators):
        for day, at in (
            (day_1, dt.datetime.combine(scale.as_of, dt.time(), dt.UTC)),
            (scale.as_of, None),
        ):
            common.set_time(emulators, at, organisation)
            env = common.pipeline_env(warehouse, emulators, organisation, day)
            before = common.request_count(emulators)
            measured = common.measure(
                common.load_command(common.SOURCE_NAMES), env, workdir / "logs" / f"load-{day}.log"
            )
            loads.append(
                {
                    "as_of": day.isoformat(),
                    "wall_s": measured.wall_s,
                    "peak_rss_mib": measured.peak_rss_mib,
                    "requests": common.request_count(emulators) - before,
                    "rows": sum(s["rows"] for s in measured.output.values()),
                }
            )
            builds.append(build("full" if day == day_1 else "incremental", day, env, workdir))
        if not args.no_full_refresh:
            builds.append(build("full_refresh", scale.as_of, env, workdir, "--full-refresh"))

    by_name = {b["build"]: b for b in builds}
    full, incremental = by_name["full"], by_name["incremental"]
    reference = by_name.get("full_refresh", full)
    ratios = {
        "incremental_over_full_wall": common.ratio(incremental["wall_s"], full["wall_s"]),
        "incremental_over_full_models": common.ratio(incremental["models_s"], full["models_s"]),
    }
    if "full_refresh" in by_name:
        ratios["incremental_over_full_refresh_wall"] = common.ratio(
            incremental["wall_s"], reference["wall_s"]
        )
        ratios["incremental_over_full_refresh_models"] = common.ratio(
            incremental["models_s"], reference["models_s"]
        )
    top = list(reference["models"])[: args.top]
    slowest = [
        {
            "model": model,
            "materialized": reference["models"][model]["materialized"],
            **{b["build"]: b["models"].get(model, {}).get("seconds") for b in builds},
        }
        for model in top
    ]
    incremental_models = {
        model: {b["build"]: b["models"][model]["seconds"] for b in builds}
        for model, info in reference["models"].items()
        if info["materialized"] == "incremental"
    }

    print(f"Loads ({scale.asdict()})")
    print(
        common.table(
            ["as_of", "rows", "requests", "wall s", "peak RSS MiB"],
            [[x["as_of"], x["rows"], x["requests"], x["wall_s"], x["peak_rss_mib"]] for x in loads],
        )
    )
    print("\ndbt build")
    print(
        common.table(
            ["build", "nodes", "wall s", "models s", "tests s", "peak RSS MiB"],
            [
                [
                    b["build"],
                    b["nodes"],
                    b["wall_s"],
                    b["models_s"],
                    b["tests_s"],
                    b["peak_rss_mib"],
                ]
                for b in builds
            ],
        )
    )
    print("ratios: " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
    print(f"\n{len(top)} slowest models (by the {reference['build']} build), seconds")
    names = [b["build"] for b in builds]
    print(
        common.table(
            ["model", "materialized", *names],
            [[s["model"], s["materialized"], *(s[n] for n in names)] for s in slowest],
        )
    )
    print("\nincremental models, seconds")
    print(
        common.table(
            ["model", *names], [[m, *(t[n] for n in names)] for m, t in incremental_models.items()]
        )
    )
    return common.write_result(
        args.out,
        "dbt_build",
        machine_info,
        scale.asdict(),
        {
            "loads": loads,
            "builds": [{k: v for k, v in b.items() if k != "models"} for b in builds],
            "ratios": ratios,
            "slowest_models": slowest,
            "incremental_models": incremental_models,
            "model_seconds": {
                b["build"]: {m: i["seconds"] for m, i in b["models"].items()} for b in builds
            },
        },
    )


if __name__ == "__main__":
    main()
