"""Load CIFAR-10 from Keras' download or from an extracted official folder."""
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
FOLDER = "cifar-10-batches-py"


class DataError(Exception):
    """The data could not be loaded; the message is one line for the user."""


# --8<-- [start:unpickler]
class RestrictedUnpickler(pickle.Unpickler):
    """Unpickle only what a CIFAR-10 batch holds: NumPy arrays and plain values.

    A pickle can name any importable callable and have it called while it
    loads. A crafted batch file could run a shell command that way, so every
    global outside this short list is refused before it is imported.
    """

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        # Python 3 protocol-2 pickles spell byte strings as _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)
# --8<-- [end:unpickler]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_batch(path):
    """Return (images, labels) of one batch file: uint8 (N, 32, 32, 3) and int64 (N,)."""
    try:
        with open(path, "rb") as f:
            # The official files were pickled by Python 2: keys and strings come back as bytes.
            batch = RestrictedUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({err})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch (expected a dict)")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' is not an N x 3072 uint8 array")
    labels = np.asarray(labels, dtype=np.int64) if labels is not None else None
    if labels is None or labels.shape != (len(data),) or labels.min(initial=0) < 0 \
            or labels.max(initial=0) > 9:
        raise DataError(f"{path}: 'labels' must be {len(data)} class ids in 0..9")
    # Stored channels-first (3 planes of 32x32); Keras wants channels-last.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def find_folder(data_dir):
    """Accept the extracted `cifar-10-batches-py` folder itself or the folder holding it."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir}: no such directory")
    return data_dir / FOLDER if (data_dir / FOLDER).is_dir() else data_dir


def load_from_dir(data_dir):
    """Read the official layout; return ((x_train, y_train), (x_test, y_test)), sha256 per file."""
    folder = find_folder(data_dir)
    missing = [n for n in TRAIN_FILES + [TEST_FILE] if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder}: missing CIFAR-10 file(s) {', '.join(missing)}")
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    x_train = np.concatenate([x for x, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    x_test, y_test = read_batch(folder / TEST_FILE)
    hashes = {name: sha256(folder / name) for name in TRAIN_FILES + [TEST_FILE]}
    return ((x_train, y_train), (x_test, y_test)), hashes


def load_from_keras():
    """Download (or reuse Keras' cache of) the official archive."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as err:  # urllib, SSL and HTTP errors all land here
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"could not download CIFAR-10 ({reason}); download "
                        "cifar-10-python.tar.gz elsewhere, extract it, and pass "
                        "--data-dir DIR") from None
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    hashes = {p.name: sha256(p) for p in sorted(cache.rglob("*_batch*")) if p.is_file()}
    return ((x_train, y_train.ravel()), (x_test, y_test.ravel())), hashes


# --8<-- [start:prepare]
def scale(images):
    """Map uint8 pixels in [0, 255] to float32 in [0, 1]."""
    return images.astype("float32") / 255.0


def split_validation(x, y, fraction, seed):
    """Hold out a shuffled `fraction` of the training set for validation.

    The test set is never used to choose anything: it is evaluated once, at the end.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])
# --8<-- [end:prepare]
