"""``--8<--`` includes: code shown on a page is cut from a real file, never copied.

A block that holds only ``--8<-- "examples/pkg/mod.py:name"`` lines shows the section
between ``# --8<-- [start:name]`` and ``# --8<-- [end:name]`` of that file (as
pymdownx.snippets cuts it for the site), and the harness imports the module.
"""
import re
import textwrap

from tested_docs import ROOT
from tested_docs.blocks import OUTPUT_MARK

INCLUDE_LINE = re.compile(
    r'^[ \t]*--8<--[ \t]+"(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"[ \t]*$', re.MULTILINE)


def includes(source):
    """(path, section) of every include line in a block's or page's text."""
    return [(m["path"], m["section"]) for m in INCLUDE_LINE.finditer(source)]


def section_text(path, section):
    """The lines of a named section, dedented as the site shows them."""
    text = (ROOT / path).read_text()
    if section is None:
        return text
    match = re.search(rf"--8<-- \[start:{re.escape(section)}\][^\n]*\n(.*?)^[^\n]*--8<-- "
                      rf"\[end:{re.escape(section)}\]", text, re.DOTALL | re.MULTILINE)
    if match is None:
        raise ValueError(f"{path} has no section '{section}' "
                         f"(mark it with '# --8<-- [start:{section}]' ... '[end:{section}]')")
    return textwrap.dedent(match.group(1))


def expand(source):
    """A block's source with each include line replaced by the section it shows."""
    return INCLUDE_LINE.sub(lambda m: section_text(m["path"], m["section"]).rstrip("\n"), source)


def module_name(path):
    return path.removesuffix(".py").replace("/", ".")


def output_lines(text):
    """The '#>' lines of an included section (refused: nothing checks them there)."""
    return [line.strip() for line in text.splitlines() if OUTPUT_MARK.match(line)]
