"""Shared fixtures: the site is built once per test session and reused."""
import fcntl
import json
import os
import subprocess
import sys

import pytest

from tested_docs import ROOT


def build_site(site_dir, config="mkdocs.yml"):
    """`mkdocs build --strict` exactly as a contributor runs it (no -q: it hides failures)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", str(site_dir)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, worker_id):
    """One strict build per test run, shared by the xdist workers of `make test`: the first
    worker to get here builds while the others wait on the lock, then read its result."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # the run's temporary folder, common to all workers
    site, outcome = shared / "built-site", shared / "built-site.json"
    with open(shared / "built-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not outcome.exists():
            result = build_site(site)
            outcome.write_text(json.dumps([result.args, result.returncode, result.stdout,
                                           result.stderr]))
    args, returncode, stdout, stderr = json.loads(outcome.read_text())
    return site, subprocess.CompletedProcess(args, returncode, stdout, stderr)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """An official-layout folder of 5 x 40 training and 40 test images (Python 2 pickles)."""
    from tests import cifar10_data

    return cifar10_data.write_official_layout(tmp_path_factory.mktemp("cifar"),
                                              **cifar10_data.TINY)


@pytest.fixture(autouse=True)
def precision_policy_restored():
    """Code under test may set Keras' global precision (the case study picks bfloat16 on
    chips that have it); the next test starts from the policy this one found."""
    keras = sys.modules.get("keras")
    policy = keras.mixed_precision.global_policy() if keras else None
    yield
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.mixed_precision.set_global_policy(policy or "float32")
