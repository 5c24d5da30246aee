"""Pytest plugin that turns every Python block in docs/*.md into a test.

Loaded by pyproject.toml (``-p tests.doc_harness``). The conventions it enforces
are the ones README.md documents under "Writing a chapter":

* every fence that renders as Python (```python, ```py, ```python title="x",
  ``{ .python }``, indented inside admonitions and tabs) is executed, in page
  order, in one namespace per page;
* a block's printed output must be shown under it as ``#>`` lines, and is
  compared with doctest's NUMBER and ELLIPSIS rules; a block that prints
  something the page does not show fails;
* blocks starting with ``>>>`` (or fenced as ``pycon``) are doctests;
* ``<!-- invisible-code-block: python -->`` runs setup the reader does not see;
* ``<!-- skip: next if(NO_GPU, reason="...") -->`` skips a GPU-only block;
* a block that only includes a section of an example file
  (``--8<-- "examples/pkg/mod.py:section"``) imports that module, and the module
  must be imported by a test under tests/ (one hop from page to test).
"""
import datetime
import doctest
import importlib
import io
import json
import os
import re
from contextlib import redirect_stdout
from pathlib import Path

from sybil import Region, Sybil
from sybil.evaluators.python import pad
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.evaluators.doctest import NUMBER, DocTestEvaluator, OutputChecker
from sybil.parsers.abstract.lexers import LexerCollection
from sybil.parsers.markdown import ClearNamespaceParser, SkipParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TESTED_RECORD = ROOT / ".cache" / "tested-with.json"

# Every info string Pygments renders as Python (its aliases for the Python and
# Python-console lexers), bare or followed by Material's attributes.
PYTHON_LANGUAGES = r"(?:python3?|py3?|pyi|sage|bazel|starlark|pycon|python-console|ipython3?)"
PYTHON_INFO = re.compile(
    r"[ \t]*\{?[ \t]*\.?(?P<language>" + PYTHON_LANGUAGES + r")(?=[\s}]|$)[^\n]*$\n",
    re.MULTILINE,
)
OUTPUT_LINE = re.compile(r"^[ \t]*#>(?: (?P<text>.*))?$")
INCLUDE_LINE = re.compile(r'^[ \t]*--8<--[ \t]+"(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"[ \t]*$')
# Keras' progress bars ("Epoch 1/3", "12/12 ━━━━ 0s 5ms/step - loss: ..."): run-dependent
# timings, never shown on a page. summary() tables also draw with ━, so match the step count.
PROGRESS_LINE = re.compile(r"^\s*(\d+/\d+ .*━|Epoch \d+/\d+$)")
CHECK_FLAGS = NUMBER | doctest.ELLIPSIS


class OutputMismatch(AssertionError):
    pass


def expected_output(source):
    return "\n".join(m.group("text") or "" for line in source.splitlines()
                     if (m := OUTPUT_LINE.match(line)))


def clean_output(text):
    lines = [line.rstrip() for line in text.replace("\r", "\n").splitlines()
             if not PROGRESS_LINE.match(line)]
    return "\n".join(lines).strip("\n")


def compare_output(example, want, got):
    """Fail with the page's location, the expected and the actual output."""
    where = f"{os.path.relpath(example.path, ROOT)}:{example.line}"
    if not want and got:
        raise OutputMismatch(
            f"{where}: the block prints output the page does not show; add it as "
            f"'#>' lines under the code.\nactual output:\n{got}")
    if want and not OutputChecker().check_output(want + "\n", got + "\n", CHECK_FLAGS):
        raise OutputMismatch(
            f"{where}: printed output differs from the page.\n"
            f"expected (from the '#>' lines):\n{want}\nactual:\n{got or '<nothing>'}")


def section_text(path, section):
    text = (ROOT / path).read_text()
    if section is None:
        return text
    match = re.search(rf"--8<-- \[start:{section}\][^\n]*\n(.*?)^[^\n]*--8<-- \[end:{section}\]",
                      text, re.DOTALL | re.MULTILINE)
    if match is None:
        raise AssertionError(f"{path} has no section '{section}' "
                             f"(mark it with '# --8<-- [start:{section}]' ... '[end:{section}]')")
    return match.group(1)


