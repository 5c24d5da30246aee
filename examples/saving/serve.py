"""Call an exported SavedModel in a fresh Python process (the saving chapter).

    python -m examples.saving.serve EXPORT_DIR INPUTS.npy

Loads the folder that `model.export()` wrote, calls its default serving signature on the
float32 rows of INPUTS.npy and prints the outputs as one JSON object. It imports only
TensorFlow and NumPy: the Python code that built the model is not needed.
"""
# --8<-- [start:script]
import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf


def predict(export_dir, rows):
    """The outputs of the SavedModel's serving signature, by output name."""
    loaded = tf.saved_model.load(str(export_dir))
    serve = loaded.signatures["serving_default"]
    # A signature takes keyword arguments only: find the name of its one input.
    (input_name,) = serve.structured_input_signature[1]
    outputs = serve(**{input_name: tf.constant(rows, dtype=tf.float32)})
    return {name: tensor.numpy() for name, tensor in outputs.items()}


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python -m examples.saving.serve EXPORT_DIR INPUTS.npy")
    export_dir, inputs_path = Path(argv[0]), Path(argv[1])
    if not (export_dir / "saved_model.pb").is_file():
        sys.exit(f"serve: no SavedModel in {export_dir} (no saved_model.pb)")
    if not inputs_path.is_file():
        sys.exit(f"serve: no input file {inputs_path}")
    outputs = predict(export_dir, np.load(inputs_path))
    print(json.dumps({name: value.tolist() for name, value in outputs.items()}))
# --8<-- [end:script]


if __name__ == "__main__":
    main(sys.argv[1:])
