"""Run TensorBoard as a child process on 127.0.0.1, ask its HTTP API, stop it.

Only the loopback address is used, for serving and for every request (no proxy).
"""
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HOST = "127.0.0.1"
# Requests go straight to HOST, whatever http_proxy/no_proxy the environment sets.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class TensorBoardError(RuntimeError):
    """TensorBoard did not start, or did not serve what was asked, in time."""


def free_port():
    """A port that no socket holds now: the system picks it when we bind port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# TensorBoard's own switch (tensorboard/compat/__init__.py): when a module named
# tensorboard.compat.notf exists, it uses its TensorFlow stub instead of importing
# TensorFlow, which takes seconds of a 2-core machine.
WITHOUT_TENSORFLOW = (
    "import runpy, sys, types\n"
    "sys.modules['tensorboard.compat.notf'] = types.ModuleType('tensorboard.compat.notf')\n"
    "sys.argv[0] = 'tensorboard'\n"
    "runpy.run_module('tensorboard.main', run_name='__main__')\n")


def command(logdir, port, tensorflow=True):
    """The TensorBoard of this interpreter's environment, serving logdir on HOST:port,
    as a reader's `tensorboard` command starts it (with TensorFlow), or without it.

    --load_fast=false reads the logs in the server process itself, instead of starting
    a second (Rust) data server that the first one talks to over gRPC."""
    program = ["-m", "tensorboard.main"] if tensorflow else ["-c", WITHOUT_TENSORFLOW]
    return [sys.executable, *program, "--logdir", str(logdir),
            "--host", HOST, "--port", str(port), "--load_fast", "false"]


def get_json(port, path, timeout=5.0):
    """The JSON answer to GET http://HOST:port/path."""
    with _OPENER.open(f"http://{HOST}:{port}{path}", timeout=timeout) as response:
        return json.load(response)


def scalars(port, run, tag):
    """[(step, value), ...] of one run's tag, from the scalars plugin."""
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    points = get_json(port, f"/data/plugin/scalars/scalars?{query}")
    return [(step, value) for _wall_time, step, value in points]


class Server:
    """A TensorBoard child process, the port it was asked to serve on, and its output."""

    def __init__(self, logdir, port, log, tensorflow=True):
        self.port, self.log = port, log
        self.process = subprocess.Popen(command(logdir, port, tensorflow),
                                        stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT)

    def last_line(self):
        self.log.seek(0)
        lines = self.log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"

    def wait_until_serving(self, timeout):
        """Return once it answers; fail in one line if it exits or is not up in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TensorBoardError(f"TensorBoard exited with status "
                                       f"{self.process.returncode}: {self.last_line()}")
            try:
                get_json(self.port, "/data/runs", timeout=1.0)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise TensorBoardError(f"TensorBoard did not answer on {HOST}:{self.port} "
                               f"within {timeout} s")

    def stop(self, grace=10.0):
        stop(self.process, grace)


def wait_for_run(port, run, tag, timeout=30.0):
    """The tags of every run, once `run` has `tag`: the server loads logs after it starts."""
    deadline = time.monotonic() + timeout
    while True:
        tags = get_json(port, "/data/plugin/scalars/tags")
        if tag in tags.get(run, {}):
            return tags
        if time.monotonic() > deadline:
            raise TensorBoardError(f"TensorBoard did not load run {run!r} with tag {tag!r} "
                                   f"within {timeout} s (it has {sorted(tags)})")
        time.sleep(0.2)


def stop(process, grace=10.0):
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def started(logdir, port=None, tensorflow=True):
    """A Server over logdir on HOST (on a free port unless given), stopped on leaving."""
    port = free_port() if port is None else port
    with tempfile.TemporaryFile() as log:
        server = Server(logdir, port, log, tensorflow)
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def serving(logdir, port=None, timeout=90.0, tensorflow=True):
    """The port of a TensorBoard that answers over logdir; stopped on leaving the block."""
    with started(logdir, port, tensorflow) as server:
        server.wait_until_serving(timeout)
        yield server.port
