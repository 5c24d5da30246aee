"""The site builds strictly: a broken link, anchor or notebook fails the build."""
import shutil

import pytest

from tests.conftest import ROOT, build_site


def test_site_builds_without_warnings(built_site):
    site, result = built_site
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, output
    assert (site / "index.html").exists()


@pytest.fixture
def scratch_project(tmp_path):
    """A copy of the docs and config to break on purpose, leaving the real ones alone."""
    for name in ("docs", "examples", "plots"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    return tmp_path


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
