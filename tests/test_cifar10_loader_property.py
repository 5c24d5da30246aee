"""Property: any opcode stream is loaded or refused in one line, in bounded memory and time.

The streams come from tests/loader_streams.py (Hypothesis). They run in a subprocess whose
address space is capped and whose run is timed out, so a stream that crashed the loader
(a signal), made it allocate past the cap, or spun would fail this test, not the machine.
"""
import os
import resource
import subprocess
import sys

from tests.conftest import ROOT

MEMORY_CAP = 768 * 2**20
TIME_CAP = 300  # seconds for all the examples: a guard against a hang, not a measurement
EXAMPLES = 300


def cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_generated_opcode_streams_are_loaded_or_refused_in_one_line():
    import tests.loader_streams  # noqa: F401  (the module the subprocess runs)

    result = subprocess.run([sys.executable, "-m", "tests.loader_streams", str(EXAMPLES)],
                            cwd=ROOT, capture_output=True, text=True, timeout=TIME_CAP,
                            preexec_fn=cap_memory,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    # A negative status is a signal: SIGSEGV, or SIGKILL.
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    assert result.stdout.strip() == f"{EXAMPLES} streams: each loaded or refused in one line"
