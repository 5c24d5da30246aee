"""Run the case-study notebook on CIFAR-10 and publish what that one run produced.

    python -m examples.cifar10.notebook --data-dir DIR [--epochs N]

The notebook is generated from docs/cifar10.md (tested_docs.notebooks) and executed
top to bottom in a fresh Jupyter kernel, on the data in DIR (`download`: Keras fetches
it) for N epochs, through the environment variables its cells read (CIFAR10_DATA_DIR,
unset for the download, and CIFAR10_EPOCHS; never CIFAR10_STAND_IN). From that same
run it writes acc.png, loss.png and metrics.json into --out (swapped in as one set, as
the command line does) and the notebook with its outputs to --notebook, so the numbers
the notebook prints are the numbers the site publishes. `make figures` runs it with
--out plots --notebook notebooks/cifar10.ipynb.
"""
import base64
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from examples.cifar10 import data, provenance, report
from examples.cifar10.cli import (OneLineParser, check_out, check_recorded, default_out,
                                  epochs_int, note_text, out_dir)
from examples.cifar10.data import DataError, shown
from examples.cifar10.schema import SchemaError

PAGE = "cifar10.md"
DEFAULT_EPOCHS = 18
# Run in the kernel after the notebook, outside it: what metrics.json records.
COLLECT = """\
import base64 as _base64
import json as _json
print(_json.dumps({
    "model": MODEL_NAME, "parameters": int(model.count_params()), "epochs": EPOCHS,
    "batch_size": BATCH_SIZE, "seed": SEED,
    "precision": keras.mixed_precision.global_policy().name,
    "images": [len(x_fit), len(x_val), len(x_test)], "sha256": file_hashes,
    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "seconds": [float(s) for s in timer.seconds],
    "test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
    "flip_accuracy": float(flip_accuracy),
    "pipeline_seconds": float(pipeline_seconds), "confusion_matrix": counts.tolist(),
    "figures": {name: _base64.b64encode(png).decode() for name, png in figures.items()},
}))
"""


# TensorFlow's C++ runtime logs to stderr at start-up (absl/glog lines: oneDNN, CPU
# features, rendezvous); TF_CPP_MIN_LOG_LEVEL does not silence them in TF 2.21. They say
# nothing about the case study, so the published notebook leaves them out; every other
# output, stderr included, stays.
RUNTIME_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.-]+:\d+\] .*|To enable the following "
    r"instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$")


def without_runtime_logs(notebook):
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [line for line in output["text"].splitlines(keepends=True)
                         if not RUNTIME_LOG.match(line.rstrip("\n"))]
                if not lines:
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept
    return notebook


def build_parser():
    p = OneLineParser(prog="python -m examples.cifar10.notebook",
                      description="Execute the case-study notebook (generated from "
                                  "docs/cifar10.md) and publish its run.")
    p.add_argument("--data-dir", metavar="DIR", default="download",
                   help="an extracted official CIFAR-10 folder (cifar-10-batches-py, or the "
                        "folder that holds it), or 'download' (default): Keras fetches it")
    p.add_argument("--data-note", metavar="TEXT", default="", type=note_text,
                   help="recorded in metrics.json with the data source")
    p.add_argument("--epochs", type=epochs_int, default=DEFAULT_EPOCHS, metavar="N",
                   help="passes over the training set (default: %(default)s)")
    p.add_argument("--out", type=out_dir, default=None, metavar="DIR",
                   help="where acc.png, loss.png and metrics.json go (default: a new "
                        "folder runs/improved-UTCTIME; make figures passes --out plots)")
    p.add_argument("--notebook", type=Path, default=None, metavar="FILE",
                   help="where the executed notebook goes (default: cifar10.ipynb in "
                        "--out; make figures passes notebooks/cifar10.ipynb)")
    return p


def data_source(data_dir):
    """Where the images come from, as metrics.json says it; a wrong folder fails here."""
    if data_dir == "download":
        return "keras.datasets.cifar10.load_data()"
    folder = data.find_folder(data_dir)
    data.check_files(folder)
    return f"--data-dir {folder.name} (official layout)"


