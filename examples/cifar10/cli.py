"""Command line: python -m examples.cifar10 [options]."""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

from examples.cifar10 import data
from examples.cifar10.data import DataError

DESCRIPTION = """Train a CNN on CIFAR-10 and write acc.png, loss.png and metrics.json.

Without --data-dir the data comes from keras.datasets.cifar10.load_data(),
which downloads about 170 MB once. Offline, extract the official
cifar-10-python.tar.gz and pass its folder with --data-dir."""


class OneLineParser(argparse.ArgumentParser):
    """Report bad options in one line instead of the usage block plus a line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_int(text):
    """NumPy and Keras accept seeds from 0 to 2**32 - 1 only."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {value}")
    return value


# Shared with examples.cifar10.benchmark, so both commands spell these options alike.
def add_data_dir(p):
    p.add_argument("--data-dir", metavar="DIR", type=Path,
                   help="an extracted official CIFAR-10 folder (cifar-10-batches-py, or "
                        "the folder that holds it); default: download with Keras")


def add_seed(p, what):
    p.add_argument("--seed", type=seed_int, default=42, metavar="N",
                   help=f"{what} (default: %(default)s)")


def add_precision(p, note):
    p.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"],
                   default="auto",
                   help="auto: mixed_bfloat16 for the improved model on an Ampere or newer GPU "
                        f"or a CPU with AMX bf16 tiles, else float32{note} "
                        "(default: %(default)s)")


def build_parser():
    p = OneLineParser(prog="python -m examples.cifar10", description=DESCRIPTION,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(p)
    p.add_argument("--data-note", metavar="TEXT", default="",
                   help="recorded in metrics.json with the data source, e.g. where a "
                        "--data-dir copy came from")
    p.add_argument("--model", choices=["baseline", "improved"], default="baseline",
                   help="baseline: TensorFlow's tutorial CNN; improved: VGG-style CNN with "
                        "batch norm and augmentation (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=10, metavar="N",
                   help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="images per gradient step (default: 64 for baseline, 128 for improved)")
    add_seed(p, "seeds Python, NumPy and TensorFlow, and the validation split")
    p.add_argument("--validation-fraction", type=float, default=0.1, metavar="F",
                   help="share of the training set held out for validation "
                        "(default: %(default)s)")
    add_precision(p, "")
    p.add_argument("--out", type=Path, default=Path("plots"), metavar="DIR",
                   help="where acc.png, loss.png and metrics.json go (default: %(default)s)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars, only the final summary line")
    return p


def validate(args):
    """Check what can be checked before TensorFlow loads; return the data read from --data-dir."""
    if not 0 < args.validation_fraction < 1:
        raise DataError(f"--validation-fraction must be between 0 and 1, got "
                        f"{args.validation_fraction}")
    if args.out.exists() and not args.out.is_dir():
        raise DataError(f"--out {args.out}: exists and is not a directory")
    # The files are written after training: find out now, not an hour later, if they can't be.
    existing = next(p for p in [args.out.absolute(), *args.out.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise DataError(f"--out {args.out}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"--out {args.out}: no permission to write in {existing}")
    if args.data_dir is None:
        return None  # downloaded by Keras, after TensorFlow has loaded
    dataset = data.load(args.data_dir)
    ids = np.arange(len(dataset[0][0][1]))
    (train_ids, _), _ = data.split_validation(ids, ids, args.validation_fraction, args.seed)
    if len(train_ids) == 0:
        raise DataError(f"--validation-fraction {args.validation_fraction} leaves none of "
                        f"the {len(ids)} training images to train on")
    return dataset


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        dataset = validate(args)
        # Imported late so that --help, option and data errors answer without loading
        # TensorFlow (whose start-up messages on stderr would bury the one-line error).
        from examples.cifar10.run import run
        metrics = run(args, dataset)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no output file was written", file=sys.stderr)
        return 130
    test = metrics["final"]["test"]
    print(f"{args.model}: test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f}; "
          f"wrote {args.out}/acc.png, loss.png, metrics.json")
    return 0
