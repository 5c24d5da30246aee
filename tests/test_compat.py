"""The compatibility matrix, its record, and what stamps and notebooks read from it."""
import json

import pytest

from tested_docs import DOCS, ROOT, compat, record

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="docs.a.md" name="line:3,column:1" file="docs/a.md"/>
  <testcase classname="docs.a.md" name="line:9,column:1" file="docs/a.md"/>
  <testcase classname="docs.b.md" name="line:4,column:1" file="docs/b.md">
    <failure message="docs/b.md:12: print(x) printed 2, expected 1">trace</failure>
  </testcase>
  <testcase classname="docs.b.md" name="line:20,column:1" file="docs/b.md">
    <failure message="docs/b.md:20: a later failure">trace</failure>
  </testcase>
  <testcase classname="tests.test_x" name="test_y" file="tests/test_x.py">
    <failure message="not a page">trace</failure>
  </testcase>
</testsuite></testsuites>
"""


def test_junit_results_give_each_page_its_first_failing_line(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    assert compat.results_from_junit(path) == {
        "a.md": None, "b.md": "docs/b.md:12: print(x) printed 2, expected 1"}


def test_the_matrix_is_the_lock_files_oldest_first_pinned_last():
    entries = compat.matrix()
    assert entries[-1]["lock"] == "requirements.lock"
    minors = [compat.minor(e["tensorflow"]) for e in entries]
    assert minors == sorted(minors, key=lambda m: tuple(map(int, m.split("."))))
    assert len(entries) >= 3, "the matrix covers the three newest TensorFlow releases"
    pinned = compat.pins(ROOT / "requirements.lock")
    assert entries[-1]["tensorflow"] == pinned["tensorflow"]


def test_every_compat_lock_is_hashed_and_pins_one_pair():
    for lock in sorted((ROOT / "requirements").glob("compat-*.lock")):
        text = lock.read_text()
        assert "--hash=sha256:" in text
        assert compat.minor(compat.pins(lock)["tensorflow"]) in lock.name


def entry(tf, keras="3.15.1"):
    return {"tensorflow": tf, "keras": keras, "lock": f"requirements/compat-{tf[:4]}.lock"}


def test_merge_keeps_other_versions_and_forgets_them_when_the_text_changes(monkeypatch):
    digests = {"a.md": "d1"}
    monkeypatch.setattr(record, "page_digest", lambda path: digests[path.name])
    data = compat.merge({}, entry("2.19.1"), {"a.md": None}, today="2026-01-01")
    data = compat.merge(data, entry("2.20.0"), {"a.md": "docs/a.md:3: boom"},
                        today="2026-01-01")
    assert data["pages"]["a.md"] == {"digest": "d1", "passed": ["2.19.1"],
                                     "failed": {"2.20.0": "docs/a.md:3: boom"}}
    # Running 2.20 again replaces its result, and keeps 2.19's.
    data = compat.merge(data, entry("2.20.0"), {"a.md": None}, today="2026-01-01")
    assert data["pages"]["a.md"]["passed"] == ["2.19.1", "2.20.0"]
    assert data["pages"]["a.md"]["failed"] == {}
    # A changed page starts over: 2.19's old pass proves nothing about the new text.
    digests["a.md"] = "d2"
    data = compat.merge(data, entry("2.20.0"), {"a.md": None}, today="2026-01-01")
    assert data["pages"]["a.md"]["passed"] == ["2.20.0"]


def test_the_stamp_sentence_names_versions_failures_and_changes():
    data = {"versions": [entry("2.19.1"), entry("2.20.0"), entry("2.21.0")],
            "pages": {"a.md": {"digest": "d", "passed": ["2.20.0", "2.21.0"],
                               "failed": {"2.19.1": "docs/a.md:7: NameError: x"}}}}
    assert compat.describe(data, "a.md", "d") == (
        "Passes with TensorFlow 2.20.0 and 2.21.0 (Keras 3.15.1). "
        "Fails with TensorFlow 2.19.1: docs/a.md:7: NameError: x")
    assert compat.describe(data, "a.md", "other").startswith("Changed since")
    assert compat.describe(data, "b.md", "d") is None
    assert compat.passing(data, "a.md", "d") == [("2.20.0", "3.15.1"), ("2.21.0", "3.15.1")]


def test_a_damaged_record_reads_as_empty(tmp_path):
    path = tmp_path / "record.json"
    for text in ["", "[]", "{", json.dumps({"pages": []})]:
        path.write_text(text)
        assert compat.load(path) == {"versions": [], "pages": {}}


def test_the_command_refuses_an_unknown_release_in_one_line(capsys):
    assert compat.main(["--only", "1.15"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("compat: --only 1.15: not in the matrix") and "\n" not in err


def test_the_committed_record_accounts_for_every_chapter():
    """Every chapter is in compat/record.json; where its text is still the one that ran,
    every release of the matrix either passed it or left its first failing line. (An edited
    page keeps its old entry and its stamp says so until `make compat` runs again.)"""
    from tested_docs.notebooks import chapters

    data = compat.load()
    released = {v["tensorflow"] for v in data["versions"]}
    assert len({compat.minor(v) for v in released}) >= 3
    assert {e["tensorflow"] for e in compat.matrix()} == released, \
        "the lock files changed since compat/record.json: run `make compat`"
    for page in chapters():
        entry = data["pages"].get(page)
        assert entry is not None, f"{page}: not in compat/record.json: run `make compat`"
        if entry["digest"] == record.page_digest(DOCS / page):
            assert set(entry["passed"]) | set(entry["failed"]) == released, page
