"""Every block a reader sees as Python is executed by the harness, or skipped with a reason.

The fences are found here independently of the harness, and Pygments (the
highlighter the site uses) says which languages render as Python, so a
spelling the harness does not know shows up as a failure naming file and line.
"""
import re
from pathlib import Path

import pygments.lexers
import pygments.util
import pytest

from tests.doc_harness import DOCS, DOCS_SYBIL, ROOT

FENCE = re.compile(r"^(?P<indent>[ \t]*(?:>[ \t]*)*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$",
                   re.MULTILINE)
SKIP = re.compile(r"<!--+\s*skip:\s*(?P<args>[^\n]*?)\s*-->")
PAGES = sorted(DOCS.rglob("*.md"))


def renders_as_python(info):
    words = info.strip().strip("{}").split()
    language = words[0].lstrip(".") if words else ""
    if not language:
        return False
    try:
        lexer = pygments.lexers.get_lexer_by_name(language)
    except pygments.util.ClassNotFound:
        return False
    return "python" in type(lexer).__name__.lower() and "traceback" not in lexer.name.lower()


def python_fences(text):
    """(line, start, end) of each fenced block whose language renders as Python."""
    found, open_fence = [], None
    for match in FENCE.finditer(text):
        if open_fence is None:
            open_fence = match
        elif (match["fence"][0] == open_fence["fence"][0]
              and len(match["fence"]) >= len(open_fence["fence"]) and not match["info"].strip()):
            if renders_as_python(open_fence["info"]):
                line = text.count("\n", 0, open_fence.start()) + 1
                found.append((line, open_fence.start(), match.end()))
            open_fence = None
    return found


def test_the_docs_have_python_blocks():
    assert PAGES, "no Markdown pages under docs/"
    assert any(python_fences(p.read_text()) for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_is_collected(page):
    text = page.read_text()
    starts = [example.region.start for example in DOCS_SYBIL.parse(page)]
    missed = [f"{page.relative_to(ROOT)}:{line}" for line, start, end in python_fences(text)
              if not any(start <= s < end for s in starts)]
    assert not missed, "Python blocks the test suite does not run: " + ", ".join(missed)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_skip_gives_a_reason(page):
    text = page.read_text()
    silent = [f"{page.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
              for m in SKIP.finditer(text)
              if not m["args"].startswith("end") and "reason=" not in m["args"]]
    assert not silent, "skips without a visible reason: " + ", ".join(silent)
