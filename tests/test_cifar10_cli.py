"""The CIFAR-10 example end to end on tiny synthetic data, and what it does with bad input.

Training runs in this process (TensorFlow loads once). Bad input runs the real command
in a subprocess, for its real stderr and exit status: each fails before TensorFlow loads.
"""
import hashlib
import io
import json
import os
import pickle
import platform
import re
import shlex
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib import image as mpimg

from examples.cifar10 import data, models, train, report
from examples.cifar10 import benchmark, cli
from tests import cifar10_data
from tests.cifar10_data import TINY
from tests.conftest import ROOT

OUTPUTS = set(report.OUTPUTS) | {report.MARKER}
OPTIONS = ["--data-dir", "--model", "--epochs", "--batch-size", "--seed", "--out", "--quiet"]


def run_cli(*args, module="examples.cifar10"):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def check_run(out, folder, printed, *, model, epochs, batch_size, seed):
    assert set(os.listdir(out)) == OUTPUTS  # and no temporary file left behind
    for name in ("acc.png", "loss.png", *report.FIGURES):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        pixels = mpimg.imread(out / name)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["model"], metrics["epochs"], metrics["batch_size"], metrics["seed"]) == (
        model, epochs, batch_size, seed)
    assert metrics["parameters"] == models.BUILDERS[model]().count_params()
    history = metrics["history"]
    assert set(history) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert all(len(values) == epochs for values in history.values())
    assert len(metrics["seconds_per_epoch"]) == epochs
    final = metrics["final"]
    assert final["train"] == {"accuracy": history["accuracy"][-1], "loss": history["loss"][-1]}
    assert final["validation"] == {"accuracy": history["val_accuracy"][-1],
                                   "loss": history["val_loss"][-1]}
    assert 0 <= final["test"]["accuracy"] <= 1 and final["test"]["loss"] > 0
    assert 0 <= final["test_flip_averaged"]["accuracy"] <= 1
    n_train = 5 * TINY["n_train_per_batch"]
    assert metrics["data"]["train_images"] + metrics["data"]["validation_images"] == n_train
    assert metrics["data"]["validation_images"] == round(0.1 * n_train)
    assert metrics["data"]["test_images"] == TINY["n_test"]
    assert "--data-dir" in metrics["data"]["source"]
    assert metrics["data"]["sha256"] == {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in data.TRAIN_FILES + [data.TEST_FILE]}
    assert metrics["versions"] == {"python": platform.python_version(),
                                   "tensorflow": tf.__version__, "keras": keras.__version__}
    assert metrics["device"] and metrics["date"]
    assert metrics["command"].startswith("python -m examples.cifar10 --data-dir ")
    summary = re.fullmatch(rf"{model}: test accuracy (\d\.\d{{4}}), test loss (\d+\.\d{{4}}); "
                           rf"wrote {re.escape(str(out))}/{re.escape(', '.join(report.OUTPUTS))}\n",
                           printed)
    assert summary, printed
    assert float(summary[1]) == round(final["test"]["accuracy"], 4)


