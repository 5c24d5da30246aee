"""The snippet harness itself: each way a page can lie to its reader makes a test fail."""
import textwrap
import unittest

import pytest

from tests.doc_harness import OutputMismatch, make_sybil


def run_page(tmp_path, markdown):
    """Evaluate every example of a one-page docs folder; return (passed lines, errors)."""
    (tmp_path / "page.md").write_text(textwrap.dedent(markdown))
    sybil = make_sybil(tmp_path)
    document = sybil.parse(tmp_path / "page.md")
    sybil.setup(document.namespace)
    passed, errors = [], []
    for example in document:
        try:
            example.evaluate()
            passed.append(example.line)
        except (Exception, unittest.SkipTest) as err:  # collect every outcome, in page order
            errors.append((example.line, err))
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
    assert "page.md:6" in str(err) and "#>' lines):\n43\nactual:\n42" in str(err)


def test_output_the_page_does_not_show_fails(tmp_path):
    _, errors = run_page(tmp_path, """\
        ```python
        print("surprise")
        ```
    """)
    assert "does not show" in str(errors[0][1])


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
        print("Epoch 1/1")
        print("1/1 ━━━━━━━━━━━━━━━━━━━━ 0s 5ms/step - loss: 0.31")
        print("┏━━━━┳━━━━┓")
        print("done")
        #> ┏━━━━┳━━━━┓
        #> done
        ```
    """)
    assert passed == [1], errors


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
