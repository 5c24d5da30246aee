"""Load CIFAR-10 from Keras' download or from an extracted official folder."""
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

# --8<-- [start:layout]
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
FOLDER = "cifar-10-batches-py"


class DataError(Exception):
    """The data could not be loaded; the message is one line for the user."""
# --8<-- [end:layout]


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
        # Protocol 5 (Python 3.14's default) rebuilds arrays from a buffer.
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        # Python 3 protocol-2 pickles spell byte strings as _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)
# --8<-- [end:unpickler]


# --8<-- [start:read]
def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def one_line(err):
    """An exception as `Type: text` on one line, for DataError messages."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def read_batch(path):
    """Return (images, labels) of one batch file: uint8 (N, 32, 32, 3) and int64 (N,)."""
    try:
        with open(path, "rb") as f:
            # The official files were pickled by Python 2: keys and strings come back as bytes.
            batch = RestrictedUnpickler(f, encoding="bytes").load()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or one_line(err)})") from None
    except Exception as err:
        # A damaged or crafted pickle fails in many ways: truncation, bad opcodes, wrong
        # argument types, absurd sizes. Each is bad data, reported in one line.
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({one_line(err)})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch (expected a dict)")
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' is not an N x 3072 uint8 array")
    if len(data) == 0:
        raise DataError(f"{path}: holds no images")
    try:
        labels = np.asarray(labels)
    except Exception:  # ragged lists and the like
        labels = None
    if labels is None or labels.shape != (len(data),) \
            or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: 'labels' must be {len(data)} class ids in 0..9")
    # Stored channels-first (3 planes of 32x32); Keras wants channels-last.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def find_folder(data_dir):
    """Accept the extracted `cifar-10-batches-py` folder itself or the folder holding it."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        problem = "not a directory" if data_dir.exists() else "no such directory"
        raise DataError(f"--data-dir {data_dir}: {problem}")
    return data_dir / FOLDER if (data_dir / FOLDER).is_dir() else data_dir


def check_files(folder):
    missing = [n for n in TRAIN_FILES + [TEST_FILE] if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder}: missing CIFAR-10 file(s) {', '.join(missing)}")


def load_from_dir(data_dir):
    """Read the official layout; return ((x_train, y_train), (x_test, y_test)), sha256 per file."""
    folder = find_folder(data_dir)
    check_files(folder)
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    x_train = np.concatenate([x for x, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    x_test, y_test = read_batch(folder / TEST_FILE)
    hashes = {name: sha256(folder / name) for name in TRAIN_FILES + [TEST_FILE]}
    return ((x_train, y_train), (x_test, y_test)), hashes
# --8<-- [end:read]


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


def load(data_dir=None):
    """CIFAR-10 from `data_dir` (no TensorFlow needed) or from Keras' download.

    Returns ((x_train, y_train), (x_test, y_test)), a description of the source, and
    the sha256 of each file read.
    """
    if data_dir is None:
        splits, hashes = load_from_keras()
        return splits, "keras.datasets.cifar10.load_data()", hashes
    splits, hashes = load_from_dir(data_dir)
    return splits, f"--data-dir {find_folder(data_dir).name} (official layout)", hashes
