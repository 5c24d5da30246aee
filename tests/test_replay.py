"""Each chapter run as a reader runs it: its visible blocks, in order, as one script in a
fresh `python` process.

The harness runs a page statement by statement in a shared test process, with invisible
setup blocks; a reader copies the visible blocks into a file or a terminal. This test
checks that the copy alone works: the script exits 0 and prints the page's `#>` lines in
order (each `#>` line must match a later printed line, with the harness's number and
`...` rules; other printed lines, such as TensorFlow's start-up log, Keras' progress bars
or the file and line Python puts before a warning, may come between). Blocks that only
run on a GPU (after a `skip: next if(NO_GPU, ...)` marker) are left out on a machine
without one, as the harness skips them.

Opt-in, since it runs every chapter again: REPLAY_PAGES=1 (every chapter in the nav) or
REPLAY_PAGES=tensors.md,keras.md; `make test-replay`. REPLAY_PYTHON names another
interpreter, e.g. one of a fresh environment made with exactly the overview's install
command. The script runs from the repository's root, as a reader who cloned it would run
it (the case study and the saving chapter run the repository's `examples`).
"""
import os
import subprocess
import sys

import pytest
from sybil import Document

from tested_docs import DOCS, ROOT, blocks, includes, notebooks, outputs

REPLAY = os.environ.get("REPLAY_PAGES", "").strip()
TIMEOUT = 1200  # seconds per page
PYTHON = os.environ.get("REPLAY_PYTHON") or sys.executable


def selected_pages():
    if REPLAY in ("", "0"):
        return []
    chapters = notebooks.chapters()
    if REPLAY == "1":
        return chapters
    picked = [name.strip().removeprefix("docs/") for name in REPLAY.split(",") if name.strip()]
    unknown = [name for name in picked if name not in chapters]
    if unknown:
        raise pytest.UsageError(f"REPLAY_PAGES names no chapter: {', '.join(unknown)} "
                                f"(chapters: {', '.join(chapters)})")
    return picked


def script_of(page):
    """(script, [(page line, expected output line)]) from a page's visible blocks."""
    text = (DOCS / page).read_text()
    document = Document(text, str(DOCS / page))
    gpu_only = set(notebooks.gpu_only_starts(document)) if not has_gpu() else set()
    gpu_only |= conditional_starts(document)
    parts, expected = [], []
    for region, kind in blocks.python_regions(document):
        if kind == "invisible" or region.start in gpu_only:
            continue
        if kind == "doctest":
            raise ValueError(f"docs/{page}: a doctest block cannot be replayed as a script")
        first = text.count("\n", 0, region.start) + 2  # page line of its first source line
        source = str(region.lexemes["source"])
        for index, line in enumerate(source.splitlines()):
            shown = blocks.output_text(line)
            if shown is not None:
                expected.append((first + index, shown))
        parts.append(f"# docs/{page}:{first}\n{includes.expand(source)}")
    return "\n\n".join(parts) + "\n", expected


def conditional_starts(document):
    """Blocks under a skip marker with another condition than NO_GPU (e.g. which build of
    TensorFlow this is): the harness decides them in the page's namespace, a copied
    script has no such switch, so the replay leaves them out."""
    return notebooks.governed_starts(
        document, lambda arguments: not notebooks.GPU_ONLY.match(arguments))


def has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def printed_in_order(expected, printed):
    """None when every expected line matches a printed line, in order; else the first
    expected (page line, text) that does not."""
    position = 0
    for at, want in expected:
        while position < len(printed):
            got = printed[position]
            position += 1
            if outputs.matches(want, got) or outputs.matches("..." + want, got):
                break
        else:
            return at, want
    return None


@pytest.mark.skipif(not REPLAY, reason="opt-in: REPLAY_PAGES=1 or `make test-replay`")
@pytest.mark.parametrize("page", selected_pages())
def test_the_page_runs_as_one_script_in_a_fresh_python(page, tmp_path):
    script, expected = script_of(page)
    # Not keras.py: a script named like a module it imports would import itself.
    path = tmp_path / ("replay_" + page.removesuffix(".md").replace("-", "_") + ".py")
    path.write_text(script)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = str(ROOT)  # as a script saved in the clone, run from its root
    try:
        result = subprocess.run([PYTHON, str(path)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"docs/{page} as a script ran longer than {TIMEOUT} s", pytrace=False)
    printed = [outputs.terminal_line(line).rstrip() for line in result.stdout.splitlines()]
    tail = "\n".join(printed[-15:])
    if result.returncode != 0:
        pytest.fail(f"docs/{page} as a script ({path}) exits {result.returncode}; the end "
                    f"of its output:\n{tail}", pytrace=False)
    missing = printed_in_order(expected, printed)
    if missing is not None:
        at, want = missing
        pytest.fail(f"docs/{page}:{at}: '#> {want}' is not printed (in order) when the page "
                    f"runs as one script ({path}); the end of its output:\n{tail}",
                    pytrace=False)


def script_of_scratch_page(tmp_path, monkeypatch, gpu, markdown):
    """script_of() for a one-page docs folder, on a machine with or without a GPU."""
    (tmp_path / "page.md").write_text(markdown)
    monkeypatch.setattr("tests.test_replay.DOCS", tmp_path)
    monkeypatch.setattr("tests.test_replay.has_gpu", lambda: gpu)
    return script_of("page.md")


def test_the_script_holds_the_visible_blocks_but_no_setup_and_no_gpu_only_block(tmp_path,
                                                                                monkeypatch):
    script, expected = script_of_scratch_page(
        tmp_path, monkeypatch, gpu=False, markdown=(
            '<!-- invisible-code-block: python\nhidden = 1\n-->\n\n'
            '```python\nprint("shown")\n#> shown\n```\n\n'
            '<!-- skip: next if(NO_GPU, reason="needs a GPU") -->\n'
            '```python\nprint("gpu")\n```\n'))
    assert "hidden" not in script and 'print("gpu")' not in script
    assert 'print("shown")' in script and expected == [(7, "shown")]
    assert printed_in_order(expected, ["start-up log", "shown"]) is None
    assert printed_in_order([(6, "0.33")], ["0.3333"]) is None
    assert printed_in_order([(6, "shown"), (7, "twice")], ["twice", "shown"]) == (7, "twice")


def test_blocks_under_other_conditions_are_left_out_whatever_the_machine(tmp_path,
                                                                        monkeypatch):
    """A copied script has no switch for `skip: ... if(<build check>)`: such blocks (one
    marked `next`, two inside `start`/`end`) stay out even on a machine with a GPU."""
    script, _ = script_of_scratch_page(
        tmp_path, monkeypatch, gpu=True, markdown=(
            '```python\nprint("always")\n```\n\n'
            '<!-- skip: next if(built_with_cuda, reason="CPU-only build") -->\n'
            '```python\nprint("cpu build")\n```\n\n'
            '<!-- skip: start if(not built_with_cuda, reason="CUDA build") -->\n'
            '```python\nprint("cuda 1")\n```\n\n'
            '```python\nprint("cuda 2")\n```\n\n'
            '<!-- skip: end -->\n'
            '```python\nprint("after")\n```\n'))
    assert 'print("always")' in script and 'print("after")' in script
    assert "cpu build" not in script and "cuda 1" not in script and "cuda 2" not in script
