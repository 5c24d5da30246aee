"""Run a block statement by statement and hold each output against the '#>' lines under it.

A reader trusts the line right under the code, so the rule is per statement: the output
of a top-level statement (a loop or a ``with`` counts as one) must be shown as ``#>``
lines after it and before the next statement, and ``#>`` lines must sit under a
statement that printed them. "Output" is what the reader's terminal would show from
Python: everything written to file descriptor 1 (``print``, ``os.write(1, ...)``, C
code), to ``sys.stderr``, the warnings the block emits (as ``Category: message``) and
the ``logging`` records its handlers print (``WARNING:tensorflow:...``), with a ``\\r``
rendered as a terminal renders it (the text after it overwrites the line). Keras'
progress bars are left out: their timings differ on every run. A statement must not
leave a thread running (what it prints later would land under another statement).

Numbers match to the digits a page writes (doctest's NUMBER) and ``...`` matches any
text (ELLIPSIS). ``rewrite`` produces the lines a block should show, keeping every
existing line that still matches.
"""
import ast
import doctest
import io
import linecache
import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

from sybil.evaluators.doctest import NUMBER, OutputChecker

from tested_docs.blocks import output_text

CHECK_FLAGS = NUMBER | doctest.ELLIPSIS
# What a failure report may hold: it must fit on a screen.
REPORT_LINES = 25
SHOWN_LINES = 5  # output lines shown on each side of a mismatch


class OutputMismatch(AssertionError):
    """A block's output and its '#>' lines disagree. Its text is the whole report a
    contributor sees (at most REPORT_LINES lines); the first line, which pytest's short
    summary shows, names the page line and the first line that differs."""


@dataclass
class Group:
    """Consecutive '#>' lines: block-relative line numbers (1-based), text and indent."""
    start: int
    end: int
    lines: list = field(default_factory=list)
    indent: str = ""

    @property
    def text(self):
        return "\n".join(self.lines)


@dataclass
class Statement:
    start: int
    end: int
    output: str = ""
    running: list = field(default_factory=list)  # names of threads it left running


def groups_of(source):
    groups = []
    for number, line in enumerate(source.splitlines(), 1):
        text = output_text(line)
        if text is None:
            continue
        if groups and groups[-1].end == number - 1:
            groups[-1].end = number
            groups[-1].lines.append(text)
        else:
            indent = line[:len(line) - len(line.lstrip())]
            groups.append(Group(number, number, [text], indent))
    return groups


def terminal_line(line):
    """A line as a terminal shows it: text after a carriage return overwrites the start."""
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part):]
    return shown


def clean(text):
    lines = [terminal_line(line).rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def matches(want, got):
    return OutputChecker().check_output(want + "\n", got + "\n", CHECK_FLAGS)


# --- capturing what a reader's terminal shows ---------------------------------------------

class _Terminal(io.TextIOWrapper):
    """The stream a statement's sys.stdout, sys.stderr and log handlers write to."""


# Streams that stand for the reader's terminal when a log handler holds one: the process's
# own, and those a test runner had installed when the harness started (a handler made
# then, such as TensorFlow's, holds one of them).
TERMINAL_STREAMS = []


def remember_terminal_streams():
    for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
        if not any(stream is known for known in TERMINAL_STREAMS):
            TERMINAL_STREAMS.append(stream)


def _writes_to_terminal(stream):
    return isinstance(stream, _Terminal) or any(stream is known for known in TERMINAL_STREAMS)


def _is_test_runner_handler(handler):
    return type(handler).__module__.startswith("_pytest")


def _loggers():
    root = logging.getLogger()
    return [root] + [logger for logger in list(logging.Logger.manager.loggerDict.values())
                     if isinstance(logger, logging.Logger)]


@contextmanager
def logging_to(stream):
    """Log records reach the handlers a reader's session has, which write to `stream`.

    The test runner's own capture handlers are set aside: with one on the root logger,
    ``logging.warning`` would skip the handler Python adds for a reader, and TensorFlow's
    and absl's records would be swallowed instead of shown."""
    root = logging.getLogger()
    runner = [h for h in root.handlers if _is_test_runner_handler(h)]
    for handler in runner:
        root.removeHandler(handler)
    moved = []
    for logger in _loggers():
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) \
                    and not isinstance(handler, logging.FileHandler) \
                    and _writes_to_terminal(handler.stream):
                moved.append((handler, handler.stream))
                handler.stream = stream
    try:
        yield
    finally:
        for handler, old in moved:
            handler.stream = old
        for handler in runner:
            root.addHandler(handler)


