"""What each technique of the improved recipe buys: validation accuracy at a fixed budget.

    python -m examples.cifar10.ablation --data-dir DIR [--epochs 3] [--out plots/ablation.json]

Each variant changes one thing of the published recipe (models.build_improved,
train.make_improved_optimizer, train.SmoothedCrossentropy, pipeline.training_pipeline)
and trains for the same number of epochs, with its learning-rate schedule spanning them,
on the same 45,000 training images with the same seed. It is scored on the 5,000
validation images only: the test set is not used. The chapter's ablation table is
generated from the file this writes.
"""
import json
import sys
import time
from pathlib import Path

from examples.cifar10 import data, provenance
from examples.cifar10.cli import (OneLineParser, add_data_dir, add_precision, add_seed,
                                  bounded_int)
from examples.cifar10.data import DataError, shown

# --8<-- [start:variants]
# name: (what changes, keyword arguments of build_variant). "full" is the recipe
# itself.
VARIANTS = {
    "full": ("the published recipe", {}),
    "no-whitening": ("first convolution trained from a random start, "
                     "not frozen whitening", {"whitening": False}),
    "no-dirac": ("convolutions start random (He uniform), not as identities",
                 {"dirac": False}),
    "no-label-smoothing": ("plain cross-entropy: label smoothing 0 "
                           "instead of 0.2", {"smoothing": 0.0}),
    "no-shift-boost": ("batch-norm shifts learn at the weights' rate, not 64x",
                       {"bias_lr_scale": 1}),
    "no-augmentation": ("no random crops or mirrors", {"augmented": False}),
    "no-lookahead": ("no jumps to the weights' running average",
                     {"lookahead": False}),
    "weak-decay": ("weight decay 0.2 % per step: airbench's figure taken "
                   "without its momentum (6.7x weaker)", {"shrink": 0.002}),
    "relu": ("ReLU instead of SiLU", {"activation": "relu"}),
    "float32": ("every computation in float32, none in bfloat16",
                {"precision": "float32"}),
}
# --8<-- [end:variants]
# Measured at the full budget only (make ablation-airbench): see examples/cifar10/details.py.
DETAILS = {
    "airbench-details": ("airbench's remaining details: every image mirrored on alternate "
                         "epochs, whitening bias trained for 3 epochs, PyTorch's smaller "
                         "starting weights, batch-norm epsilon 1e-12", {"details": True}),
}
# Measured at the ablation budget on request (make ablation-xla): the same
# recipe, only compiled differently, so it changes the time, not the score.
SPEED = {
    "xla": ("the full recipe with its training step compiled by XLA "
            "(jit_compile=True)", {"jit_compile": True}),
}
ALL_VARIANTS = {**VARIANTS, **DETAILS, **SPEED}
MAX_EPOCHS = 100


def build_parser():
    p = OneLineParser(prog="python -m examples.cifar10.ablation",
                      description="Validation accuracy of the improved recipe with one "
                                  "technique changed at a time, at a fixed epoch budget.")
    add_data_dir(p)
    p.add_argument("--epochs", type=bounded_int(1, MAX_EPOCHS), default=3, metavar="N",
                   help="epochs per variant, the same for all (default: %(default)s)")
    p.add_argument("--variants", nargs="+", choices=list(ALL_VARIANTS),
                   default=list(VARIANTS), metavar="NAME",
                   help="which to run, from: " + ", ".join(ALL_VARIANTS)
                        + " (default: all but "
                        + ", ".join([*DETAILS, *SPEED]) + ")")
    add_seed(p, "seeds Python, NumPy and TensorFlow before each variant, and the split")
    add_precision(p, "; the same for every variant")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="also write the results as JSON to FILE (default: only print them)")
    return p


