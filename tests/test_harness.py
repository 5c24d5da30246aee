"""The snippet harness itself: each way a page can lie to its reader makes a test fail."""
import textwrap
import unittest

import pytest

from tests.doc_harness import OutputMismatch, make_sybil


def run_page(tmp_path, markdown):
    """Evaluate every example of a one-page docs folder, from its setup to its teardown,
    as pytest does; return (passed lines, errors)."""
    (tmp_path / "page.md").write_text(textwrap.dedent(markdown))
    sybil = make_sybil(tmp_path)
    document = sybil.parse(tmp_path / "page.md")
    sybil.setup(document.namespace)
    passed, errors = [], []
    try:
        for example in document:
            try:
                example.evaluate()
                passed.append(example.line)
            except (Exception, unittest.SkipTest) as err:  # every outcome, in page order
                errors.append((example.line, err))
    finally:
        if sybil.teardown:
            sybil.teardown(document.namespace)
    return passed, errors


def test_shown_output_is_checked(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        print(6 * 7)
        #> 42
        ```

        ```python
        print(6 * 7)
        #> 43
        ```
    """)
    assert passed == [1]
    (line, err), = errors
    assert line == 6 and isinstance(err, OutputMismatch)
    assert str(err).split("\n")[0].endswith("page.md:8: '#> 43' but printed '42'")
    assert "lines):\n    43\nactual:\n    42\n" in str(err)


def test_output_the_page_does_not_show_fails(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        print("surprise")
        ```
    """)
    assert "not shown right under it" in str(errors[0][1])


def test_floats_match_within_a_unit_of_the_last_digit_shown_and_ellipsis_matches_anything(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        print(1 / 3, "at 0x7f3a")
        #> 0.333 at ...
        ```

        ```python
        print(1 / 3)
        #> 0.335
        ```
    """)
    assert passed == [1] and [line for line, _ in errors] == [6]


def test_every_python_spelling_is_run_and_a_raising_block_fails(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```py
        raise ValueError("from a py block")
        ```

        ```python title="titled.py"
        raise ValueError("from a titled block")
        ```

        !!! tip

            ```python
            raise ValueError("from an admonition")
            ```

        === "A tab"

            ```{ .python .annotate }
            raise ValueError("from a tab")
            ```
    """)
    assert passed == []
    assert [str(err) for _, err in errors] == [
        "from a py block", "from a titled block", "from an admonition", "from a tab"]


def test_doctests_setup_blocks_and_one_namespace_per_page(tmp_path):
    passed, errors = run_page(tmp_path, """\
        <!-- invisible-code-block: python
        hidden = 2
        -->

        ```python
        shown = hidden * 10
        ```

        ```python
        >>> shown + 0.5
        20.5
        >>> shown
        21
        ```
    """)
    assert passed == [1, 5, 10]
    assert [line for line, _ in errors] == [12]


def test_gpu_only_blocks_skip_with_their_reason_without_a_gpu(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: the block runs instead")
    _, errors = run_page(tmp_path, """\
        <!-- skip: next if(NO_GPU, reason="needs a GPU") -->
        ```python
        raise RuntimeError("ran without a GPU")
        ```
    """)
    (line, err), = errors
    assert isinstance(err, unittest.SkipTest) and str(err) == "needs a GPU"


def test_keras_progress_bars_are_not_part_of_the_checked_output(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        import keras, numpy as np
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(loss="mse")
        history = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=1)
        loss = model.evaluate(np.ones((4, 2)), np.ones(4), verbose=1)
        print("done")
        #> done
        ```
    """)
    assert passed == [1], errors