class _WithoutProgress:
    """Keras' io_utils as its progress bar and progress logger see it: print_msg drops
    their lines (only theirs: any other text, however bar-like, is output)."""

    def __init__(self, io_utils):
        self._io_utils = io_utils

    def __getattr__(self, name):
        return getattr(self._io_utils, name)

    @staticmethod
    def print_msg(message, line_break=True):
        pass


PROGRESS_MODULES = ("keras.src.utils.progbar", "keras.src.callbacks.progbar_logger")


@contextmanager
def keras_progress_dropped():
    patched = []
    for name in PROGRESS_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "io_utils"):
            patched.append((module, module.io_utils))
            module.io_utils = _WithoutProgress(module.io_utils)
    try:
        yield
    finally:
        for module, io_utils in patched:
            module.io_utils = io_utils


@contextmanager
def captured():
    """Collect fd-1 output, sys.stdout, sys.stderr, warnings and log records, in the order
    written."""
    sys.stdout.flush()
    sys.stderr.flush()
    result = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1)
        os.dup2(sink.fileno(), 1)
        # Two unbuffered streams onto the same descriptor keep the order of what is
        # written, and stay two objects: tf.print(output_stream=sys.stdout) tells them apart.
        out, err = (_Terminal(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                              errors="backslashreplace", write_through=True)
                    for _ in range(2))
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            with warnings.catch_warnings(), logging_to(err), keras_progress_dropped():
                warnings.showwarning = (lambda message, category, *args, **kwargs:
                                        err.write(f"{category.__name__}: {message}\n"))
                yield result
        finally:
            sys.stdout, sys.stderr = old
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            result.append(sink.read().decode("utf-8", "backslashreplace"))


def run(source, filename, first_line, namespace):
    """Execute a block's top-level statements one by one; return them with their output.

    ``first_line`` is the page line of the block's first source line, so tracebacks
    and messages name the page.
    """
    offset = first_line - 1
    tree = ast.parse("\n" * offset + source, filename)
    show_as_python(filename, first_line, source, namespace)
    statements = []
    for node in tree.body:
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        before = set(threading.enumerate())
        with captured() as out:
            exec(code, namespace)
        running = [t.name for t in threading.enumerate()
                   if t not in before and t.is_alive() and not t.daemon]
        statements.append(Statement(node.lineno - offset, node.end_lineno - offset,
                                    clean(out[0]), running))
    namespace.pop("__builtins__", None)
    return statements


def show_as_python(filename, first_line, source, namespace):
    """Let inspect, tracebacks and AutoGraph read the page as a reader's Python file: for
    them the page holds the blocks run so far at their page lines (dedented, as they ran),
    and blank lines where it holds prose. Read from the Markdown itself, a lambda's line
    runs on into fences and prose, and AutoGraph warns that it cannot convert it."""
    entry = linecache.cache.get(filename)
    lines = []
    if _views.get(filename) == id(namespace) and entry and len(entry) == 4:
        lines = list(entry[2])
    _views[filename] = id(namespace)  # a new run of the page starts from blank lines
    block = [line + "\n" for line in source.split("\n")]
    end = first_line - 1 + len(block)
    lines += ["\n"] * (end - len(lines))
    lines[first_line - 1:end] = block
    # No modification time: linecache.checkcache keeps the entry instead of re-reading.
    linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)


_views = {}  # page file: id of the namespace its linecache view was built for


def owner(group, statements):
    """Index of the statement a group shows: the last one that starts above it."""
    found = None
    for index, statement in enumerate(statements):
        if statement.start < group.start:
            found = index
    return found


def shown_by(statements, groups):
    """{statement index: [groups]} and the groups above every statement."""
    shown, orphans = {}, []
    for group in groups:
        index = owner(group, statements)
        if index is None:
            orphans.append(group)
        else:
            shown.setdefault(index, []).append(group)
    return shown, orphans


def check(source, statements, where):
    """Raise OutputMismatch, with a report that fits on a screen, at the first statement
    whose output and '#>' lines disagree."""
    __tracebackhide__ = True
    base, path = where
    lines = source.splitlines()
    groups = groups_of(source)
    shown, orphans = shown_by(statements, groups)
    for group in orphans:
        raise OutputMismatch(f"{path}:{base + group.start - 1}: '#>' lines above the first "
                             f"statement of the block show output nothing printed")
    for index, statement in enumerate(statements):
        mine = shown.get(index, [])
        line = base + statement.start - 1
        report = Report(path, line, lines[statement.start - 1:statement.end])
        if statement.running:
            raise OutputMismatch(report.text(
                f"the statement here leaves thread {statement.running[0]!r} running, so what "
                f"it prints later would land under another statement: wait for it (join it) "
                f"in the same statement", rewritable=False))
        shown_lines = [(base + g.start - 1 + i, text) for g in mine
                       for i, text in enumerate(g.lines)]
        if not mine and statement.output:
            first = statement.output.split("\n")[0]
            raise OutputMismatch(report.text(
                f"prints {first!r}, not shown right under it: add '#>' lines after the "
                f"statement (before the next one)", got=statement.output))
        if mine and not statement.output:
            at, first = shown_lines[0]
            raise OutputMismatch(report.text(
                f"'#> {first}' (line {at}) sits under a statement that printed nothing",
                want=[text for _, text in shown_lines], line=at))
        if mine and not matches("\n".join(g.text for g in mine), statement.output):
            got = statement.output.split("\n")
            focus, at, want_line, got_line = first_difference(shown_lines, got)
            raise OutputMismatch(report.text(
                f"'#> {want_line}' but printed {got_line!r}",
                want=[text for _, text in shown_lines],
                got=statement.output, line=at, focus=focus))


