"""Pytest plugin that turns every Python block in docs/*.md into a test.

Loaded by pyproject.toml (``-p tests.doc_harness``). The conventions live in
``tested_docs`` (README.md, "Writing a chapter", documents them); this module only
wires them into pytest and Sybil:

* every block runs in page order, one namespace per page, statement by statement,
  and each statement's output is checked against the ``#>`` lines under it;
* a block that draws a figure must show it, and the stored PNG must match;
* ``python -m pytest docs --update-outputs`` rewrites ``#>`` lines and figures from
  real execution instead of failing, and prints what it changed;
* the run leaves a record (with each page's digest) behind the build's stamps.
"""
import datetime
import gc
import importlib
import os
import re
import sys
import tempfile
import traceback
import unittest
from pathlib import Path

import pytest
from sybil import Region, Sybil
from sybil.integration.pytest import SybilItem
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.abstract.skip import SKIP_ARGUMENTS_PATTERN
from sybil.parsers.markdown import ClearNamespaceParser, SkipParser

from tested_docs import (DOCS, ROOT, blocks, figures, includes, outputs, record, replace_file,
                         session)
from tested_docs.outputs import CHECK_FLAGS, OutputMismatch
from tested_docs.session import remember_logging

__all__ = ["DOCS", "DOCS_SYBIL", "ROOT", "OutputMismatch", "make_sybil"]

# Set by pytest_configure; tests of the harness itself may flip it.
UPDATE = {"on": False}
# Pending rewrites, per page: {path: [(first index, end index, new lines)]}, 0-based.
_edits = {}
_figures_written = []


def pytest_addoption(parser):
    parser.addoption("--update-outputs", action="store_true",
                     help="rewrite the '#>' lines and figures of the pages run from real "
                          "execution instead of failing (then read the diff)")


def pytest_configure(config):
    UPDATE["on"] = config.getoption("--update-outputs")
    if UPDATE["on"] and config.getoption("numprocesses", None):
        # Workers would rewrite nothing the controller could report: refuse, don't pretend.
        raise pytest.UsageError("--update-outputs rewrites pages from this one process: "
                                "run it without -n (make update-outputs does)")
    os.environ.setdefault("MPLBACKEND", "Agg")
    # The case study trains on 240 random images here, not on a download.
    os.environ.setdefault("CIFAR10_STAND_IN", "1")
    import matplotlib.pyplot as plt

    # A page's plt.show() is for the reader's screen; here the figure is checked instead.
    plt.show = lambda *args, **kwargs: None
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        return  # the controller of an xdist run collects and runs nothing
    # Before collection: test modules may import TensorFlow, and while pytest collects,
    # its log capture holds the root logger, so TensorFlow would give its own logger no
    # handler (it adds one only where the root has none, as in a reader's session).
    with start_up_log_kept_back():
        configure_devices_as_a_fresh_session_would()
    outputs.remember_terminal_streams()
    remember_logging()


_frozen = {"path": None, "after_full": 0}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Keep the garbage collector off what exists before each file and each test, as
    around a page (tested_docs/session.py): TensorFlow, Keras and the modules make some
    450,000 objects that every full collection would walk again, dozens of times per run.

    Before each test (and each page), the collection walks only what is not frozen: what
    the test before it left. A page's blocks are not frozen one by one: the page's objects
    stay the collector's, as in a reader's session. What is frozen is never collected, so
    at a new file, once the frozen objects have doubled since the last full collection,
    everything goes back to the collector for one: a handful per run, whose cost grows
    with the process as the pages' objects pile up (workers peak at 1 to 2 GB here).
    With a quarter instead of a doubling, CPython's own threshold for full collections,
    they took 16.5 s of a run's CPU time instead of 9.3 s."""
    new_file = item.path != _frozen["path"]
    _frozen["path"] = item.path
    if new_file and gc.get_freeze_count() > 2 * _frozen["after_full"]:
        gc.unfreeze()
        session.freeze_what_exists()
        _frozen["after_full"] = gc.get_freeze_count()
    elif new_file or not isinstance(item, SybilItem):
        session.freeze_what_exists()


def pytest_unconfigure(config):
    """Every result is reported and written: skip the interpreter's last garbage
    collection, which walks the millions of objects that TensorFlow, Keras and the pages
    left (seconds at the end of every run) only to free memory the system takes back."""
    gc.freeze()


