"""The case study as one script: the steps that call the sections of data.py, models.py,
train.py and report.py, in the order the chapter (docs/cifar10.md) shows them.

The chapter includes the sections marked below; its notebook (notebooks/cifar10.ipynb,
generated from the chapter) runs them after those of the other files, and
`python -m examples.cifar10.notebook` runs that notebook on the real data to publish
plots/. Importing this module runs the steps, here with the same functions imported:
on 240 random images in a few seconds unless CIFAR10_DATA_DIR is set, which is how the
docs harness and tests/test_cifar10_walkthrough.py check them.
"""
# --8<-- [start:imports]
import hashlib
import io
import math
import os
import pickle
import pickletools
import stat
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from IPython.display import Image, display
from keras import layers
# --8<-- [end:imports]

from examples.cifar10.data import load_from_dir, scale, split_validation
from examples.cifar10.pipeline import seconds_per_epoch, training_pipeline
from examples.cifar10.report import draw_figures, most_confused, plot_curve
from examples.cifar10.train import (BATCH_SIZES, EpochTimer, build_and_compile,
                                    choose_precision, class_probabilities,
                                    flip_averaged_accuracy, recipe_callbacks)

# --8<-- [start:load]
# The folder of an extracted cifar-10-python.tar.gz, or "download" to let Keras fetch
# CIFAR-10 (about 170 MB, once). Unset, 240 random images stand in: enough to check in
# seconds that every step runs, not to learn anything.
DATA_DIR = os.environ.get("CIFAR10_DATA_DIR", "")
file_hashes = {}  # sha256 of each batch file read, for the record
if DATA_DIR == "download":
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    y_train, y_test = y_train.ravel(), y_test.ravel()  # labels (N, 1) -> (N,)
elif DATA_DIR:
    ((x_train, y_train), (x_test, y_test)), file_hashes = load_from_dir(DATA_DIR)
else:
    noise = np.random.default_rng(0)
    x_train = noise.integers(0, 256, size=(200, 32, 32, 3), dtype=np.uint8)
    x_test = noise.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    y_train, y_test = noise.integers(0, 10, size=200), noise.integers(0, 10, size=40)
print(f"training images {x_train.shape}, test images {x_test.shape}")
# --8<-- [end:load]

# --8<-- [start:split]
SEED = 42
keras.utils.set_random_seed(SEED)  # seeds Python, NumPy and TensorFlow
x_train, x_test = scale(x_train), scale(x_test)
(x_fit, y_fit), (x_val, y_val) = split_validation(x_train, y_train, 0.1, SEED)
print(f"training {len(x_fit)}, validation {len(x_val)}, test {len(x_test)} images")
# --8<-- [end:split]

# --8<-- [start:train]
MODEL_NAME = "improved"
EPOCHS = int(os.environ.get("CIFAR10_EPOCHS", "18" if DATA_DIR else "2"))
BATCH_SIZE = BATCH_SIZES[MODEL_NAME]
# Compute in bfloat16 where the chip is fast at it; the weights stay float32.
keras.mixed_precision.set_global_policy(choose_precision("auto", MODEL_NAME))
steps_per_epoch = -(-len(x_fit) // BATCH_SIZE)  # rounded up: the last batch is smaller
model = build_and_compile(MODEL_NAME, steps_per_epoch, EPOCHS, x_fit=x_fit)
batches = training_pipeline(x_fit, y_fit, BATCH_SIZE, SEED)
pipeline_seconds = seconds_per_epoch(batches)  # one pass with no model: what feeding costs
print(f"the tf.data pipeline alone: {pipeline_seconds:.2f} s per epoch")
timer = EpochTimer()
history = model.fit(batches, validation_data=(x_val, y_val), epochs=EPOCHS,
                    shuffle=False,  # the pipeline shuffles; Keras would warn it cannot
                    callbacks=[timer, *recipe_callbacks(MODEL_NAME, steps_per_epoch, EPOCHS)],
                    verbose=2)
# --8<-- [end:train]

# --8<-- [start:evaluate]
test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
flip_accuracy = flip_averaged_accuracy(model, x_test, y_test)
print(f"test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}")
print(f"test accuracy with each image and its mirror voting {flip_accuracy:.4f}")
# --8<-- [end:evaluate]

# --8<-- [start:curves]
display(Image(plot_curve(history.history, "accuracy", "accuracy")))
display(Image(plot_curve(history.history, "loss", "loss (training objective)")))
# --8<-- [end:curves]

# --8<-- [start:figures]
# One view per test image: the predictions behind the plain test accuracy.
probabilities = class_probabilities(model, x_test)
figures, counts = draw_figures(x_train, y_train, x_test, y_test, probabilities)
for name in ("samples.png", "confusion.png", "errors.png"):
    display(Image(figures[name]))
for pair in most_confused(counts):
    print(f"{pair['true']} predicted as {pair['predicted']}: {pair['count']} times "
          f"({pair['share_of_class']:.1%} of the {pair['true']} images)")
# --8<-- [end:figures]
