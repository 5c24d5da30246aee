"""Compile, fit and evaluate a model, timing each epoch."""
import time

import keras
import numpy as np

from examples.cifar10.models import BUILDERS

# --8<-- [start:batch_sizes]
# Batch sizes of the published runs, also the defaults of the command line.
BATCH_SIZES = {"baseline": 64, "improved": 128}
# --8<-- [end:batch_sizes]

# --8<-- [start:optimizer]
PEAK_LEARNING_RATE = 2e-3
WEIGHT_DECAY = 0.05  # Keras scales it by the learning rate, as AdamW does


def make_optimizer(steps_per_epoch, epochs):
    """Adam with a learning rate that warms up for an epoch, then decays to zero.

    Both models use it. The warm-up keeps the first, large gradients of a
    fresh network from throwing it off; the cosine decay lets the last epochs
    settle into a minimum instead of bouncing around it.
    """
    total = steps_per_epoch * epochs
    warmup = min(steps_per_epoch, total // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=PEAK_LEARNING_RATE / 10,
        decay_steps=max(1, total - warmup),
        warmup_target=PEAK_LEARNING_RATE,
        warmup_steps=warmup,
    )
    # Decoupled weight decay, as in AdamW: each step shrinks every weight
    # by learning_rate * WEIGHT_DECAY of itself. Not the batch-norm scales
    # and shifts or the biases: they are few, and shrinking them only
    # fights the normalisation.
    optimizer = keras.optimizers.Adam(schedule, weight_decay=WEIGHT_DECAY)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer
# --8<-- [end:optimizer]


# --8<-- [start:compile]
def build_and_compile(model_name, steps_per_epoch, epochs):
    model = BUILDERS[model_name]()
    model.compile(
        optimizer=make_optimizer(steps_per_epoch, epochs),
        # The last layer outputs logits, so the loss must apply softmax itself.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model
# --8<-- [end:compile]


# --8<-- [start:timer]
class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, validation included."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
# --8<-- [end:timer]


def fit(model, train, val, epochs, batch_size, quiet, callbacks=()):
    """Train; return (history dict, seconds per epoch)."""
    timer = EpochTimer()
    history = model.fit(
        *train, validation_data=val, epochs=epochs, batch_size=batch_size,
        callbacks=[timer, *callbacks],
        verbose=0 if quiet else "auto",  # "auto": a progress bar per epoch
    )
    return history.history, timer.seconds


# --8<-- [start:flip_average]
def flip_averaged_accuracy(model, x, y, batch_size=256):
    """Test accuracy when each image and its mirror image vote together.

    A mirrored photo shows the same class (the improved model even trains on
    mirrored images), so it is just as good an input. Averaging the class
    probabilities of both views cancels part of the error of a single view,
    at the cost of a second pass over the test set.
    """
    probabilities = sum(
        keras.ops.softmax(model.predict(view, batch_size=batch_size, verbose=0))
        for view in (x, x[:, :, ::-1])  # axis 2 is the width: a left-right mirror
    )
    predicted = np.argmax(keras.ops.convert_to_numpy(probabilities), axis=-1)
    return float(np.mean(predicted == y))
# --8<-- [end:flip_average]