def notebook_environment(data_dir, epochs, root):
    """The variables the notebook's cells read: the real data, never the stand-in
    images (CIFAR10_STAND_IN), and Keras' download unless a folder is given."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("CIFAR10_STAND_IN", "CIFAR10_DATA_DIR")}
    if data_dir != "download":
        env["CIFAR10_DATA_DIR"] = str(data_dir)
    env["CIFAR10_EPOCHS"] = str(epochs)
    # The offline reader and the chapter's exercises import examples.cifar10.
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return env


def keras_cache_hashes():
    """sha256 of the batch files Keras downloaded (data.load_from_keras records the same)."""
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    return {p.name: data.sha256(p) for p in sorted(cache.rglob("*_batch*")) if p.is_file()}


def publish(args, argv):
    import nbformat

    from examples.cifar10 import run, schema
    from tested_docs import notebooks

    source = data_source(args.data_dir)
    notebook = notebooks.build(PAGE)
    metadata = json.loads(json.dumps(notebook.metadata))
    env = notebook_environment(args.data_dir, args.epochs, notebooks.ROOT)
    with tempfile.TemporaryDirectory(prefix="cifar10-notebook-") as workdir:
        print(f"running the notebook of docs/{PAGE} ({args.epochs} epochs): its cells' "
              f"outputs go into {args.notebook}", file=sys.stderr)
        collected = json.loads(notebooks.execute(notebook, workdir, timeout=None, env=env,
                                                 then=COLLECT))
    hashes = collected["sha256"] or (keras_cache_hashes() if args.data_dir == "download"
                                     else {})
    train_images, validation_images, test_images = collected["images"]
    metrics = run.record(
        model=collected["model"], parameters=collected["parameters"],
        epochs=collected["epochs"], batch_size=collected["batch_size"],
        seed=collected["seed"], precision=collected["precision"],
        data={"source": source, "note": args.data_note, "train_images": train_images,
              "validation_images": validation_images, "test_images": test_images,
              "sha256": hashes},
        history=collected["history"], seconds=collected["seconds"],
        test_loss=collected["test_loss"], test_accuracy=collected["test_accuracy"],
        flip_accuracy=collected["flip_accuracy"], pipeline_seconds=collected["pipeline_seconds"],
        command=provenance.published_command("examples.cifar10.notebook", argv))
    metrics["confusion_matrix"] = collected["confusion_matrix"]
    metrics["confusions"] = report.most_confused(np.array(collected["confusion_matrix"]))
    schema.check_run(metrics)
    figures = {name: base64.b64decode(collected["figures"][name]) for name in report.FIGURES}
    report.write_outputs(args.out, metrics["history"], metrics, figures)
    # The stored notebook is the page's, generated again now that its numbers and curves
    # (filled in from plots/) are this run's (with --out plots), with the outputs of the cells that ran
    # (tests/test_notebooks.py checks both, and that the printed numbers are these metrics).
    published = with_outputs_of(notebook, notebooks.build(PAGE))
    published.metadata = nbformat.from_dict(metadata)
    without_runtime_logs(published)
    args.notebook.parent.mkdir(parents=True, exist_ok=True)
    report.write_atomically(args.notebook, notebooks.text_of(published).encode())
    return metrics


def with_outputs_of(executed, notebook):
    """`notebook` with the outputs of `executed`, whose code cells must be the same."""
    ran = [c for c in executed.cells if c.cell_type == "code"]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    if [c.source for c in ran] != [c.source for c in code]:
        raise OSError(f"docs/{PAGE} changed while its notebook ran; run again")
    for target, source in zip(code, ran):
        target.outputs, target.execution_count = source.outputs, source.execution_count
    return notebook


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.out = args.out or default_out("improved")
    args.notebook = args.notebook or args.out / "cifar10.ipynb"
    try:
        check_out(args.out)
        check_recorded(SimpleNamespace(
            argv=argv, data_dir=None if args.data_dir == "download" else Path(args.data_dir)),
            "examples.cifar10.notebook")
        data_source(args.data_dir)  # a wrong folder fails now, not after the kernel starts
        metrics = publish(args, argv)
    except (DataError, SchemaError, report.OutputError, OSError) as err:
        # One line, as the command line reports them; --out and --notebook stay as they were.
        what = "the run's metrics cannot be published: " if isinstance(err, SchemaError) else ""
        print(f"error: {what}{shown(err, 1000)}", file=sys.stderr)
        return 2 if isinstance(err, DataError) else 1
    test = metrics["final"]["test"]
    print(f"{metrics['model']}: test accuracy {test['accuracy']:.4f}, test loss "
          f"{test['loss']:.4f}; wrote {args.out}/{', '.join(report.OUTPUTS)} and "
          f"{args.notebook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
