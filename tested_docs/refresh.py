"""Run the docs under the newest TensorFlow and Keras, and propose refreshed outputs.

    python -m tested_docs.refresh --out refresh/

The weekly `refresh-outputs` workflow runs this on a GitHub-hosted runner. It installs the
newest `tensorflow` (the CPU build on Linux x86-64) and `keras` from PyPI, unpinned, with
the rest of requirements.txt, into a fresh virtual environment; runs the docs suite with
`--update-outputs`, which rewrites every `#>` line and figure that changed; and writes
into --out:

* ``outputs.patch``: the diff of docs/ (empty when nothing changed);
* ``summary.md``: the versions, the pages whose outputs changed, and the pages that
  still fail after the rewrite with their first failing line (the pull request's body);
* ``changed``: ``true`` or ``false``, for the workflow's next job.

A second job, which runs none of the project's code, applies the patch and opens the pull
request. ``--python`` runs an existing interpreter instead of installing (the tests use it).
"""
import argparse
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from tested_docs import ROOT
from tested_docs.compat import UNPINNED, CompatError, kept_requirements, run_docs_suite

NEWEST = ["tensorflow-cpu", "keras"]  # unpinned: whatever PyPI serves today
TIMEOUT = 1800  # seconds for the docs suite


class RefreshError(Exception):
    """A problem reported in one line."""


def newest_requirements(root=ROOT):
    """requirements.txt with TensorFlow and Keras unpinned, and what follows them too."""
    return NEWEST + kept_requirements((*UNPINNED, "keras"), root)


def install(where):
    """A fresh virtual environment with the newest TensorFlow and Keras; its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = Path(where) / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade",
                    *newest_requirements()], check=True)
    return python


def versions(python):
    code = "import keras, tensorflow as tf; print(tf.__version__, keras.__version__)"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    if out.returncode:
        raise RefreshError(f"{python} cannot import TensorFlow and Keras")
    tf_version, keras_version = out.stdout.split()[-2:]
    return tf_version, keras_version


def run_docs(python, root, junit, update):
    try:
        return run_docs_suite(python, junit, ["--update-outputs"] if update else [],
                              root=root, timeout=TIMEOUT)
    except CompatError as err:
        raise RefreshError(str(err)) from None


def docs_diff(root):
    """The patch of docs/ against the checkout, and the pages it touches."""
    patch = subprocess.run(["git", "diff", "--binary", "--", "docs"], cwd=root,
                           capture_output=True, text=True, check=True).stdout
    names = subprocess.run(["git", "diff", "--name-only", "--", "docs"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()
    return patch, names


def summary(tf_version, keras_version, changed, failures):
    lines = [f"The docs suite ran with TensorFlow {tf_version} and Keras {keras_version} "
             "(the newest on PyPI), with `--update-outputs`.", ""]
    if changed:
        lines += ["Files rewritten from the real run:", ""]
        lines += [f"- `{name}`" for name in changed]
    else:
        lines.append("No output changed.")
    lines.append("")
    if failures:
        lines += ["Still failing after the rewrite (first failing line):", ""]
        lines += [f"- `{page}`: {line}" for page, line in sorted(failures.items())]
    else:
        lines.append("Every page passes.")
    lines += ["", "Review the diff: a changed output is a change readers of the pinned "
              "versions do not see until the pins move."]
    return "\n".join(lines) + "\n"


def refresh(out, python=None, root=ROOT):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        python = python or install(Path(tmp) / "venv")
        tf_version, keras_version = versions(python)
        results = run_docs(python, root, Path(tmp) / "update.xml", update=True)
        patch, changed = docs_diff(root)
        if changed:
            # A second, checking run: what still fails once the outputs are rewritten.
            # (With nothing rewritten, it would run the same pages as the first.)
            results = run_docs(python, root, Path(tmp) / "check.xml", update=False)
    failures = {page: line for page, line in results.items() if line}
    (out / "outputs.patch").write_text(patch)
    (out / "summary.md").write_text(summary(tf_version, keras_version, changed, failures))
    has_news = bool(changed or failures)
    (out / "changed").write_text("true\n" if has_news else "false\n")
    return changed, failures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tested_docs.refresh",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the patch and summary")
    parser.add_argument("--python", help="use this interpreter instead of installing")
    args = parser.parse_args(argv)
    try:
        changed, failures = refresh(args.out, args.python)
    except (RefreshError, subprocess.SubprocessError, OSError) as err:
        print(f"refresh: {err}", file=sys.stderr)
        return 2
    print(f"{len(changed)} files rewritten, {len(failures)} pages failing; see {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