def test_a_printed_line_that_looks_like_a_progress_bar_is_output(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        print("Epoch 1/1")
        ```

        ```python
        print("1/1 ━━━━━━━━━━━━━━━━━━━━ 0s 5ms/step - loss: 0.31")
        ```
    """)
    assert [line for line, _ in errors] == [1, 5]
    assert all("not shown right under it" in str(err) for _, err in errors)


def test_an_included_example_must_exist_and_be_imported_by_a_test(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        --8<-- "examples/cifar10/models.py:baseline"
        ```

        ```python
        --8<-- "examples/cifar10/models.py:no-such-section"
        ```
    """)
    assert passed == [1]
    assert "no section 'no-such-section'" in str(errors[0][1])


# --- output per statement -----------------------------------------------------------------

def test_each_group_is_checked_against_the_statement_right_above_it(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        x = 6
        print(x)
        #> 6
        y = x * 7   # prints nothing: needs no '#>' lines
        for i in range(2):
            print(i)
        #> 0
        #> 1
        ```

        ```python
        print("a")
        print("b")
        #> a
        #> b
        ```
    """)
    assert passed == [1]
    (line, err), = errors
    assert line == 12 and "page.md:13: prints 'a', not shown right under it" in str(err)


def test_a_group_under_a_silent_statement_fails(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        print("a")
        x = 1
        #> a
        ```
    """)
    assert "page.md:2: prints 'a', not shown" in str(errors[0][1])


def test_an_ellipsis_under_a_silent_statement_fails(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        x = 1
        #> ...
        ```
    """)
    assert "page.md:3: '#> ...' (line 3) sits under a statement that printed nothing" \
        in str(errors[0][1])


def test_a_group_above_every_statement_fails(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        #> 42
        print(42)
        ```
    """)
    assert "page.md:2: '#>' lines above the first statement" in str(errors[0][1])


# --- nothing escapes ----------------------------------------------------------------------

def test_fd_level_stdout_stderr_and_warnings_are_output_too(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        import os, sys, warnings
        os.write(1, b"from fd 1\\n")
        #> from fd 1
        sys.stderr.write("to stderr\\n")
        #> to stderr
        warnings.warn("careful")
        #> UserWarning: careful
        import tensorflow as tf
        tf.print("from tf.print", output_stream=sys.stdout)
        #> from tf.print
        ```

        ```python
        os.write(1, b"unshown\\n")
        ```

        ```python
        print("err", file=sys.stderr)
        ```

        ```python
        warnings.warn("unshown warning", RuntimeWarning)
        ```
    """)
    assert passed == [1], errors
    assert [line for line, _ in errors] == [14, 18, 22]
    assert all("not shown right under it" in str(err) for _, err in errors)


def test_an_output_mark_without_a_space_is_refused_not_ignored(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        print(5)
        #>5
        ```
    """)
    assert "'#>' must be followed by a space" in str(errors[0][1])


def test_every_python_lexer_alias_is_run(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```numpy
        raise ValueError("numpy fence")
        ```

        ```Python
        raise ValueError("capitalised fence")
        ```

        ```{.ipython3 title="x"}
        raise ValueError("ipython fence")
        ```
    """)
    assert [str(err) for _, err in errors] == ["numpy fence", "capitalised fence",
                                               "ipython fence"]


@pytest.mark.parametrize("marker", [
    "<!-- skip: next -->",
    "<!---skip next-->",
    "<!-- ; skip: next -->",
    '<!-- skip: next if(True) -->',
    '<!-- skip: start -->',
])
def test_a_skip_without_a_reason_fails_in_any_spelling_sybil_honours(tmp_path, marker):
    _, errors = run_page(tmp_path, f"""\
        {marker}
        ```python
        print("never runs")
        ```
    """)
    assert errors and "reason" in str(errors[0][1]) and "page.md:1" in str(errors[0][1])


# --- --update-outputs ---------------------------------------------------------------------

def update_page(tmp_path, markdown):
    """Run a page with --update-outputs and apply the rewrite; return the new text."""
    from tests import doc_harness

    doc_harness.UPDATE["on"] = True
    try:
        _, errors = run_page(tmp_path, markdown)
        changed = doc_harness.apply_edits()
    finally:
        doc_harness.UPDATE["on"] = False
    assert not errors, errors
    return (tmp_path / "page.md").read_text(), changed


