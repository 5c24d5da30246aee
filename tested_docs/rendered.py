"""The code blocks a page shows as Python once the site renders it.

The guard must see what the reader sees, not what a fence lexer guesses: a page is
rendered with the Markdown extensions of mkdocs.yml (python-markdown and pymdownx, as
the site build uses them, without Pygments' colours, which change no block), and every
``<pre><code>`` whose language renders as Python is returned, whether a fence made it
(in any spelling superfences accepts) or the page holds it as raw HTML.
"""
import html
import re
from functools import cache
from html.parser import HTMLParser

import markdown

from tested_docs import ROOT, blocks


def _extensions():
    from tested_docs.notebooks import site_config

    names, configs = [], {}
    for entry in site_config()["markdown_extensions"]:
        name, config = next(iter(entry.items())) if isinstance(entry, dict) else (entry, None)
        names.append(name)
        configs[name] = dict(config or {})
    # Includes resolve from the repository root, wherever the guard runs; the colours
    # Pygments would add change no block.
    configs.setdefault("pymdownx.snippets", {})["base_path"] = [str(ROOT)]
    configs.setdefault("pymdownx.highlight", {})["use_pygments"] = False
    return names, configs


@cache
def _renderer():
    names, configs = _extensions()
    return markdown.Markdown(extensions=names, extension_configs=configs)


def render(text):
    renderer = _renderer()
    renderer.reset()
    return renderer.convert(text)


LANGUAGE_CLASS = re.compile(r"^(?:language-|lang-)?(?P<language>[\w+#.-]+)$")


def _is_python(classes):
    return any((m := LANGUAGE_CLASS.match(c)) and blocks.renders_as_python(m["language"])
               for c in classes)


class _CodeBlocks(HTMLParser):
    """Text of every <code> inside a <pre>, and whether it or a parent says Python."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, classes)
        self.found = []  # [python?, text]
        self.current = None

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "hr", "input", "meta", "link"):
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append((tag, classes))
        if tag == "code" and any(t == "pre" for t, _ in self.stack[:-1]):
            python = any(_is_python(c) for t, c in self.stack if t in ("code", "pre", "div"))
            self.current = [python, ""]
            self.found.append(self.current)

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break
        if tag == "code":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current[1] += data


def normalized(code):
    """Code text as compared: no trailing spaces, no blank lines at either end."""
    return "\n".join(line.rstrip() for line in code.split("\n")).strip("\n")


def python_blocks(text):
    """The text of every block the rendered page shows as Python, in page order."""
    parser = _CodeBlocks()
    parser.feed(render(text))
    parser.close()
    return [normalized(code) for python, code in parser.found if python]


def line_of(text, code, after=0):
    """1-based page line where a rendered block's first line appears (searching from
    offset `after`), or None."""
    first = next((line.strip() for line in code.split("\n") if line.strip()), "")
    for candidate in (first, html.escape(first, quote=False)):
        at = text.find(candidate, after) if candidate else -1
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return None
