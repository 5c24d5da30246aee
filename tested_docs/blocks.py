"""What a Python block is, and the markers a page may put around one.

A fence is a Python block when Pygments (the highlighter the site uses) renders its
language as Python: every alias of a lexer derived from Pygments' Python lexers, in
any case, bare or inside Material's attribute braces (``{ .python title="x" }``).
Console lexers (``pycon``) hold doctests. Nothing else in the project decides this.
"""
import re
from functools import cache

import pygments.lexers
from pygments.lexers.python import Python2Lexer, PythonConsoleLexer, PythonLexer
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer


@cache
def python_aliases():
    """(code aliases, console aliases): every fence language that renders as Python."""
    code, console = set(), set()
    for name, aliases, _, _ in pygments.lexers.get_all_lexers(plugins=True):
        lexer = pygments.lexers.find_lexer_class(name)
        if lexer is None:
            continue
        if issubclass(lexer, (PythonLexer, Python2Lexer)):
            code.update(a.lower() for a in aliases)
        elif issubclass(lexer, PythonConsoleLexer) or (
                "python" in name.lower() and lexer.__name__.endswith("ConsoleLexer")):
            console.update(a.lower() for a in aliases)
    return frozenset(code), frozenset(console)


def info_language(info):
    """The language a fence's info string names, as pymdownx.superfences reads it."""
    words = info.strip().strip("{}").split()
    return words[0].lstrip(".").lower() if words else ""


def renders_as_python(info):
    code, console = python_aliases()
    return info_language(info) in code | console


def is_console(language):
    return language.lower() in python_aliases()[1]


def _info_pattern():
    code, console = python_aliases()
    names = "|".join(re.escape(a) for a in sorted(code | console, key=len, reverse=True))
    return re.compile(r"[ \t]*\{?[ \t]*\.?(?P<language>" + names + r")(?=[\s}]|$)[^\n]*$\n",
                      re.MULTILINE | re.IGNORECASE)


def python_fence_lexer():
    """The lexer of every visible Python block (used by the harness and the guard)."""
    return RawFencedCodeBlockLexer(info_pattern=_info_pattern(),
                                   mapping={"language": "language", "source": "source"})


def any_fence_lexer():
    """Every fenced block, whatever its language (the guard compares the two)."""
    return RawFencedCodeBlockLexer(info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE),
                                   mapping={"info": "info", "source": "source"})


def invisible_block_lexer():
    return DirectiveInHTMLCommentLexer(directive="invisible-code-block", arguments="python",
                                       mapping={"source": "source"})


def python_regions(document):
    """(region, kind) of every block the harness runs, in page order; kind is 'fence',
    'invisible' (setup the reader does not see) or 'doctest' (starts with '>>>', or a
    console fence)."""
    found = []
    for lexer, kind in ((python_fence_lexer(), "fence"), (invisible_block_lexer(), "invisible")):
        for region in lexer(document):
            console = is_console(region.lexemes.get("language") or "")
            doctest = console or region.lexemes["source"].lstrip().startswith(">>>")
            found.append((region, "doctest" if doctest else kind))
    return sorted(found, key=lambda pair: pair[0].start)


def python_fences(document):
    """Every fenced block whose language renders as Python, found whatever its spelling
    (the guard holds these against what Sybil collects; the build stamps their pages)."""
    return [region for region in any_fence_lexer()(document)
            if renders_as_python(region.lexemes["info"])]


# --- skip markers -----------------------------------------------------------------------
# Sybil's own lexer for them, so every spelling Sybil honours ("<!-- skip: next -->",
# "<!---skip next-->", "<!-- ; skip: start -->" ...) is seen here too.

def skip_lexer():
    return DirectiveInHTMLCommentLexer(directive="skip")


SKIP_ACTION = re.compile(r"\s*(?P<action>\w+)(?:\s+(?P<rest>.+?))?\s*$", re.DOTALL)


def skip_problem(arguments):
    """Why a skip marker is refused, or None. Every skip must say why, in a reason."""
    match = SKIP_ACTION.match(arguments or "")
    if match is None:
        return f"malformed skip arguments {arguments!r}"
    action, rest = match["action"], (match["rest"] or "").strip()
    if action == "end":
        return None
    if action not in ("next", "start"):
        return f"unknown skip action {action!r}"
    if not rest:
        return "a skip without a reason runs nothing and passes: give one, e.g. " \
               "'skip: next if(NO_GPU, reason=\"needs a GPU\")'"
    if rest.startswith("if") and not re.search(r"\breason\s*=\s*['\"]\S", rest):
        return "a conditional skip needs reason=\"...\" (shown in the test report)"
    return None


# --- output lines -------------------------------------------------------------------------

OUTPUT_MARK = re.compile(r"^(?P<indent>[ \t]*)#>(?P<rest>.*)$")


def output_text(line):
    """The output a '#>' line shows; None for other lines. '#>x' (no space) is refused."""
    match = OUTPUT_MARK.match(line)
    if match is None:
        return None
    rest = match["rest"]
    if rest and not rest.startswith(" "):
        raise ValueError(f"'#>' must be followed by a space or end the line: {line.strip()!r}")
    return rest[1:]


# --- numbers the build fills in -------------------------------------------------------------
# '{{ improved.final.test.accuracy | pct }}': the site hook replaces it with a number from
# plots/. Inside a code block the reader would see a number where the harness ran braces.
BUILD_TIME_NUMBER = re.compile(r"\{\{\s*\w+\.[\w.]+\s*(?:\|\s*\w+\s*)?\}\}")


def build_time_number(source):
    """0-based index of the first line of `source` that holds a build-time number, or None."""
    for index, line in enumerate(source.splitlines()):
        if BUILD_TIME_NUMBER.search(line):
            return index
    return None