RIGHT = """\
    Some prose.

    !!! note

        ```python
        import math
        print(math.pi, "at 0x7f")
        #> 3.14 at ...
        for i in range(2):
            print(i)
        #> 0
        #> 1
        ```

    ```python
    print(1 / 3)
    #> 0.333
    ```
"""


def test_update_leaves_a_right_page_byte_identical(tmp_path):
    text, changed = update_page(tmp_path, RIGHT)
    assert text == textwrap.dedent(RIGHT) and changed == []


def test_update_restores_a_changed_digit_and_keeps_ellipses(tmp_path):
    broken = RIGHT.replace("#> 3.14 at ...", "#> 2.72 at ...").replace("#> 1\n", "#> 7\n")
    text, changed = update_page(tmp_path, broken)
    lines = text.splitlines()
    assert lines[7] == "    #> 3.141592653589793 at ..." and lines[11] == "    #> 1"
    assert len(changed) == 1 and changed[0].endswith("page.md: '#>' lines at 8, 11")
    # Kept where the real output still matches: the loop's first line, the other block.
    assert lines[10] == "    #> 0" and "#> 0.333" in text


def test_update_moves_output_under_the_statement_that_printed_it(tmp_path):
    text, _ = update_page(tmp_path, """\
        ```python
        print("a")
        print("b")
        #> a
        #> b
        x = 1
        #> stale
        ```
    """)
    assert text == textwrap.dedent("""\
        ```python
        print("a")
        #> a
        print("b")
        #> b
        x = 1
        ```
    """)


# --- figures ------------------------------------------------------------------------------

FIGURE_PAGE = """\
    ```python
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 4])
    plt.show()
    ```

    ![A parabola](figures/page/parabola.png)
"""


def test_a_drawn_figure_must_be_shown_and_update_draws_it(tmp_path):
    _, errors = run_page(tmp_path, FIGURE_PAGE)
    assert "figures/page/parabola.png: it does not exist yet" in str(errors[0][1])
    _, changed = update_page(tmp_path, FIGURE_PAGE)
    stored = tmp_path / "figures" / "page" / "parabola.png"
    assert stored.read_bytes().startswith(b"\x89PNG")
    passed, errors = run_page(tmp_path, FIGURE_PAGE)
    assert passed == [1] and not errors


def test_a_blacked_out_figure_fails_and_update_redraws_it(tmp_path):
    from PIL import Image

    update_page(tmp_path, FIGURE_PAGE)
    stored = tmp_path / "figures" / "page" / "parabola.png"
    good = stored.read_bytes()
    with Image.open(stored) as image:
        Image.new(image.mode, image.size, "black").save(stored)
    _, errors = run_page(tmp_path, FIGURE_PAGE)
    assert "page.md:8: figure figures/page/parabola.png: it differs" in str(errors[0][1])
    update_page(tmp_path, FIGURE_PAGE)
    assert stored.read_bytes() == good


def test_a_figure_without_its_link_or_a_link_without_a_figure_fails(tmp_path):
    _, errors = run_page(tmp_path, FIGURE_PAGE.replace(
        "![A parabola](figures/page/parabola.png)", "No link."))
    assert "draws 1 figure(s) but 0 image link(s)" in str(errors[0][1])
    _, errors = run_page(tmp_path, """\
        ```python
        x = 1
        ```

        ![Nothing drew this](figures/page/none.png)
    """)
    assert "the block above it draws none" in str(errors[0][1])


# --- stamps -------------------------------------------------------------------------------

def test_a_stamp_holds_only_for_the_content_that_was_tested(tmp_path):
    from tested_docs import record

    page = tmp_path / "page.md"
    page.write_text("# Page\n")
    entry = {"digest": record.page_digest(page), "skipped": 0}
    assert record.status(entry, record.page_digest(page)) == "passed"
    assert record.status({**entry, "skipped": 2}, record.page_digest(page)) == "partial"
    page.write_text("# Page, edited after the test run\n")
    assert record.status(entry, record.page_digest(page)) == "changed"
    assert record.status(None, record.page_digest(page)) == "untested"


