#!/usr/bin/env python3
"""`bench/run.py NAME [ARGS...]`: run `python -m bench.NAME ARGS...` with this interpreter
(use the project's venv: `.venv/bin/python bench/run.py ingest`)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCHMARKS = ("ingest", "dbt_build", "scale")

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(BENCHMARKS)}}} [options]")
    name = sys.argv.pop(1)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    runpy.run_module(f"bench.{name}", run_name="__main__", alter_sys=True)
