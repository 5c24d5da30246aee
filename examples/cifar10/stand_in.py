"""Random stand-in images in CIFAR-10's shapes, for checking the steps quickly.

The case study's load step uses them only when CIFAR10_STAND_IN=1 (the docs harness
and the tests set it): 240 images of noise on which every step runs in seconds and
nothing is learned.
"""
import numpy as np


def stand_in_images(seed=0, n_train=200, n_test=40):
    """((x_train, y_train), (x_test, y_test)) as load_data() returns them: uint8
    images of 32x32x3 and integer labels from 0 to 9 (as a flat vector)."""
    noise = np.random.default_rng(seed)
    x_train = noise.integers(0, 256, size=(n_train, 32, 32, 3), dtype=np.uint8)
    x_test = noise.integers(0, 256, size=(n_test, 32, 32, 3), dtype=np.uint8)
    y_train = noise.integers(0, 10, size=n_train)
    y_test = noise.integers(0, 10, size=n_test)
    return (x_train, y_train), (x_test, y_test)
