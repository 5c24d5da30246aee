"""Tiny synthetic CIFAR-10 folders in the official layout, for tests (not a test module).

The official ``cifar-10-batches-py`` files were pickled by Python 2 with protocol 2:
keys and strings are Python 2 ``str`` (they load as ``bytes`` with ``encoding="bytes"``)
and NumPy arrays are rebuilt by ``numpy.core.multiarray._reconstruct``. ``protocol=2``
writes exactly those opcodes and names; ``protocol=4`` writes what a Python 3
``pickle.dump(..., protocol=4)`` does, as ``../shared/datasets/cifar10/to_batches.py``.
"""
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
# One mean colour per class, so that even one epoch can learn a little.
CLASS_COLOURS = np.array([[200, 60, 60], [60, 200, 60], [60, 60, 200], [200, 200, 60],
                          [200, 60, 200], [60, 200, 200], [120, 120, 120], [230, 150, 40],
                          [40, 150, 230], [150, 40, 230]], dtype=np.int16)
_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy._core.multiarray._reconstruct


class Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 with NumPy 1 wrote it: `str` opcodes, numpy.core names."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        if obj is _RECONSTRUCT:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def dumps(obj, protocol=2):
    """Pickle `obj` as the official files (protocol 2) or as Python 3 does (protocol >= 3)."""
    if protocol == 2:
        buffer = io.BytesIO()
        Python2Pickler(buffer, protocol=2).dump(obj)
        return buffer.getvalue()
    return pickle.dumps(obj, protocol=protocol)


def make_batch(n, rng, batch_label):
    """A dict with the keys and types of an official batch: N x 3072 uint8, channels first."""
    labels = rng.integers(0, 10, size=n)
    noise = rng.integers(-50, 51, size=(n, 32, 32, 3))
    images = np.clip(CLASS_COLOURS[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(n, 3072))
    return {b"batch_label": batch_label.encode(), b"labels": [int(v) for v in labels],
            b"data": data, b"filenames": [f"synthetic_{i:05d}.png".encode() for i in range(n)]}


def write_official_layout(folder, n_train_per_batch=40, n_test=40, seed=0, protocol=2):
    """Write FOLDER/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}; return it."""
    out = Path(folder) / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = {name: make_batch(n_train_per_batch, rng, f"training batch {i} of 5")
               for i, name in enumerate(TRAIN_FILES, 1)}
    batches["test_batch"] = make_batch(n_test, rng, "testing batch 1 of 1")
    batches["batches.meta"] = {b"num_cases_per_batch": n_train_per_batch,
                               b"label_names": [n.encode() for n in LABEL_NAMES],
                               b"num_vis": 3072}
    for name, batch in batches.items():
        (out / name).write_bytes(dumps(batch, protocol))
    return out


class RunsShell:
    """Pickles as a call of os.system(command): what a crafted "data batch" can hold."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def crafted_batch(command, protocol=2):
    """A pickle that runs `command` when plain pickle.load() reads it."""
    return pickle.dumps({b"batch_label": b"training batch 2 of 5", b"labels": [0],
                         b"data": RunsShell(command)}, protocol=protocol)


# The tiny official-layout folder the CLI, recipe and strategy tests train on: 5 x 40
# training and 40 test images (the `tiny_data` fixture in conftest.py writes it).
TINY = {"n_train_per_batch": 40, "n_test": 40}


def images(n=64, seed=0):
    """Smooth random float images, 32x32x3: neighbouring pixels correlate, as in photos."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, 8, 8, 3)).astype("float32")
    return np.repeat(np.repeat(base, 4, axis=1), 4, axis=2) + \
        0.05 * rng.random((n, 32, 32, 3)).astype("float32")
