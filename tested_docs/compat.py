"""Which TensorFlow releases each page passes with: the compatibility run and its record.

    python -m tested_docs.compat              # every version of the matrix (make compat)
    python -m tested_docs.compat --only 2.19  # one of them; the others keep their entries
    python -m tested_docs.compat --add 2.22.0 # lock one more release (needs uv), then run

The matrix is the set of lock files: ``requirements.lock`` (the pinned release) and one
``requirements/compat-<major.minor>.lock`` per older release, each with the Keras that
release accepts. Each version gets its own virtual environment under ``.venv-compat/``,
made once from its lock (hashes required) and made again when the lock changes. The
docs suite runs in each, and ``compat/record.json`` (committed) keeps, per page, the
digest of the text that ran, the versions it passed with, and for each failed version
the first failing line. The site's stamps and the notebooks' first cells read it.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

from tested_docs import DOCS, ROOT, record, replace_file

MAIN_LOCK = ROOT / "requirements.lock"
LOCKS = ROOT / "requirements"
RECORD = ROOT / "compat" / "record.json"
VENVS = ROOT / ".venv-compat"
PIN = re.compile(r"^(tensorflow(?:-cpu)?|keras)==([0-9][^\s;\\]*)", re.MULTILINE)
PAGE_TIMEOUT = 900  # seconds the docs suite of one version may take


class CompatError(Exception):
    """A problem the command reports in one line."""


def pins(lock):
    """{'tensorflow': version, 'keras': version} pinned by a lock file."""
    found = {}
    for name, version in PIN.findall(lock.read_text()):
        name = "tensorflow" if name.startswith("tensorflow") else name
        if found.setdefault(name, version) != version:
            raise CompatError(f"{lock.relative_to(ROOT)} pins {name} at two versions")
    if set(found) != {"tensorflow", "keras"}:
        raise CompatError(f"{lock.relative_to(ROOT)} pins no tensorflow or no keras")
    return found


def minor(version):
    return ".".join(str(version).split(".")[:2])


def matrix():
    """[{'tensorflow', 'keras', 'lock'}], oldest release first, the pinned one last."""
    locks = sorted(LOCKS.glob("compat-*.lock")) + [MAIN_LOCK]
    entries = [{**pins(lock), "lock": lock.relative_to(ROOT).as_posix()} for lock in locks]
    entries.sort(key=lambda e: tuple(int(p) for p in minor(e["tensorflow"]).split(".")))
    seen = [minor(e["tensorflow"]) for e in entries]
    if len(set(seen)) != len(seen):
        raise CompatError(f"two locks for one TensorFlow release: {seen}")
    return entries


# --- the record -----------------------------------------------------------------------------

def load(path=RECORD):
    """The committed record, or an empty one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"versions": [], "pages": {}}
    if not isinstance(data, dict) or not isinstance(data.get("pages"), dict):
        return {"versions": [], "pages": {}}
    return data


