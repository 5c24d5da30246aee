"""The output set (curves, figures, metrics.json) is swapped in as one, whatever happens.

A kill inside the swap is tested with strace, which delays the swap's one system call
(renameat2 RENAME_EXCHANGE) so that SIGKILL lands inside it; see the field notes.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from examples.cifar10 import report, schema
from tests import cifar10_data
from tests.conftest import ROOT

OLD = {"acc.png": b"old acc\n", "loss.png": b"old loss\n", "metrics.json": b'{"old": 1}\n',
       **{name: b"old figure\n" for name in report.FIGURES}}
NEW = {"acc.png": b"new acc\n", "loss.png": b"new loss\n", "metrics.json": b'{"new": 1}\n',
       **{name: b"new figure\n" for name in report.FIGURES}}


@pytest.fixture
def out(tmp_path):
    """An output folder holding an old set, another run's folder and a file of its own."""
    folder = tmp_path / "plots"
    (folder / "baseline").mkdir(parents=True)
    for name, data in OLD.items():
        (folder / name).write_bytes(data)
    (folder / report.MARKER).write_bytes(report.MARKER_TEXT)  # a previous run's set
    (folder / "baseline" / "metrics.json").write_bytes(b'{"baseline": 1}\n')
    (folder / "benchmark.json").write_bytes(b'{"benchmark": 1}\n')
    return folder


def outputs(folder):
    return {name: (folder / name).read_bytes() for name in report.OUTPUTS}


def others(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not (p.parent == folder
                                    and p.name in report.OUTPUTS + (report.MARKER,))}


def leftovers(folder):
    return sorted(p.name for p in folder.parent.iterdir() if ".swap-" in p.name)


def test_swap_replaces_the_set_and_keeps_everything_else(out):
    kept_inode = (out / "benchmark.json").stat().st_ino
    before = others(out)
    report.swap_in(out, NEW)
    assert outputs(out) == NEW and others(out) == before
    assert (out / "benchmark.json").stat().st_ino == kept_inode  # linked, not copied
    assert leftovers(out) == []
    assert {oct((out / n).stat().st_mode & 0o777) for n in NEW} == {"0o644"}


def test_swap_into_a_new_folder(tmp_path):
    report.swap_in(tmp_path / "a" / "b", NEW)
    assert outputs(tmp_path / "a" / "b") == NEW and leftovers(tmp_path / "a" / "b") == []


def test_swap_without_an_atomic_exchange_still_never_mixes(out, monkeypatch):
    monkeypatch.setattr(report, "_exchange", lambda a, b: False)
    report.swap_in(out, NEW)
    assert outputs(out) == NEW and leftovers(out) == []


def test_a_run_killed_between_the_two_renames_of_the_fallback_is_undone(out):
    # What the fallback leaves when killed after taking the old set out: no --out at all.
    old = out.parent / f".{out.name}.swap-old-x1abcdef"
    os.rename(out, old)
    staged = out.parent / f".{out.name}.swap-new-x2abcdef"
    staged.mkdir()
    (staged / report.MARKER).write_bytes(report.MARKER_TEXT)
    report.clean_leftovers(str(out))
    assert outputs(out) == OLD and leftovers(out) == []


FIGURES = {name: b"\x89PNG stand-in" for name in report.FIGURES}


