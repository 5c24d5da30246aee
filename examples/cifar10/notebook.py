"""Build the case study's notebook from the example's own source files.

    python -m examples.cifar10.notebook OUT.ipynb

Its code cells are the sections of data.py, models.py, train.py and report.py marked
``# --8<-- [start:NAME]`` ... ``# --8<-- [end:NAME]`` (the same sections the chapter
includes), the imports those sections use, and short cells that load the data, train,
evaluate and plot. The notebook imports nothing from this repository, so a reader who
downloads it can run it anywhere TensorFlow runs.
"""
import ast
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCES = ["data.py", "models.py", "train.py", "report.py"]
# Imports that only the glue cells below need (the sections' own come from their files).
GLUE_IMPORTS = ["import types", "from IPython.display import Image, display"]


def section(filename, name):
    """The lines between `# --8<-- [start:name]` and `# --8<-- [end:name]` of one file."""
    lines = (HERE / filename).read_text().splitlines()
    marks = {kind: [i for i, line in enumerate(lines)
                    if line.strip() == f"# --8<-- [{kind}:{name}]"]
             for kind in ("start", "end")}
    if len(marks["start"]) != 1 or len(marks["end"]) != 1 \
            or marks["start"][0] > marks["end"][0]:
        raise ValueError(f"{filename}: expected one '# --8<-- [start:{name}]' followed by one "
                         f"'# --8<-- [end:{name}]'")
    body = lines[marks["start"][0] + 1:marks["end"][0]]
    # Markers of other sections inside this one are not code.
    body = [line for line in body if not re.match(r"\s*# --8<-- \[(start|end):[\w-]+\]$", line)]
    return "\n".join(body).strip("\n")


def used_names(code):
    return {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}


def imports_for(code):
    """The module-level imports of SOURCES that `code` uses, stdlib first, as in PEP 8."""
    needed = used_names(code)
    found = {}
    for filename in SOURCES:
        for node in ast.parse((HERE / filename).read_text()).body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    found.setdefault(bound, (alias.name.split(".")[0], line))
            elif isinstance(node, ast.ImportFrom) and node.module \
                    and not node.module.startswith("examples"):
                for alias in node.names:
                    line = f"from {node.module} import {alias.name}" + (
                        f" as {alias.asname}" if alias.asname else "")
                    found.setdefault(alias.asname or alias.name,
                                     (node.module.split(".")[0], line))
    lines = [found[name] for name in sorted(needed & set(found))]
    lines += [(line.split()[1].split(".")[0], line) for line in GLUE_IMPORTS]
    def order(line):  # `import x` before `from x import y`, then by module
        return line.startswith("from"), line.split()[1]

    stdlib = sorted({line for top, line in lines if top in sys.stdlib_module_names}, key=order)
    others = sorted({line for top, line in lines if top not in sys.stdlib_module_names},
                    key=order)
    return "\n".join(stdlib + [""] + others)


def site_urls():
    """The published site and repository, from mkdocs.yml (absolute: the notebook travels)."""
    config = (ROOT / "mkdocs.yml").read_text()
    site = re.search(r"^site_url:\s*(\S+)", config, re.MULTILINE)
    repo = re.search(r"^repo_url:\s*(\S+)", config, re.MULTILINE)
    return site.group(1).rstrip("/") + "/", repo.group(1).rstrip("/")


