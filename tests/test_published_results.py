"""The published figures and metrics are complete, consistent, and what the page shows."""
import json
import re

import pytest
from PIL import Image

from tests.conftest import ROOT

RUNS = {"improved": ROOT / "plots", "baseline": ROOT / "plots" / "baseline"}


@pytest.fixture(params=sorted(RUNS), scope="module")
def run(request):
    folder = RUNS[request.param]
    return request.param, folder, json.loads((folder / "metrics.json").read_text())


def test_metrics_carry_provenance_and_agree_with_themselves(run):
    name, _, metrics = run
    assert metrics["model"] == name
    epochs = metrics["epochs"]
    history = metrics["history"]
    assert all(len(history[k]) == epochs for k in ("accuracy", "loss", "val_accuracy",
                                                     "val_loss"))
    assert len(metrics["seconds_per_epoch"]) == epochs
    assert metrics["final"]["train"]["accuracy"] == history["accuracy"][-1]
    assert metrics["final"]["validation"]["loss"] == history["val_loss"][-1]
    assert 0 < metrics["final"]["test_flip_averaged"]["accuracy"] <= 1
    assert set(metrics["data"]["sha256"]) == {f"data_batch_{i}" for i in range(1, 6)} | {
        "test_batch"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in metrics["data"]["sha256"].values())
    for key in ("python", "tensorflow", "keras"):
        assert metrics["versions"][key]
    assert metrics["device"] and metrics["date"] and metrics["command"]
    # Trained on the real 50,000 images, not on test-sized data.
    assert metrics["data"]["train_images"] + metrics["data"]["validation_images"] == 50000
    assert metrics["data"]["test_images"] == 10000


def test_figures_are_images_with_one_point_per_epoch_of_the_run(run):
    _, folder, _ = run
    for name in ("acc.png", "loss.png"):
        with Image.open(folder / name) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 300


def test_case_study_page_shows_the_metrics_and_nothing_unfilled(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stdout + result.stderr
    page = (site / "cifar10" / "index.html").read_text()
    assert "{{" not in page and "results-table" not in page
    for name, folder in RUNS.items():
        metrics = json.loads((folder / "metrics.json").read_text())
        for result in ("test", "test_flip_averaged"):
            shown = f"{100 * metrics['final'][result]['accuracy']:.2f} %"
            assert shown in page, f"{name}'s {result} accuracy {shown} is not on the page"
    assert 'src="../plots/acc.png"' in page and 'src="../plots/loss.png"' in page