class start_up_log_kept_back:
    """TensorFlow's C++ start-up lines (oneDNN, cpu_feature_guard, absl) go to file
    descriptor 2 while it loads; a test report is no place for them. They are shown only
    if loading fails."""

    def __enter__(self):
        sys.stderr.flush()
        self.log = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.log.fileno(), 2)

    def __exit__(self, kind, value, tb):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        if kind is not None:
            self.log.seek(0)
            sys.stderr.write(self.log.read().decode("utf-8", "replace"))
        self.log.close()


def configure_devices_as_a_fresh_session_would():
    """Give the CPU the one logical device TensorFlow creates anyway, before anything starts
    TensorFlow's runtime in this process. gpu.md does the same as its first device setting
    (to show the error memory growth then raises); in a reader's fresh session that call
    comes first, here other pages may have started the runtime already, and repeating an
    identical configuration is allowed where changing one is not."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()])


def where(example):
    return os.path.relpath(example.path, ROOT)


def first_source_index(example):
    """0-based page line of a fenced block's first source line."""
    return example.document.text.count("\n", 0, example.region.start) + 1


# --- evaluating one block -----------------------------------------------------------------

def module_is_tested(module):
    """True when some test under tests/ imports `module` directly."""
    package, _, name = module.rpartition(".")
    patterns = [rf"\bimport {re.escape(module)}\b", rf"\bfrom {re.escape(module)} import\b",
                rf"\bfrom {re.escape(package)} import [^\n]*\b{name}\b"]
    return any(re.search(p, test.read_text())
               for test in (ROOT / "tests").glob("test_*.py") for p in patterns)


def evaluate_include(shown):
    for path, section in shown:
        try:
            text = includes.section_text(path, section)
        except (OSError, ValueError) as err:
            raise AssertionError(str(err)) from None
        if not text.strip():
            raise AssertionError(f"{path}:{section} is empty")
        if shows := includes.output_lines(text):
            raise AssertionError(f"{path}:{section}: '#>' line {shows[0]!r} in an included "
                                 f"section: its output is never checked; show output on "
                                 f"the page, under a block that prints it")
        module = includes.module_name(path)
        importlib.import_module(module)  # the included code itself runs here
        if not module_is_tested(module):
            raise AssertionError(f"{path} is shown on a page but no test in tests/ imports "
                                 f"{module}: add one")


def evaluate_block(example):
    """Run one Python block; check its output per statement and the figures it draws."""
    __tracebackhide__ = True
    source = str(example.parsed)
    lines = [line for line in source.splitlines() if line.strip()]
    shown = includes.includes(source)
    if shown:
        if len(shown) != len(lines):
            raise AssertionError("a block either includes example files or holds code, not both")
        return evaluate_include(shown)
    try:
        outputs.groups_of(source)
    except ValueError as err:
        raise OutputMismatch(f"{where(example)}:{example.line}: {err}") from None
    if (braces := blocks.build_time_number(source)) is not None:
        raise OutputMismatch(
            f"{where(example)}:{first_source_index(example) + 1 + braces}: '{{{{ ... }}}}' "
            f"in a code block: the site would show a filled-in number, not the code that ran")
    first = first_source_index(example)
    fence = example.document.text.splitlines()[first - 1]
    prefix = fence[:len(fence) - len(fence.lstrip())]  # an admonition's or a tab's indent
    figures.close_all()
    statements = outputs.run(source, example.path, first + 1, example.namespace)
    if UPDATE["on"]:
        edits = outputs.rewrite(source, statements)
        if edits:
            _edits.setdefault(example.path, []).extend(
                (first + a - 1, first + b, [prefix + line for line in new])
                for a, b, new in edits)
    else:
        outputs.check(source, statements, (first + 1, where(example)))
    check_figures(example)


def check_figures(example):
    __tracebackhide__ = True
    drawn = figures.open_figures()
    links = figures.links_after(example.document.text, example.region.end)
    page = f"{where(example)}:{example.line}"
    try:
        if drawn and len(links) != len(drawn):
            raise OutputMismatch(
                f"{page}: the block draws {len(drawn)} figure(s) but {len(links)} image "
                f"link(s) follow it; put '![what it shows](figures/<page>/<name>.png)' right "
                f"under the block, one per figure, then run with --update-outputs")
        if links and not drawn:
            raise OutputMismatch(f"{page}: the image link at line {links[0][0]} shows a "
                                 f"figure, but the block above it draws none")
        for (line, src), figure in zip(links, drawn):
            stored = Path(example.path).parent / src
            data = figures.png_bytes(figure)
            problem = figures.difference(stored, data)
            if problem is None:
                continue
            if UPDATE["on"]:
                replace_file(stored, data)
                _figures_written.append(f"{os.path.relpath(stored, ROOT)} (line {line})")
            else:
                raise OutputMismatch(f"{where(example)}:{line}: figure {src}: {problem}; "
                                     f"redraw it with --update-outputs")
    finally:
        figures.close_all()


