"""Every chapter's notebook is committed, fresh, holds the blocks the harness runs, and runs.

Fresh and parity checks are cheap and always run. Executing the notebooks costs about as
much as running the pages again (parity already proves each code cell is a block the
harness ran), so it runs only with EXECUTE_NOTEBOOKS=1 (`make test-notebooks`) or under
CI=true.
"""
import copy
import json
import os
import re
import sys

import nbformat
import pytest

from tested_docs import DOCS, ROOT, includes, notebooks
from tests.doc_harness import DOCS_SYBIL, evaluate_block

CHAPTERS = notebooks.chapters()
EXECUTE = os.environ.get("EXECUTE_NOTEBOOKS", "") not in ("", "0") \
    or os.environ.get("CI", "").lower() == "true"


def stored(page):
    return nbformat.read(notebooks.notebook_path(page), as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells
            if cell.cell_type == "code" and cell.get("id") != notebooks.INSTALL_ID]


@pytest.mark.parametrize("page", CHAPTERS)
def test_the_committed_notebook_is_what_its_page_generates(page):
    problem = notebooks.stale(page)
    assert problem is None, f"{problem}: update the notebooks with `{notebooks.COMMAND}`"


def test_no_notebook_without_a_chapter():
    stems = {page.removesuffix(".md") for page in CHAPTERS}
    extra = [p.name for p in notebooks.NOTEBOOKS.glob("*.ipynb") if p.stem not in stems]
    assert not extra, f"{extra}: no chapter in the nav; `{notebooks.COMMAND}` removes them"


@pytest.mark.parametrize("page", CHAPTERS)
def test_code_cells_are_exactly_the_blocks_the_harness_runs(page):
    ran = [includes.expand(str(example.parsed)).strip("\n")
           for example in DOCS_SYBIL.parse(DOCS / page)
           if example.region.evaluator is evaluate_block]
    assert [cell.source for cell in code_cells(stored(page))] == ran


@pytest.mark.parametrize("page", CHAPTERS)
def test_markdown_cells_are_plain_notebook_markdown(page):
    text = "\n".join(c.source for c in stored(page).cells if c.cell_type == "markdown")
    assert "<!--" not in text
    assert not re.search(r"^\s*(!!!|\?\?\?|===)", text, re.MULTILINE)
    assert not re.search(r"\{\{\s*\w+\.[\w.]+\s*(\|\s*\w+\s*)?\}\}", text), "unfilled numbers"
    assert "--8<--" not in text
    relative = [m for m in re.findall(r"\]\(([^)\s]+)", text)
                if not m.startswith(("https://", "http://", "mailto:", "attachment:"))]
    assert not relative, f"links that only work on the site: {relative}"


def test_images_travel_inside_the_notebook():
    """plots/acc.png on the case study's page: an attachment, shown in Colab and offline."""
    import base64

    cells = [c for c in stored("cifar10.md").cells if "attachment:acc.png" in c.source]
    assert len(cells) == 1
    stored_png = base64.b64decode(cells[0].attachments["acc.png"]["image/png"])
    assert stored_png == (ROOT / "plots" / "acc.png").read_bytes()


@pytest.mark.parametrize("page", CHAPTERS)
def test_first_cell_installs_the_pinned_packages_for_colab(page):
    first = stored(page).cells[0]
    assert first.get("id") == notebooks.INSTALL_ID and first.cell_type == "code"
    pins = notebooks.pinned_requirements()
    assert f"tensorflow=={pins['tensorflow']}" in first.source
    installs = [line for line in first.source.splitlines() if "%pip install" in line]
    assert installs and not any("tensorflow-cpu" in line for line in installs)
    requirement = (ROOT / "requirements.txt").read_text()
    assert f"tensorflow-cpu=={pins['tensorflow']}" in requirement  # the same version


def run_install_cell(source, installed, monkeypatch):
    """Run a notebook's first cell as IPython would, with `installed` as the runtime's
    packages; return what it printed and the pip commands it ran."""
    import importlib.metadata
    import io
    from contextlib import redirect_stdout

    from IPython.core.inputtransformer2 import TransformerManager

    def version(name):
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(importlib.metadata, "version", version)
    magics = []

    class Shell:
        def run_line_magic(self, name, line):
            magics.append(f"%{name} {line}")

    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(TransformerManager().transform_cell(source), {"get_ipython": Shell})
    return printed.getvalue().strip(), magics


