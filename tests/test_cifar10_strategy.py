"""--strategy of the CIFAR-10 command: mirrored on two logical CPU devices, multiworker on two
local worker processes, and one-line errors for what cannot start.

Each training runs in fresh processes: logical devices must be set up before TensorFlow
starts, and each worker needs its own TF_CONFIG. No process may outlive its test.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from examples.cifar10 import report, strategy
from examples.cifar10.data import DataError
from tests.cifar10_data import TINY
from tests.conftest import ROOT

OUTPUTS = set(report.OUTPUTS) | {report.MARKER}
TIMEOUT = 240  # seconds for one training process, TensorFlow's start-up included
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
QUIET.pop("TF_CONFIG", None)

# Two logical CPU devices, set up before anything else touches TensorFlow, then the CLI as
# `python -m examples.cifar10` runs it (its __main__, arguments from sys.argv).
TWO_CPUS = """
import runpy
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
runpy.run_module("examples.cifar10", run_name="__main__", alter_sys=True)
"""



def children():
    """Processes whose parent is this test process (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            ppid = next(line.split()[1] for line in status.splitlines()
                        if line.startswith("PPid:"))
            if int(ppid) == os.getpid():
                found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_stray_process():
    before = set(children())
    yield
    assert set(children()) <= before, "a process started by the test outlived it"


def training_args(data, out, name):
    return ["--data-dir", str(data), "--model", "baseline", "--epochs", "1",
            "--batch-size", "32", "--seed", "3", "--quiet", "--out", str(out),
            "--strategy", name]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mirrored_trains_on_two_logical_cpus(tiny_data, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", TWO_CPUS,
                             *training_args(tiny_data, out, "mirrored")],
                            cwd=ROOT, env=QUIET, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(os.listdir(out)) == OUTPUTS
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["replicas"]) == ("mirrored", 2)
    assert metrics["command"].endswith("--strategy mirrored")
    assert len(metrics["history"]["loss"]) == 1
    assert result.stdout.startswith("baseline: test accuracy ")
    assert f"wrote {out}/acc.png" in result.stdout


def test_multiworker_trains_on_two_local_workers(tiny_data, tmp_path):
    out = tmp_path / "out"  # one folder for both: only the chief may write it
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(2)]}
    procs = []
    try:
        for index in range(2):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "examples.cifar10",
                 *training_args(tiny_data, out, "multiworker")],
                cwd=ROOT, env={**QUIET, "TF_CONFIG": json.dumps(tf_config)},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()  # nothing happens to a process that has exited
            proc.communicate()
    assert all(proc.returncode is not None for proc in procs)
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    chief, other = (stdout for stdout, _ in outputs)
    assert chief.endswith(f"wrote {out}/acc.png, loss.png, metrics.json, samples.png, "
                          f"confusion.png, errors.png\n"), chief
    assert other.endswith("; the chief (worker 0) writes the outputs\n"), other
    # Both workers hold the same weights, so they report the same test accuracy.
    assert chief.split(";")[0] == other.split(";")[0]
    assert set(os.listdir(out)) == OUTPUTS
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["replicas"]) == ("multiworker", 2)
    assert len(metrics["history"]["val_accuracy"]) == 1
    n_train = 5 * TINY["n_train_per_batch"]
    assert metrics["data"]["train_images"] + metrics["data"]["validation_images"] == n_train
    assert f"test accuracy {metrics['final']['test']['accuracy']:.4f}" in chief


def run_cli(*args, env=QUIET):
    return subprocess.run([sys.executable, "-m", "examples.cifar10", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env, message", [
    ({}, "error: --strategy multiworker needs the TF_CONFIG environment variable"),
    ({"TF_CONFIG": "{not json"}, "error: TF_CONFIG must be JSON like"),
    ({"TF_CONFIG": '{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}'},
     "error: TF_CONFIG must be JSON like"),
], ids=["missing", "not-json", "no-workers"])
def test_multiworker_without_a_usable_tf_config_fails_in_one_line(tmp_path, env, message):
    result = run_cli("--strategy", "multiworker", "--out", str(tmp_path / "out"),
                     env={**QUIET, **env})
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_strategy_fails_in_one_line(tmp_path):
    result = run_cli("--strategy", "tpu", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--strategy: invalid choice: 'tpu'" in result.stderr


def test_check_accepts_a_chief_task_and_ignores_other_strategies():
    strategy.check("default", environ={})
    strategy.check("mirrored", environ={})
    strategy.check("multiworker", environ={"TF_CONFIG": json.dumps(
        {"cluster": {"worker": ["a:1"], "chief": ["b:1"]}, "task": {"type": "chief",
                                                                     "index": 0}})})
    with pytest.raises(DataError):
        strategy.check("multiworker", environ={"TF_CONFIG": "[]"})
