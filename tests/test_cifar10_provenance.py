"""Published files carry no path of the machine that made them."""
import json
import re

import pytest

from examples.cifar10 import provenance
from tests.conftest import ROOT

# An absolute path: a slash at the start of a word, then at least two parts.
ABSOLUTE = re.compile(r"(?:^|[\s'\"=(`])(?:~|/[\w.-]+)(?:/[\w.-]+)+")


def strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def notebook_text(path):
    """What a run wrote into a notebook: its Markdown (filled from plots/), text outputs
    and metadata. (Code cells are the page's code, where /proc/cpuinfo is no machine's.)"""
    notebook = json.loads(path.read_text())
    yield from strings(notebook.get("metadata", {}))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            yield "".join(cell["source"])
        for output in cell.get("outputs", []):
            yield "".join(output.get("text", ""))
            for kind, data in output.get("data", {}).items():
                if kind.startswith("text/"):
                    yield "".join(data)


PUBLISHED = sorted((ROOT / "plots").rglob("*.json")) + [ROOT / "notebooks" / "cifar10.ipynb"]


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_absolute_path_in_published_files(path):
    texts = notebook_text(path) if path.suffix == ".ipynb" else \
        strings(json.loads(path.read_text()))
    found = [m.group(0).strip() for text in texts for m in ABSOLUTE.finditer(text)]
    assert not found, f"{path.relative_to(ROOT)} holds machine paths: {found[:5]}"


def test_the_scan_finds_what_the_old_records_held():
    old = "python -m examples.cifar10 --out /work/runs/s3/seed1 --data-dir /tmp/c/x"
    assert [m.group(0).strip() for m in ABSOLUTE.finditer(old)] == \
        ["/work/runs/s3/seed1", "/tmp/c/x"]


@pytest.mark.parametrize("argv,expected", [
    (["--data-dir", "/tmp/cifar/cifar-10-batches-py", "--epochs", "18"],
     "--data-dir '<cifar-10-batches-py>' --epochs 18"),
    (["--out", str(ROOT / "plots" / "baseline")], "--out plots/baseline"),
    (["--out=/home/me/runs/seed1/"], "'--out=<seed1>'"),
    (["--data-dir", "../../data/cifar-10-batches-py"], "--data-dir '<cifar-10-batches-py>'"),
    (["--data-note", "the project's shared/datasets copy"],
     "--data-note 'the project'\"'\"'s shared/datasets copy'"),
    (["--out", "runs/x", "--seed", "1"], "--out runs/x --seed 1"),
])
def test_commands_are_recorded_relative_to_the_repository(argv, expected):
    assert provenance.published_command("examples.cifar10", argv, cwd=ROOT) == \
        f"python -m examples.cifar10 {expected}"


def test_an_old_record_is_rewritten_as_a_new_one_would_be():
    old = ("python -m examples.cifar10.seeds /work/runs/s3/seed1 plots --out "
           f"{ROOT}/plots/seeds.json")
    assert provenance.portable_command(old) == \
        "python -m examples.cifar10.seeds '<seed1>' plots --out plots/seeds.json"
