"""The weekly refresh: newest TensorFlow and Keras, rewritten outputs, a pull request body."""
import shutil
import subprocess
import sys

import pytest
import yaml

from tested_docs import ROOT, refresh

CHANGED_PAGE = """# Changed

```python
print(1 + 1)
#> 3
```
"""
BROKEN_PAGE = """# Broken

```python
undefined_name
```
"""
STEADY_PAGE = """# Steady

```python
print("same")
#> same
```
"""


def test_the_newest_versions_are_unpinned_and_the_rest_stays_pinned():
    wanted = refresh.newest_requirements()
    assert wanted[:2] == ["tensorflow-cpu", "keras"]
    pinned = [line for line in wanted[2:]]
    assert all("==" in line for line in pinned)
    names = {line.split("==")[0].lower() for line in pinned}
    assert not names & {"tensorflow", "tensorflow-cpu", "keras", "numpy", "tensorboard"}
    assert "sybil" in names and "pytest" in names


@pytest.fixture
def scratch(tmp_path):
    """A git checkout with the harness and three pages: one whose output changed under the
    'newer' release, one that fails whatever its outputs say, one that is unchanged."""
    root = tmp_path / "project"
    for part in ["tested_docs", "tests/__init__.py", "tests/doc_harness.py",
                 "pyproject.toml", "requirements.txt"]:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, root / part,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / part)
    (root / "docs").mkdir()
    (root / "docs" / "changed.md").write_text(CHANGED_PAGE)
    (root / "docs" / "broken.md").write_text(BROKEN_PAGE)
    (root / "docs" / "steady.md").write_text(STEADY_PAGE)
    (root / "mkdocs.yml").write_text("site_name: scratch\nnav:\n  - changed.md\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(git[:-2] + ["init", "-q", str(root)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "scratch"], check=True)
    return root


def runs_counted(monkeypatch):
    """The `update` flag of each docs run that refresh starts, in order."""
    runs, run_docs = [], refresh.run_docs

    def counted(python, root, junit, update):
        runs.append(update)
        return run_docs(python, root, junit, update)

    monkeypatch.setattr(refresh, "run_docs", counted)
    return runs


def test_a_changed_output_becomes_a_patch_and_a_failing_page_is_listed(scratch, tmp_path,
                                                                      monkeypatch):
    # A forced "newer" release: the summary names what the run reports.
    monkeypatch.setattr(refresh, "versions", lambda python: ("9.99.0", "9.9.0"))
    runs = runs_counted(monkeypatch)
    out = tmp_path / "out"
    changed, failures = refresh.refresh(out, python=sys.executable, root=scratch)
    assert runs == [True, False]  # rewrite, then check what still fails
    assert changed == ["docs/changed.md"]
    assert list(failures) == ["broken.md"]
    assert "NameError" in failures["broken.md"] or "undefined_name" in failures["broken.md"]
    patch = (out / "outputs.patch").read_text()
    assert "-#> 3" in patch and "+#> 2" in patch and "steady" not in patch
    summary = (out / "summary.md").read_text()
    assert "TensorFlow 9.99.0 and Keras 9.9.0" in summary
    assert "`docs/changed.md`" in summary and "`broken.md`" in summary
    assert (out / "changed").read_text() == "true\n"
    # The patch applies to a clean checkout, as the workflow's `propose` job applies it.
    subprocess.run(["git", "-C", str(scratch), "checkout", "-q", "--", "docs"], check=True)
    subprocess.run(["git", "-C", str(scratch), "apply", str(out / "outputs.patch")],
                   check=True)
    assert "#> 2" in (scratch / "docs" / "changed.md").read_text()


def test_nothing_new_means_no_pull_request(scratch, tmp_path, monkeypatch):
    """A docs run that rewrote nothing and where every page passed. (The test above runs
    the real suite, where the steady page is left byte for byte; here the run is a stand-in
    that only reports, which saves starting TensorFlow in one more pytest process.)"""
    monkeypatch.setattr(refresh, "versions", lambda python: ("9.99.0", "9.9.0"))
    runs = []
    monkeypatch.setattr(refresh, "run_docs", lambda python, root, junit, update: runs.append(
        update) or {"changed.md": None, "broken.md": None, "steady.md": None})
    out = tmp_path / "out"
    assert refresh.refresh(out, python=sys.executable, root=scratch) == ([], {})
    assert runs == [True]  # nothing rewritten: no second, checking run of the same pages
    assert (out / "changed").read_text() == "false\n"
    assert (out / "outputs.patch").read_text() == ""


def test_the_workflow_runs_the_script_read_only_and_proposes_without_project_code():
    workflow = yaml.safe_load((ROOT / ".github/workflows/refresh-outputs.yml").read_text())
    assert "schedule" in workflow[True]  # YAML reads the key `on` as True
    jobs = workflow["jobs"]
    run = " ".join(step.get("run", "") for step in jobs["refresh"]["steps"])
    assert "python -m tested_docs.refresh" in run
    assert jobs["refresh"]["permissions"] == {"contents": "read"}
    propose = jobs["propose"]
    assert propose["needs"] == "refresh" and "write" in str(propose["permissions"])
    project_code = [step.get("run", "") for step in propose["steps"]]
    assert all("python" not in command and "make" not in command for command in project_code)
