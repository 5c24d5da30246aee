"""The case study as one script: the steps that call the sections of data.py,
models.py, train.py and report.py, in the order the chapter (docs/cifar10.md)
shows them.

The chapter includes the sections marked below; its notebook
(notebooks/cifar10.ipynb, generated from the chapter) runs them after those of
the other files, and `python -m examples.cifar10.notebook` runs that notebook on
the real data to publish plots/. Importing this module runs the steps, here with
the same functions imported. Without CIFAR10_DATA_DIR it downloads CIFAR-10, as
the notebook does in Colab; CIFAR10_STAND_IN=1 trains on 240 random images in a
few seconds instead, which is how the docs harness and the tests check the steps.
"""
# --8<-- [start:imports]
import io
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from IPython.display import Image, display
from keras import layers
# --8<-- [end:imports]

from examples.cifar10.data import scale, split_validation
from examples.cifar10.pipeline import seconds_per_epoch, training_pipeline
from examples.cifar10.report import draw_figures, most_confused, plot_curve
from examples.cifar10.train import (BATCH_SIZES, EpochTimer, build_and_compile,
                                    choose_precision, class_probabilities,
                                    flip_averaged_accuracy, recipe_callbacks)

# --8<-- [start:load]
# Stand-in images only when asked: the tests set CIFAR10_STAND_IN=1.
STAND_IN = os.environ.get("CIFAR10_STAND_IN", "") not in ("", "0")
# An extracted cifar-10-python.tar.gz to read offline, if set.
DATA_DIR = os.environ.get("CIFAR10_DATA_DIR", "")
file_hashes = {}  # sha256 of each batch file read offline, for the record
if STAND_IN:  # 240 random images: every step runs in seconds, learns nothing
    from examples.cifar10.stand_in import stand_in_images
    (x_train, y_train), (x_test, y_test) = stand_in_images()
elif DATA_DIR:  # the project's safe reader, from its repository
    from examples.cifar10.data import load_from_dir
    splits, file_hashes = load_from_dir(DATA_DIR)
    (x_train, y_train), (x_test, y_test) = splits
else:  # about 170 MB, downloaded once and checked against its sha256
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    y_train, y_test = y_train.ravel(), y_test.ravel()  # (N, 1) -> (N,)
print(f"training images {x_train.shape}, test images {x_test.shape}")
# --8<-- [end:load]

# --8<-- [start:split]
SEED = 42
keras.utils.set_random_seed(SEED)  # seeds Python, NumPy and TensorFlow
x_train, x_test = scale(x_train), scale(x_test)
(x_fit, y_fit), (x_val, y_val) = split_validation(x_train, y_train, 0.1, SEED)
print(f"training {len(x_fit)}, validation {len(x_val)}, "
      f"test {len(x_test)} images")
# --8<-- [end:split]

# --8<-- [start:train]
MODEL_NAME = "improved"  # or "baseline"
EPOCHS = int(os.environ.get("CIFAR10_EPOCHS", "2" if STAND_IN else "18"))
BATCH_SIZE = BATCH_SIZES[MODEL_NAME]
# Compute in bfloat16 where the chip is fast at it; the weights stay float32.
keras.mixed_precision.set_global_policy(choose_precision("auto", MODEL_NAME))
# Rounded up: the last batch is smaller.
steps_per_epoch = -(-len(x_fit) // BATCH_SIZE)
model = build_and_compile(MODEL_NAME, steps_per_epoch, EPOCHS, x_fit=x_fit)
batches = training_pipeline(x_fit, y_fit, BATCH_SIZE, SEED)
# One pass with no model: what feeding costs.
pipeline_seconds = seconds_per_epoch(batches)
print(f"the tf.data pipeline alone: {pipeline_seconds:.2f} s per epoch")
timer = EpochTimer()
callbacks = [timer, *recipe_callbacks(MODEL_NAME, steps_per_epoch, EPOCHS)]
history = model.fit(batches, validation_data=(x_val, y_val), epochs=EPOCHS,
                    shuffle=False,  # the pipeline shuffles
                    callbacks=callbacks, verbose=2)
# --8<-- [end:train]

# --8<-- [start:evaluate]
test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256,
                                          verbose=0)
flip_accuracy = flip_averaged_accuracy(model, x_test, y_test)
print(f"test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}")
print("test accuracy with each image and its mirror voting "
      f"{flip_accuracy:.4f}")
# --8<-- [end:evaluate]

# --8<-- [start:curves]
display(Image(plot_curve(history.history, "accuracy", "accuracy")))
display(Image(plot_curve(history.history, "loss",
                         "loss (training objective)")))
# --8<-- [end:curves]

# --8<-- [start:figures]
# One view per test image: the predictions behind the plain test accuracy.
probabilities = class_probabilities(model, x_test)
figures, counts = draw_figures(x_train, y_train, x_test, y_test,
                               probabilities)
for name in ("samples.png", "confusion.png", "errors.png"):
    display(Image(figures[name]))
for pair in most_confused(counts):
    print(f"{pair['true']} predicted as {pair['predicted']}: "
          f"{pair['count']} times ({pair['share_of_class']:.1%} "
          f"of the {pair['true']} images)")
# --8<-- [end:figures]
