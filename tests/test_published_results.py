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


PAGES = ("cifar10", "cifar10-engineering")  # the chapter and "Behind the numbers"


def test_case_study_pages_show_the_metrics_and_nothing_unfilled(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stdout + result.stderr
    pages = {name: (site / name / "index.html").read_text() for name in PAGES}
    for html in pages.values():
        assert "{{" not in html and "results-table" not in html
        assert not re.search(r"<!-- [\w-]+-table -->", html), "a table marker was left unfilled"
    page = pages["cifar10"]
    for name, folder in RUNS.items():
        metrics = json.loads((folder / "metrics.json").read_text())
        for result in ("test", "test_flip_averaged"):
            shown = f"{100 * metrics['final'][result]['accuracy']:.2f} %"
            assert shown in page, f"{name}'s {result} accuracy {shown} is not on the page"
    for figure in ("acc", "loss", "samples", "confusion", "errors"):
        assert f'src="../plots/{figure}.png"' in page, figure


def test_every_published_table_is_on_one_of_the_two_pages():
    """Nothing measured is lost: each table of plots/ has its marker on a page,
    every ablation file but one still to be measured (see AWAITING below)."""
    from examples.cifar10 import schema

    text = "".join((ROOT / "docs" / f"{name}.md").read_text() for name in PAGES)
    markers = ["<!-- results-table -->", "<!-- benchmark-table -->",
               "<!-- seeds-table -->"]
    markers += [f"<!-- {name.replace('_', '-')}-table -->"
                for name in schema.PUBLISHED if name.startswith("ablation")
                and (ROOT / "plots" / schema.PUBLISHED[name]).exists()]
    assert all(text.count(marker) == 1 for marker in markers), markers


def test_the_notebook_page_has_its_own_title_an_edit_link_that_works_and_no_search(
        built_site):
    site, _ = built_site
    html = (site / "cifar10-notebook" / "index.html").read_text()
    assert re.search(r"<h1[^>]*>The case study as a notebook", html)
    assert not re.search(r"<h1[^>]*>CIFAR-10 case study", html)  # the chapter's
    edits = re.findall(r'href="([^"]+)"[^>]*title="Edit this page"', html)
    assert edits and all(e.endswith("/edit/main/docs/cifar10.md") for e in edits)
    index = json.loads((site / "search" / "search_index.json").read_text())
    locations = [doc["location"] for doc in index["docs"]]
    assert any(loc.startswith("cifar10/") for loc in locations)
    assert not any(loc.startswith("cifar10-notebook/") for loc in locations)


# --- what the chapter says about the published files ---------------------------------------

def published(name):
    return json.loads((ROOT / "plots" / name).read_text())


def test_the_improved_runs_figures_are_pngs():
    # (plots/baseline/ is from a run before these figures existed; the page shows only
    # the improved model's, and `make figures` writes both sets from now on.)
    for name in ("samples.png", "confusion.png", "errors.png"):
        with Image.open(ROOT / "plots" / name) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 300


def test_the_seeds_file_holds_the_published_run_and_its_spread():
    import statistics

    seeds = published("seeds.json")
    metrics = published("metrics.json")
    runs = seeds["runs"]
    assert len(runs) >= 3 and len({r["seed"] for r in runs}) == len(runs)
    assert seeds["figures_from_seed"] == metrics["seed"]
    figures_run = next(r for r in runs if r["seed"] == metrics["seed"])
    assert figures_run["test_accuracy"] == metrics["final"]["test"]["accuracy"]
    assert figures_run["training_seconds"] == metrics["total_training_seconds"]
    assert figures_run["command"] == metrics["command"]
    for key in ("test_accuracy", "test_flip_averaged_accuracy", "training_seconds"):
        values = [r[key] for r in runs]
        assert seeds[key] == pytest.approx({"mean": statistics.mean(values),
                                            "std": statistics.stdev(values)})
    assert all(r["device"].startswith("CPU: ") for r in runs)


def test_the_chapter_states_the_runs_conditions_as_they_were():
    """'about N min on two CPU cores'; 'airbench93 reaches its 93 % in 11 epochs on
    a GPU; the published runs train for 18'; every seed ran on a CPU."""
    metrics = published("metrics.json")
    assert metrics["device"].startswith("CPU: ")
    assert metrics["epochs"] > 11
    assert all(r["device"].startswith("CPU: ")
               for r in published("seeds.json")["runs"])


def test_ablation_and_benchmark_measure_validation_accuracy():
    ablation = published("ablation.json")
    assert "validation accuracy" in ablation["measures"]
    assert "full" in {v["name"] for v in ablation["variants"]}
    assert ablation["command"].startswith("python -m examples.cifar10.ablation")
    benchmark = published("benchmark.json")
    assert "validation accuracy" in benchmark["measures"]
    assert benchmark["device"].startswith("CPU: ")
    assert benchmark["command"].startswith("python -m examples.cifar10.benchmark")


def test_the_benchmark_says_what_the_chapter_says_it_does():
    benchmark = published("benchmark.json")
    recipes = benchmark["recipes"]
    tutorial, baseline, improved = (recipes[n] for n in ("tutorial", "baseline", "improved"))
    # "three times its own 10 epochs"; "The tutorial recipe never got there"
    assert tutorial["max_epochs"] == 30 and tutorial["epochs_to_target"] is None
    # "peaked within its first ten epochs and then drifted down"
    accuracy = [c["validation_accuracy"] for c in tutorial["checks"]]
    peak = max(tutorial["checks"], key=lambda c: c["validation_accuracy"])
    assert peak["epochs"] <= 10 and accuracy[-1] < peak["validation_accuracy"] - 0.02
    # "Both of our recipes came in under a quarter, but only as an upper bound"
    assert all(v["kind"] == "at most" and v["time_ratio"] <= 0.25
               for v in benchmark["versus_tutorial"].values())
    # "The baseline's 6 epochs ... the improved model's 2"
    assert improved["max_epochs"] == 2 and baseline["max_epochs"] == 6
    # "the improved one ... got there in about the same time as the baseline"
    assert 0.75 < improved["seconds_to_target"] / baseline["seconds_to_target"] < 1.33

    def per_epoch(recipe):
        return recipe["checks"][-1]["seconds"] / recipe["checks"][-1]["epochs"]
    # "Per epoch, the tutorial's network is several times cheaper than the improved one"
    assert per_epoch(improved) > 3 * per_epoch(tutorial)


def test_the_pipeline_is_not_the_bottleneck_as_the_chapter_says():
    metrics = published("metrics.json")
    epoch = sum(metrics["seconds_per_epoch"]) / metrics["epochs"]
    assert metrics["pipeline_seconds_per_epoch"] < 0.1 * epoch


def test_training_accuracy_runs_ahead_and_the_smoothed_loss_stays_above_its_floor():
    import math

    history = published("metrics.json")["history"]
    ahead = [t > v for t, v in zip(history["accuracy"], history["val_accuracy"])]
    assert all(ahead[2:]), ahead  # "from the third epoch on"
    # The entropy of the smoothed target: 0.82 on the true class, 0.02 on each other.
    floor = -(0.82 * math.log(0.82) + 9 * 0.02 * math.log(0.02))
    assert round(floor, 2) == 0.87
    assert min(history["loss"] + history["val_loss"]) > floor


ANIMALS = {"bird", "cat", "deer", "dog", "frog", "horse"}
VEHICLES = {"airplane", "automobile", "ship", "truck"}


def test_mistakes_stay_within_families_as_the_chapter_says():
    import numpy as np

    from examples.cifar10.report import CLASSES, most_confused

    metrics = published("metrics.json")
    counts = np.array(metrics["confusion_matrix"])
    assert metrics["confusions"] == most_confused(counts)
    index = {name: i for i, name in enumerate(CLASSES)}

    def total(rows, cols):
        return sum(counts[index[r], index[c]] for r in rows for c in cols if r != c)

    # "cat and dog above all"
    top = metrics["confusions"]
    assert {top[0]["true"], top[0]["predicted"]} == {"cat", "dog"}
    # "most mistakes stay within families": each class's most frequent mistake is of its
    # family, except the bird's, whose is the airplane ("the one frequent exception").
    off = counts * (1 - np.eye(len(counts), dtype=int))
    for name in ANIMALS | VEHICLES:
        mistake = CLASSES[int(off[index[name]].argmax())]
        family = ANIMALS if name in ANIMALS else VEHICLES
        assert mistake in family or (name, mistake) == ("bird", "airplane"), (name, mistake)
    across = {(a, v): counts[index[a], index[v]] for a in ANIMALS for v in VEHICLES}
    assert max(across, key=across.get) == ("bird", "airplane")
    # Animals are rarely taken for vehicles: far less often than for other animals.
    assert total(ANIMALS, VEHICLES) < total(ANIMALS, ANIMALS) / 3


def test_the_ablation_says_what_the_chapter_says_it_does():
    ablation = published("ablation.json")
    accuracy = {v["name"]: v["validation_accuracy"] for v in ablation["variants"]}
    delta = {name: a - accuracy["full"] for name, a in accuracy.items() if name != "full"}
    seconds = {v["name"]: v["seconds"] for v in ablation["variants"]}
    ranked = sorted(delta, key=delta.get)
    # "the identity initialisation and the whitening layer are worth the most"
    assert set(ranked[:2]) == {"no-dirac", "no-whitening"}
    # "Next comes the weight decay ... it costs about a point"
    assert ranked[2] == "weak-decay" and -0.015 < delta["weak-decay"] < -0.007
    # "label smoothing and augmentation each add about half a point"
    for name in ("no-label-smoothing", "no-augmentation"):
        assert -0.008 < delta[name] < -0.003, name
    # "without ... the score was a little higher, by less than half a point"
    for name in ("no-shift-boost", "no-lookahead"):
        assert 0 < delta[name] < 0.005, name
    # "ReLU scored more than a point above SiLU at this budget and trained faster"
    assert delta["relu"] > 0.01 and seconds["relu"] < seconds["full"]
    # bfloat16 costs "a tenth of a point at most"; float32 took "a quarter more time or longer"
    assert abs(delta["float32"]) <= 0.001 and seconds["float32"] >= 1.25 * seconds["full"]


def test_the_full_budget_check_of_relu_says_what_the_chapter_says():
    check = published("ablation-full-budget.json")
    published_run = published("metrics.json")
    # "the full ... epochs of the published runs, with the same seed"
    assert check["epochs"] == published_run["epochs"]
    assert check["seed"] == published_run["seed"]
    assert check["precision"] == published_run["precision"]
    accuracy = {v["name"]: v["validation_accuracy"] for v in check["variants"]}
    seconds = {v["name"]: v["seconds"] for v in check["variants"]}
    assert set(accuracy) == {"full", "relu"}
    # "ReLU's lead is gone: it scored a little lower, still a tenth faster"
    assert -0.01 < accuracy["relu"] - accuracy["full"] < 0
    assert 0.85 < seconds["relu"] / seconds["full"] < 0.95
    # "We kept SiLU."
    from examples.cifar10 import models
    assert models.ACTIVATION == "silu"


def test_the_airbench_details_check_says_what_the_chapter_says():
    check = published("ablation-airbench.json")
    published_run = published("metrics.json")
    # "at the full budget and with the same seed"
    for key in ("epochs", "seed", "precision"):
        assert check[key] == published_run[key], key
    accuracy = {v["name"]: v["validation_accuracy"] for v in check["variants"]}
    seconds = {v["name"]: v["seconds"] for v in check["variants"]}
    assert list(accuracy) == ["full", "airbench-details"]  # variants.0 is the full recipe
    # "scored a little lower, by less than half a point, and took longer"
    assert -0.005 < accuracy["airbench-details"] - accuracy["full"] < 0
    assert seconds["airbench-details"] > seconds["full"]
    # "That is within chance": the same recipe and seed, run twice, differ by more.
    relu_check = published("ablation-full-budget.json")
    assert relu_check["variants"][0]["name"] == "full"
    assert relu_check["epochs"] == check["epochs"] and relu_check["seed"] == check["seed"]
    twice = abs(relu_check["variants"][0]["validation_accuracy"] - accuracy["full"])
    assert twice > 0 and twice >= 0.5 * abs(accuracy["airbench-details"] - accuracy["full"])
    # The four details, as the chapter lists them.
    from examples.cifar10 import details
    assert details.WHITENING_BIAS_EPOCHS == 3 and details.EPSILON == 1e-12
    assert "epsilon=1e-5" in (ROOT / "examples/cifar10/models.py").read_text()


def test_the_xla_check_says_what_the_engineering_page_says():
    """'XLA made training more than twice as slow, and the validation accuracy moved by
    less than a point': the same recipe, seed, budget and machine, with and without."""
    check = published("ablation-xla.json")
    runs = {v["name"]: v for v in check["variants"]}
    assert list(runs) == ["full", "xla"]
    assert runs["xla"]["seconds"] > 2 * runs["full"]["seconds"]
    assert abs(runs["xla"]["validation_accuracy"] - runs["full"]["validation_accuracy"]) < 0.01
    assert check["device"].startswith("CPU: ")