def test_the_first_cell_keeps_a_tested_runtime_and_installs_otherwise(monkeypatch):
    """Colab's own TensorFlow is kept when the page passed with its release (the
    compatibility record); any other release gets the pinned versions. One line says
    which."""
    from tested_docs import compat, record

    page = "tensors.md"
    source = notebooks.build(page).cells[0].source
    tested = compat.passing(compat.load(), page, record.page_digest(DOCS / page))
    pins = notebooks.pinned_requirements()
    oldest = tested[0][0] if tested else pins["tensorflow"]
    said, magics = run_install_cell(
        source, {"tensorflow": oldest, "keras": "3.8.0"}, monkeypatch)
    assert said == f"Keeping this runtime's TensorFlow {compat.minor(oldest)}: a tested release."
    assert magics[0] == f"%pip install --quiet keras=={pins['keras']}"  # Keras untested
    assert not any("tensorflow==" in m or "numpy" in m for m in magics)
    said, magics = run_install_cell(source, {"tensorflow": "2.12.0"}, monkeypatch)
    assert said.startswith(f"Installing TensorFlow {pins['tensorflow']}: this runtime has "
                           "2.12, which this page was not tested with.")
    assert f"tensorflow=={pins['tensorflow']}" in magics[0]
    said, magics = run_install_cell(source, {}, monkeypatch)
    assert "this runtime has none" in said


def test_the_gpu_chapter_asks_colab_for_a_gpu_and_tags_its_gpu_only_cells():
    notebook = stored("gpu.md")
    assert notebook.metadata["accelerator"] == "GPU"
    assert notebook.metadata["colab"]["gpuType"]
    page = (DOCS / "gpu.md").read_text()
    tagged = [c.source for c in notebook.cells
              if notebooks.GPU_TAG in c.metadata.get("tags", [])]
    markers = len(re.findall(r"<!-- skip: next if\(NO_GPU", page))
    assert markers and len(tagged) == markers
    assert "accelerator" not in stored("tensors.md").metadata


def test_admonitions_and_tabs_become_headings():
    lines = ['!!! warning "Mind the `dtype`"', "", "    Text.", "", '=== "Tab"', "",
             "    ```python", "    x = 1", "    ```", "", "After."]
    assert notebooks.flatten(lines) == ["**Mind the `dtype`**", "", "Text.", "",
                                        "**Tab**", "", "```python", "x = 1", "```", "",
                                        "After."]


def test_links_become_absolute_on_the_site():
    site = notebooks.site_url()
    assert notebooks.absolute("keras.md#compile", "gpu.md") == f"{site}keras/#compile"
    assert notebooks.absolute("#results", "cifar10.md") == f"{site}cifar10/#results"
    assert notebooks.absolute("plots/acc.png", "cifar10.md") == f"{site}plots/acc.png"
    assert notebooks.absolute("index.md", "gpu.md") == site
    assert notebooks.absolute("https://keras.io/", "gpu.md") == "https://keras.io/"


def test_the_walkthrough_runs_on_the_stand_in_images(monkeypatch):
    monkeypatch.setenv("CIFAR10_STAND_IN", "1")
    monkeypatch.delenv("CIFAR10_DATA_DIR", raising=False)
    monkeypatch.delenv("CIFAR10_EPOCHS", raising=False)
    from examples.cifar10 import walkthrough  # importing runs it (unless a page did already)

    assert walkthrough.STAND_IN and len(walkthrough.x_test) == 40
    assert walkthrough.EPOCHS == len(walkthrough.history.history["loss"])
    assert 0 <= walkthrough.flip_accuracy <= 1


# --- running them -------------------------------------------------------------------------

KERNEL_PYTHON = "import sys\nprint(sys.executable)"


def run(notebook, tmp_path, **env):
    """Execute in a fresh kernel; prove that the kernel is this interpreter."""
    notebook = copy.deepcopy(notebook)
    notebook.cells.insert(1, nbformat.v4.new_code_cell(KERNEL_PYTHON, id="kernel-python"))
    environment = {**os.environ, **env}
    environment.pop("CIFAR10_DATA_DIR", None)
    environment.pop("CIFAR10_EPOCHS", None)
    # The case study's exercises import examples.cifar10 from the repository.
    environment["PYTHONPATH"] = str(ROOT)
    notebooks.execute(notebook, tmp_path, env=environment)
    printed = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert printed.strip() == sys.executable
    return notebook


def test_a_failing_cell_fails_the_run_unless_it_is_tagged(tmp_path):
    import nbclient

    broken = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%pip install nothing-at-all", id=notebooks.INSTALL_ID),
        nbformat.v4.new_code_cell("raise RuntimeError('a GPU cell')", id="gpu",
                                  metadata={"tags": [notebooks.GPU_TAG]}),
        nbformat.v4.new_code_cell("raise RuntimeError('deliberately broken')", id="bad")])
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="deliberately broken"):
        run(broken, tmp_path)


@pytest.mark.skipif(not EXECUTE, reason="executing every notebook is opt-in: "
                                        "EXECUTE_NOTEBOOKS=1 (make test-notebooks) or CI=true")
