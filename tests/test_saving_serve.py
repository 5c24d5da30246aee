"""The script that the saving chapter runs in a fresh process to serve a SavedModel."""
import json

import keras
import numpy as np
import pytest

from examples.saving import serve


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny exported model, its folder, some inputs and Keras' own outputs for them."""
    folder = tmp_path_factory.mktemp("serve")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.export(folder / "model", verbose=False)
    rows = np.arange(6, dtype="float32").reshape(2, 3)
    np.save(folder / "rows.npy", rows)
    return folder, model.predict(rows, verbose=0)


def test_main_prints_the_served_outputs_as_json(exported, capsys):
    folder, expected = exported
    serve.main([str(folder / "model"), str(folder / "rows.npy")])
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == ["output_0"]
    np.testing.assert_allclose(printed["output_0"], expected, atol=1e-6)


@pytest.mark.parametrize("argv, message", [
    ([], "usage:"),
    (["nowhere", "rows.npy"], "serve: no SavedModel in nowhere"),
])
def test_bad_arguments_stop_with_one_line(argv, message):
    with pytest.raises(SystemExit) as stop:
        serve.main(argv)
    assert str(stop.value).startswith(message) and "\n" not in str(stop.value)


def test_a_missing_input_file_stops_with_one_line(exported):
    folder, _ = exported
    with pytest.raises(SystemExit, match=r"^serve: no input file .*missing\.npy$"):
        serve.main([str(folder / "model"), str(folder / "missing.npy")])