# --- parsers ------------------------------------------------------------------------------

class PythonBlockParser:
    """Routes every Python block (visible or invisible) to its evaluator."""

    def __init__(self):
        self.doctests = DocTestStringParser(DocTestEvaluator(CHECK_FLAGS))

    def __call__(self, document):
        for region, kind in blocks.python_regions(document):
            source = region.lexemes["source"]
            if kind == "doctest":
                for doctest_region in self.doctests(source, document.path):
                    doctest_region.adjust(region, source)
                    yield doctest_region
            else:
                yield Region(region.start, region.end, source, evaluate_block)


class ReasonedSkipParser(SkipParser):
    """Sybil's skip markers, in every spelling Sybil honours; one without a reason fails."""

    def __call__(self, document):
        for lexed in self.lexers(document):
            arguments = lexed.lexemes["arguments"]
            problem = blocks.skip_problem(arguments)
            if problem is not None:
                line = document.text.count("\n", 0, lexed.start) + 1
                message = f"{os.path.relpath(document.path, ROOT)}:{line}: {problem}"
                yield Region(lexed.start, lexed.end, message, refuse)
            else:
                match = SKIP_ARGUMENTS_PATTERN.match(arguments)
                yield Region(lexed.start, lexed.end, match.groups(), self.skipper)


def refuse(example):
    raise AssertionError(example.parsed)


def setup_namespace(namespace):
    """What every page's namespace starts with: only names the skip conditions use.

    A page runs in a process shared with other pages; it starts from what a reader's fresh
    session has: no Keras name counters, precision policy or other global state left by
    earlier pages, no global random seed set by one, and no warning silenced because an
    earlier page already triggered it once."""
    for module in list(sys.modules.values()):
        registry = getattr(module, "__warningregistry__", None)
        if isinstance(registry, dict):
            registry.clear()
    # State exists only where something imported them (pytest_configure imports TensorFlow
    # before any test; Keras comes with the first page or test that imports it).
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        # Without its own gc.collect(): freeze_what_exists below runs the one full
        # collection a page start needs (each walks every object in the process).
        keras.backend.clear_session(free_memory=False)
        keras.mixed_precision.set_global_policy("float32")  # not the precision a page chose
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        tf.random.set_seed(None)  # no global seed: seeded ops give what they give a reader
        namespace["NO_GPU"] = not tf.config.list_physical_devices("GPU")
    # A reader's script, notebook or IPython runs as __main__; without a module name,
    # AutoGraph cannot find a lambda's module and warns that it runs it unconverted.
    namespace["__name__"] = "__main__"
    session.restore_logging()
    session.fresh_retracing_counts()
    _froze_for_page[id(namespace)] = session.freeze_what_exists()
    _builtins_before_page[id(namespace)] = session.builtins_now()


_builtins_before_page = {}
_froze_for_page = {}


def end_session(namespace):
    """What a page changed in the process (builtins, logging) does not reach the next."""
    saved = _builtins_before_page.pop(id(namespace), None)
    if saved is not None:
        session.restore_builtins(saved)
    session.restore_logging()
    session.unfreeze(_froze_for_page.pop(id(namespace), True))


def make_sybil(path=DOCS):
    return Sybil(
        parsers=[PythonBlockParser(), ReasonedSkipParser(), ClearNamespaceParser()],
        patterns=["*.md"],
        path=str(path),
        setup=setup_namespace,
        teardown=end_session,
    )


DOCS_SYBIL = make_sybil()
pytest_collect_file = DOCS_SYBIL.pytest()


# --- failure reports that fit on a screen ------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing block is reported as the page, its line and what went wrong, not as the
    harness's and Sybil's source: the report's first line is what `-ra` summarises."""
    report = yield
    example = getattr(item, "example", None)
    if call.excinfo is None or example is None or not report.failed \
            or example.region.evaluator not in (evaluate_block, refuse):
        return report
    error = call.excinfo.value
    if isinstance(error, AssertionError) and not page_frames(error, example):
        report.longrepr = str(error)  # the harness's own verdict, already a short report
    else:
        report.longrepr = page_traceback(error, example)
    report.sections = []  # TensorFlow's C++ log, captured along the way, is noise here
    return report