# --8<-- [start:build_variant]
def build_variant(x_fit, steps_per_epoch, epochs, whitening=True,
                  dirac=True, activation=None, smoothing=None,
                  bias_lr_scale=None, shrink=None, jit_compile="auto"):
    """The improved model and recipe, compiled, with the given changes."""
    from examples.cifar10 import models, train

    model = models.build_improved(whitening=whitening, dirac=dirac,
                                  activation=activation or models.ACTIVATION)
    if whitening:
        models.whiten(model, x_fit[:train.WHITENING_IMAGES])
    model.compile(
        optimizer=train.make_improved_optimizer(
            steps_per_epoch, epochs,
            train.BIAS_LR_SCALE if bias_lr_scale is None else bias_lr_scale,
            train.SHRINK_PER_STEP if shrink is None else shrink),
        loss=train.SmoothedCrossentropy(
            train.LABEL_SMOOTHING if smoothing is None else smoothing),
        metrics=["accuracy"], jit_compile=jit_compile)
    return model
# --8<-- [end:build_variant]


def run_variant(name, train_xy, val_xy, epochs, seed, precision, log):
    """Train and score one variant in `precision`, unless the variant changes it."""
    import keras

    from examples.cifar10 import details, pipeline, train

    description, changes = ALL_VARIANTS[name]
    options = dict(changes)
    augmented = options.pop("augmented", True)
    lookahead = options.pop("lookahead", True)
    with train.precision_policy(options.pop("precision", precision)):
        keras.utils.set_random_seed(seed)
        batch_size = train.BATCH_SIZES["improved"]
        steps = -(-len(train_xy[0]) // batch_size)
        callbacks = train.recipe_callbacks("improved", steps, epochs) if lookahead else []
        if options.pop("details", False):
            model = details.build(train_xy[0], steps, epochs, seed)
            dataset, _ = details.alternating_flip_pipeline(*train_xy, batch_size, seed, epochs)
            fit_options = {"steps_per_epoch": steps}
        else:
            model = build_variant(train_xy[0], steps, epochs, **options)
            dataset = pipeline.training_pipeline(*train_xy, batch_size, seed,
                                                 augmented=augmented)
            fit_options = {}
        start = time.perf_counter()
        history = model.fit(dataset, validation_data=val_xy, epochs=epochs, shuffle=False,
                            callbacks=callbacks, verbose=0, **fit_options)
        seconds = time.perf_counter() - start
    accuracy = [float(a) for a in history.history["val_accuracy"]]
    log(f"{name}: validation accuracy {accuracy[-1]:.4f} after {epochs} epoch(s), "
        f"{seconds:.0f} s ({description})")
    return {"name": name, "description": description,
            "validation_accuracy_per_epoch": accuracy,
            "validation_accuracy": accuracy[-1], "seconds": round(seconds, 1)}


def measure(args, dataset=None, log=print):
    import keras
    import tensorflow as tf

    from examples.cifar10 import run, train

    precision = train.choose_precision(args.precision, "improved")
    ((x_train, y_train), _), source, hashes = dataset or data.load(None)
    train_xy, val_xy = data.split_validation(data.scale(x_train), y_train, 0.1, args.seed)
    results = [run_variant(name, train_xy, val_xy, args.epochs, args.seed, precision, log)
               for name in args.variants]
    return {
        "measures": f"validation accuracy ({len(val_xy[0]):,} held-out training images) "
                    f"after the same number of epochs; the test set is not used",
        "epochs": args.epochs,
        "seed": args.seed,
        "precision": precision,
        "data": {"source": source, "train_images": len(train_xy[0]),
                 "validation_images": len(val_xy[0]), "sha256": hashes},
        "device": run.describe_device(),
        "versions": {"python": sys.version.split()[0], "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "variants": results,
        "command": provenance.published_command("examples.cifar10.ablation", args.argv),
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        if args.out is not None and (args.out.is_dir()
                                     or not args.out.absolute().parent.is_dir()):
            raise DataError(f"--out {args.out}: give a file in an existing directory")
        dataset = data.load(args.data_dir) if args.data_dir is not None else None
        results = measure(args, dataset)
    except DataError as err:
        print(f"error: {shown(err, 1000)}", file=sys.stderr)
        return 2
    if args.out is not None:
        from examples.cifar10 import report, schema

        schema.check_ablation(results)
        report.write_atomically(args.out, (json.dumps(results, indent=2) + "\n").encode())
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
