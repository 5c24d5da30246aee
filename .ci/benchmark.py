#!/usr/bin/env python3
"""Report the wall time of the whole test suite and of `mkdocs build` (a benchmark, not a test).

    .venv/bin/python .ci/benchmark.py [--repeat N]

Run it after `make test` has set up .venv, on an otherwise idle machine. Goals on the
project's 2-core machine: test suite <= 180 s, mkdocs build <= 15 s. The CPU model and a
reference, the fastest of three fresh `import tensorflow` processes, are printed with
the times: the machine's kind and speed vary, so compare runs by both.
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


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (default: 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as site:
        builds = [timed([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", site])
                  for _ in range(args.repeat)]
    # The README's command, as contributors and CI run it (see the Makefile).
    suites = [timed(["make", "--no-print-directory", "-s", "test"]) for _ in range(args.repeat)]
    imports = [timed([sys.executable, "-c", "import tensorflow"]) for _ in range(3)]
    print(f"CPU: {cpu_model()}; reference (fastest import tensorflow of 3): "
          f"{min(imports):.2f} s")
    for name, times in (("mkdocs build --strict", builds), ("test suite (make test)", suites)):
        print(f"{name:24} median {statistics.median(times):6.1f} s   "
              f"runs: {', '.join(f'{t:.1f}' for t in times)}")


if __name__ == "__main__":
    main()