def save(data, path=RECORD):
    replace_file(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def page_entry(data, page, digest):
    """The record's entry of a page if it describes this very text, else None."""
    entry = data.get("pages", {}).get(page)
    if isinstance(entry, dict) and entry.get("digest") == digest:
        return entry
    return None


def passing(data, page, digest):
    """[(tensorflow, keras)] the page passed with, oldest first ([] if unknown)."""
    entry = page_entry(data, page, digest)
    if entry is None:
        return []
    by_tf = {v["tensorflow"]: v["keras"] for v in data.get("versions", [])}
    return [(tf, by_tf[tf]) for tf in entry.get("passed", []) if tf in by_tf]


def joined(items):
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def describe(data, page, digest):
    """One or two plain sentences for the page's stamp, or None when the record is silent."""
    entry = data.get("pages", {}).get(page)
    if not isinstance(entry, dict):
        return None
    if entry.get("digest") != digest:
        return ("Changed since its last compatibility run: the TensorFlow releases below "
                "have not yet run this text.")
    ok = passing(data, page, digest)
    sentences = []
    if ok:
        kerases = sorted({k for _, k in ok})
        sentences.append(f"Passes with TensorFlow {joined([tf for tf, _ in ok])} "
                         f"(Keras {joined(kerases)}).")
    for tf, line in sorted(entry.get("failed", {}).items()):
        sentences.append(f"Fails with TensorFlow {tf}: {line}")
    return " ".join(sentences) or None


# --- running the matrix -----------------------------------------------------------------------

def lock_digest(lock):
    return hashlib.sha256((ROOT / lock).read_bytes()).hexdigest()


def venv_for(entry, log=print):
    """The Python of an environment that holds exactly this entry's lock."""
    if entry["lock"] == MAIN_LOCK.relative_to(ROOT).as_posix():
        venv = ROOT / ".venv"
        marker = venv / ".requirements-installed"
        if not marker.exists():
            raise CompatError(".venv is not installed: run `make test` or `make serve` first")
        return venv / "bin" / "python"
    venv = VENVS / minor(entry["tensorflow"])
    marker = venv / ".lock-sha256"
    wanted = lock_digest(entry["lock"])
    if not (marker.exists() and marker.read_text().strip() == wanted):
        log(f"installing {entry['lock']} into {venv.relative_to(ROOT)} (once per lock)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--require-hashes", "-r", str(ROOT / entry["lock"])], check=True)
        marker.write_text(wanted + "\n")
    return venv / "bin" / "python"


def first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return "failed (no message)"


def results_from_junit(path):
    """{page: first failing line or None} from a pytest junit XML file of the docs suite."""
    pages = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        file = case.get("file") or case.get("classname", "").replace(".", "/") + ".md"
        name = Path(file).name if file.startswith("docs/") else None
        if name is None or not name.endswith(".md"):
            continue
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        pages.setdefault(name, None)
        if failure is not None and pages[name] is None:
            pages[name] = first_line(failure.get("message") or failure.text)
    return pages


