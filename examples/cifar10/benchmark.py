"""Training time to a target validation accuracy of three recipes (what it measures: DESCRIPTION).

    python -m examples.cifar10.benchmark --data-dir DIR [--target 0.70] [--out FILE]
"""
import argparse
import json
import sys
import time
from pathlib import Path

from examples.cifar10 import data, provenance
from examples.cifar10.cli import (OneLineParser, add_data_dir, add_precision, add_seed,
                                  bounded_int, positive_int)
from examples.cifar10.data import DataError

DESCRIPTION = """Time to a target validation accuracy: TensorFlow's tutorial recipe against ours.

Three recipes run one after the other in this one process, so on the same machine, with
the same data: TensorFlow's tutorial (its CNN, Adam at a constant 1e-3, batch 32), and our
recipe on the baseline model (warm-up and cosine decay) and on the improved model (its
published recipe, fed by the tf.data pipeline), each with its schedule spanning its epoch
budget. Each trains on the same 45,000 training images and is scored on the 5,000 held-out
validation images, --checks-per-epoch times per epoch; the test set is not used. The clock
runs only while a recipe trains; scoring is not timed. A recipe stops at the first check
whose validation accuracy reaches the target, or at the end of its budget. If the tutorial
recipe misses the target, its time to it is longer than its whole budget, so that budget
gives an upper bound on the ratio. The budgets are fixed before the run (the defaults)."""


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
                   help="validation accuracy to reach, from 0 to 1 (default: %(default)s)")
    p.add_argument("--tutorial-epochs", type=positive_int, default=30, metavar="N",
                   help="epoch budget of the tutorial recipe: three times the tutorial's "
                        "own 10, so that a miss is not for want of epochs "
                        "(default: %(default)s)")
    p.add_argument("--baseline-epochs", type=positive_int, default=6, metavar="N",
                   help="epoch budget of our recipe on the baseline model; its learning-rate "
                        "schedule spans it (default: %(default)s)")
    p.add_argument("--improved-epochs", type=positive_int, default=2, metavar="N",
                   help="the same for the improved model (default: %(default)s)")
    p.add_argument("--checks-per-epoch", type=bounded_int(1, 100), default=4, metavar="N",
                   help="how often each recipe is scored on the validation images, the "
                        "same for all (default: %(default)s)")
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


def build_recipe(name, steps_per_epoch, epochs, x_fit):
    import keras

    from examples.cifar10 import train

    if name != "tutorial":
        return train.build_and_compile(name, steps_per_epoch, epochs, x_fit=x_fit)
    model = build_tutorial_cnn()
    # The tutorial compiles with "adam": Adam's default, a constant learning rate of 1e-3.
    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def accuracy_on(model, x, y):
    import numpy as np

    from examples.cifar10 import train

    return float(np.mean(train.class_probabilities(model, x, 1000).argmax(axis=-1) == y))