@pytest.mark.parametrize("page", CHAPTERS)
def test_the_notebook_runs_top_to_bottom_in_a_fresh_kernel(page, tmp_path):
    notebook = run(stored(page), tmp_path)
    for cell in notebook.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors or notebooks.GPU_TAG in cell.metadata.get("tags", []), errors


# --- the case study's published run -------------------------------------------------------

def printed_text(notebook):
    return "".join(o.get("text", "") for cell in code_cells(notebook)
                   for o in cell.get("outputs", []) if o.output_type == "stream")


def test_the_case_study_notebook_prints_the_published_numbers():
    notebook = stored("cifar10.md")
    if not any(cell.get("outputs") for cell in code_cells(notebook)):
        pytest.skip("notebooks/cifar10.ipynb has no outputs yet: `make figures` runs it on "
                    "the data set and stores them")
    metrics = json.loads((ROOT / "plots" / "metrics.json").read_text())
    check_printed_numbers(notebook, metrics)


def check_printed_numbers(notebook, metrics):
    """The numbers the executed notebook printed are those of `metrics` (metrics.json)."""
    text = printed_text(notebook)
    final = metrics["final"]
    assert f"test accuracy {final['test']['accuracy']:.4f}, test loss " \
           f"{final['test']['loss']:.4f}\n" in text, text[-2000:]
    assert f"voting {final['test_flip_averaged']['accuracy']:.4f}\n" in text
    # One line per epoch (Keras verbose=2), each matching the recorded history.
    epochs = re.findall(r"accuracy: ([\d.]+) - loss: ([\d.]+) - val_accuracy: ([\d.]+) - "
                        r"val_loss: ([\d.]+)", text)
    history = metrics["history"]
    assert len(epochs) == metrics["epochs"]
    for number, line in enumerate(epochs):
        shown = [float(value) for value in line]
        recorded = [history[k][number] for k in ("accuracy", "loss", "val_accuracy",
                                                 "val_loss")]
        assert shown == pytest.approx(recorded, abs=6e-5), (number + 1, shown, recorded)
    assert f"training {metrics['data']['train_images']}, validation " \
           f"{metrics['data']['validation_images']}, test " \
           f"{metrics['data']['test_images']} images" in text
    figures = [o for cell in code_cells(notebook) for o in cell.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert len(figures) == 5, "the accuracy and loss curves, samples, confusion, errors"
    pairs = metrics["confusions"]
    for pair in pairs:
        assert f"{pair['true']} predicted as {pair['predicted']}: {pair['count']} times" in text
    assert f"the tf.data pipeline alone: {metrics['pipeline_seconds_per_epoch']:.2f} s" in text


def test_outputs_survive_a_prose_edit_but_not_a_code_edit():
    executed = stored("cifar10.md")
    if not any(cell.get("outputs") for cell in executed.cells):
        pytest.skip("notebooks/cifar10.ipynb has no outputs yet: `make figures` runs it")
    rebuilt = notebooks.build("cifar10.md")
    for cell in rebuilt.cells:
        if cell.cell_type == "markdown":
            cell.source += "\n\nA sentence added to the prose."
    carried = notebooks.carried_outputs(executed, copy.deepcopy(rebuilt))
    assert [c.get("outputs") for c in carried.cells if c.cell_type == "code"] == \
        [c.get("outputs") for c in executed.cells if c.cell_type == "code"]
    code = next(c for c in rebuilt.cells if c.cell_type == "code" and c.id != notebooks.INSTALL_ID)
    code.source += "\nprint('changed')"
    assert notebooks.carried_outputs(executed, rebuilt) is None


def test_make_serve_warns_once_per_stale_notebook_and_goes_on(monkeypatch, capsys):
    monkeypatch.setattr(notebooks, "stale",
                        lambda page: f"notebooks/{page} differs" if page == "gpu.md" else None)
    assert notebooks.main(["--warn"]) == 0
    assert capsys.readouterr().err == \
        f"WARNING: notebooks/gpu.md differs: run `{notebooks.COMMAND}`\n"


def test_a_damaged_notebook_is_named_stale_and_rewritten(tmp_path, monkeypatch):
    """A notebook left with merge markers is reported in one line, then regenerated."""
    monkeypatch.setattr(notebooks, "NOTEBOOKS", tmp_path)
    path = tmp_path / "tensors.ipynb"
    path.write_text('{\n<<<<<<< HEAD\n "cells": []\n=======\n>>>>>>> other\n')
    assert notebooks.stale("tensors.md") == \
        f"{path} is not a readable notebook (damaged JSON?)"
    assert notebooks.write("tensors.md") is True
    assert notebooks.stale("tensors.md") is None
