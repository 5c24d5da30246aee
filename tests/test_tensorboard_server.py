"""TensorBoard really serves the logs that the callbacks chapter's own code writes.

The logs come from the page's blocks, run here as the page runs them: its setup, its
data, `make_model`, and the block that defines and calls `train_and_log` (with the
page's `log_root` pointed at a temporary folder). TensorBoard is then started on
127.0.0.1, on a free port, and its HTTP API must return the values the page logged.
"""
import ast
import contextlib
import io
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tested_docs import notebooks
from tests import tensorboard_server
from tests.tensorboard_server import TensorBoardError

PAGE = "callbacks.md"


def defines(source, name):
    """True when the block assigns or defines `name` at its top level."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(
                isinstance(part, ast.Name) and part.id == name
                for target in node.targets for part in ast.walk(target)):
            return True
    return False


def page_block(blocks, name):
    found = [source for source in blocks if defines(source, name)]
    assert found, f"docs/{PAGE} has no block that defines {name}"
    return found[0]


@pytest.fixture(scope="module")
def page_logs(tmp_path_factory):
    """(log_root, the losses train_and_log returned), from the page's own blocks."""
    blocks = [text for kind, text, _ in notebooks.cells_of(PAGE) if kind == "code"]
    log_root = tmp_path_factory.mktemp("logs")
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for name in ["workdir", "x_train", "make_model"]:  # setup, data, model
            exec(page_block(blocks, name), namespace)
        shutil.rmtree(namespace["workdir"])  # the page's temporary folder: unused here
        namespace["log_root"] = log_root
        exec(page_block(blocks, "train_and_log"), namespace)
    return log_root, namespace["loop_losses"]


@contextlib.contextmanager
def occupied_port():
    """A port that a listening socket holds for the duration of the block."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((tensorboard_server.HOST, 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_the_page_logged_eight_epochs(page_logs):
    log_root, losses = page_logs
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert list(log_root.glob("loop/events.out.tfevents.*"))


def test_tensorboard_serves_the_scalars_the_page_logged(page_logs):
    """On a free port, while another TensorBoard, started at the same time on a busy
    port, stops with one clear line. That one runs without TensorFlow, which starts in a
    fraction of the time: TensorFlow changes how TensorBoard reads logs, not how its
    server binds a port, where this one fails (tensorboard/program.py)."""
    log_root, losses = page_logs
    with occupied_port() as taken, contextlib.ExitStack() as servers:
        port = tensorboard_server.free_port()
        assert port != taken  # a busy port is never handed out
        busy = servers.enter_context(tensorboard_server.started(log_root, taken,
                                                                tensorflow=False))
        good = servers.enter_context(tensorboard_server.started(log_root, port))
        good.wait_until_serving(timeout=90)
        tags = tensorboard_server.wait_for_run(port, "loop", "loss")
        assert sorted(tags["loop"]) == ["learning_rate", "loss"]
        loss = tensorboard_server.scalars(port, "loop", "loss")
        rates = tensorboard_server.scalars(port, "loop", "learning_rate")
        with pytest.raises(TensorBoardError, match=f"could not bind to port {taken}, "
                                                   "it was already in use"):
            busy.wait_until_serving(timeout=90)
    assert good.process.returncode is not None and busy.process.returncode is not None
    assert [step for step, _ in loss] == list(range(8))
    # Stored as float32: equal to the logged Python floats at float32 precision.
    assert np.array_equal(np.float32([value for _, value in loss]), np.float32(losses))
    # ExponentialDecay(0.01, 5, 0.9) after 5 steps per epoch: 0.01 * 0.9 ** (epoch + 1).
    expected = 0.01 * 0.9 ** np.arange(1, 9)
    assert np.allclose([value for _, value in rates], expected, rtol=1e-5)


def test_a_server_that_does_not_answer_in_time_fails_in_one_line(tmp_path):
    """A timeout that cannot be met: the error names it (and `serving` stops the process)."""
    # A TensorBoard process needs far longer than 0.05 s just to import its modules.
    with pytest.raises(TensorBoardError, match="did not answer .* within 0.05 s"):
        with tensorboard_server.serving(tmp_path, timeout=0.05, tensorflow=False):
            pass


def test_the_server_without_tensorflow_really_runs_without_it(tmp_path):
    """The switch works: TensorBoard serves, and its process never loaded TensorFlow."""
    with tensorboard_server.started(tmp_path, tensorflow=False) as server:
        server.wait_until_serving(timeout=90)
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "libtensorflow" not in maps and "_pywrap_tensorflow" not in maps


def test_stop_kills_a_process_that_ignores_sigterm():
    stubborn = subprocess.Popen([sys.executable, "-c", (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE)
    try:
        assert stubborn.stdout.readline() == b"ready\n"  # SIGTERM is ignored from here
        tensorboard_server.stop(stubborn, grace=0.5)
        assert stubborn.returncode == -9  # SIGKILL
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.stdout.close()
