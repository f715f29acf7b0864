"""Benchmarks: speed and memory of the pipeline on the simulated organisation (see README.md).

Each benchmark is `python -m bench.<name>` (or `bench/run.py <name>`), prints a small table and
writes a JSON result with the machine, the data scale, the command and the figures.
"""