def no_space(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failure", ["fsync", "link"])
def test_a_failed_write_keeps_the_old_set_and_leaves_no_temporary_file(out, monkeypatch,
                                                                       failure):
    monkeypatch.setattr(report.os, failure, no_space)
    with pytest.raises(report.OutputError,
                       match=r"could not write the outputs \(No space left on device\); "
                             r"the previous ones are unchanged"):
        report.write_outputs(out, {"accuracy": [0.5], "val_accuracy": [0.5],
                                   "loss": [1.0], "val_loss": [1.0]}, {"nothing": 1}, FIGURES)
    assert outputs(out) == OLD and leftovers(out) == []


def test_metrics_with_nan_are_never_written(out):
    with pytest.raises(ValueError):  # json.dumps(allow_nan=False)
        report.write_outputs(out, {"accuracy": [0.5], "val_accuracy": [0.5], "loss": [1.0],
                                   "val_loss": [1.0]}, {"loss": float("nan")}, FIGURES)
    assert outputs(out) == OLD and leftovers(out) == []


def test_published_metrics_with_nan_are_refused_naming_the_key():
    metrics = json.loads((ROOT / "plots" / "metrics.json").read_text())
    schema.check_run(metrics)
    metrics["final"]["test"]["accuracy"] = float("nan")
    with pytest.raises(schema.SchemaError, match=r"^final\.test\.accuracy: nan is not a "
                                                 r"finite number$"):
        schema.check_run(metrics)


def test_an_output_name_taken_by_a_folder_is_refused_before_training(out, tmp_path):
    shutil.rmtree(out / "baseline")
    (out / "metrics.json").unlink()
    (out / "metrics.json").mkdir()
    result = subprocess.run([sys.executable, "-m", "examples.cifar10", "--data-dir",
                             tmp_path / "nowhere", "--out", out], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == (
        f"error: --out {out}: metrics.json exists and is not a regular file\n")
    assert (out / "acc.png").read_bytes() == OLD["acc.png"]


def test_an_out_folder_with_too_many_other_files_is_refused(tmp_path):
    (tmp_path / report.MARKER).write_bytes(report.MARKER_TEXT)
    for i in range(report.MAX_KEPT_ENTRIES + 1):
        (tmp_path / f"f{i}").touch()
    with pytest.raises(report.OutputError, match="holds more than 1000 other files"):
        report.swap_in(tmp_path, NEW)
    assert not (tmp_path / "metrics.json").exists() and leftovers(tmp_path) == []


# --- kills inside the swap ----------------------------------------------------------------

needs_strace = pytest.mark.skipif(shutil.which("strace") is None,
                                  reason="needs strace (fault injection); .ci/run installs it")


# How long strace holds the swap's renameat2: the kill must land inside it, and strace
# sleeps out the rest of it after the kill, so every test below waits about that long.
HOLD_MICROSECONDS = 1_500_000


def traced(command, when, log):
    """Run `command` under strace, the swap's renameat2 held at entry or exit."""
    return subprocess.Popen(
        ["strace", "-f", "--seccomp-bpf", "-qq", "-o", str(log), "-e", "trace=renameat2",
         "-e", f"inject=renameat2:{when}={HOLD_MICROSECONDS}", *command],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def traced_child(tracer):
    """The process strace runs the command in."""
    return int(Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text().split()[0])


def held_by_strace(pid):
    """Whether strace holds process `pid` stopped. Only renameat2 is traced (--seccomp-bpf
    stops nothing else), so after the staging this is the exchange being held."""
    return "t (tracing stop)" in Path(f"/proc/{pid}/status").read_text()


def kill_traced(tracer, ready, timeout=120):
    """Wait until ready(), then SIGKILL the traced process (strace's child)."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert tracer.poll() is None, "the command ended before the swap"
            assert time.monotonic() < deadline, "the swap never started"
            time.sleep(0.02)
        os.kill(traced_child(tracer), signal.SIGKILL)
        tracer.wait(timeout=30)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()


def check_complete(folder):
    """A whole set: two PNG figures and metrics that pass the schema, or the old set."""
    found = outputs(folder)
    if found == OLD:
        return "old"
    assert all(found[n].startswith(b"\x89PNG\r\n\x1a\n") for n in ("acc.png", "loss.png"))
    schema.check_run(json.loads(found["metrics.json"]))
    return "new"


@needs_strace
def test_the_cli_killed_inside_the_swap_leaves_a_complete_set(out, tmp_path):
    """SIGKILL while the exchange's return is held: the new set is whole, nothing mixed."""
    data = cifar10_data.write_official_layout(tmp_path / "data", n_train_per_batch=10,
                                              n_test=10)
    before = others(out)
    # The baseline: the swap is the same for both models, and it trains faster.
    tracer = traced([sys.executable, "-m", "examples.cifar10", "--data-dir", str(data),
                     "--model", "baseline", "--epochs", "1", "--quiet", "--out", str(out)],
                    "delay_exit",
                    tmp_path / "strace.log")
    kill_traced(tracer, lambda: (out / "metrics.json").read_bytes() != OLD["metrics.json"])
    assert tracer.returncode is not None
    assert check_complete(out) == "new" and others(out) == before
    assert "RENAME_EXCHANGE" in (tmp_path / "strace.log").read_text()
    # What the kill left (the old set, beside --out) goes with the next run.
    assert leftovers(out)
    report.swap_in(out, NEW)
    assert outputs(out) == NEW and leftovers(out) == [] and others(out) == before


DRIVER = """
import sys
from examples.cifar10 import report
history = {"accuracy": [0.5], "val_accuracy": [0.5], "loss": [1.0], "val_loss": [1.0]}
report.write_outputs(sys.argv[1], history, {"new": 1},
                     {name: b"png" for name in report.FIGURES})
"""


@needs_strace
def test_a_kill_before_the_exchange_completes_leaves_the_old_set(out, tmp_path):
    tracer = traced([sys.executable, "-c", DRIVER, str(out)], "delay_enter",
                    tmp_path / "strace.log")

    def held_at_the_exchange():
        staged = [p for p in out.parent.glob(f".{out.name}.swap-new-*")]
        return staged and (staged[0] / "baseline" / "metrics.json").exists() and \
            held_by_strace(traced_child(tracer))

    kill_traced(tracer, held_at_the_exchange)
    assert check_complete(out) == "old"
    assert leftovers(out)
    report.swap_in(out, NEW)
    assert outputs(out) == NEW and leftovers(out) == []


# --- signals and what the CLI says --------------------------------------------------------

def test_sigint_inside_the_swap_waits_until_the_new_set_is_in(out, monkeypatch):
    exchange = report._exchange

    def exchange_with_an_interrupt(a, b):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C at the worst moment
        return exchange(a, b)

    monkeypatch.setattr(report, "_exchange", exchange_with_an_interrupt)
    monkeypatch.setattr(report, "committed", None)
    # A terminal's Ctrl+C: a background job (nohup ... &) starts with SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            report.swap_in(out, NEW)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert outputs(out) == NEW and leftovers(out) == [] and report.committed == out


@pytest.mark.parametrize("after_swap", [False, True])
def test_an_interrupted_run_says_whether_the_outputs_were_written(after_swap, out,
                                                                  monkeypatch, capsys):
    from examples.cifar10 import cli, run

    def interrupted_run(args, dataset):
        if after_swap:
            report.swap_in(args.out, NEW)
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run", interrupted_run)
    monkeypatch.setattr(report, "committed", None)
    monkeypatch.setattr(cli, "validate", lambda args: None)
    assert cli.main(["--out", str(out)]) == 130
    message = capsys.readouterr().err
    if after_swap:
        assert message == f"interrupted after the new outputs were written to {out}\n"
        assert outputs(out) == NEW
    else:
        assert message == f"interrupted: --out {out} left as it was\n"
        assert outputs(out) == OLD


def test_a_full_disk_at_the_end_is_one_line_and_keeps_the_old_set(out, monkeypatch, capsys):
    from examples.cifar10 import cli, run

    def run_that_writes(args, dataset):
        monkeypatch.setattr(report.os, "fsync", no_space)
        history = {"accuracy": [0.5], "val_accuracy": [0.5], "loss": [1.0], "val_loss": [1.0]}
        report.write_outputs(args.out, history, {"new": 1}, FIGURES)

    monkeypatch.setattr(run, "run", run_that_writes)
    monkeypatch.setattr(cli, "validate", lambda args: None)
    assert cli.main(["--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"error: --out {out}: could not write the outputs (No space left on device); "
        f"the previous ones are unchanged\n")
    assert outputs(out) == OLD and leftovers(out) == []


# --- what --out may be --------------------------------------------------------------------

def test_every_set_carries_the_marker_and_the_published_sets_have_it(tmp_path):
    report.swap_in(tmp_path / "new", NEW)
    assert report.is_output_set(tmp_path / "new")
    assert sorted(os.listdir(tmp_path / "new")) == sorted([*NEW, report.MARKER])
    for folder in (ROOT / "plots", ROOT / "plots" / "baseline"):
        assert report.is_output_set(folder), f"{folder} lacks {report.MARKER}"


def repository_status():
    """What git sees in the repository, its ignored files included, but for bytecode
    caches: the other test workers' Python processes write those at any moment."""
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return [line for line in status.splitlines() if not line.endswith("__pycache__/")]


@pytest.mark.parametrize("target,expected", [
    (".", "give a folder of its own, not one that holds the repository"),
    ("..", "give a folder of its own, not one that holds the repository"),
    (".git", "is inside the repository's .git/"),
    (".git/refs", "is inside the repository's .git/"),
    ("docs", "is inside the repository's docs/"),
    ("examples", "is inside the repository's examples/"),
    ("examples/cifar10", "is inside the repository's examples/"),
])
def test_the_repository_and_its_folders_are_refused_before_anything_is_written(
        target, expected, tmp_path):
    status = repository_status()
    result = subprocess.run([sys.executable, "-m", "examples.cifar10", "--data-dir",
                             tmp_path / "nowhere", "--out", target], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == f"error: --out {target}: {expected}" \
        + result.stderr.split(expected, 1)[1], result.stderr
    assert len(result.stderr.splitlines()) == 1 and expected in result.stderr
    assert repository_status() == status
    with pytest.raises(report.OutputError, match=re.escape(expected)):
        report.swap_in(ROOT / target, NEW)


def test_a_folder_that_is_not_an_output_set_is_refused(tmp_path):
    notes = tmp_path / "ssh"
    notes.mkdir()
    (notes / "id_ed25519").write_text("key\n")
    with pytest.raises(report.OutputError, match=r"holds files but is not a set of outputs "
                                                 r"\(no \.cifar10-outputs file\)"):
        report.swap_in(notes, NEW)
    assert os.listdir(notes) == ["id_ed25519"] and leftovers(notes) == []
    (tmp_path / "empty").mkdir()
    report.swap_in(tmp_path / "empty", NEW)  # an empty folder is fine
    assert outputs(tmp_path / "empty") == NEW


def test_cleanup_touches_only_leftovers_that_carry_the_marker(out, monkeypatch):
    notes = out.parent / f".{out.name}.swap-my-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine\n")
    lookalike = out.parent / f".{out.name}.swap-new-abcdefgh"  # named like ours, unmarked
    lookalike.mkdir()
    report.swap_in(out, NEW)
    assert (notes / "todo.txt").read_text() == "mine\n" and lookalike.is_dir()
    # A folder named like a taken-out old set, without the marker, is never moved into place.
    fresh = out.parent / "fresh"
    backup = out.parent / ".fresh.swap-old-backupxy"  # named exactly like ours
    backup.mkdir()
    (backup / "metrics.json").write_text('{"someone": "else"}\n')
    monkeypatch.setattr(report, "_exchange", lambda a, b: False)
    report.swap_in(fresh, NEW)
    assert outputs(fresh) == NEW and (backup / "metrics.json").exists()


def test_a_fifo_inside_out_is_refused_before_training(out, tmp_path):
    os.mkfifo(out / "baseline" / "pipe")
    result = subprocess.run([sys.executable, "-m", "examples.cifar10", "--data-dir",
                             tmp_path / "nowhere", "--out", out], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == (
        f"error: --out {out}: baseline/pipe is not a file, folder or link (a FIFO, socket "
        f"or device cannot be carried over)\n")
