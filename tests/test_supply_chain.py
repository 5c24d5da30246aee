"""What the workflows and installs run is pinned: actions by commit, packages by hash."""
import re

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;]+)\s*(?:;\s*(.*))?$")


def jobs(path):
    return yaml.safe_load(path.read_text())["jobs"].items()


def steps(path):
    return [step for _, job in jobs(path) for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_the_tag_in_a_comment(path):
    text = path.read_text()
    for step in steps(path):
        if "uses" in step:
            assert PIN.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned by SHA"
            line = next(l for l in text.splitlines() if step["uses"] in l)
            assert re.search(r"#\s*v\d", line), f"{path.name}: no tag comment on {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout_and_keeps_no_credentials(path):
    for name, job in jobs(path):
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: {name} has no timeout"
        writes = "write" in str(job.get("permissions", {}))
        if writes:
            assert job["runs-on"] == "ubuntu-latest", \
                f"{path.name}: {name} can write and runs on {job['runs-on']}"
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, \
                    f"{path.name}: {name} checks out with persisted credentials"


def installs():
    """Every pip install line of the Makefile, .ci/run and the workflows."""
    sources = [ROOT / "Makefile", ROOT / ".ci" / "run", *WORKFLOWS]
    return [(p.name, line.strip()) for p in sources for line in p.read_text().splitlines()
            if "pip install" in line and not line.strip().startswith("#")]


def test_every_install_requires_hashes():
    found = installs()
    assert any("-r requirements.lock" in line for name, line in found if name == "Makefile")
    for name, line in found:
        assert "--require-hashes" in line, f"{name}: unhashed install: {line}"


def locked(path):
    """{name: [(version, marker)]} and whether every entry has a hash."""
    entries, text = {}, path.read_text()
    for block in re.split(r"\n(?=\S)", text):
        first = block.split(" \\")[0].strip()
        match = REQUIREMENT.match(first)
        if match:
            entries.setdefault(match[1].lower(), []).append((match[2], match[3]))
            assert "--hash=sha256:" in block, f"{path.name}: {first} has no hash"
    return entries


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-gpu.lock"])
def test_every_locked_package_has_hashes(lock):
    assert len(locked(ROOT / lock)) > 20


def test_the_lock_pins_what_requirements_txt_pins():
    lock = locked(ROOT / "requirements.lock")
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = REQUIREMENT.match(line.strip())
        if match:
            name, version, marker = match[1].lower(), match[2], match[3]
            assert any(v == version for v, _ in lock.get(name, [])), \
                f"requirements.lock lacks {name}=={version}: re-lock (see README)"
            if marker:  # the lock keeps the platform split (tensorflow-cpu on Linux x86-64)
                assert any(m and m.replace("'", '"').replace(" ", "")
                           for v, m in lock[name] if v == version)