def page_frames(error, example):
    return [frame for frame in traceback.extract_tb(error.__traceback__)
            if frame.filename == example.path]


def page_traceback(error, example):
    """The exception a page's code raised, with the page's frames and the last one."""
    frames = traceback.extract_tb(error.__traceback__)
    shown = [f for f in frames if f.filename == example.path] or frames[-1:]
    if frames and frames[-1] is not shown[-1]:
        shown.append(frames[-1])
    last = shown[0]
    where_ = (f"{os.path.relpath(last.filename, ROOT)}:{last.lineno}"
              if last.filename == example.path else f"{where(example)}:{example.line}")
    message = "".join(traceback.format_exception_only(error)).strip().splitlines()
    lines = [f"{where_}: {message[0]}"]
    for frame in shown:
        lines.append(f"  {os.path.relpath(frame.filename, ROOT)}:{frame.lineno} in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line}")
    lines += message[1:8]
    lines.append(f"see this page alone:  make test-page PAGE={where(example)}")
    return "\n".join(lines[:outputs.REPORT_LINES])


# --- --update-outputs: apply the rewrites -------------------------------------------------

def apply_edits():
    """Rewrite each page's '#>' lines in place; return 'page: lines' descriptions."""
    changed = []
    for path, edits in sorted(_edits.items()):
        lines = Path(path).read_text().splitlines(keepends=True)
        numbers = []
        for start, end, new in sorted(edits, reverse=True):
            lines[start:end] = [line + "\n" for line in new]
            numbers.append(start + 1)
        replace_file(Path(path), "".join(lines).encode())
        changed.append(f"{os.path.relpath(path, ROOT)}: '#>' lines at "
                       + ", ".join(map(str, sorted(numbers))))
    _edits.clear()
    return changed


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not UPDATE["on"]:
        return
    changed = apply_edits() + [f"redrawn: {name}" for name in _figures_written]
    terminalreporter.section("--update-outputs")
    for line in changed or ["nothing to change: every '#>' line and figure matches"]:
        terminalreporter.write_line(line)


# --- the record behind each page's stamp --------------------------------------------------

_outcomes = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if not (path.startswith("docs/") and path.endswith(".md")):
        return
    page = _outcomes.setdefault(path.removeprefix("docs/"),
                                {"passed": 0, "failed": 0, "skipped": 0, "skip_reasons": []})
    if report.failed:
        page["failed"] += 1
    elif report.when == "call" and report.passed:
        page["passed"] += 1
    elif report.skipped:
        page["skipped"] += 1
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason not in page["skip_reasons"]:
            page["skip_reasons"].append(reason)


_worker_versions = {}


def versions_in_this_process():
    """{"tensorflow": ..., "keras": ...} as the pages imported them here, if they did."""
    return {name: sys.modules[name].__version__ for name in ("tensorflow", "keras")
            if name in sys.modules}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """An xdist worker's versions reach the controller, which never imports TensorFlow."""
    _worker_versions.update(getattr(node, "workeroutput", {}).get("versions", {}))


def pytest_sessionfinish(session, exitstatus):
    """Record each page whose blocks all passed or skipped, with its digest."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["versions"] = versions_in_this_process()
        return  # xdist workers report to the controller
    if UPDATE["on"] or not _outcomes:
        return  # a rewriting run proves nothing
    if os.environ.get("NO_TEST_RECORD"):
        return  # a compatibility run (tested_docs.compat) keeps its own record
    versions = {**_worker_versions, **versions_in_this_process()}
    if set(versions) != {"tensorflow", "keras"}:
        import keras
        import tensorflow as tf

        versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    runs = record.load()
    stamp = {**versions, "date": datetime.date.today().isoformat()}
    for page, counts in _outcomes.items():
        if counts["failed"] or not (counts["passed"] or counts["skipped"]):
            runs.pop(page, None)  # a page that failed loses its stamp
        else:
            runs[page] = {**stamp, **counts, "digest": record.page_digest(DOCS / page)}
    record.save(runs)


# Tests of the harness evaluate pages outside pytest's collection and catch SkipTest.
SkipTest = unittest.SkipTest
