"""Compile, fit and evaluate a model, timing each epoch."""
import contextlib
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from examples.cifar10.models import BUILDERS, whiten

# --8<-- [start:batch_sizes]
# Batch sizes of the published runs, also the defaults of the command line.
BATCH_SIZES = {"baseline": 64, "improved": 1024}
# --8<-- [end:batch_sizes]

# --8<-- [start:optimizer]
PEAK_LEARNING_RATE = 2e-3
WEIGHT_DECAY = 0.05  # Keras scales it by the learning rate, as AdamW does


def make_optimizer(steps_per_epoch, epochs):
    """Adam with a learning rate that warms up for an epoch, then decays to
    zero.

    The baseline uses it. The warm-up keeps the first, large gradients of a
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


# --8<-- [start:improved_recipe]
# training images that set the whitening: ample for a 12x12 covariance
WHITENING_IMAGES = 5000
LABEL_SMOOTHING = 0.2
# at the peak of the schedule, for the mean loss of a batch of 1024
SGD_LEARNING_RATE = 1.5
MOMENTUM = 0.85
# airbench adds 0.2 % of each weight to its gradient, where the momentum repeats
# that steady pull 1 / (1 - 0.85) = 6.7 times over. Keras' weight decay acts
# outside the momentum, so it must remove the whole 1.3 % itself: that much per
# step at the peak.
SHRINK_PER_STEP = 0.002 / (1 - MOMENTUM)
BIAS_LR_SCALE = 64  # batch-norm shifts learn this much faster than the weights


class SmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy against label-smoothed targets, from integer labels and
    logits.

    The target gives the true class 1 - s + s/10 and every other class s/10: the
    network is never pushed to be fully certain, which generalises better.
    """

    def __init__(self, smoothing=LABEL_SMOOTHING, name="smoothed_crossentropy"):
        super().__init__(name=name)
        self.smoothing = smoothing

    def call(self, y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        targets = keras.ops.one_hot(labels, keras.ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(
            targets, y_pred, from_logits=True, label_smoothing=self.smoothing)


class Triangle(keras.optimizers.schedules.LearningRateSchedule):
    """Rise linearly from 0.2x to the peak over the first 23 % of steps, then
    fall to 0.07x."""

    def __init__(self, peak, total_steps, start=0.2, end=0.07, peak_at=0.23):
        self.peak, self.total, self.start, self.end, self.peak_at = \
            peak, total_steps, start, end, peak_at

    def __call__(self, step):
        t = keras.ops.minimum(keras.ops.cast(step, "float32") / self.total, 1.0)
        rising = self.start + (1 - self.start) * t / self.peak_at
        falling = 1 + (self.end - 1) * (t - self.peak_at) / (1 - self.peak_at)
        return self.peak * keras.ops.where(t < self.peak_at, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total,
                "start": self.start, "end": self.end, "peak_at": self.peak_at}


def make_sgd(steps_per_epoch, epochs, scale=1.0, shrink=SHRINK_PER_STEP):
    """Nesterov SGD on the triangle schedule; `scale` multiplies the learning
    rate.

    Keras' decoupled weight decay removes learning_rate * weight_decay of each
    weight per step, so dividing by the learning rate makes the shrink `shrink`
    at the peak (smaller before and after), whatever `scale` is.
    """
    peak = SGD_LEARNING_RATE * scale
    return keras.optimizers.SGD(Triangle(peak, steps_per_epoch * epochs),
                                momentum=MOMENTUM, nesterov=True,
                                weight_decay=shrink / peak)


def make_improved_optimizer(steps_per_epoch, epochs,
                            bias_lr_scale=BIAS_LR_SCALE,
                            shrink=SHRINK_PER_STEP):
    weights = make_sgd(steps_per_epoch, epochs, shrink=shrink)
    shifts = make_sgd(steps_per_epoch, epochs, bias_lr_scale, shrink)
    # The batch-norm shifts ("beta") get their own, faster optimizer; everything
    # else trainable (the convolutions and the classifier) gets the other one.
    return keras.optimizers.MultiOptimizer(
        lambda variable: shifts if variable.path.endswith("/beta") else weights)
# --8<-- [end:improved_recipe]


# --8<-- [start:lookahead]
class Lookahead(keras.callbacks.Callback):
    """Every 5 steps, move the weights to a running average of their past
    values.

    airbench's "lookahead": the average smooths out the noise of single SGD
    steps, and training goes on from that smoother point. The average weighs the
    past more and more as training ends (its decay grows with the cube of the
    progress), and the model ends on the average itself.
    """

    def __init__(self, total_steps, every=5):
        super().__init__()
        self.total_steps, self.every = total_steps, every

    def on_train_begin(self, logs=None):
        # All weights, the batch-norm statistics included: they must match the
        # weights.
        self.average = [keras.ops.convert_to_numpy(w)
                        for w in self.model.weights]
        self.step = 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step == self.total_steps:
            # before the last validation, so it scores the final model
            self.jump(1.0)
        elif self.step % self.every == 0:
            progress = min(self.step / self.total_steps, 1.0)
            self.jump(0.95 ** self.every * progress ** 3)

    def jump(self, decay):
        for weight, average in zip(self.model.weights, self.average):
            average *= decay
            average += (1 - decay) * keras.ops.convert_to_numpy(weight)
            weight.assign(average)


def recipe_callbacks(model_name, steps_per_epoch, epochs):
    """What model.fit needs besides the data: the improved recipe's
    lookahead."""
    if model_name != "improved":
        return []
    return [Lookahead(steps_per_epoch * epochs)]
# --8<-- [end:lookahead]


# --8<-- [start:precision]
def cpu_has_bf16_units():
    """Whether this CPU has bfloat16 instructions (Linux: read from
    /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    # Measured on 2-core machines: AMX tiles ran the improved model ~1.6x
    # faster; on an AMD EPYC with AVX512-BF16 (no AMX) one epoch of training
    # steps took 52.6 s instead of 75.4 s; an Intel Xeon with AVX512-BF16 but no
    # AMX once ran no faster (nor slower).
    return "amx_bf16" in flags or "avx512_bf16" in flags


def gpus_have_bf16_units():
    """Ampere (compute capability 8.0) and newer GPUs compute in bfloat16
    natively."""
    details = [tf.config.experimental.get_device_details(g)
               for g in tf.config.list_physical_devices("GPU")]
    return all(d.get("compute_capability", (0, 0)) >= (8, 0) for d in details)


def choose_precision(requested, model_name):
    """The Keras precision policy: "auto" is mixed_bfloat16 for the improved
    model where the chip computes in bfloat16 fast, float32 otherwise."""
    if requested != "auto":
        return requested
    if tf.config.list_physical_devices("GPU"):
        fast_bf16 = gpus_have_bf16_units()
    else:
        fast_bf16 = cpu_has_bf16_units()
    if model_name == "improved" and fast_bf16:
        return "mixed_bfloat16"
    return "float32"
# --8<-- [end:precision]


@contextlib.contextmanager
def precision_policy(name):
    """Keras' global precision policy set to `name` inside a `with` block, restored after.

    The policy is global: the layers built inside the block compute in it. Restoring it
    keeps one run's choice from leaking into the next (the ablation, the benchmark).
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


# --8<-- [start:compile]
def build_and_compile(model_name, steps_per_epoch, epochs, x_fit=None):
    """Build a model and its training recipe; the improved one needs `x_fit` to
    whiten."""
    model = BUILDERS[model_name]()
    if model_name == "improved":
        whiten(model, x_fit[:WHITENING_IMAGES])
        optimizer = make_improved_optimizer(steps_per_epoch, epochs)
        loss = SmoothedCrossentropy()
    else:
        optimizer = make_optimizer(steps_per_epoch, epochs)
        # The last layer outputs logits, so the loss must apply softmax itself.
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
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
    # `train` is (images, labels) arrays or a tf.data pipeline that batches itself.
    inputs = {"x": train, "shuffle": False} if hasattr(train, "element_spec") else \
        {"x": train[0], "y": train[1], "batch_size": batch_size}
    history = model.fit(
        **inputs, validation_data=val, epochs=epochs,
        callbacks=[timer, *callbacks],
        verbose=0 if quiet else "auto",  # "auto": a progress bar per epoch
    )
    return history.history, timer.seconds


# --8<-- [start:flip_average]
def class_probabilities(model, x, batch_size=500):
    """The model's class probabilities for images `x`, as a NumPy array.

    It calls the model on one batch at a time (training=False: batch norm uses
    its running statistics), which works whichever way the model was trained.
    """
    batches = []
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size], training=False)
        logits = keras.ops.cast(logits, "float32")
        batches.append(keras.ops.convert_to_numpy(keras.ops.softmax(logits)))
    return np.concatenate(batches)


def flip_averaged_accuracy(model, x, y):
    """Test accuracy when each image and its mirror image vote together.

    A mirrored photo shows the same class (the improved model even trains on
    mirrored images), so it is just as good an input. Averaging the class
    probabilities of both views cancels part of the error of a single view,
    at the cost of a second pass over the test set.
    """
    mirrored = x[:, :, ::-1]  # axis 2 is the width: a left-right mirror
    probabilities = (class_probabilities(model, x)
                     + class_probabilities(model, mirrored))
    return float(np.mean(probabilities.argmax(axis=-1) == y))
# --8<-- [end:flip_average]