def test_baseline_trains_and_writes_consistent_outputs(tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    status = cli.main(["--data-dir", str(tiny_data), "--model", "baseline", "--epochs", "1",
                       "--batch-size", "32", "--seed", "7", "--quiet", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    check_run(out, tiny_data, captured.out, model="baseline", epochs=1, batch_size=32, seed=7)


def test_improved_trains_from_the_folder_holding_the_batches(tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    status = cli.main(["--data-dir", str(tiny_data.parent), "--model", "improved",
                       "--epochs", "1", "--quiet", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    check_run(out, tiny_data, captured.out, model="improved", epochs=1, batch_size=1024,
              seed=42)
    metrics = json.loads((out / "metrics.json").read_text())
    # Fed by tf.data: one pass over the pipeline alone was timed.
    assert metrics["pipeline_seconds_per_epoch"] >= 0
    counts = np.array(metrics["confusion_matrix"])
    assert counts.shape == (10, 10) and counts.sum() == metrics["data"]["test_images"]
    assert np.trace(counts) / counts.sum() == pytest.approx(
        metrics["final"]["test"]["accuracy"], abs=1e-6)


def test_help_explains_every_option():
    result = run_cli("--help")
    assert result.returncode == 0 and not result.stderr
    for option in OPTIONS:
        assert option in result.stdout
    for action in cli.build_parser()._actions:
        assert action.help, f"{action.option_strings} has no help text"


# --- bad input: one line on stderr, exit status 2, nothing written ------------------------

def damage_missing_file(folder, tmp_path):
    (folder / "test_batch").unlink()
    return [], "missing CIFAR-10 file(s) test_batch"


def damage_truncated_file(folder, tmp_path):
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return [], "data_batch_3: not a readable CIFAR-10 batch (UnpicklingError: damaged pickle"


def damage_crafted_pickle(folder, tmp_path):
    marker = tmp_path / "MARKER"
    (folder / "data_batch_2").write_bytes(
        cifar10_data.crafted_batch(f"touch {shlex.quote(str(marker))}"))
    return [], f"data_batch_2: not a readable CIFAR-10 batch (UnpicklingError: refusing to " \
               f"load global {os.system.__module__}.system)"


def damage_wrong_shape(folder, tmp_path):
    rng = np.random.default_rng(1)
    batch = cifar10_data.make_batch(10, rng, "training batch 4 of 5")
    batch[b"data"] = batch[b"data"].reshape(10, 3, 32, 32).transpose(0, 2, 3, 1)  # N,32,32,3
    (folder / "data_batch_4").write_bytes(cifar10_data.dumps(batch))
    return [], "data_batch_4: 'data' is not an N x 3072 uint8 array"


def damage_labels(folder, tmp_path):
    rng = np.random.default_rng(1)
    batch = cifar10_data.make_batch(10, rng, "training batch 5 of 5")
    batch[b"labels"][3] = 10
    (folder / "data_batch_5").write_bytes(cifar10_data.dumps(batch, protocol=4))
    return [], "data_batch_5: 'labels' must be 10 class ids in 0..9"


def damage_no_data_dir(folder, tmp_path):
    return ["--data-dir", tmp_path / "nowhere"], "nowhere: no such directory"


def damage_control_characters_in_data_dir(folder, tmp_path):
    odd = tmp_path / "data\x1b[2J\nx"
    folder.parent.rename(odd)
    return ["--data-dir", odd], "holds control characters"


def damage_data_source_too_long(folder, tmp_path):
    long = tmp_path / ("x" * 220)
    folder.rename(long)
    return ["--data-dir", long], "data.source: longer than 200 characters: it would be " \
                                 "recorded in metrics.json"


def options(*args, expected):
    def damage(folder, tmp_path):
        return list(args), expected
    damage.__name__ = "options" + "_".join(map(str, args))[:40]
    return damage


BAD_INPUTS = [
    damage_missing_file, damage_truncated_file, damage_crafted_pickle, damage_wrong_shape,
    damage_labels, damage_no_data_dir,
    options("--epochs", "0", expected="argument --epochs: must be between 1 and 1000, got 0"),
    options("--batch-size", "-3",
            expected="argument --batch-size: must be between 1 and 65536, got -3"),
    options("--epochs", "ten", expected="argument --epochs: expected a whole number, got 'ten'"),
    options("--seed", "-1", expected="argument --seed: must be between 0 and 2**32 - 1"),
    options("--model", "resnet", expected="argument --model: invalid choice: 'resnet'"),
    options("--validation-fraction", "1",
            expected="argument --validation-fraction: must be between 0 and 1"),
    options("--epochs", str(10**30), expected="argument --epochs: must be between 1 and 1000"),
    options("--batch-size", str(10**30),
            expected="argument --batch-size: must be between 1 and 65536"),
    options("--validation-fraction", "nan",
            expected="argument --validation-fraction: must be between 0 and 1, got nan"),
    options("--data-note", "one\x1b[2Jline", expected="argument --data-note: must be one line"),
    options("--out", "", expected="argument --out: must name a folder, got an empty string"),
    options("--out", "/proc/cifar10", expected="--out /proc/cifar10: cannot create files in"),
    options("--out", "/sys/cifar10", expected="--out /sys/cifar10: cannot create files in"),
    options("--out", "/", expected="--out /: give a folder of its own"),
    damage_control_characters_in_data_dir, damage_data_source_too_long,
    options("--data-note", "n" * 1000, "--data-note", "m" * 1000,
            expected="the command: longer than 2000 characters: it would be recorded"),
    options("--validation-fraction", "0.999",
            expected="--validation-fraction 0.999 leaves none of the 50 training images"),
]


@pytest.mark.parametrize("damage", BAD_INPUTS, ids=lambda damage: damage.__name__)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(damage, tmp_path):
    folder = cifar10_data.write_official_layout(tmp_path / "data", n_train_per_batch=10,
                                                n_test=10)
    extra, expected = damage(folder, tmp_path)
    out = tmp_path / "out"
    result = run_cli("--data-dir", folder, "--epochs", "1", "--out", out, *extra)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(("error: ", "python -m examples.cifar10: error: "))
    assert expected in result.stderr
    assert not out.exists()
    assert not (tmp_path / "MARKER").exists()  # the crafted pickle's command never ran


def test_bad_data_leaves_an_existing_output_folder_as_it_was(tmp_path):
    folder = cifar10_data.write_official_layout(tmp_path / "data", n_train_per_batch=10,
                                                n_test=10)
    damage_crafted_pickle(folder, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"from": "an earlier run"}\n')
    (out / report.MARKER).write_bytes(report.MARKER_TEXT)  # a set an earlier run wrote
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    result = run_cli("--data-dir", folder, "--out", out)
    assert result.returncode == 2 and "refusing to load global" in result.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before
    assert not (tmp_path / "MARKER").exists()


def test_out_that_is_a_file_is_refused_before_training(tmp_path, tiny_data):
    out = tmp_path / "taken"
    out.write_text("not a folder\n")
    result = run_cli("--data-dir", tiny_data, "--out", out / "sub")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "is not a directory" in result.stderr
    assert out.read_text() == "not a folder\n"


# --- the restricted unpickler -------------------------------------------------------------

def test_restricted_unpickler_refuses_a_crafted_pickle_before_it_runs(tmp_path):
    marker = tmp_path / "MARKER"
    payload = cifar10_data.crafted_batch(f"touch {shlex.quote(str(marker))}")
    with pytest.raises(pickle.UnpicklingError,
                       match=rf"refusing to load global {os.system.__module__}\.system"):
        data.RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()
    assert not marker.exists()
    # The payload is real: plain pickle runs its command (here a harmless `touch`).
    pickle.loads(payload, encoding="bytes")
    assert marker.exists()


@pytest.mark.parametrize("style", ["python2-protocol2", "python3-protocol2", "protocol4"])
def test_restricted_unpickler_loads_batches_as_pickled_by_python_2_and_3(style, tmp_path):
    batch = {b"data": np.arange(2 * 3072, dtype=np.uint32).astype(np.uint8).reshape(2, 3072),
             b"labels": [3, 9], b"batch_label": b"training batch 1 of 5",
             b"filenames": [b"a.png", b"b.png"]}
    payload = {"python2-protocol2": lambda: cifar10_data.dumps(batch, protocol=2),
               "python3-protocol2": lambda: pickle.dumps(batch, protocol=2),
               "protocol4": lambda: pickle.dumps(batch, protocol=4)}[style]()
    loaded = data.RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()
    assert loaded.keys() == batch.keys() and loaded[b"labels"] == [3, 9]
    np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    images, labels = data.read_batch(path)
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 9]
    # Channels first on disk, channels last in memory: pixel (0, 0) of image 1 is
    # bytes 0, 1024 and 2048 of its row.
    assert images[1, 0, 0].tolist() == batch[b"data"][1, [0, 1024, 2048]].tolist()


# --- training recipe and atomic writes ----------------------------------------------------

def test_learning_rate_warms_up_then_decays():
    optimizer = train.make_optimizer(steps_per_epoch=10, epochs=5)
    config = optimizer.get_config()
    schedule = keras.optimizers.schedules.deserialize(config["learning_rate"])
    at = {step: float(schedule(step)) for step in (0, 10, 30, 50)}
    assert at[0] == pytest.approx(train.PEAK_LEARNING_RATE / 10)  # warm-up: one epoch
    assert at[10] == pytest.approx(train.PEAK_LEARNING_RATE)
    assert at[30] == pytest.approx(train.PEAK_LEARNING_RATE / 2)  # cosine: half-way
    assert at[50] == pytest.approx(0, abs=1e-8)
    assert config["weight_decay"] == pytest.approx(train.WEIGHT_DECAY)


def test_weight_decay_shrinks_kernels_but_not_batch_norm_or_biases():
    baseline = models.build_baseline()
    model = keras.Sequential([*baseline.layers[:-1], keras.layers.BatchNormalization(),
                              baseline.layers[-1]])  # and a batch norm's scale and shift
    model.compile(optimizer=train.make_optimizer(steps_per_epoch=10, epochs=5))
    model.build((None, *models.INPUT_SHAPE))
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    # A zero gradient moves nothing through Adam, so any change is weight decay alone.
    model.optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in variables])
    shrink = 1 - train.PEAK_LEARNING_RATE / 10 * train.WEIGHT_DECAY  # step 0: warm-up start
    for variable, old in zip(variables, before):
        if variable.name == "kernel":
            np.testing.assert_allclose(variable.numpy(), old * shrink, rtol=1e-6)
            assert not np.array_equal(variable.numpy(), old)
        else:
            assert variable.name in ("gamma", "beta", "bias")
            np.testing.assert_array_equal(variable.numpy(), old)


def test_flip_averaging_lets_each_image_and_its_left_right_mirror_vote():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(0).random((200, 4, 4, 1), dtype=np.float32)

    def probabilities(images):
        return keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(images, verbose=0)))

    np.testing.assert_allclose(train.class_probabilities(model, x, batch_size=64),
                               probabilities(x), rtol=1e-5, atol=1e-6)

    both_views = probabilities(x) + probabilities(np.flip(x, axis=2))  # axis 2: width
    assert train.flip_averaged_accuracy(model, x, both_views.argmax(-1)) == 1.0
    # Labels from one view alone, or from an upside-down mirror, disagree somewhere:
    # so the 1.0 above needs both views, mirrored left to right.
    one_view = probabilities(x)
    upside_down = one_view + probabilities(np.flip(x, axis=1))
    assert train.flip_averaged_accuracy(model, x, one_view.argmax(-1)) < 1.0
    assert train.flip_averaged_accuracy(model, x, upside_down.argmax(-1)) < 1.0


def fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failure", ["fsync", "replace", "write"])
def test_write_atomically_keeps_the_old_file_when_a_write_fails(failure, tmp_path,
                                                                monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"old\n")
    new = b"new\n" * 10_000
    if failure == "write":
        new = "text where bytes belong"  # f.write() raises TypeError
    else:
        monkeypatch.setattr(report.os, failure, fail)  # after the data went to the temp file
    with pytest.raises((OSError, TypeError)):
        report.write_atomically(target, new)
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["metrics.json"]  # no temporary file left behind


def test_write_atomically_replaces_the_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"old\n")
    report.write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n" and os.listdir(tmp_path) == ["metrics.json"]


