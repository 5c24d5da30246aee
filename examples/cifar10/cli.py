"""Command line: python -m examples.cifar10 [options]."""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from examples.cifar10 import data, report
from examples.cifar10 import strategy as distribute
from examples.cifar10.data import DataError, shown
from examples.cifar10.schema import SchemaError

DESCRIPTION = """Train a CNN on CIFAR-10; write its curves, figures and metrics.json.

Without --data-dir the data comes from keras.datasets.cifar10.load_data(),
which downloads about 170 MB once. Offline, extract the official
cifar-10-python.tar.gz and pass its folder with --data-dir."""


class OneLineParser(argparse.ArgumentParser):
    """Report bad options in one line instead of the usage block plus a line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def bounded_int(low, high, high_text=None):
    """An argparse type: a whole number from `low` to `high`, else one clear line."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            shown = value if len(str(value)) <= 20 else f"{str(value)[:12]}... " \
                f"({len(str(value))} digits)"
            raise argparse.ArgumentTypeError(f"must be between {low} and "
                                             f"{high_text or high}, got {shown}")
        return value
    return parse


# Epochs of the published runs (plots/baseline/ and plots/), also the defaults here.
EPOCHS = {"baseline": 10, "improved": 18}
# Upper bounds far above any sensible run, so that a typo fails now, not after an hour.
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 65536
seed_int = bounded_int(0, 2**32 - 1, "2**32 - 1")  # what NumPy and Keras accept
epochs_int = bounded_int(1, MAX_EPOCHS)
positive_int = epochs_int  # the name examples.cifar10.benchmark imports for its epochs


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def note_text(text):
    if len(text) > 1000 or not text.isprintable():
        raise argparse.ArgumentTypeError("must be one line of at most 1000 printable "
                                         "characters")
    return text


def out_dir(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty string")
    return Path(text)


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
                        "or a CPU with bfloat16 instructions (AMX or AVX512-BF16), "
                        f"else float32{note} "
                        "(default: %(default)s)")


def build_parser():
    p = OneLineParser(prog="python -m examples.cifar10", description=DESCRIPTION,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(p)
    p.add_argument("--data-note", metavar="TEXT", default="", type=note_text,
                   help="recorded in metrics.json with the data source, e.g. where a "
                        "--data-dir copy came from")
    p.add_argument("--model", choices=["baseline", "improved"], default="improved",
                   help="baseline: TensorFlow's tutorial CNN; improved: airbench-style CNN "
                        "with patch whitening, trained on augmented batches from tf.data "
                        "(default: %(default)s)")
    p.add_argument("--epochs", type=epochs_int, default=None, metavar="N",
                   help=f"passes over the training set, 1 to {MAX_EPOCHS} (default: "
                        f"{EPOCHS['baseline']} for baseline, {EPOCHS['improved']} for "
                        "improved, as the published runs)")
    p.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH_SIZE), default=None,
                   metavar="N", help=f"images per gradient step, 1 to {MAX_BATCH_SIZE} "
                                     "(default: 64 for baseline, 1024 for improved)")
    add_seed(p, "seeds Python, NumPy and TensorFlow, and the validation split")
    p.add_argument("--validation-fraction", type=fraction, default=0.1, metavar="F",
                   help="share of the training set held out for validation "
                        "(default: %(default)s)")
    add_precision(p, "")
    p.add_argument("--strategy", choices=distribute.CHOICES, default="default",
                   help=distribute.HELP)
    p.add_argument("--out", type=out_dir, default=None, metavar="DIR",
                   help="where acc.png, loss.png, samples.png, confusion.png, errors.png and "
                        "metrics.json go: a new or empty folder, or one a run wrote before "
                        "(default: a new folder runs/MODEL-UTCTIME, which git ignores; "
                        "the published files are written with --out plots)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars, only the final summary line")
    return p