def test_the_digest_covers_included_sections(tmp_path, monkeypatch):
    from tested_docs import includes, record

    page = tmp_path / "page.md"
    page.write_text('```python\n--8<-- "examples/cifar10/models.py:baseline"\n```\n')
    before = record.page_digest(page)
    monkeypatch.setattr(includes, "section_text", lambda path, section: "changed code")
    monkeypatch.setattr(record, "section_text", lambda path, section: "changed code")
    assert record.page_digest(page) != before


# --- each page starts as a reader's fresh session -----------------------------------------

def test_a_page_does_not_inherit_seeds_names_or_silenced_warnings(tmp_path):
    earlier = """\
        ```python
        import keras, tensorflow as tf
        tf.random.set_seed(7)
        layer = keras.layers.Dense(2, input_shape=(3,))
        #> UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer. ...
        ```
    """
    later = """\
        ```python
        import keras, tensorflow as tf
        print(tf.compat.v1.get_seed(None))
        #> (None, None)
        layer = keras.layers.Dense(2, input_shape=(3,))
        #> UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer. ...
        print(layer.name)
        #> dense
        ```
    """
    for markdown in (earlier, later):
        passed, errors = run_page(tmp_path, markdown)
        assert passed == [1], errors


def test_update_outputs_refuses_xdist_workers_rather_than_rewrite_nothing():
    import subprocess
    import sys

    from tested_docs import ROOT

    result = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--update-outputs",
                             "docs/index.md"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 4
    assert "--update-outputs rewrites pages from this one process" in result.stderr


# --- a mismatch fits on a screen ----------------------------------------------------------

def run_pytest_on(tmp_path, markdown, *options):
    """pytest, in a fresh process, on a scratch page outside docs/; its whole output."""
    import os
    import subprocess
    import sys

    from tested_docs import ROOT

    (tmp_path / "page.md").write_text(textwrap.dedent(markdown))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(
        "from pathlib import Path\nfrom tests.doc_harness import make_sybil\n"
        "pytest_collect_file = make_sybil(Path(__file__).parent).pytest()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # TensorFlow's start-up log as a reader gets it
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.doc_harness",
                             "-p", "no:cacheprovider", "-ra", *options, "page.md"],
                            cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    return result.stdout + result.stderr


def test_a_wrong_output_line_fails_in_one_screen(tmp_path):
    output = run_pytest_on(tmp_path, """\
        # A page

        ```python
        import tensorflow as tf
        total = tf.reduce_sum(tf.constant([20, 22]))
        for i in range(30):
            print(i if i != 17 else int(total))
        #> 0
        #> 1
        #> 2
        #> 3
        #> 4
        #> 5
        #> 6
        #> 7
        #> 8
        #> 9
        #> 10
        #> 11
        #> 12
        #> 13
        #> 14
        #> 15
        #> 16
        #> 17
        #> 18
        #> 19
        #> 20
        #> 21
        #> 22
        #> 23
        #> 24
        #> 25
        #> 26
        #> 27
        #> 28
        #> 29
        ```

        ```python
        undefined_name + 1
        ```
    """)
    lines = output.splitlines()

    def report_of(block):
        start = next(i for i, line in enumerate(lines) if f"page.md line={block}" in line)
        end = next(i for i, line in enumerate(lines[start + 1:], start + 1)
                   if line.startswith(("___", "===")))
        return lines[start + 1:end]

    report = report_of(3)
    assert len(report) <= 25, output
    text = "\n".join(report)
    assert report[0].endswith("page.md:25: '#> 17' but printed '42'"), output
    assert "for i in range(30):" in text and "    17" in text and "    42" in text
    assert "make test-page PAGE=" in text and "--update-outputs" in text
    for noise in ("Traceback", "sybil", "doc_harness", "outputs.py", "oneDNN",
                  "cpu_feature_guard", "InitializeLog"):
        assert noise not in output, noise
    summary = [line for line in lines if line.startswith("FAILED")]
    assert summary[0].endswith("page.md:25: '#> 17' but printed '42'"), summary
    # An exception from the page's own code names the page line, not the harness's.
    raised = report_of(40)
    assert len(raised) <= 25, output
    assert raised[0].endswith("page.md:41: NameError: name 'undefined_name' is not defined")


