"""The case-study notebook is generated from examples/cifar10/ and runs from top to bottom.

It is executed in a Jupyter kernel of this Python on a tiny synthetic dataset
(CIFAR10_DATA_DIR) for one epoch (CIFAR10_EPOCHS), as a reader would run it.
"""
import copy
import importlib.util
import json
import re
import subprocess
import sys

import nbformat
import pytest

from examples.cifar10 import notebook
from tests import cifar10_data
from tests.conftest import ROOT

CELL_TIMEOUT = 300  # seconds per cell; the training cell takes a few on tiny data
ENV_CHECK = "import sys\nprint(sys.executable)"


def execute(nb, workdir):
    """Run every cell in a fresh `python3` kernel of this interpreter; raise if one fails."""
    assert importlib.util.find_spec("ipykernel"), "ipykernel is needed to run the notebook"
    import nbclient

    nb = copy.deepcopy(nb)
    # First, prove which Python runs the cells: the kernel must be this venv's.
    nb.cells.insert(0, nbformat.v4.new_code_cell(ENV_CHECK, id="env-check"))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()  # raises CellExecutionError at the first failing cell
    failed = [cell for cell in nb.cells for output in cell.get("outputs", [])
              if output.output_type == "error"]
    assert not failed, failed
    kernel_python = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    assert kernel_python == sys.executable
    return nb


def printed(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stdout")


@pytest.fixture(scope="module")
def tiny_env(tmp_path_factory):
    folder = cifar10_data.write_official_layout(tmp_path_factory.mktemp("cifar"),
                                                n_train_per_batch=20, n_test=20)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR10_DATA_DIR", str(folder))
        mp.setenv("CIFAR10_EPOCHS", "1")
        yield folder


def test_notebook_is_self_contained_and_built_from_the_example_sections():
    nb = notebook.build_notebook()
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code:
        assert not re.search(r"^\s*(from|import)\s+examples\b", cell.source, re.MULTILINE), \
            cell.source
        assert "--8<--" not in cell.source and not cell.outputs
    sections = {cell.metadata["source_section"]: cell.source for cell in code
                if "source_section" in cell.metadata}
    # Every section the chapter shows is in the notebook, exactly as in its file.
    chapter = (ROOT / "docs" / "cifar10.md").read_text()
    for path in re.findall(r'--8<-- "(examples/cifar10/[\w.]+:[\w-]+)"', chapter):
        assert path in sections, f"the notebook lacks {path}"
    for path, source in sections.items():
        filename, name = path.removeprefix("examples/cifar10/").split(":")
        text = (ROOT / "examples" / "cifar10" / filename).read_text()
        assert f"# --8<-- [start:{name}]\n{source}\n" in text
    # A stable build: the same notebook, byte for byte, every time.
    assert nbformat.writes(nb) == nbformat.writes(notebook.build_notebook())


def test_notebook_runs_and_prints_both_test_accuracies(tiny_env, tmp_path):
    nb = execute(notebook.build_notebook(), tmp_path)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    last = "".join(printed(cell) for cell in code)
    match = re.search(r"^test accuracy: (\d\.\d{4}), test loss: \d+\.\d{4}$", last, re.MULTILINE)
    assert match, last
    assert 0 <= float(match[1]) <= 1
    voted = re.search(r"^test accuracy, image and mirror averaged: (\d\.\d{4})$", last,
                      re.MULTILINE)
    assert voted, last
    assert 0 <= float(voted[1]) <= 1
    assert "training 90, validation 10, test 20 images" in "".join(map(printed, code))
    figures = [o for o in code[-1].outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 2  # accuracy and loss curves


def test_a_failing_cell_fails_the_run(tiny_env, tmp_path):
    import nbclient

    nb = notebook.build_notebook()
    broken = nbformat.v4.new_code_cell('raise RuntimeError("deliberately broken")', id="broken")
    nb.cells.insert(1, broken)  # before the imports: fails without loading TensorFlow
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="deliberately broken"):
        execute(nb, tmp_path)


def test_command_line_writes_the_notebook(tmp_path):
    out = tmp_path / "cifar10.ipynb"
    result = subprocess.run([sys.executable, "-m", "examples.cifar10.notebook", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["nbformat"] == 4
    assert nbformat.writes(nbformat.read(out, as_version=4)) == \
        nbformat.writes(notebook.build_notebook())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar10.ipynb"]
