"""Shared fixtures: the site is built once per test session and reused."""
import os
import subprocess
import sys

import pytest

from tested_docs import ROOT


def build_site(site_dir, config="mkdocs.yml"):
    """`mkdocs build --strict` exactly as a contributor runs it (no -q: it hides failures)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", str(site_dir)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    result = build_site(site)
    return site, result
