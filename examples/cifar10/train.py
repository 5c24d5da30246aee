"""Compile, fit and evaluate a model, timing each epoch."""
import time

import keras

from examples.cifar10 import models

# --8<-- [start:optimizer]
PEAK_LEARNING_RATE = 2e-3
WEIGHT_DECAY = 5e-4


def make_optimizer(model_name, steps_per_epoch, epochs):
    """Adam for both models; the improved one warms up, then follows a cosine decay."""
    if model_name == "baseline":
        return keras.optimizers.Adam()  # the tutorial's recipe: a constant 1e-3
    total = steps_per_epoch * epochs
    warmup = min(steps_per_epoch, total // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=PEAK_LEARNING_RATE / 10,
        decay_steps=max(1, total - warmup),
        warmup_target=PEAK_LEARNING_RATE,
        warmup_steps=warmup,
    )
    # Keras 3 applies weight_decay decoupled from the gradient, as AdamW does.
    return keras.optimizers.Adam(schedule, weight_decay=WEIGHT_DECAY)
# --8<-- [end:optimizer]


# --8<-- [start:compile]
def build_and_compile(model_name, steps_per_epoch, epochs):
    model = models.BUILDERS[model_name]()
    model.compile(
        optimizer=make_optimizer(model_name, steps_per_epoch, epochs),
        # The last layer outputs logits, so the loss must apply softmax itself.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model
# --8<-- [end:compile]


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, validation included."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def fit(model, train, val, epochs, batch_size, quiet, callbacks=()):
    """Train; return (history dict, seconds per epoch)."""
    timer = EpochTimer()
    history = model.fit(
        *train, validation_data=val, epochs=epochs, batch_size=batch_size,
        callbacks=[timer, *callbacks],
        verbose=0 if quiet else "auto",  # "auto": a progress bar per epoch
    )
    return history.history, timer.seconds
