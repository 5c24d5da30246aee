"""airbench's remaining details (examples/cifar10/details.py), each checked for what it claims."""

import keras
import numpy as np
import pytest

from examples.cifar10 import details, models, train
from tests.cifar10_data import images


def test_pytorch_init_keeps_identities_and_whitening_and_draws_the_rest_smaller():
    model = models.build_improved()
    models.whiten(model, images())
    whitening = [w.copy() for w in model.get_layer("whitening").get_weights()]
    details.pytorch_init(model, seed=0)
    assert all(np.array_equal(a, b)
               for a, b in zip(whitening, model.get_layer("whitening").get_weights()))
    convs = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D) and layer.name != "whitening"]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(convs) == 6 and len(dense) == 1
    redrawn = 0
    for layer in convs + dense:
        kernel = layer.get_weights()[0]
        bound = 1 / np.sqrt(np.prod(kernel.shape[:-1]))
        if isinstance(layer, keras.layers.Conv2D):
            inputs = kernel.shape[2]
            identity = np.zeros_like(kernel[:, :, :, :inputs])
            identity[1, 1, np.arange(inputs), np.arange(inputs)] = 1.0
            assert np.array_equal(kernel[:, :, :, :inputs], identity)
            kernel = kernel[:, :, :, inputs:]  # empty where outputs == inputs: all identities
        if kernel.size == 0:
            continue
        redrawn += 1
        assert np.abs(kernel).max() <= bound
        # Uniform on +-bound has variance bound^2 / 3: a sixth of He uniform's 2 / fan_in.
        assert abs(kernel.var() / (bound ** 2 / 3) - 1) < 0.1
    assert redrawn == 3  # the first convolution of each block where the width grows, and Dense


def test_first_steps_follows_its_schedule_then_stops_at_zero():
    schedule = details.FirstSteps(train.Triangle(1.5, 100), 30)
    inside = [float(schedule(s)) for s in (0, 10, 29)]
    assert inside == [float(train.Triangle(1.5, 100)(s)) for s in (0, 10, 29)]
    assert min(inside) > 0
    assert [float(schedule(s)) for s in (30, 50, 99)] == [0.0, 0.0, 0.0]


# One model with airbench's details, trained once, serves the two tests of its whitening
# bias: 40 one-step epochs (the momentum left after the bias stops needs about 30 steps to
# fade below 1 %), on 8 images a step (which variables move and when does not depend on
# how many).
EPOCHS = 40


class BiasPerEpoch(keras.callbacks.Callback):
    """The whitening bias at the start of training and after each epoch."""

    def on_train_begin(self, logs=None):
        self.bias = [self.model.get_layer("whitening").bias.numpy().copy()]

    def on_epoch_end(self, epoch, logs=None):
        self.bias.append(self.model.get_layer("whitening").bias.numpy().copy())


@pytest.fixture(scope="module")
def trained():
    """(model, its whitening kernel before training, its whitening bias per epoch)."""
    model = details.build(images(), steps_per_epoch=1, epochs=EPOCHS, seed=0)
    kernel = model.get_layer("whitening").kernel.numpy().copy()
    recorder = BiasPerEpoch()
    x, y = images(8), np.arange(8) % 10
    model.fit(x, y, batch_size=8, epochs=EPOCHS, verbose=0, callbacks=[recorder])
    assert int(model.optimizer.iterations) == EPOCHS  # one step per epoch
    return model, kernel, recorder.bias


def test_build_trains_the_whitening_bias_not_its_kernel_with_a_tiny_epsilon(trained):
    model, kernel, bias = trained
    trainable = [v.path for v in model.trainable_variables if "whitening" in v.path]
    assert trainable == ["improved/whitening/bias"]
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.epsilon == details.EPSILON for layer in norms)
    assert np.array_equal(model.get_layer("whitening").kernel.numpy(), kernel)
    assert not np.array_equal(bias[-1], bias[0])


def test_the_whitening_bias_stops_learning_after_its_epochs(trained):
    _, _, bias = trained
    moves = [np.abs(after - before).max() for before, after in zip(bias, bias[1:])]
    assert len(moves) == EPOCHS
    learning = moves[:details.WHITENING_BIAS_EPOCHS]
    # Afterwards only the momentum left over moves it, shrinking 0.85-fold a step.
    assert min(learning) > 0 and max(moves[-5:]) < 0.01 * max(learning)


def orientations(dataset, steps):
    """For each epoch, which images arrived mirrored (True) or not (False), by label."""
    seen = {}
    for step, (batch, labels) in enumerate(dataset):
        for image, label in zip(batch.numpy(), labels.numpy()):
            # A left half of ones and a right half of zeros survives a 2-pixel shift.
            left, right = image[:, :12].mean(), image[:, 20:].mean()
            assert {round(left), round(right)} == {0, 1}
            seen.setdefault(step // steps, {})[int(label)] = bool(left < right)
    return seen


def test_alternating_flip_mirrors_every_image_on_odd_epochs_and_half_to_start():
    n = 40
    x = np.zeros((n, 32, 32, 3), "float32")
    x[:, :, :16] = 1.0  # every image: bright left half
    dataset, steps = details.alternating_flip_pipeline(x, np.arange(n), 16, seed=0, epochs=4)
    assert steps == 3 and dataset.options().autotune.enabled is False
    seen = orientations(dataset, steps)
    assert sorted(seen) == [0, 1, 2, 3] and all(sorted(e) == list(range(n))
                                                   for e in seen.values())
    first = seen[0]
    assert 10 < sum(first.values()) < 30  # about half start mirrored
    assert seen[2] == first and seen[1] == seen[3] == {i: not m for i, m in first.items()}
