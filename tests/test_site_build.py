"""The site builds strictly: a broken link, anchor or notebook fails the build."""
import html
import json
import re
import shutil

import pytest

from tests.conftest import ROOT, build_site

# One worker builds the site once for every test that reads it (make test runs xdist).
pytestmark = pytest.mark.xdist_group("site")


def test_site_builds_without_warnings(built_site):
    site, result = built_site
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, output
    assert (site / "index.html").exists()


def copy_project(folder):
    """A copy of the docs and config to break on purpose, leaving the real ones alone."""
    for name in ("docs", "examples", "notebooks", "plots", "tested_docs"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, folder / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "mkdocs.yml", folder / "mkdocs.yml")
    return folder


@pytest.fixture
def scratch_project(tmp_path):
    return copy_project(tmp_path)


def test_broken_link_and_anchor_fail_the_build(scratch_project):
    page = scratch_project / "docs" / "index.md"
    page.write_text(page.read_text() + "\n[a broken link](no-such-page.md)\n"
                    "[a broken anchor](tensors.md#no-such-heading)\n")
    result = build_site(scratch_project / "site", config=str(scratch_project / "mkdocs.yml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # Each problem is reported with the page it is on.
    assert "'index.md' contains a link 'no-such-page.md'" in output, output
    assert "'index.md' contains a link 'tensors.md#no-such-heading'" in output, output
    # The scratch copy has no test record, and the build says so.
    assert "No test record" in output, output


SCRIPT = "x` <img src=x onerror=alert(1)> `y"


@pytest.fixture(scope="module")
def record_and_variant_build(tmp_path_factory):
    """One scratch build for the two tests below, each of which changes its own files:
    a test record with hostile strings and a page edited after its run, and a variant
    name that carries a script in plots/ablation.json."""
    from tested_docs import record

    project = copy_project(tmp_path_factory.mktemp("project"))
    docs = project / "docs"
    entry = {"tensorflow": "2.x", "keras": "3.x", "date": "2026-01-01", "failed": 0}
    record.save({
        "tensors.md": {**entry, "passed": 9, "skipped": 0,
                       "digest": record.page_digest(docs / "tensors.md")},
        # The record is a file: its strings reach the page only as text.
        "keras.md": {**entry, "tensorflow": "<img src=x onerror=alert(1)>", "passed": 9,
                     "skipped": 0, "digest": record.page_digest(docs / "keras.md")},
        "gpu.md": {**entry, "passed": 5, "skipped": 2, "skip_reasons": ["needs a <GPU>"],
                   "digest": record.page_digest(docs / "gpu.md")},
        "operations.md": {**entry, "passed": 9, "skipped": 0,
                          "digest": record.page_digest(docs / "operations.md")},
    }, project / ".cache" / "tested-with.json")
    page = docs / "operations.md"
    page.write_text(page.read_text() + "\nA sentence added after the test run.\n")
    path = project / "plots" / "ablation.json"
    ablation = json.loads(path.read_text())
    ablation["variants"][1]["name"] = SCRIPT
    path.write_text(json.dumps(ablation, indent=2))
    result = build_site(project / "site", config=str(project / "mkdocs.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "site"


def test_stamps_say_what_the_record_proves_of_the_current_text(record_and_variant_build):
    def stamp_of(name):
        html = (record_and_variant_build / name / "index.html").read_text()
        return re.search(r'<p class="tested-stamp[^"]*">(.*?)</p>', html).group(1)

    assert stamp_of("tensors").endswith("Every code block on this page passed with "
                                        "TensorFlow 2.x and Keras 3.x on 2026-01-01.")
    assert "<GPU>" not in stamp_of("gpu")
    assert html.unescape(stamp_of("gpu")).endswith(
        "5 code blocks on this page passed with TensorFlow 2.x and Keras 3.x on 2026-01-01; "
        "2 were skipped on that machine (needs a <GPU>).")
    assert stamp_of("operations").startswith("Changed since it was last tested")
    assert "<img" not in stamp_of("keras")
    assert html.unescape(stamp_of("keras")).endswith(
        "passed with TensorFlow <img src=x onerror=alert(1)> and Keras 3.x on 2026-01-01.")


def test_a_script_bearing_variant_name_reaches_the_built_page_only_as_text(
        record_and_variant_build):
    page = (record_and_variant_build / "cifar10-engineering" / "index.html").read_text()
    assert "<img src=x" not in page and "<img src=\"x\"" not in page
    shown = [inner for inner in re.findall(r"<td><code>(.*?)</code>", page)
             if "onerror" in inner]
    assert len(shown) == 1 and "<" not in shown[0] and html.unescape(shown[0]) == SCRIPT


@pytest.mark.parametrize("damage,message", [
    (lambda text: text.replace('"seed": 42', '"seed": ' + "9" * 401),
     "refusing to publish plots/metrics.json: an integer of 401 digits (at most 20)"),
    (lambda text: (ROOT / "plots" / "baseline" / "metrics.json").read_text(),
     "refusing to publish plots/metrics.json: it is a baseline run, where the improved run "
     "belongs; a training run wrote into plots/ - restore it with `git checkout plots/`"),
], ids=["401-digit-number", "baseline-run-in-plots"])
def test_bad_published_metrics_fail_the_build_in_one_line(damage, message, scratch_project):
    path = scratch_project / "plots" / "metrics.json"
    path.write_text(damage(path.read_text()))
    result = build_site(scratch_project / "site", config=str(scratch_project / "mkdocs.yml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output and message in output, output
    assert [line for line in output.splitlines() if message in line] == \
        [next(line for line in output.splitlines() if "refusing to publish" in line)]