def first_difference(shown_lines, got):
    """(index, page line, expected text, actual text) of the first line that differs."""
    for i, (at, want) in enumerate(shown_lines):
        actual = got[i] if i < len(got) else "<nothing>"
        if i >= len(got) or not matches(want, actual):
            return i, at, want, actual
    i = len(shown_lines)
    return i, shown_lines[-1][0], "<nothing>", got[i] if i < len(got) else ""


@dataclass
class Report:
    """A mismatch as a contributor reads it: where, the statement, expected, actual, and
    the command that fixes it; never more than REPORT_LINES lines."""
    path: str
    line: int
    statement: list

    def text(self, problem, want=None, got=None, line=None, focus=0, rewritable=True):
        out = [f"{self.path}:{line or self.line}: {problem}"]
        code = self.statement[:3] + (["..."] if len(self.statement) > 3 else [])
        out += [f"  {self.line + i:>4} | {text}" for i, text in enumerate(code)]
        if want is not None:
            out += ["expected (the '#>' lines):"] + _window(want, focus)
        if got is not None:
            out += ["actual:"] + _window(got.split("\n"), focus)
        out.append(f"see this page alone:  make test-page PAGE={self.path}")
        if rewritable:
            out.append(f"if the new output is right:  .venv/bin/python -m pytest {self.path} "
                       f"--update-outputs  (then read the diff)")
        return "\n".join(out[:REPORT_LINES])


def _window(lines, focus):
    """At most SHOWN_LINES lines around line `focus`, indented, saying how many were left
    out above and below."""
    start = max(0, min(focus - 1, len(lines) - SHOWN_LINES))
    end = start + SHOWN_LINES
    shown = [f"    {line}" for line in lines[start:end]]
    if start:
        shown.insert(0, f"    [{start} line(s) above]")
    if len(lines) > end:
        shown.append(f"    [{len(lines) - end} more line(s)]")
    return shown


NUMBER_TEXT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _keep_ellipses(old, new):
    """`new`, with the '...' of `old` kept where they stand for text that varies."""
    parts = old.split("...")
    if len(parts) == 1:
        return new
    pattern = ".*?".join("(" + "".join(NUMBER_TEXT if re.fullmatch(NUMBER_TEXT, token)
                                       else re.escape(token)
                                       for token in re.split(f"({NUMBER_TEXT})", part)) + ")"
                         for part in parts)
    match = re.fullmatch(pattern, new, re.DOTALL)
    return "...".join(match.groups()) if match else new


def _merged_lines(old, new):
    """New output lines, keeping each old line ('...', fewer digits) that still matches."""
    if len(old) == len(new):
        return [o if matches(o, n) else _keep_ellipses(o, n) for o, n in zip(old, new)]
    return new


def rewrite(source, statements):
    """Block-relative edits [(first line, last line, new lines)] that make the '#>' lines
    show the real output; [] when they already do. Line numbers are 1-based, inclusive;
    an insertion has last line = first line - 1."""
    groups = groups_of(source)
    shown, orphans = shown_by(statements, groups)
    edits = [(g.start, g.end, []) for g in orphans]
    for index, statement in enumerate(statements):
        mine = shown.get(index, [])
        got = statement.output
        if mine and matches("\n".join(g.text for g in mine), got):
            continue
        new = got.split("\n") if got else []
        if mine:
            old = [line for g in mine for line in g.lines]
            lines = _merged_lines(old, new)
            indent = mine[0].indent
            edits.append((mine[0].start, mine[0].end, [_mark(indent, t) for t in lines]))
            edits.extend((g.start, g.end, []) for g in mine[1:])
        elif new:
            at = statement.end + 1
            edits.append((at, at - 1, [_mark("", t) for t in new]))
    return sorted(edits)


def _mark(indent, text):
    return f"{indent}#> {text}" if text else f"{indent}#>"
