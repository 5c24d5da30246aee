"""Run a block statement by statement and hold each output against the '#>' lines under it.

A reader trusts the line right under the code, so the rule is per statement: the output
of a top-level statement (a loop or a ``with`` counts as one) must be shown as ``#>``
lines after it and before the next statement, and ``#>`` lines must sit under a
statement that printed them. "Output" is what the reader's terminal would show from
Python: everything written to file descriptor 1 (``print``, ``os.write(1, ...)``, C
code), to ``sys.stderr``, and the warnings the block emits (as ``Category: message``).
Keras progress bars are left out: their timings differ on every run.

Numbers match to the digits a page writes (doctest's NUMBER) and ``...`` matches any
text (ELLIPSIS). ``rewrite`` produces the lines a block should show, keeping every
existing line that still matches.
"""
import ast
import doctest
import io
import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

from sybil.evaluators.doctest import NUMBER, OutputChecker

from tested_docs.blocks import output_text

CHECK_FLAGS = NUMBER | doctest.ELLIPSIS
# Keras' progress bars ("Epoch 1/3", "12/12 ━━━━ 0s 5ms/step - loss: ..."): run-dependent
# timings, never shown on a page. summary() tables also draw with ━, so match the step count.
PROGRESS_LINE = re.compile(r"^\s*(\d+/\d+ .*━|Epoch \d+/\d+$)")


class OutputMismatch(AssertionError):
    """A block's output and its '#>' lines disagree."""


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


def clean(text):
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
             if not PROGRESS_LINE.match(line)]
    return "\n".join(lines).strip("\n")


def matches(want, got):
    return OutputChecker().check_output(want + "\n", got + "\n", CHECK_FLAGS)


@contextmanager
def captured():
    """Collect fd-1 output, sys.stdout, sys.stderr and warnings, in the order written."""
    sys.stdout.flush()
    sys.stderr.flush()
    result = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(1)
        os.dup2(sink.fileno(), 1)
        # Two unbuffered streams onto the same descriptor keep the order of what is
        # written, and stay two objects: tf.print(output_stream=sys.stdout) tells them apart.
        out, err = (io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                     errors="backslashreplace", write_through=True)
                    for _ in range(2))
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            with warnings.catch_warnings():
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
    statements = []
    for node in tree.body:
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        with captured() as out:
            exec(code, namespace)
        statements.append(Statement(node.lineno - offset, node.end_lineno - offset, clean(out[0])))
    namespace.pop("__builtins__", None)
    return statements


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
    """Raise OutputMismatch naming the page line of the first disagreement."""
    __tracebackhide__ = True
    base, path = where
    groups = groups_of(source)
    shown, orphans = shown_by(statements, groups)
    for group in orphans:
        raise OutputMismatch(f"{path}:{base + group.start - 1}: '#>' lines above the first "
                             f"statement of the block show output nothing printed")
    for index, statement in enumerate(statements):
        mine = shown.get(index, [])
        want = "\n".join(g.text for g in mine)
        line = base + statement.start - 1
        if not mine and statement.output:
            raise OutputMismatch(
                f"{path}:{line}: the statement here prints output that is not shown right "
                f"under it; add '#>' lines after it (before the next statement).\n"
                f"actual output:\n{statement.output}")
        if mine and not matches(want, statement.output):
            raise OutputMismatch(
                f"{path}:{line}: printed output differs from the '#>' lines at line "
                f"{base + mine[0].start - 1}.\nexpected (from the '#>' lines):\n{want}\n"
                f"actual:\n{statement.output or '<nothing>'}")


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
