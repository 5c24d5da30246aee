"""The site build publishes only metrics that pass the schema, and only as literal text."""
import html as html_module
import json
import math
import re

import markdown
import pytest

from tested_docs import metrics_format
from tested_docs.metrics_format import MetricsError
from tests.conftest import ROOT

site = metrics_format  # the site build and the notebooks fill pages through this module


def published(name="improved"):
    return json.loads(site.RUNS[name].read_text())


# Published files whose measurement has not run yet (`make ablation-xla` writes
# plots/ablation-xla.json); empty this set when the file is committed.
AWAITING_A_RUN = set() if (ROOT / "plots" / "ablation-xla.json").exists() \
    else {"ablation_xla"}

def test_the_published_files_pass_the_schema():
    expected = {"improved", "baseline", "benchmark", "ablation", "seeds",
                "ablation_full_budget", "ablation_airbench", "ablation_xla"}
    assert set(site.load_runs()) == expected - AWAITING_A_RUN


def test_every_published_file_has_a_check_and_every_check_a_file():
    from pathlib import PurePosixPath

    from examples.cifar10 import schema

    names = {PurePosixPath(path).name for path in schema.PUBLISHED.values()}
    assert names == set(schema.CHECKS)
    assert site.RUNS == {name: site.PLOTS / path for name, path in schema.PUBLISHED.items()}
    # plots/ holds nothing the site would leave unchecked (the figures aside).
    on_disk = {p.relative_to(site.PLOTS).as_posix() for p in site.PLOTS.rglob("*.json")}
    awaiting = {schema.PUBLISHED[name] for name in AWAITING_A_RUN}
    assert on_disk == set(schema.PUBLISHED.values()) - awaiting


def broken(key, value):
    def damage(metrics):
        target = metrics
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is KeyError:
            del target[last]
        else:
            target[int(last) if isinstance(target, list) else last] = value
        return json.dumps(metrics)
    return damage


CASES = [
    (broken("final.test.accuracy", math.nan),
     "final.test.accuracy: nan is not a finite number"),
    (broken("final.test.loss", math.inf), "final.test.loss: inf is not a finite number"),
    (broken("history.val_accuracy.3", 1.5), "history.val_accuracy.3: 1.5 is outside [0, 1]"),
    (broken("epochs", "17"), "epochs: expected a whole number, got text"),
    (broken("device", "CPU\x1b[2J"), "device: holds control characters"),
    (broken("final.test", KeyError), "final.test: missing"),
    (broken("epochs", 1), "seconds_per_epoch: has "),  # "... values for 1 epochs"
    (lambda metrics: json.dumps(metrics)[:-20],
     "not valid JSON (Unterminated string starting at, line 1 column"),
    (lambda metrics: "[]", "top level: expected an object, got a list"),
    (broken("parameters", 10**400), "an integer of 401 digits (at most 20)"),
    (lambda metrics: json.dumps(metrics).replace('"seed": 42', '"seed": ' + "7" * 5000),
     "an integer of 5000 digits (at most 20)"),
    (broken("final.test.loss", 10**19), "final.test.loss: 10000000000000000000 is outside"),
    (lambda metrics: json.dumps(metrics).replace('"seed": 42', '"seed": 42, "seed": 1'),
     "seed: appears twice in one object"),
    (lambda metrics: json.dumps(metrics).replace('"seed": 42', '"seed": 1e400'),
     "seed: expected a whole number, got float"),
    (broken("final.test.loss", 1e308), "final.test.loss: 1e+308 is outside"),
]


@pytest.mark.parametrize("damage,problem", CASES,
                         ids=[p.split(":")[0].split(" (")[0] for _, p in CASES])
