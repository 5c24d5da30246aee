"""Every block a reader sees as Python is executed by the harness, or skipped with a reason.

The fences come from Sybil's own fence lexer, whatever their language, and
``tested_docs.blocks.renders_as_python`` (Pygments, the site's highlighter) says which
render as Python; each of those must be a region Sybil collects, so a spelling or a
nesting the harness does not reach fails here, naming file and line.
"""
import pytest
from sybil import Document

from tested_docs import DOCS, ROOT, blocks
from tests.doc_harness import DOCS_SYBIL

PAGES = sorted(DOCS.rglob("*.md"))


def python_fences(page):
    """(line, start, end) of each fenced block on a page whose language renders as Python."""
    document = Document(page.read_text(), str(page))
    return [(line_of(document, region.start), region.start, region.end)
            for region in blocks.python_fences(document)]


def line_of(document, offset):
    return document.text.count("\n", 0, offset) + 1


def test_the_docs_have_python_blocks():
    assert PAGES, "no Markdown pages under docs/"
    assert any(python_fences(p) for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_is_collected(page):
    starts = [example.region.start for example in DOCS_SYBIL.parse(page)]
    missed = [f"{page.relative_to(ROOT)}:{line}" for line, start, end in python_fences(page)
              if not any(start <= s < end for s in starts)]
    assert not missed, "Python blocks the test suite does not run: " + ", ".join(missed)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_skip_gives_a_reason(page):
    document = Document(page.read_text(), str(page))
    silent = [f"{page.relative_to(ROOT)}:{line_of(document, lexed.start)}: {problem}"
              for lexed in blocks.skip_lexer()(document)
              if (problem := blocks.skip_problem(lexed.lexemes["arguments"]))]
    assert not silent, "skips the harness refuses: " + "; ".join(silent)
