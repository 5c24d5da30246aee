"""The case study's notebook in Colab: it downloads the real data unless told
otherwise, and says up front what it does and how long it takes."""
import os
from pathlib import Path

import keras
import numpy as np

from examples.cifar10 import notebook
from tested_docs import includes, notebooks
from tests.conftest import ROOT

LOAD_STEP = includes.expand('--8<-- "examples/cifar10/walkthrough.py:load"')


def run_load_step(monkeypatch):
    """Run the chapter's load block in a fresh namespace; count Keras downloads."""
    downloads = []

    def load_data():
        downloads.append(True)
        images = np.zeros((3, 32, 32, 3), np.uint8)
        labels = np.arange(3, dtype=np.uint8).reshape(3, 1)  # Keras' (N, 1)
        return (images, labels), (images[:2], labels[:2])

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", load_data)
    namespace = {"os": os, "keras": keras, "np": np}
    exec(LOAD_STEP, namespace)
    return namespace, downloads


def test_with_no_variable_set_the_notebook_downloads_cifar10(monkeypatch):
    monkeypatch.delenv("CIFAR10_STAND_IN", raising=False)
    monkeypatch.delenv("CIFAR10_DATA_DIR", raising=False)
    namespace, downloads = run_load_step(monkeypatch)
    assert downloads == [True]
    assert namespace["y_train"].shape == (3,)  # labels flattened
    assert namespace["file_hashes"] == {}


def test_stand_in_images_only_when_a_variable_asks(monkeypatch):
    monkeypatch.setenv("CIFAR10_STAND_IN", "1")
    namespace, downloads = run_load_step(monkeypatch)
    assert downloads == [] and namespace["x_train"].shape == (200, 32, 32, 3)
    monkeypatch.setenv("CIFAR10_STAND_IN", "0")  # "0" does not ask
    monkeypatch.delenv("CIFAR10_DATA_DIR", raising=False)
    assert run_load_step(monkeypatch)[1] == [True]


def test_an_offline_folder_is_read_with_its_hashes(monkeypatch, tiny_data):
    monkeypatch.delenv("CIFAR10_STAND_IN", raising=False)
    monkeypatch.setenv("CIFAR10_DATA_DIR", str(tiny_data))
    namespace, downloads = run_load_step(monkeypatch)
    assert downloads == [] and namespace["x_train"].shape == (200, 32, 32, 3)
    assert len(namespace["file_hashes"]) == 6


def test_publishing_never_runs_on_the_stand_in(monkeypatch):
    monkeypatch.setenv("CIFAR10_STAND_IN", "1")
    monkeypatch.setenv("CIFAR10_DATA_DIR", "/somewhere")
    env = notebook.notebook_environment("download", 18, ROOT)
    assert "CIFAR10_STAND_IN" not in env and "CIFAR10_DATA_DIR" not in env
    assert env["CIFAR10_EPOCHS"] == "18"
    folder = Path("cifar-10-batches-py")
    assert notebook.notebook_environment(folder, 1, ROOT)["CIFAR10_DATA_DIR"] == \
        str(folder)


def test_the_notebook_opens_with_what_it_does_and_how_long_it_takes():
    first = next(cell for cell in notebooks.build("cifar10.md").cells
                 if cell.cell_type == "markdown")
    opening = first.source.split("\n\n")[1]  # the line under the title
    assert "trains a CNN on CIFAR-10" in opening
    assert "min on two CPU cores" in opening and "GPU" in opening