def module_is_tested(module):
    """True when some test under tests/ imports `module` directly."""
    package, _, name = module.rpartition(".")
    patterns = [rf"\bimport {re.escape(module)}\b", rf"\bfrom {re.escape(module)} import\b",
                rf"\bfrom {re.escape(package)} import [^\n]*\b{name}\b"]
    return any(re.search(p, test.read_text())
               for test in (ROOT / "tests").glob("test_*.py") for p in patterns)


def evaluate_include(example, includes):
    for path, section in includes:
        if not section_text(path, section).strip():
            raise AssertionError(f"{path}:{section} is empty")
        module = path.removesuffix(".py").replace("/", ".")
        importlib.import_module(module)  # the included code itself runs here
        if not module_is_tested(module):
            raise AssertionError(f"{path} is shown on a page but no test in tests/ imports "
                                 f"{module}: add one")


def evaluate_block(example):
    """Run one Python block and check what it printed against its '#>' lines."""
    __tracebackhide__ = True
    source = str(example.parsed)
    lines = [line for line in source.splitlines() if line.strip()]
    includes = [(m["path"], m["section"]) for line in lines if (m := INCLUDE_LINE.match(line))]
    if includes:
        if len(includes) != len(lines):
            raise AssertionError("a block either includes example files or holds code, not both")
        return evaluate_include(example, includes)
    code = compile(pad(source, example.line + example.parsed.line_offset), example.path, "exec")
    captured = io.StringIO()
    with redirect_stdout(captured):
        exec(code, example.namespace)
    example.namespace.pop("__builtins__", None)
    compare_output(example, expected_output(source), clean_output(captured.getvalue()))


class PythonBlockParser:
    """Finds every Python block (visible or invisible) and routes it to its evaluator."""

    def __init__(self):
        self.lexers = LexerCollection([
            RawFencedCodeBlockLexer(info_pattern=PYTHON_INFO,
                                    mapping={"language": "language", "source": "source"}),
            DirectiveInHTMLCommentLexer(directive="invisible-code-block", arguments="python",
                                        mapping={"source": "source"}),
        ])
        self.doctests = DocTestStringParser(DocTestEvaluator(CHECK_FLAGS))

    def __call__(self, document):
        for region in self.lexers(document):
            source = region.lexemes["source"]
            if source.lstrip().startswith(">>>") or region.lexemes.get("language") == "pycon":
                for doctest_region in self.doctests(source, document.path):
                    doctest_region.adjust(region, source)
                    yield doctest_region
            else:
                yield Region(region.start, region.end, source, evaluate_block)


def setup_namespace(namespace):
    """What every page's namespace starts with: only names the skip conditions use."""
    import tensorflow as tf

    namespace["NO_GPU"] = not tf.config.list_physical_devices("GPU")


def make_sybil(path=DOCS):
    return Sybil(
        parsers=[PythonBlockParser(), SkipParser(), ClearNamespaceParser()],
        patterns=["*.md"],
        path=str(path),
        setup=setup_namespace,
    )


DOCS_SYBIL = make_sybil()
pytest_collect_file = DOCS_SYBIL.pytest()


# --- the record behind each page's "tested with" stamp -------------------------------------

_outcomes = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.startswith("docs/") and path.endswith(".md"):
        page = _outcomes.setdefault(path.removeprefix("docs/"), {"passed": 0, "failed": 0,
                                                                 "skipped": 0})
        if report.failed:
            page["failed"] += 1
        elif report.when == "call" and report.passed:
            page["passed"] += 1
        elif report.skipped:
            page["skipped"] += 1


def pytest_sessionfinish(session, exitstatus):
    """Record the pages whose every block passed; the site build turns this into stamps."""
    passed = {page: counts for page, counts in _outcomes.items()
              if counts["passed"] and not counts["failed"]}
    if not passed:
        return
    import keras
    import tensorflow as tf

    record = json.loads(TESTED_RECORD.read_text()) if TESTED_RECORD.exists() else {}
    stamp = {"tensorflow": tf.__version__, "keras": keras.__version__,
             "date": datetime.date.today().isoformat()}
    for page, counts in passed.items():
        record[page] = {**stamp, **counts}
    for page in _outcomes.keys() - passed.keys():
        record.pop(page, None)  # a page that failed loses its stamp
    TESTED_RECORD.parent.mkdir(exist_ok=True)
    tmp = TESTED_RECORD.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    tmp.replace(TESTED_RECORD)