def run_docs_suite(python, junit, extra=(), root=ROOT, timeout=PAGE_TIMEOUT):
    """Run the docs suite with `python` in `root`; {page: None or first failing line}.
    NO_TEST_RECORD: the pinned run's record (.cache/) is not this run's to write."""
    command = [str(python), "-m", "pytest", "docs", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", "-o", "junit_family=xunit1", *extra]
    try:
        subprocess.run(command, cwd=root, timeout=timeout,
                       env={**os.environ, "NO_TEST_RECORD": "1"},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CompatError(f"the docs suite took more than {timeout} s") from None
    if not Path(junit).exists():
        raise CompatError("pytest wrote no results")
    return results_from_junit(junit)


def run_version(entry, jobs, log=print):
    """Run the docs suite under one version; {page: None (passed) or first failing line}."""
    python = venv_for(entry, log)
    extra = ["-n", str(jobs), "--dist", "loadfile"] if jobs > 1 else []
    log(f"TensorFlow {entry['tensorflow']}, Keras {entry['keras']}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            return run_docs_suite(python, Path(tmp) / "junit.xml", extra)
        except CompatError as err:
            raise CompatError(f"TensorFlow {entry['tensorflow']}: {err}") from None


def merge(data, entry, results, today=None):
    """Fold one version's results into the record (pure: returns a new record)."""
    data = json.loads(json.dumps(data))  # a deep copy
    versions = [v for v in data.get("versions", [])
                if minor(v["tensorflow"]) != minor(entry["tensorflow"])]
    versions.append({"tensorflow": entry["tensorflow"], "keras": entry["keras"],
                     "lock": entry["lock"]})
    versions.sort(key=lambda v: tuple(int(p) for p in minor(v["tensorflow"]).split(".")))
    data["versions"] = versions
    pages = data.setdefault("pages", {})
    for page, failure in sorted(results.items()):
        digest = record.page_digest(DOCS / page)
        old = pages.get(page, {})
        if old.get("digest") != digest:
            old = {}  # the text changed: earlier versions' results no longer apply
        passed = [v for v in old.get("passed", []) if minor(v) != minor(entry["tensorflow"])]
        failed = {v: line for v, line in old.get("failed", {}).items()
                  if minor(v) != minor(entry["tensorflow"])}
        if failure is None:
            passed.append(entry["tensorflow"])
        else:
            failed[entry["tensorflow"]] = failure
        known = {v["tensorflow"] for v in versions}
        pages[page] = {"digest": digest,
                       "passed": sorted((v for v in passed if v in known),
                                        key=lambda v: tuple(int(p) for p in v.split("."))),
                       "failed": {v: line for v, line in failed.items() if v in known}}
    data["date"] = today or date.today().isoformat()
    return data


UNPINNED = ("tensorflow", "tensorflow-cpu", "tensorboard", "numpy")  # follow the release


def kept_requirements(left_out, root=ROOT):
    """The pinned lines of requirements.txt, without the packages named in `left_out`."""
    kept = []
    for line in (root / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        name = re.split(r"[=<>!~;\s\[]", line, maxsplit=1)[0].lower()
        if line and name not in left_out:
            kept.append(line)
    return kept


def compat_requirements(version):
    """requirements.txt for one TensorFlow release: the same packages, that release (the
    CPU build: the matrix runs on Linux x86-64), and the TensorBoard and NumPy it accepts."""
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version):
        raise CompatError(f"--add takes a release such as 2.22.0, got {version!r}")
    return ("# The docs suite under an older TensorFlow (written by tested_docs.compat --add).\n"
            + "\n".join(kept_requirements(UNPINNED)) + f"\ntensorflow-cpu=={version}\n")


def add_release(version, log=print):
    """Write requirements/compat-<minor>.txt and its hashed lock (with uv)."""
    import shutil

    text = compat_requirements(version)
    uv = shutil.which("uv")
    if uv is None:
        raise CompatError("--add needs uv on PATH (see README: the lock file)")
    name = f"compat-{minor(version)}"
    source = LOCKS / f"{name}.txt"
    replace_file(source, text.encode())
    result = subprocess.run(
        [uv, "pip", "compile", f"requirements/{name}.txt", "--python-platform",
         "x86_64-manylinux_2_28", "--python-version", "3.11", "--generate-hashes",
         "-o", f"requirements/{name}.lock"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        raise CompatError(f"uv could not lock TensorFlow {version}: "
                          f"{first_line(result.stderr)}")
    log(f"wrote requirements/{name}.txt and requirements/{name}.lock")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tested_docs.compat",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="MAJOR.MINOR", action="append", default=[],
                        help="run only this TensorFlow release (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--add", metavar="VERSION",
                        help="lock this TensorFlow release into the matrix, then run it")
    args = parser.parse_args(argv)
    try:
        if args.add:
            add_release(args.add)
            args.only = [minor(args.add)]
        entries = matrix()
        unknown = set(args.only) - {minor(e["tensorflow"]) for e in entries}
        if unknown:
            raise CompatError(f"--only {', '.join(sorted(unknown))}: not in the matrix "
                              f"({', '.join(minor(e['tensorflow']) for e in entries)})")
        if not 1 <= args.jobs <= 64:
            raise CompatError("--jobs takes a whole number from 1 to 64")
        data = load()
        for entry in entries:
            if args.only and minor(entry["tensorflow"]) not in args.only:
                continue
            results = run_version(entry, args.jobs)
            data = merge(data, entry, results)
            save(data)  # after each version: an interrupted run keeps what it finished
            failed = sorted(p for p, line in results.items() if line)
            print(f"  {len(results) - len(failed)} pages passed, {len(failed)} failed"
                  + (f": {', '.join(failed)}" if failed else ""))
    except CompatError as err:
        print(f"compat: {err}", file=sys.stderr)
        return 2
    print(f"wrote {RECORD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
