#!/usr/bin/env python3
"""Report the wall time of the whole test suite and of `mkdocs build` (a benchmark, not a test).

    .venv/bin/python .ci/benchmark.py [--repeat N]

Run it after `make test` has set up .venv, on an otherwise idle machine. Goals on the
project's 2-core reference machine: test suite <= 120 s, mkdocs build <= 15 s.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script
from tested_docs import ROOT  # noqa: E402


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {result.returncode}):\n"
                 f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (default: 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as site:
        builds = [timed([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", site])
                  for _ in range(args.repeat)]
    # The README's command, as contributors and CI run it (two xdist workers, see Makefile).
    suites = [timed(["make", "--no-print-directory", "-s", "test"]) for _ in range(args.repeat)]
    for name, times in (("mkdocs build --strict", builds), ("test suite (make test)", suites)):
        print(f"{name:24} median {statistics.median(times):6.1f} s   "
              f"runs: {', '.join(f'{t:.1f}' for t in times)}")


if __name__ == "__main__":
    main()
