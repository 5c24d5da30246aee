"""Gather runs of one recipe that differ only in their seed into plots/seeds.json.

    python -m examples.cifar10.seeds RUN_DIR [RUN_DIR ...] --figures-from DIR --out FILE

Each RUN_DIR holds the metrics.json of one run (python -m examples.cifar10 --out RUN_DIR,
or the notebook's run in plots/). The runs must share the model, epochs, batch size,
precision and data files; the file lists each run's test accuracy, its training time
and the machine it ran on, and their mean and standard deviation. --figures-from names
the run whose figures are published (its folder must be one of the RUN_DIRs).
"""
import json
import statistics
import sys
from pathlib import Path

from examples.cifar10 import provenance, report, schema
from examples.cifar10.cli import OneLineParser
from examples.cifar10.data import shown

# What must be equal for runs to count as one recipe.
SAME = ("model", "epochs", "batch_size", "precision", "parameters", "data.sha256",
        "data.train_images", "data.validation_images", "data.test_images")


def build_parser():
    p = OneLineParser(prog="python -m examples.cifar10.seeds",
                      description="Summarise runs of one recipe with different seeds.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                   help="folders holding one metrics.json each")
    p.add_argument("--figures-from", type=Path, required=True, metavar="DIR",
                   help="the RUN_DIR whose figures the chapter shows")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="where the summary goes (plots/seeds.json)")
    return p


def value_at(metrics, dotted):
    for key in dotted.split("."):
        metrics = metrics[key]
    return metrics


def spread(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values)}


def summarise(runs, figures_from, command):
    """`runs`: {folder: metrics}. Raise SchemaError when they are not one recipe."""
    first_folder, first = next(iter(runs.items()))
    for folder, metrics in runs.items():
        for key in SAME:
            if value_at(metrics, key) != value_at(first, key):
                raise schema.SchemaError(f"{folder}: {key} differs from {first_folder}'s")
    entries = [{
        "seed": m["seed"],
        "test_accuracy": m["final"]["test"]["accuracy"],
        "test_flip_averaged_accuracy": m["final"]["test_flip_averaged"]["accuracy"],
        "validation_accuracy": m["final"]["validation"]["accuracy"],
        "training_seconds": m["total_training_seconds"],
        "device": m["device"], "date": m["date"], "command": m["command"],
    } for m in runs.values()]
    summary = {"runs": entries, "figures_from_seed": runs[figures_from]["seed"]}
    for key in ("test_accuracy", "test_flip_averaged_accuracy", "validation_accuracy",
                "training_seconds"):
        summary[key] = spread([e[key] for e in entries])
    summary["command"] = command
    schema.check_seeds(summary)
    return summary


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if len(set(args.runs)) < 2 or len(set(args.runs)) != len(args.runs):
            raise schema.SchemaError("give at least two different RUN_DIRs, each once")
        runs = {folder: schema.load(folder / "metrics.json") for folder in args.runs}
        if args.figures_from not in runs:
            raise schema.SchemaError(f"--figures-from {args.figures_from}: not among the "
                                     f"RUN_DIRs")
        summary = summarise(runs, args.figures_from,
                            provenance.published_command("examples.cifar10.seeds", argv))
        try:
            report.write_atomically(args.out, (json.dumps(summary, indent=2) + "\n").encode())
        except OSError as err:
            raise schema.SchemaError(f"--out {args.out}: cannot write "
                                     f"({err.strerror or err})") from None
    except schema.SchemaError as err:
        print(f"error: {shown(str(err), 1000)}", file=sys.stderr)
        return 1
    test = summary["test_accuracy"]
    print(f"{len(runs)} seeds: test accuracy {test['mean']:.4f} ± {test['std']:.4f}; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