# --- logging counts as output -------------------------------------------------------------

def test_log_records_are_output_in_the_form_a_terminal_prints_them(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        import logging
        import absl.logging
        import tensorflow as tf
        tf.get_logger().warning("from TensorFlow's logger")
        #> WARNING:tensorflow:from TensorFlow's logger
        absl.logging.warning("from absl")
        #> WARNING:absl:from absl
        logging.warning("from the root logger")
        #> WARNING:root:from the root logger
        ```

        ```python
        tf.get_logger().warning("unshown")
        ```

        ```python
        absl.logging.warning("unshown")
        ```

        ```python
        logging.warning("unshown")
        ```
    """)
    assert passed == [1], errors
    assert [line for line, _ in errors] == [13, 17, 21]
    assert all("not shown right under it" in str(err) for _, err in errors)


def test_the_retracing_warning_is_output(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        import tensorflow as tf

        @tf.function
        def f(x):
            return x

        for n in range(1, 7):
            f(tf.zeros([n]))
        ```
    """)
    (line, err), = errors
    assert "prints 'WARNING:tensorflow:5 out of the last 5 calls to <function" in str(err)


def test_a_page_starts_with_the_logging_setup_of_a_fresh_session(tmp_path):
    earlier = """\
        ```python
        import logging
        import tensorflow as tf
        logging.warning("a root handler now exists")
        #> WARNING:root:a root handler now exists
        tf.get_logger().warning("so TensorFlow's records print twice")
        #> WARNING:tensorflow:so TensorFlow's records print twice
        #> WARNING:tensorflow:so TensorFlow's records print twice
        tf.get_logger().setLevel("ERROR")
        ```
    """
    later = """\
        ```python
        import tensorflow as tf
        tf.get_logger().warning("once")
        #> WARNING:tensorflow:once
        ```
    """
    for markdown in (earlier, later):
        passed, errors = run_page(tmp_path, markdown)
        assert passed == [1], errors


# --- nothing one page does reaches the next -----------------------------------------------

def test_retracing_counts_do_not_carry_over_from_an_earlier_page(tmp_path):
    """TensorFlow counts retracings per function code for the whole process; a page that
    traces four times must not make the next page's first traces warn."""
    # One function code shared by both pages, as Keras' train step is by every model.
    (tmp_path / "shared_step.py").write_text(
        "import tensorflow as tf\n\n\n"
        "def make():\n"
        "    @tf.function\n"
        "    def step(x):\n"
        "        return x\n"
        "    return step\n")
    tracing = f"""\
        ```python
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import shared_step
        import tensorflow as tf

        for n in range(1, 5):
            shared_step.make()(tf.zeros([n]))
        ```
    """
    for _ in range(2):  # alone, four traces stay under the threshold of five
        passed, errors = run_page(tmp_path, tracing)
        assert passed == [1], errors


def test_a_page_runs_with_older_objects_frozen_and_frees_them_when_it_ends(tmp_path):
    """Frozen objects are never collected: the freeze must end with the page, and a page's
    own garbage must still be collected. Inside a freeze that began before the page (the
    runner's, around a test file), the page leaves it for its owner to end."""
    import gc

    gc.unfreeze()  # as in a process where nothing froze before the page
    passed, errors = run_page(tmp_path, FREEZE_PAGE)
    assert passed == [1], errors
    assert gc.get_freeze_count() == 0
    gc.freeze()  # as the runner does before each test
    passed, errors = run_page(tmp_path, FREEZE_PAGE)
    assert passed == [1], errors
    assert gc.get_freeze_count() > 0  # still frozen: gc.unfreeze() leaves none


def test_a_test_starts_with_what_existed_before_it_frozen():
    """The runner's freeze (doc_harness.pytest_runtest_setup): a test's collections walk
    only what it makes, and its own garbage is still collected."""
    import gc
    import weakref

    assert gc.get_freeze_count() > 100_000  # TensorFlow and Keras, at least

    class Node:
        pass

    node = Node()
    node.me = node
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None


FREEZE_PAGE = """\
        ```python
        import gc, weakref
        print(gc.get_freeze_count() > 0)  # what existed before the page
        #> True
        class Node:
            pass
        node = Node()
        node.me = node  # a cycle: only the collector frees it
        ref = weakref.ref(node)
        del node
        gc.collect()
        print(ref() is None)
        #> True
        ```
    """


def test_a_page_that_replaces_print_does_not_silence_the_next(tmp_path):
    import builtins

    real_print = builtins.print
    try:
        run_page(tmp_path, """\
            <!-- invisible-code-block: python
            import builtins
            builtins.print = lambda *args, **kwargs: None
            builtins.extra = 1
            -->
        """)
        passed, errors = run_page(tmp_path, """\
            ```python
            print("heard")
            #> heard
            print(hasattr(__builtins__, "extra") or "extra" in dir(__builtins__))
            #> False
            ```
        """)
    finally:
        builtins.print = real_print
        vars(builtins).pop("extra", None)
    assert passed == [1], errors


# --- what a terminal shows ----------------------------------------------------------------

def test_a_carriage_return_is_rendered_as_a_terminal_renders_it(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        print("10 %\\r100 %")
        #> 100 %
        print("abcdef\\rXY")
        #> XYcdef
        ```
    """)
    assert passed == [1], errors


def test_a_statement_must_not_leave_a_thread_running(tmp_path):
    passed, errors = run_page(tmp_path, """\
        ```python
        import threading

        def on_time():
            timer = threading.Timer(0.01, print, ["on time"])
            timer.start()
            timer.join()

        on_time()
        #> on time
        ```

        ```python
        late = threading.Timer(0.2, lambda: None)
        late.start()
        ```
    """)
    assert passed == [1], errors
    (line, err), = errors
    assert "page.md:15: the statement here leaves thread" in str(err)


def test_a_build_time_number_in_a_python_block_is_refused(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        x = 1
        accuracy = "{{ improved.final.test.accuracy | pct }}"
        ```
    """)
    assert "page.md:3: '{{ ... }}' in a code block" in str(errors[0][1])


def test_output_lines_in_an_included_section_are_refused(tmp_path, monkeypatch):
    from tested_docs import includes

    monkeypatch.setattr(includes, "section_text", lambda path, section: "x = 1\n#> 1\n")
    _, errors = run_page(tmp_path, """\
        ```python
        --8<-- "examples/cifar10/models.py:baseline"
        ```
    """)
    assert "'#>' line '#> 1' in an included section" in str(errors[0][1])


def test_autograph_reads_a_pages_lambda_as_it_reads_a_script(tmp_path):
    passed, errors = run_page(tmp_path, """\
        Prose.

        !!! note

            ```python
            import tensorflow as tf
            squares = tf.data.Dataset.range(3).map(lambda n: n * n)
            print([int(n) for n in squares])
            #> [0, 1, 4]
            ```

        More prose, which is no Python.
    """)
    assert passed == [5], errors


# --- what a run imports -------------------------------------------------------------------

def test_the_controller_records_the_versions_its_workers_ran(monkeypatch):
    from tests import doc_harness

    monkeypatch.setattr(doc_harness, "_worker_versions", {})
    node = type("Node", (), {"workeroutput": {"versions": {"tensorflow": "9.9.0",
                                                           "keras": "8.8.0"}}})()
    doc_harness.pytest_testnodedown(node, None)
    assert doc_harness._worker_versions == {"tensorflow": "9.9.0", "keras": "8.8.0"}
