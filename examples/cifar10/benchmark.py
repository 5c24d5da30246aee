"""Training time to a target test accuracy of two recipes (what it measures: DESCRIPTION).

    python -m examples.cifar10.benchmark --data-dir DIR [--target 0.70] [--out FILE]
"""
import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from examples.cifar10 import data
from examples.cifar10.cli import (OneLineParser, add_data_dir, add_precision, add_seed,
                                  positive_int)
from examples.cifar10.data import DataError

DESCRIPTION = """Time to a target test accuracy: TensorFlow's tutorial recipe against ours.

Three recipes run one after the other in this one process, so on the same machine, with
the same data: TensorFlow's tutorial (its CNN, Adam at a constant 1e-3, batch 32), and our
recipe (warm-up and cosine decay) on the baseline and on the improved model. Each trains
on all 50,000 training images (no validation split: nothing is chosen here) and, after
every epoch, scores the 10,000 test images. The clock runs only while an epoch trains;
scoring is not timed. A recipe stops at the first epoch whose test accuracy reaches the
target, or after its epoch budget. If the tutorial recipe misses the target, its time to
it is longer than its whole budget, so that budget gives an upper bound on the ratio."""


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def build_parser():
    p = OneLineParser(prog="python -m examples.cifar10.benchmark",
                      description=DESCRIPTION,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(p)
    p.add_argument("--target", type=fraction, default=0.70, metavar="ACC",
                   help="test accuracy to reach, from 0 to 1 (default: %(default)s)")
    p.add_argument("--tutorial-epochs", type=positive_int, default=10, metavar="N",
                   help="epoch budget of the tutorial recipe, as in the tutorial "
                        "(default: %(default)s)")
    p.add_argument("--baseline-epochs", type=positive_int, default=6, metavar="N",
                   help="epoch budget of our recipe on the baseline model; its learning-rate "
                        "schedule spans it (default: %(default)s)")
    p.add_argument("--improved-epochs", type=positive_int, default=4, metavar="N",
                   help="the same for the improved model (default: %(default)s)")
    add_precision(p, "; for the improved model only: the others always run in float32")
    add_seed(p, "seeds Python, NumPy and TensorFlow before each recipe")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="also write the results as JSON to FILE (default: only print them)")
    p.add_argument("--quiet", action="store_true",
                   help="no line per epoch, only the results")
    return p


def build_tutorial_cnn():
    """The model of TensorFlow's CNN tutorial (tensorflow.org/tutorials/images/cnn), exactly.

    Defined here, not taken from models.py: models.build_baseline() adds Dropout(0.2)
    before the classifier, and this benchmark measures the tutorial's own recipe.
    """
    import keras
    from keras import layers

    from examples.cifar10 import models

    return keras.Sequential([
        keras.Input(shape=models.INPUT_SHAPE),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(models.NUM_CLASSES),
    ], name="tf_tutorial")


def build_recipe(name, steps_per_epoch, epochs):
    import keras

    from examples.cifar10 import train

    if name != "tutorial":
        return train.build_and_compile(name, steps_per_epoch, epochs)
    model = build_tutorial_cnn()
    # The tutorial compiles with "adam": Adam's default, a constant learning rate of 1e-3.
    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def accuracy_on(model, x, y):
    import numpy as np

    logits = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def time_to_target(model, train_xy, test_xy, target, epochs, batch_size, log):
    """Fit until test accuracy reaches `target`; return seconds and test accuracy per epoch."""
    import keras

    seconds, accuracies, clock = [], [], {}

    def epoch_begin(epoch, logs=None):
        clock["start"] = time.perf_counter()

    def epoch_end(epoch, logs=None):
        seconds.append(time.perf_counter() - clock["start"])  # the clock stops here
        accuracies.append(accuracy_on(model, *test_xy))
        log(f"  epoch {epoch + 1}: {seconds[-1]:.1f} s of training, "
            f"test accuracy {accuracies[-1]:.4f}")
        if accuracies[-1] >= target:
            model.stop_training = True

    model.fit(*train_xy, epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=epoch_begin,
                                                        on_epoch_end=epoch_end)])
    return seconds, accuracies


def compare(ours, tutorial):
    """Our training time to the target over the tutorial's.

    "exact" when both reached it. When only ours did, the tutorial's time to the target
    is longer than its whole budget, so ours over that budget is an upper bound ("at
    most"). None when ours missed the target.
    """
    if ours["seconds_to_target"] is None:
        return None
    reached = tutorial["seconds_to_target"] is not None
    reference = tutorial["seconds_to_target"] if reached else sum(tutorial["seconds_per_epoch"])
    return {"time_ratio": round(ours["seconds_to_target"] / reference, 3),
            "kind": "exact" if reached else "at most"}


