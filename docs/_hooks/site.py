"""Build-time generation for the site (MkDocs hooks; see `hooks:` in mkdocs.yml).

Nothing here is typed by hand into a page: the figures and results come from plots/,
each chapter's "tested with" stamp comes from the record the test run writes, and its
"Open in Colab" and "Download notebook" buttons point to notebooks/, which
`python -m tested_docs.notebooks` generates from the chapters.
"""
import json
import logging
import re
import sys
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

# MkDocs loads this file by path; the project's packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sybil import Document  # noqa: E402

from tested_docs import ROOT, blocks, compat, metrics_format, record  # noqa: E402
from tested_docs.metrics_format import PLOTS, escaped  # noqa: E402

log = logging.getLogger("mkdocs.hooks.site")

NOTEBOOKS = ROOT / "notebooks"
# The case study's notebook (committed with the outputs of the run behind plots/) is also
# a page: mkdocs-jupyter renders this copy, and only it (its `include` in mkdocs.yml).
CASE_STUDY_NOTEBOOK = ("cifar10.ipynb", "cifar10-notebook.ipynb")
_notebook_dir = tempfile.TemporaryDirectory(prefix="site-notebook-")


# --- files: figures from plots/, the chapters' notebooks ---------------------------------

@event_priority(100)  # before mkdocs-jupyter looks for notebooks among the files
def on_files(files, config):
    # notebooks/*.ipynb are served as plain files, for "Download notebook".
    for path in sorted(PLOTS.rglob("*.png")) + sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(File(str(path.relative_to(ROOT)), str(ROOT), config["site_dir"],
                          config["use_directory_urls"]))
    source, page_name = CASE_STUDY_NOTEBOOK
    if (NOTEBOOKS / source).exists():
        copy = Path(_notebook_dir.name) / page_name
        copy.write_bytes((NOTEBOOKS / source).read_bytes())
        files.append(File(page_name, str(copy.parent), config["site_dir"],
                          config["use_directory_urls"]))
    for file in files:
        if file.src_uri.endswith(".ipynb"):
            refuse_failed_cells(Path(file.abs_src_path), file.src_uri)
    return files


def refuse_failed_cells(path, name):
    """A notebook that stores a failed cell must not be published."""
    notebook = json.loads(path.read_text())
    for number, cell in enumerate(notebook.get("cells", []), 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise PluginError(f"{name}: cell {number} failed "
                                  f"({output.get('ename')}: {output.get('evalue')})")


# --- results of the published runs --------------------------------------------------------

def stamp(entry, digest):
    """The line under a chapter's title: what the last test run proved of this very text."""
    state = record.status(entry, digest)
    if state == "untested":
        return ('<p class="tested-stamp untested">Not tested yet: no test run recorded this '
                'page on the machine that built the site.</p>')
    if state == "changed":
        return ('<p class="tested-stamp untested">Changed since it was last tested: this '
                'text has not yet been run by the test suite.</p>')
    # The record is a file on disk: each of its strings is placed as literal text.
    versions = (f'TensorFlow {escaped(str(entry.get("tensorflow")))} and Keras '
                f'{escaped(str(entry.get("keras")))} on {escaped(str(entry.get("date")))}')
    if state == "partial":
        reasons = "; ".join(escaped(str(r)) for r in entry.get("skip_reasons", []))
        passed, skipped = entry.get("passed"), entry.get("skipped")
        if not all(type(n) is int for n in (passed, skipped)):
            return ('<p class="tested-stamp untested">Not tested yet: the test record of '
                    'this page is damaged.</p>')
        return (f'<p class="tested-stamp partial">&#10004; {passed} code '
                f'{"block" if passed == 1 else "blocks"} on this page passed with {versions}; '
                f'{skipped} {"was" if skipped == 1 else "were"} skipped on that machine '
                f'({reasons}).</p>')
    return (f'<p class="tested-stamp">&#10004; Every code block on this page passed with '
            f'{versions}.</p>')


def has_python_block(markdown, path):
    return bool(blocks.python_fences(Document(markdown, path)))


_tested = {}  # the record of the last test run, read once per build
_compat = {}  # compat/record.json: the releases each page passed with (make compat)


def compat_stamp(page, digest):
    """The line under the stamp: which TensorFlow releases this very text passed with."""
    sentence = compat.describe(_compat, page, digest)
    if sentence is None:
        return ""
    # The record is a file on disk: its strings are placed as literal text.
    state = "compat" if sentence.startswith("Passes") and "Fails" not in sentence \
        else "compat untested"
    return f'<p class="tested-stamp {state}">{escaped(sentence)}</p>\n'


def on_config(config):
    _tested.clear()
    _tested.update(record.load())
    _compat.clear()
    _compat.update(compat.load())
    if not record.RECORD.exists():
        log.info("No test record (%s): every chapter will say 'Not tested yet'. Run "
                 "`make test` first.", record.RECORD.relative_to(ROOT))
    return config


def insert_after_title(markdown, html):
    title = re.search(r"^# .*$", markdown, re.MULTILINE)
    at = title.end() if title else 0
    return f"{markdown[:at]}\n\n{html}\n{markdown[at:]}"


def notebook_buttons(markdown, page_name):
    """'Open in Colab' and 'Download notebook' under a chapter's title (and its stamp).
    The download is a Markdown link to the file, so the strict build checks that it exists."""
    from tested_docs import notebooks

    if page_name not in notebooks.chapters():
        return markdown
    stem = Path(page_name).stem
    buttons = (f'[Open in Colab]({notebooks.colab_url(page_name)}){{ .md-button .notebook-button }}\n'
               f'[Download notebook](notebooks/{stem}.ipynb){{ .md-button .notebook-button '
               f'download="{stem}.ipynb" }}')
    return insert_after_title(markdown, f'<div class="notebook-buttons" markdown>\n{buttons}\n</div>')


def fill_results(markdown, page_name):
    """The page with the published numbers and tables (tested_docs.metrics_format)."""
    try:
        return metrics_format.fill_results(markdown, page_name)
    except metrics_format.MetricsError as err:
        raise PluginError(str(err)) from None


def on_page_markdown(markdown, page, config, files):
    markdown = fill_results(markdown, page.file.src_uri)
    markdown = notebook_buttons(markdown, page.file.src_uri)
    source = page.file.abs_src_path
    if page.file.src_uri.endswith(".md") and has_python_block(markdown, source):
        entry = _tested.get(page.file.src_uri)
        digest = record.page_digest(Path(source))
        markdown = insert_after_title(
            markdown, stamp(entry, digest) + "\n" + compat_stamp(page.file.src_uri, digest))
    return markdown
