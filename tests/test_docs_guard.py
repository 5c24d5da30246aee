"""Every block a reader sees as Python is executed by the harness, or skipped with a reason.

What the reader sees is what the site renders: each page is rendered with mkdocs.yml's
Markdown extensions (``tested_docs.rendered``) and every block shown as Python there, raw
HTML included, must be a block the harness runs, so a spelling, a nesting or a fence the
harness does not reach fails here, naming file and line. The fences Sybil's own lexer
finds, whatever their language, are held against what Sybil collects too. Visible code
fits the content column, and no code block holds a number the build fills in.
"""
import os
import textwrap

import pytest
from sybil import Document

from tested_docs import DOCS, ROOT, blocks, includes, rendered
from tests.doc_harness import DOCS_SYBIL

PAGES = sorted(DOCS.rglob("*.md"))
WIDTH = 80  # characters the content column shows at 1280 px without scrolling


def name(path):
    return os.path.relpath(path, ROOT)


def python_fences(page):
    """(line, start, end) of each fenced block on a page whose language renders as Python."""
    document = Document(page.read_text(), str(page))
    return [(line_of(document, region.start), region.start, region.end)
            for region in blocks.python_fences(document)]


def line_of(document, offset):
    return document.text.count("\n", 0, offset) + 1


def visible_blocks(page):
    """(page line of the first source line, source with includes expanded) of each
    visible block the harness runs."""
    document = Document(page.read_text(), str(page))
    return [(line_of(document, region.start) + 1, str(region.lexemes["source"]))
            for region, kind in blocks.python_regions(document) if kind != "invisible"]


def unrun_python(page):
    """'file:line' of every block the rendered page shows as Python that the harness
    does not run as it is shown."""
    text = page.read_text()
    ran = [rendered.normalized(includes.expand(source)) for _, source in visible_blocks(page)]
    missed, after = [], 0
    for code in rendered.python_blocks(text):
        if code in ran:
            ran.remove(code)
            continue
        line = rendered.line_of(text, code, after)
        missed.append(f"{name(page)}:{line or '?'}")
        if line:
            after = sum(len(s) + 1 for s in text.split("\n")[:line])
    return missed


def long_lines(page):
    """'file:line (N characters)' of each visible code line wider than WIDTH; an included
    section counts as the lines it shows, named by the example file and line."""
    found = []
    for first, source in visible_blocks(page):
        for index, line in enumerate(source.splitlines()):
            if (shown := includes.includes(line)):
                found += [f"{at} (shown at {name(page)}:{first + index})"
                          for at in long_section_lines(*shown[0])]
            elif len(line) > WIDTH and not blocks.OUTPUT_MARK.match(line):
                found.append(f"{name(page)}:{first + index} ({len(line)} characters)")
    return found


def long_section_lines(path, section):
    """'file:line (N characters)' of the lines of an included section wider than WIDTH,
    as the site shows them (dedented)."""
    lines = includes.section_text(path, section).splitlines()
    source = (ROOT / path).read_text().splitlines()
    marker = f"--8<-- [start:{section}]"
    start = next((i + 1 for i, text in enumerate(source) if marker in text), 0)
    return [f"{path}:{start + 1 + i} ({len(text)} characters)" for i, text in enumerate(lines)
            if len(text) > WIDTH and not blocks.OUTPUT_MARK.match(text)]


def build_time_numbers(page):
    """'file:line' of each '{{ run.path }}' in a Python block (a shell command may show
    one: it is not run)."""
    document = Document(page.read_text(), str(page))
    found = []
    for region in blocks.python_fences(document):
        index = blocks.build_time_number(str(region.lexemes["source"]))
        if index is not None:
            found.append(f"{name(page)}:{line_of(document, region.start) + 1 + index}")
    return found


def test_the_docs_have_python_blocks():
    assert PAGES, "no Markdown pages under docs/"
    assert any(python_fences(p) for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_python_block_is_collected(page):
    starts = [example.region.start for example in DOCS_SYBIL.parse(page)]
    missed = [f"{name(page)}:{line}" for line, start, end in python_fences(page)
              if not any(start <= s < end for s in starts)]
    assert not missed, "Python blocks the test suite does not run: " + ", ".join(missed)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_block_the_site_shows_as_python_is_run(page):
    missed = unrun_python(page)
    assert not missed, ("blocks the site shows as Python that the test suite does not run "
                        "as shown (write ```python, language first, and close each fence "
                        "with as many backticks as opened it): " + ", ".join(missed))


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_skip_gives_a_reason(page):
    document = Document(page.read_text(), str(page))
    silent = [f"{name(page)}:{line_of(document, lexed.start)}: {problem}"
              for lexed in blocks.skip_lexer()(document)
              if (problem := blocks.skip_problem(lexed.lexemes["arguments"]))]
    assert not silent, "skips the harness refuses: " + "; ".join(silent)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_code_lines_fit_the_column(page):
    wide = long_lines(page)
    if wide:
        pytest.fail(f"{len(wide)} code line(s) wider than {WIDTH} characters (the reader "
                    f"scrolls sideways; '#>' lines excepted):\n" + "\n".join(wide),
                    pytrace=False)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_no_code_block_holds_a_build_time_number(page):
    found = build_time_numbers(page)
    assert not found, ("'{{ ... }}' in a Python block (the site shows a number where the "
                       "tests ran braces): " + ", ".join(found))


# --- the guard itself ---------------------------------------------------------------------

def scratch(tmp_path, markdown):
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent(markdown))
    return page


@pytest.mark.parametrize("markdown, line", [
    ('Text.\n\n<pre><code class="language-python">print("raw HTML")\n</code></pre>\n', 3),
    ('```{ title="f.py" .python }\nprint("attributes first")\n```\n', 2),
    ("```python\nx = 1\n````\n\nText.\n\n```python\nprint('swallowed')\n```\n", 2),
])
def test_python_the_harness_does_not_run_fails_the_guard(tmp_path, markdown, line):
    page = scratch(tmp_path, markdown)
    assert unrun_python(page) == [f"{name(page)}:{line}"]


def test_blocks_the_harness_runs_pass_the_guard(tmp_path):
    page = scratch(tmp_path, """\
        ```python title="a.py"
        x = 1
        ```

        !!! tip

            ```py
            y = 2
            ```

        ```python
        --8<-- "examples/cifar10/models.py:baseline"
        ```
    """)
    assert unrun_python(page) == []


def test_a_long_code_line_fails_but_a_long_output_line_does_not(tmp_path):
    page = scratch(tmp_path, f"""\
        ```python
        x = 1
        print("{'a' * 80}")
        #> {'a' * 80}
        ```
    """)
    assert long_lines(page) == [f"{name(page)}:3 (89 characters)"]


def test_a_build_time_number_in_a_code_block_fails(tmp_path):
    page = scratch(tmp_path, """\
        Reached {{ improved.final.test.accuracy | pct }}.

        ```python
        x = 1
        acc = "{{ improved.final.test.accuracy | pct }}"
        ```

        ```bash
        python -m examples.cifar10 --epochs {{ improved.epochs }}
        ```
    """)
    assert build_time_numbers(page) == [f"{name(page)}:5"]
