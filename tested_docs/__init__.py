"""The conventions of this site's tested docs, in one place.

Everything that decides how a page's code is found, run and checked lives here and
is imported by the pytest harness (tests/doc_harness.py), its guard, the site build
(docs/_hooks/site.py) and the notebook generator:

* ``blocks``   -- which fences are Python blocks, skip markers, ``#>`` output lines;
* ``includes`` -- ``--8<--`` lines and the sections of example files they cut;
* ``outputs``  -- running a block statement by statement, checking and rewriting ``#>``;
* ``figures``  -- figures a block draws, the image link under it, drawing and comparing;
* ``record``   -- the record of a test run and the page digests behind the stamps;
* ``rendered`` -- the blocks a page shows as Python once rendered (what the guard checks);
* ``session``  -- builtins and logging setup, put back around each page.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def replace_file(path, data):
    """Write bytes to `path` atomically: a reader sees the old file or the new one."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