def time_to_target(model, fit_data, val_xy, target, epochs, batch_size, checks, log,
                   callbacks=()):
    """Fit until validation accuracy reaches `target`, scoring `checks` times per epoch.

    Return the checks: epochs trained, training seconds so far, validation accuracy.
    `callbacks` (the recipe's own) run before each check.
    """
    import keras

    batched = hasattr(fit_data, "element_spec")  # a tf.data pipeline batches itself
    steps_per_epoch = int(fit_data.cardinality()) if batched \
        else -(-len(fit_data[0]) // batch_size)
    every = -(-steps_per_epoch // checks)
    results, clock = [], {}

    class Race(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            clock.update(trained=0.0, steps=0, start=time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            clock["steps"] += 1
            if (batch + 1) % every and batch + 1 != steps_per_epoch:
                return
            clock["trained"] += time.perf_counter() - clock["start"]  # the clock stops
            accuracy = accuracy_on(model, *val_xy)
            results.append({"epochs": round(clock["steps"] / steps_per_epoch, 3),
                            "seconds": round(clock["trained"], 2),
                            "validation_accuracy": accuracy})
            log(f"  {results[-1]['epochs']:.2f} epochs: {clock['trained']:.1f} s of "
                f"training, validation accuracy {accuracy:.4f}")
            if accuracy >= target:
                model.stop_training = True
            clock["start"] = time.perf_counter()  # and runs again

    callbacks = [*callbacks, Race()]
    if batched:
        model.fit(fit_data, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)
    else:
        model.fit(*fit_data, epochs=epochs, batch_size=batch_size, verbose=0,
                  callbacks=callbacks)
    return results


def compare(ours, tutorial):
    """Our training time to the target over the tutorial's.

    "exact" when both reached it. When only ours did, the tutorial's time to the target
    is longer than its whole budget, so ours over that budget is an upper bound ("at
    most"). None when ours missed the target.
    """
    if ours["seconds_to_target"] is None:
        return None
    reached = tutorial["seconds_to_target"] is not None
    reference = tutorial["seconds_to_target"] if reached else tutorial["checks"][-1]["seconds"]
    return {"time_ratio": round(ours["seconds_to_target"] / reference, 3),
            "kind": "exact" if reached else "at most"}


def measure(args, dataset=None, log=print):
    import keras
    import tensorflow as tf

    from examples.cifar10 import pipeline, run, train

    ((x_train, y_train), _), source, hashes = dataset or data.load(None)
    train_xy, val_xy = data.split_validation(data.scale(x_train), y_train, 0.1, args.seed)
    recipes = {
        "tutorial": {"description": "TensorFlow's CNN tutorial: its CNN, Adam at a constant 1e-3",
                     "batch_size": 32, "precision": "float32", "max_epochs": args.tutorial_epochs},
        "baseline": {"description": "models.build_baseline() with train.build_and_compile()",
                     "batch_size": train.BATCH_SIZES["baseline"], "precision": "float32",
                     "max_epochs": args.baseline_epochs},
        "improved": {"description": "models.build_improved() with train.build_and_compile(), "
                                    "fed by pipeline.training_pipeline()",
                     "batch_size": train.BATCH_SIZES["improved"],
                     "precision": train.choose_precision(args.precision, "improved"),
                     "max_epochs": args.improved_epochs},
    }
    for name, recipe in recipes.items():
        log(f"{name}: {recipe['description']}, batch {recipe['batch_size']}, "
            f"{recipe['precision']}, at most {recipe['max_epochs']} epochs")
        with train.precision_policy(recipe["precision"]):
            keras.utils.set_random_seed(args.seed)
            steps = -(-len(train_xy[0]) // recipe["batch_size"])
            model = build_recipe(name, steps, recipe["max_epochs"], train_xy[0])
            fit_data = pipeline.training_pipeline(*train_xy, recipe["batch_size"], args.seed) \
                if name == "improved" else train_xy
            checks = time_to_target(model, fit_data, val_xy, args.target, recipe["max_epochs"],
                                    recipe["batch_size"], args.checks_per_epoch, log,
                                    train.recipe_callbacks(name, steps, recipe["max_epochs"]))
        reached = next((c for c in checks if c["validation_accuracy"] >= args.target), None)
        recipe.update({
            "parameters": model.count_params(),
            "checks": checks,
            "epochs_to_target": None if reached is None else reached["epochs"],
            "seconds_to_target": None if reached is None else reached["seconds"],
        })
    return {
        "target": args.target,
        "measures": f"training time until the validation accuracy ({len(val_xy[0]):,} "
                    f"held-out training images, scored {args.checks_per_epoch} times per "
                    f"epoch) reaches the target; the test set is not used",
        "checks_per_epoch": args.checks_per_epoch,
        "data": {"source": source, "train_images": len(train_xy[0]),
                 "validation_images": len(val_xy[0]), "sha256": hashes},
        "device": run.describe_device(),
        "versions": {"python": sys.version.split()[0],
                     "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "recipes": recipes,
        "versus_tutorial": {name: compare(recipes[name], recipes["tutorial"])
                            for name in ("baseline", "improved")},
        "command": provenance.published_command("examples.cifar10.benchmark", args.argv),
    }


LABELS = {"tutorial": "TensorFlow tutorial recipe", "baseline": "our recipe, baseline model",
          "improved": "our recipe, improved model"}


def summary(results):
    target = results["target"]
    lines = []
    for name, label in LABELS.items():
        r = results["recipes"][name]
        if r["epochs_to_target"] is not None:
            lines.append(f"{label}: reached {target:.2f} validation accuracy after "
                         f"{r['epochs_to_target']:g} epoch(s), {r['seconds_to_target']:.1f} s "
                         f"of training")
        else:
            best = max(c["validation_accuracy"] for c in r["checks"])
            lines.append(f"{label}: did not reach {target:.2f} validation accuracy in "
                         f"{r['max_epochs']} epoch(s) (best {best:.4f}), "
                         f"{r['checks'][-1]['seconds']:.1f} s of training")
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
