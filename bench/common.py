"""What every benchmark shares: the machine description, the simulated organisation and its
emulators, measured child processes (wall time and peak RSS via wait4), tables and JSON results.

Every measured step runs in a child process: its peak RSS (`ru_maxrss` from `os.wait4`) is then
its own, not the benchmark driver's, whose memory holds the emulators and whose peak only grows.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from sandbox import Emulators, SimulatedOrganisation, serve, simulate_organisation

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_WORKDIR = Path("/tmp") / os.environ.get("USER", "bench") / "insights-bench"
AS_OF = dt.date(2026, 3, 15)
SOURCE_NAMES = ("circleci", "github", "gitlab", "octopus")


# -- the machine ------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """CPU, RAM, OS and the versions that matter; the load average says how shared it was."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": _ram_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("duckdb", "dlt", "dbt-core", "dbt-duckdb", "dagster", "pyarrow")
        },
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- the data scale -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scale:
    """The `simulate_organisation` knobs of one run."""

    as_of: dt.date = AS_OF
    seed: int = 11
    runs_per_weekday: float | None = 7
    days: int = 90
    deploy_days: int = 200

    def organisation(self) -> SimulatedOrganisation:
        return simulate_organisation(
            self.as_of,
            seed=self.seed,
            runs_per_weekday=self.runs_per_weekday,
            days=self.days,
            deploy_days=self.deploy_days,
        )

    def asdict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "as_of": self.as_of.isoformat()}


def add_scale_arguments(parser: argparse.ArgumentParser, **defaults: Any) -> None:
    scale = Scale(**defaults)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=scale.as_of)
    parser.add_argument("--seed", type=int, default=scale.seed)
    parser.add_argument(
        "--runs-per-weekday",
        type=float,
        default=scale.runs_per_weekday,
        help="push pipelines per weekday of the busiest project (sandbox default: 12/10/8)",
    )
    parser.add_argument("--days", type=int, default=scale.days, help="days of CI history")
    parser.add_argument(
        "--deploy-days", type=int, default=scale.deploy_days, help="days of deployments"
    )


def scale_from(args: argparse.Namespace) -> Scale:
    return Scale(args.as_of, args.seed, args.runs_per_weekday, args.days, args.deploy_days)


def add_output_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR / name,
        help="warehouses, dlt state, dbt target and logs (emptied first; default %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / f"{name}.json",
        help="the JSON result (default %(default)s)",
    )


def fresh_dir(path: Path) -> Path:
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# -- the emulators ------------------------------------------------------------------------------


@contextmanager
def served(scale: Scale) -> Iterator[tuple[SimulatedOrganisation, Emulators]]:
    organisation = scale.organisation()
    with serve(organisation) as emulators:
        yield organisation, emulators


def emulator_of(emulators: Emulators, source: str) -> Any:
    return getattr(emulators, source)


def request_count(emulators: Emulators, sources: Sequence[str] = SOURCE_NAMES) -> int:
    return sum(sum(emulator_of(emulators, s).request_log.values()) for s in sources)


def set_time(emulators: Emulators, at: dt.datetime | None, organisation: SimulatedOrganisation):
    """Serve every provider as it was at `at` (None: the end of the report date)."""
    end = dt.datetime.combine(organisation.as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    for source in SOURCE_NAMES:
        emulator_of(emulators, source).at = at or end


def pipeline_env(
    warehouse: Path, emulators: Emulators, organisation: SimulatedOrganisation, as_of: dt.date
) -> dict[str, str]:
    """Every source pointed at its emulator (as tests/pipeline_support.py does), quick retries."""
    return {
        "INSIGHTS_WAREHOUSE": str(warehouse),
        "INSIGHTS_AS_OF": as_of.isoformat(),
        **emulators.environment(organisation),
        **{
            f"SOURCES__{n.upper()}__BACKOFF_FACTOR": "0.05"
            for n in ("circleci", "github", "gitlab")
        },
        # History on the first load: the whole simulated CI window.
        "SOURCES__CIRCLECI__INITIAL_DAYS": str(organisation.circleci.days),
    }


# -- measured child processes -------------------------------------------------------------------


@dataclasses.dataclass
class Measured:
    wall_s: float
    peak_rss_mib: float
    output: Any  # the child's JSON answer on stdout's last line, when it printed one


def measure(
    command: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path = REPO_ROOT
) -> Measured:
    """Run `command` to completion; wall time and the peak resident set of the process (and of
    any children it waited for), from the kernel's accounting (os.wait4), not from sampling."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as log_file:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            env={**os.environ, **env},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
        assert process.stdout is not None
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    with log.open("a") as log_file:
        log_file.write(stdout)
    if process.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited with {process.returncode}; see {log}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    output = json.loads(lines[-1]) if lines else None
    # ru_maxrss is in KiB on Linux.
    return Measured(round(wall, 3), round(usage.ru_maxrss / 1024, 1), output)


def load_command(sources: Sequence[str], loader_file_format: str = "parquet") -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.worker",
        "load",
        "--format",
        loader_file_format,
        *sources,
    ]


# -- reporting --------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                v.rjust(w) if i else v.ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def write_result(
    path: Path, name: str, machine_info: dict[str, Any], scale: Any, figures: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON result: machine, scale, command, figures; the load average at the end too."""
    result = {
        "benchmark": name,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, "-m", f"bench.{name}", *sys.argv[1:]]),
        "machine": machine_info,
        "scale": scale,
        **figures,
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nresult written to {path}")
    return result
