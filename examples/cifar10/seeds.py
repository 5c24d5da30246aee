"""Gather runs of one recipe that differ only in their seed into plots/seeds.json.

    python -m examples.cifar10.seeds RUN_DIR [RUN_DIR ...] --figures-from DIR --out FILE
    python -m examples.cifar10.seeds plots --figures-from plots --keep-from \
        plots/seeds.json --out plots/seeds.json

--keep-from keeps the runs of an earlier seeds file whose seeds the RUN_DIRs do not
hold, as they were recorded (seed, accuracies, time, machine, date, command), after
checking that their command trained the same model for the same epochs: a republished
run replaces its own seed and keeps the others.

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
    p.add_argument("--keep-from", type=Path, metavar="FILE",
                   help="an earlier seeds file whose other seeds' runs are kept")
    return p


def value_at(metrics, dotted):
    for key in dotted.split("."):
        metrics = metrics[key]
    return metrics


def spread(values):
    return {"mean": statistics.mean(values), "std": statistics.stdev(values)}


def kept_runs(path, runs):
    """The entries of an earlier seeds file for seeds that `runs` do not hold; each must
    have trained the same model for the same epochs (read from its recorded command)."""
    earlier = schema.load(path)
    if not isinstance(earlier.get("runs"), list):
        raise schema.SchemaError(f"--keep-from {path}: not a seeds file")
    first = next(iter(runs.values()))
    seeds = {m["seed"] for m in runs.values()}
    kept = [e for e in earlier["runs"] if e["seed"] not in seeds]
    for entry in kept:
        words = entry["command"].split()
        model = words[words.index("--model") + 1] if "--model" in words else "improved"
        epochs = words[words.index("--epochs") + 1] if "--epochs" in words else None
        if model != first["model"] or epochs != str(first["epochs"]):
            raise schema.SchemaError(f"--keep-from {path}: seed {entry['seed']} trained "
                                     f"{model} for {epochs} epochs, not {first['model']} "
                                     f"for {first['epochs']}")
    return kept


def summarise(runs, figures_from, command, kept=()):
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
    entries = sorted([*kept, *entries], key=lambda e: e["seed"])
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
        if len(set(args.runs)) != len(args.runs) \
                or len(args.runs) < (1 if args.keep_from else 2):
            raise schema.SchemaError("give at least two different RUN_DIRs, each once "
                                     "(one with --keep-from)")
        runs = {folder: schema.load(folder / "metrics.json") for folder in args.runs}
        kept = kept_runs(args.keep_from, runs) if args.keep_from else []
        if len(runs) + len(kept) < 2:
            raise schema.SchemaError("fewer than two seeds to summarise")
        if args.figures_from not in runs:
            raise schema.SchemaError(f"--figures-from {args.figures_from}: not among the "
                                     f"RUN_DIRs")
        summary = summarise(runs, args.figures_from,
                            provenance.published_command("examples.cifar10.seeds", argv),
                            kept)
        try:
            report.write_atomically(args.out, (json.dumps(summary, indent=2) + "\n").encode())
        except OSError as err:
            raise schema.SchemaError(f"--out {args.out}: cannot write "
                                     f"({err.strerror or err})") from None
    except schema.SchemaError as err:
        print(f"error: {shown(str(err), 1000)}", file=sys.stderr)
        return 1
    test = summary["test_accuracy"]
    print(f"{len(summary['runs'])} seeds: test accuracy {test['mean']:.4f} ± {test['std']:.4f}; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