def test_a_bad_metrics_file_is_refused_in_one_line_naming_file_and_key(damage, problem,
                                                                       tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    path.write_text(damage(published()))
    monkeypatch.setitem(site.RUNS, "improved", path)
    with pytest.raises(MetricsError) as caught:
        site.load_runs()
    message = str(caught.value)
    assert message.startswith(f"refusing to publish {path}: ") and problem in message
    assert "\n" not in message


HOSTILE = "<script>alert(1)</script> | **bold** [link](http://x) {: .big } _x_ `c` &amp; \\"


def test_strings_from_metrics_are_literal_text_in_prose_and_tables():
    run = published()
    run["device"] = run["data"]["note"] = HOSTILE
    page = ("Device: {{ improved.device }}\n\n| What | Value |\n|---|---|\n"
            "| Data note | {{ improved.data.note }} |\n")
    html = markdown.markdown(site.substitute_metrics(page, {"improved": run}, "x.md"),
                             extensions=["tables", "attr_list"])
    assert "<script" not in html and "<strong>" not in html and "<a " not in html
    assert "<em>" not in html and "<code>" not in html and 'class="big"' not in html
    # The table keeps its two cells, and the text reads as it was written.
    assert html.count("<td>") == 2
    text = html_module.unescape(html)
    assert f"Device: {HOSTILE}" in text and f"<td>{HOSTILE}</td>" in text


def test_results_table_escapes_its_text_cells():
    runs = {"improved": published(), "baseline": published("baseline")}
    runs["baseline"]["precision"] = "float32 | <b>x</b>"
    table = site.results_table(runs)
    assert "<b>" not in table and table.splitlines()[5].count("|") == 4


def test_a_placeholder_that_names_an_object_is_refused():
    with pytest.raises(MetricsError,
                       match=r"x\.md: \{\{ improved\.final \}\}: expected a single"):
        site.substitute_metrics("{{ improved.final }}", {"improved": published()}, "x.md")


def test_epoch_time_formats_and_the_count_of_a_list():
    seconds = [80.0, 84.0, 146.0, 82.0]
    assert site.formatted(seconds, "median_s") == "83 s"
    assert site.formatted(seconds, "slowest_s") == "146 s"
    assert site.formatted(seconds, "mean_s") == "98 s"
    assert site.formatted(seconds, "count") == "4"
    assert site.formatted(3.18, "s") == "3.2 s" and site.formatted(83.4, "s") == "83 s"
    with pytest.raises(MetricsError, match="expected a single number"):
        site.formatted(seconds, "pct")


def test_ablation_and_seeds_tables_compare_with_the_full_recipe_and_escape_text():
    ablation = {"variants": [
        {"name": "full", "description": "the recipe", "validation_accuracy": 0.81,
         "seconds": 160.4},
        {"name": "no-x", "description": "<b>no</b> x | y", "validation_accuracy": 0.7925,
         "seconds": 240.0}]}
    table = site.ablation_table(ablation)
    assert "| <code>full</code> | the recipe | 81.00 % | — | 160 s |" in table
    assert "-1.75 points" in table and "<b>" not in table
    assert table.splitlines()[3].count("|") == 6  # the escaped "|" adds no cell
    seeds = {"runs": [{"seed": 1, "test_accuracy": 0.87, "test_flip_averaged_accuracy": 0.88,
                       "validation_accuracy": 0.86, "training_seconds": 1200.0,
                       "device": "CPU: X"},
                      {"seed": 42, "test_accuracy": 0.89, "test_flip_averaged_accuracy": 0.9,
                       "validation_accuracy": 0.88, "training_seconds": 1300.0,
                       "device": "CPU: X"}],
             "figures_from_seed": 42}
    for key, values in (("test_accuracy", (0.87, 0.89)), ("test_flip_averaged_accuracy",
                                                           (0.88, 0.9)),
                        ("validation_accuracy", (0.86, 0.88)),
                        ("training_seconds", (1200.0, 1300.0))):
        seeds[key] = {"mean": sum(values) / 2, "std": abs(values[0] - values[1]) / 2 ** 0.5}
    table = site.seeds_table(seeds)
    assert "| 42 (figures) | 89.00 % |" in table
    assert "| **mean ± std** | 88.00 ± 1.41 % |" in table


SCRIPT = "x` <img src=x onerror=alert(1)> `y"


def rendered(page):
    return markdown.markdown(page, extensions=["tables", "attr_list"])


def test_a_script_bearing_variant_name_reaches_the_table_only_as_text():
    ablation = {"variants": [
        {"name": "full", "description": "the recipe", "validation_accuracy": 0.81,
         "seconds": 160.4},
        {"name": SCRIPT, "description": SCRIPT, "validation_accuracy": 0.8, "seconds": 1.0}]}
    html = rendered(site.ablation_table(ablation))
    assert "<img" not in html and "onerror=alert" not in html.replace("&#", "")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    assert html_module.unescape(cells[5]) == f"<code>{SCRIPT}</code>"  # shown in code
    assert html_module.unescape(cells[6]) == SCRIPT


def test_text_in_a_code_span_shows_as_typed_not_as_entities():
    run = published()
    run["command"] = "python -m x --data-note 'a <b> & \\`c\\`' --out plots"
    html = rendered(site.substitute_metrics("Made with `{{ improved.command }}`.",
                                            {"improved": run}, "x.md"))
    code = re.fullmatch(r"<p>Made with <code>(.*)</code>\.</p>", html)
    assert code and "<b>" not in code[1]
    # A browser decodes the references once: the reader sees the command as recorded.
    assert html_module.unescape(code[1]) == run["command"]


def test_text_in_a_fenced_block_is_refused_and_numbers_are_filled():
    page = "```bash\npython -m x --epochs {{ improved.epochs }}\n```\n"
    filled = site.substitute_metrics(page, {"improved": published()}, "x.md")
    assert f"--epochs {published()['epochs']}" in filled
    with pytest.raises(MetricsError, match=r"x\.md: \{\{ improved\.command \}\} is text, "
                                           r"which a fenced block would show escaped"):
        site.substitute_metrics("```\n{{ improved.command }}\n```\n",
                                {"improved": published()}, "x.md")


def test_a_training_run_written_into_plots_is_named_as_the_cause(tmp_path, monkeypatch):
    baseline = tmp_path / "metrics.json"
    baseline.write_text(json.dumps(published("baseline")))
    monkeypatch.setitem(site.RUNS, "improved", baseline)
    with pytest.raises(MetricsError) as caught:
        site.load_runs()
    assert str(caught.value) == (
        f"refusing to publish {baseline}: it is a baseline run, where the improved run "
        f"belongs; a training run wrote into {tmp_path}/ - restore it with "
        f"`git checkout {tmp_path}/`")