def measure(args, dataset=None, log=print):
    import keras
    import tensorflow as tf

    from examples.cifar10 import run, train

    (train_xy, test_xy), source, hashes = dataset or data.load(None)
    train_xy = (data.scale(train_xy[0]), train_xy[1])
    test_xy = (data.scale(test_xy[0]), test_xy[1])
    recipes = {
        "tutorial": {"description": "TensorFlow's CNN tutorial: its CNN, Adam at a constant 1e-3",
                     "batch_size": 32, "precision": "float32", "max_epochs": args.tutorial_epochs},
        "baseline": {"description": "models.build_baseline() with train.build_and_compile()",
                     "batch_size": train.BATCH_SIZES["baseline"], "precision": "float32",
                     "max_epochs": args.baseline_epochs},
        "improved": {"description": "models.build_improved() with train.build_and_compile()",
                     "batch_size": train.BATCH_SIZES["improved"],
                     "precision": run.choose_precision(args.precision, "improved"),
                     "max_epochs": args.improved_epochs},
    }
    policy = keras.mixed_precision.global_policy()
    try:
        for name, recipe in recipes.items():
            log(f"{name}: {recipe['description']}, batch {recipe['batch_size']}, "
                f"{recipe['precision']}, at most {recipe['max_epochs']} epochs")
            keras.utils.set_random_seed(args.seed)
            keras.mixed_precision.set_global_policy(recipe["precision"])
            steps = -(-len(train_xy[0]) // recipe["batch_size"])
            model = build_recipe(name, steps, recipe["max_epochs"])
            seconds, accuracies = time_to_target(model, train_xy, test_xy, args.target,
                                                 recipe["max_epochs"], recipe["batch_size"], log)
            reached = next((i + 1 for i, a in enumerate(accuracies) if a >= args.target), None)
            recipe.update({
                "parameters": model.count_params(),
                "seconds_per_epoch": [round(s, 2) for s in seconds],
                "test_accuracy_per_epoch": accuracies,
                "epochs_to_target": reached,
                "seconds_to_target": None if reached is None else round(sum(seconds[:reached]), 1),
            })
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return {
        "target": args.target,
        "data": {"source": source, "train_images": len(train_xy[0]),
                 "test_images": len(test_xy[0]), "sha256": hashes},
        "device": run.describe_device(),
        "versions": {"python": sys.version.split()[0],
                     "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "recipes": recipes,
        "versus_tutorial": {name: compare(recipes[name], recipes["tutorial"])
                            for name in ("baseline", "improved")},
        "command": shlex.join(["python", "-m", "examples.cifar10.benchmark", *args.argv]),
    }


LABELS = {"tutorial": "TensorFlow tutorial recipe", "baseline": "our recipe, baseline model",
          "improved": "our recipe, improved model"}


def summary(results):
    target = results["target"]
    lines = []
    for name, label in LABELS.items():
        r = results["recipes"][name]
        if r["epochs_to_target"]:
            lines.append(f"{label}: reached {target:.2f} test accuracy after "
                         f"{r['epochs_to_target']} epoch(s), {r['seconds_to_target']:.1f} s "
                         f"of training")
        else:
            lines.append(f"{label}: did not reach {target:.2f} test accuracy in "
                         f"{r['max_epochs']} epoch(s) (best "
                         f"{max(r['test_accuracy_per_epoch']):.4f}), "
                         f"{sum(r['seconds_per_epoch']):.1f} s of training")
    for name, versus in results["versus_tutorial"].items():
        if versus is None:
            lines.append(f"ratio, {name}: none, since it did not reach the target")
        else:
            qualifier = "" if versus["kind"] == "exact" else "at most "
            lines.append(f"ratio, {name}: {qualifier}{versus['time_ratio']:.2f} times the "
                         f"tutorial recipe's training time")
    return "\n".join(lines)


def validate(args):
    if args.out is not None:
        if args.out.is_dir():
            raise DataError(f"--out {args.out}: is a directory; give a file name")
        if not args.out.absolute().parent.is_dir():
            raise DataError(f"--out {args.out}: no directory {args.out.absolute().parent}")
    return data.load(args.data_dir) if args.data_dir is not None else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        dataset = validate(args)
        # Bad options and data are reported before TensorFlow loads, as by the main CLI.
        results = measure(args, dataset, log=(lambda line: None) if args.quiet else print)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary(results))
    if args.out is not None:
        from examples.cifar10.report import write_atomically

        write_atomically(args.out, (json.dumps(results, indent=2) + "\n").encode())
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