def steps():
    """The notebook, in order: ("md", text), ("code", text) or ("section", "file:name")."""
    site, repo = site_urls()
    return [
        ("md", f"""\
# CIFAR-10 case study: the notebook

This notebook trains a convolutional neural network (CNN) on CIFAR-10: it loads the data,
prepares it, builds and compiles the model, trains it, evaluates it once on the test set and
plots its learning curves. It is the [case study]({site}cifar10/) of
*Introduction to TensorFlow and Keras* as one runnable file: its code cells are cut from the
same [source files]({repo}/tree/main/examples/cifar10) as the chapter, and the site's tests
execute it.

It needs TensorFlow 2 with Keras 3, NumPy and Matplotlib. Two environment variables,
read when the cells run, change what it does:

- `CIFAR10_DATA_DIR`: the folder of an extracted official `cifar-10-python.tar.gz` (the
  `cifar-10-batches-py` folder, or the folder that holds it). Unset, Keras downloads
  CIFAR-10 (about 170 MB) once.
- `CIFAR10_EPOCHS`: how many epochs to train (default 10). A GPU makes them much faster."""),
        ("md", "The imports that the cells below use:"),
        ("imports", ""),
        ("md", """\
## The data

The official archive holds five training batches of 10,000 images each and one test batch
of 10,000, in a folder named `cifar-10-batches-py`. Any problem with these files is
reported as a `DataError` with a one-line message."""),
        ("section", "data.py:layout"),
        ("md", """\
Each batch file is a Python pickle, and a pickle can run any code while it loads: a crafted
"data batch" whose pickle names `os.system` runs a shell command. This unpickler refuses
every global except the few that a CIFAR-10 batch needs, before that global is even
imported. Never `pickle.load` a file you did not create."""),
        ("section", "data.py:unpickler"),
        ("md", """\
Reading a batch checks what it holds, then turns the stored rows (three colour planes of
32 × 32 pixels, channels first) into the channels-last images `(N, 32, 32, 3)` that Keras
expects. `load_from_dir` reads all six files and records the sha256 of each, so a result
can be traced to the exact files it came from."""),
        ("section", "data.py:read"),
        ("md", """\
## Load it

From `CIFAR10_DATA_DIR` if it is set, else with `keras.datasets.cifar10.load_data()`,
which downloads the data the first time and keeps it in `~/.keras/datasets`."""),
        ("code", """\
DATA_DIR = os.environ.get("CIFAR10_DATA_DIR")
if DATA_DIR:
    ((x_train, y_train), (x_test, y_test)), sha256_of_files = load_from_dir(DATA_DIR)
else:
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    y_train, y_test = y_train.ravel(), y_test.ravel()  # labels (N, 1) -> (N,)
print(f"training images {x_train.shape}, test images {x_test.shape}")
print("the first five:", ", ".join(CLASS_NAMES[label] for label in y_train[:5]))"""),
        ("md", """\
## Prepare it

Pixels arrive as integers from 0 to 255 and are scaled to [0, 1]. A tenth of the training
images is held out as a **validation set**, which shows how the model does on images it
did not learn from while it trains. The test set is evaluated once, at the end, so that
its accuracy is an honest estimate."""),
        ("section", "data.py:prepare"),
        ("code", """\
SEED = 42
keras.utils.set_random_seed(SEED)  # seeds Python, NumPy and TensorFlow
x_train, x_test = scale(x_train), scale(x_test)
(x_fit, y_fit), (x_val, y_val) = split_validation(x_train, y_train, 0.1, SEED)
print(f"training {len(x_fit)}, validation {len(x_val)}, test {len(x_test)} images")"""),
        ("md", """\
## The models

The baseline is the CNN of TensorFlow's own tutorial, with dropout before the classifier.
Its last layer outputs **logits**: the loss applies the softmax itself, which is
numerically more stable."""),
        ("section", "models.py:shapes"),
        ("section", "models.py:baseline"),
        ("md", """\
The improved model stays in the same family. Data augmentation (random flips and shifts,
active only while training), batch normalization before every ReLU, three blocks of two
convolutions, and dropout that grows with depth let it learn more without memorising the
training set."""),
        ("section", "models.py:improved"),
        ("md", """\
## Compile them

Both models train with Adam and the same schedule: the learning rate warms up for one
epoch (or a fifth of the run, if that is shorter), then follows a cosine decay, with
decoupled weight decay. (TensorFlow's tutorial
keeps a constant learning rate of 0.001.) `build_and_compile` looks a model up by name in
`models.BUILDERS`: in the source that is the `models` module, here a namespace holds it."""),
        ("section", "models.py:builders"),
        ("code", "models = types.SimpleNamespace(BUILDERS=BUILDERS)"),
        ("section", "train.py:batch_sizes"),
        ("section", "train.py:optimizer"),
        ("section", "train.py:compile"),
        ("md", """\
## Train

`MODEL_NAME` picks the model; the batch sizes are those of the case study's runs. One
line per epoch shows the training and validation accuracy and loss."""),
        ("code", """\
MODEL_NAME = "improved"  # or "baseline"
EPOCHS = int(os.environ.get("CIFAR10_EPOCHS", "10"))
BATCH_SIZE = BATCH_SIZES[MODEL_NAME]
steps_per_epoch = -(-len(x_fit) // BATCH_SIZE)  # rounded up: the last batch is smaller
model = build_and_compile(MODEL_NAME, steps_per_epoch, EPOCHS)
history = model.fit(x_fit, y_fit, validation_data=(x_val, y_val), epochs=EPOCHS,
                    batch_size=BATCH_SIZE, verbose=2)"""),
        ("md", """\
## Evaluate once on the test set

Augmentation and dropout are off here: evaluation sees the real test images."""),
        ("code", """\
test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
print(f"test accuracy: {test_accuracy:.4f}, test loss: {test_loss:.4f}")"""),
        ("md", """\
Letting each test image and its mirror image vote together usually adds a little accuracy:"""),
        ("section", "train.py:flip_average"),
        ("code", """\
print(f"test accuracy, image and mirror averaged: "
      f"{flip_averaged_accuracy(model, x_test, y_test):.4f}")"""),
        ("md", """\
## Learning curves

Training against validation accuracy and loss per epoch. A training curve that keeps
improving while the validation curve stalls means the model memorises the training set."""),
        ("section", "report.py:plot"),
        ("code", """\
display(Image(plot_curve(history.history, "accuracy", "accuracy")))
display(Image(plot_curve(history.history, "loss", "loss (cross-entropy)")))"""),
    ]


def build_notebook():
    """The notebook as an nbformat v4 NotebookNode (no outputs; cell ids are stable)."""
    plan = steps()
    code = {i: section(*ref.split(":")) if kind == "section" else ref
            for i, (kind, ref) in enumerate(plan) if kind in ("section", "code")}
    imports = imports_for("\n\n".join(code.values()))
    cells = []
    for i, (kind, ref) in enumerate(plan):
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(ref)
        elif kind == "imports":
            cell = nbformat.v4.new_code_cell(imports)
        else:
            cell = nbformat.v4.new_code_cell(code[i])
            if kind == "section":
                cell.metadata["source_section"] = f"examples/cifar10/{ref}"
        cell.id = f"cell-{len(cells) + 1:02d}"
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                       "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


def main(argv=None):
    from examples.cifar10.cli import OneLineParser
    from examples.cifar10.report import write_atomically

    parser = OneLineParser(prog="python -m examples.cifar10.notebook",
                           description="Write the case study's notebook, generated from "
                                       "examples/cifar10/, to OUT.")
    parser.add_argument("out", type=Path, metavar="OUT.ipynb",
                        help="the file to write (replaced atomically if it exists)")
    args = parser.parse_args(argv)
    text = nbformat.writes(build_notebook())
    try:
        if args.out.is_dir():
            raise IsADirectoryError(21, "is a directory")
        write_atomically(args.out, text.encode())
    except OSError as err:
        print(f"error: {args.out}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