def default_out(model, now=None):
    """runs/<model>-<UTC time>: a fresh folder, so a run never replaces plots/ by default."""
    import datetime

    now = now or datetime.datetime.now(datetime.timezone.utc)
    return Path("runs") / f"{model}-{now:%Y%m%dT%H%M%SZ}"


def check_out(out):
    """Prove now, not after training, that the output set can be swapped into `out`."""
    real = Path(os.path.realpath(out))
    if real.parent == real:
        raise DataError(f"--out {out}: give a folder of its own, not the root")
    try:
        report.check_replaceable(real, out)
    except report.OutputError as err:
        raise DataError(str(err)) from None
    if real.exists():
        if not real.is_dir():
            raise DataError(f"--out {out}: exists and is not a directory")
        for name in report.OUTPUTS:
            path = real / name
            if path.exists() and (path.is_symlink() or not path.is_file()):
                raise DataError(f"--out {out}: {name} exists and is not a regular file")
        if real.stat().st_dev != real.parent.stat().st_dev:
            raise DataError(f"--out {out}: is a mount point; give a folder inside it")
        try:
            report.kept_entries(real)
        except report.OutputError as err:
            raise DataError(str(err)) from None
    # The new set is staged beside `out` (in the nearest folder that exists) and, if `out`
    # exists, its other files are linked from it: create and remove a file in both.
    existing = next(p for p in [real.parent, *real.parent.parents] if p.exists())
    if not existing.is_dir():
        raise DataError(f"--out {out}: {existing} is not a directory")
    for folder in dict.fromkeys([existing] + ([real] if real.exists() else [])):
        try:
            with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as err:
            raise DataError(f"--out {out}: cannot create files in {folder} "
                            f"({err.strerror or err})") from None


def check_recorded(args, module="examples.cifar10"):
    """What metrics.json will record from the command line must pass the schema now,
    not after training: the command, and the data source a --data-dir gives."""
    from examples.cifar10 import provenance, schema

    if args.data_dir is not None and not str(args.data_dir).isprintable():
        raise DataError(f"--data-dir {shown(str(args.data_dir), 200)}: holds control "
                        f"characters")
    try:
        schema.text()(provenance.published_command(module, args.argv), "the command")
        if args.data_dir is not None:
            name = data.find_folder(args.data_dir).name
            schema.NAME(f"--data-dir {name} (official layout)", "data.source")
    except SchemaError as err:
        raise DataError(f"{shown(err, 300)}: it would be recorded in metrics.json") from None


def validate(args):
    """Check what can be checked before TensorFlow loads; return the data read from --data-dir."""
    check_out(args.out)
    distribute.check(args.strategy)
    check_recorded(args)
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
    args.epochs = args.epochs or EPOCHS[args.model]
    if args.out is None:
        args.out = default_out(args.model)
    try:
        dataset = validate(args)
        # Imported late so that --help, option and data errors answer without loading
        # TensorFlow (whose start-up messages on stderr would bury the one-line error).
        from examples.cifar10.run import run
        metrics = run(args, dataset)
    except DataError as err:
        print(f"error: {shown(err, 1000)}", file=sys.stderr)
        return 2
    except SchemaError as err:
        print(f"error: the run's metrics cannot be published ({shown(err, 1000)}); "
              f"--out {args.out} left as it was", file=sys.stderr)
        return 1
    except report.OutputError as err:
        print(f"error: {shown(err, 1000)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if report.committed is not None:
            print(f"interrupted after the new outputs were written to {args.out}",
                  file=sys.stderr)
        else:
            print(f"interrupted: --out {args.out} left as it was", file=sys.stderr)
        return 130
    test = metrics["final"]["test"]
    wrote = f"wrote {args.out}/{', '.join(report.OUTPUTS)}" if args.wrote_outputs \
        else "the chief (worker 0) writes the outputs"
    print(f"{args.model}: test accuracy {test['accuracy']:.4f}, test loss {test['loss']:.4f}; "
          f"{wrote}")
    return 0