# --- the benchmark, on tiny data ----------------------------------------------------------

def test_benchmark_times_all_three_recipes_to_the_target(tiny_data, tmp_path, capsys):
    out = tmp_path / "benchmark.json"
    status = benchmark.main(["--data-dir", str(tiny_data), "--target", "0.0",
                             "--tutorial-epochs", "2", "--baseline-epochs", "2",
                             "--improved-epochs", "2", "--checks-per-epoch", "2", "--quiet",
                             "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    results = json.loads(out.read_text())
    assert "validation accuracy" in results["measures"]
    assert "test set is not used" in results["measures"]
    assert results["data"]["validation_images"] == 20 and "test_images" not in results["data"]
    for name in ("tutorial", "baseline", "improved"):
        recipe = results["recipes"][name]
        # Target 0 is reached at the first check, which ends that recipe's training.
        assert len(recipe["checks"]) == 1
        first = recipe["checks"][0]
        assert recipe["epochs_to_target"] == first["epochs"] <= 1
        assert recipe["seconds_to_target"] == first["seconds"] > 0
    assert [results["recipes"][n]["batch_size"] for n in ("tutorial", "baseline", "improved")] \
        == [32, 64, 1024]
    # 180 training images: the tutorial's 6 batches are checked after 3, the improved
    # model's single batch after it.
    assert results["recipes"]["tutorial"]["checks"][0]["epochs"] == 0.5
    assert results["recipes"]["improved"]["checks"][0]["epochs"] == 1
    assert results["recipes"]["tutorial"]["precision"] == "float32"
    # The tutorial's CNN is the baseline without its dropout layer: same weights.
    assert results["recipes"]["tutorial"]["parameters"] == \
        models.build_baseline().count_params()
    assert results["recipes"]["improved"]["parameters"] == models.build_improved().count_params()
    for name in ("baseline", "improved"):
        versus = results["versus_tutorial"][name]
        assert versus["kind"] == "exact" and versus["time_ratio"] == pytest.approx(
            results["recipes"][name]["seconds_to_target"]
            / results["recipes"]["tutorial"]["seconds_to_target"], rel=0.01, abs=0.01)
    assert re.search(r"^TensorFlow tutorial recipe: reached 0\.00 validation accuracy after "
                     r"0\.5 epoch\(s\), [\d.]+ s of training$", printed, re.MULTILINE)
    assert re.search(r"^ratio, improved: [\d.]+ times the tutorial", printed, re.MULTILINE)


def recipe_result(seconds, accuracies, target=0.7):
    """Checks at the end of each epoch: cumulative seconds and validation accuracy."""
    checks = [{"epochs": i + 1, "seconds": sum(seconds[:i + 1]), "validation_accuracy": a}
              for i, a in enumerate(accuracies)]
    reached = next((c for c in checks if c["validation_accuracy"] >= target), None)
    return {"checks": checks, "epochs_to_target": reached and reached["epochs"],
            "seconds_to_target": reached and reached["seconds"]}


def test_ratio_is_exact_when_both_reach_the_target_and_a_bound_when_the_tutorial_misses():
    tutorial_hits = recipe_result([10, 10, 10, 10], [0.5, 0.6, 0.71, 0.72])
    tutorial_misses = recipe_result([10, 10, 10, 10], [0.5, 0.6, 0.65, 0.68])
    ours = recipe_result([5, 5], [0.6, 0.72])
    assert benchmark.compare(ours, tutorial_hits) == {"time_ratio": 0.333, "kind": "exact"}
    # The tutorial needs more than its 40 s budget, so ours (10 s) is at most 0.25 of it.
    assert benchmark.compare(ours, tutorial_misses) == {"time_ratio": 0.25, "kind": "at most"}
    assert benchmark.compare(recipe_result([5, 5], [0.6, 0.69]), tutorial_hits) is None


@pytest.mark.parametrize("config", [
    '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
    '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": -1}}',
    "[" * 100_000,
], ids=["index-out-of-range", "negative-index", "deep-brackets"])
def test_a_bad_tf_config_is_one_line_before_tensorflow_loads(config, tmp_path):
    result = subprocess.run([sys.executable, "-m", "examples.cifar10", "--strategy",
                             "multiworker", "--out", tmp_path / "out"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TF_CONFIG": config})
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: TF_CONFIG must be JSON like")
    assert not (tmp_path / "out").exists()


def test_a_test_set_without_some_classes_gives_shares_not_nan():
    counts = np.zeros((10, 10), dtype=int)
    counts[0, 0], counts[0, 3] = 7, 3  # every test label is class 0
    confused = report.most_confused(counts)
    assert confused[0] == {"true": "airplane", "predicted": "cat", "count": 3,
                           "share_of_class": 0.3}
    assert all(np.isfinite(c["share_of_class"]) for c in confused)


def test_the_default_out_is_a_new_folder_under_runs_and_the_model_the_chapter_trains():
    import datetime

    args = cli.build_parser().parse_args([])
    assert args.model == "improved" and args.out is None and args.epochs is None
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert cli.default_out("improved", moment).as_posix() == "runs/improved-20260102T030405Z"
    assert "runs/" in (ROOT / ".gitignore").read_text().splitlines()
    makefile = (ROOT / "Makefile").read_text()
    assert '--out "$(PLOTS)/baseline"' in makefile and '--out "$(PLOTS)"' in makefile
