"""Write the published outputs (curves, figures, metrics.json), swapped in as one set."""
import contextlib
import ctypes
import errno
import fcntl
import io
import json
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np


def stage(path, data):
    """Write bytes to a hidden temporary file beside `path`; return its name."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files only their owner can read
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_atomically(path, data):
    """Write bytes to `path` so that a reader sees the old file or the new one, never half."""
    tmp = stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# --8<-- [start:plot]
def plot_curve(history, metric, label):
    """Training vs validation `metric` per epoch, as PNG bytes."""
    # Imported here, so that the CLI's checks answer without loading it.
    import matplotlib

    # no display needed; also keeps the CLI usable over SSH
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history[metric]) + 1)
    # A white figure reads the same on the site's light and dark themes.
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120, facecolor="white")
    ax.plot(epochs, history[metric], "o-", label="training")
    ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()
# --8<-- [end:plot]


# --8<-- [start:figures]
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
           "horse", "ship", "truck")


def _figure(rows, cols, size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, dpi=100,
                             facecolor="white", squeeze=False)
    return plt, fig, axes


def _png(plt, fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


def plot_samples(images, labels, per_class=8):
    """The first `per_class` images of each class, one row per class, as PNG
    bytes."""
    size = (per_class * 0.9, len(CLASSES) * 0.9)
    plt, fig, axes = _figure(len(CLASSES), per_class, size)
    for row, name in enumerate(CLASSES):
        for col, index in enumerate(np.flatnonzero(labels == row)[:per_class]):
            axes[row, col].imshow(images[index])
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _png(plt, fig)


def confusion_matrix(y_true, y_pred):
    """counts[i, j]: how many images of class i were predicted as class j."""
    counts = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return counts


def most_confused(counts, k=5):
    """The k largest off-diagonal cells: which true class went to which wrong
    one."""
    off = counts * (1 - np.eye(len(counts), dtype=int))
    cells = np.argsort(off, axis=None)[::-1][:k]
    # A class with no test image (a tiny or damaged test set) has no share: 0,
    # not NaN.
    return [{"true": CLASSES[i], "predicted": CLASSES[j],
             "count": int(off[i, j]),
             "share_of_class": float(off[i, j] / max(counts[i].sum(), 1))}
            for i, j in zip(*np.unravel_index(cells, off.shape))]


def plot_confusion(counts):
    """The confusion matrix with its counts, rows the true class, as PNG
    bytes."""
    plt, fig, axes = _figure(1, 1, (7, 6))
    ax = axes[0, 0]
    # The colours saturate at the largest mistake, so that mistakes stand out;
    # the diagonal (the correct answers) is then all dark.
    off_diagonal = counts * (1 - np.eye(len(counts), dtype=int))
    largest_mistake = max(int(off_diagonal.max()), 1)
    ax.imshow(counts, cmap="Blues", vmin=0, vmax=largest_mistake)
    for (i, j), count in np.ndenumerate(counts):
        ax.text(j, i, count, ha="center", va="center", fontsize=8,
                color="white" if count > largest_mistake / 2 else "black")
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.tight_layout()
    return _png(plt, fig)


def plot_confident_errors(images, y_true, probabilities, count=16, cols=4):
    """The `count` wrong predictions made with the highest probability, as PNG
    bytes, `cols` to a row."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    worst = wrong[np.argsort(confidence[wrong])[::-1][:count]]
    rows = -(-max(len(worst), 1) // cols)
    # 700 pixels wide, about the page's column, and 13-point labels: still
    # readable when a phone shows the figure at half that width.
    plt, fig, axes = _figure(rows, cols, (7, rows * 2.3))
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, worst):
        ax.imshow(images[index])
        ax.set_title(f"{CLASSES[y_true[index]]}\n"
                     f"→ {CLASSES[predicted[index]]} {confidence[index]:.0%}",
                     fontsize=13)
    fig.tight_layout()
    return _png(plt, fig)

def draw_figures(train_images, train_labels, test_images, test_labels,
                 probabilities):
    """samples.png, confusion.png and errors.png as PNG bytes, and the confusion
    matrix."""
    counts = confusion_matrix(test_labels, probabilities.argmax(axis=1))
    figures = {"samples.png": plot_samples(train_images, train_labels),
               "confusion.png": plot_confusion(counts),
               "errors.png": plot_confident_errors(test_images, test_labels,
                                                   probabilities)}
    return figures, counts
# --8<-- [end:figures]


# --- the output set, swapped as one --------------------------------------------------------

OUTPUTS = ("acc.png", "loss.png", "metrics.json", "samples.png", "confusion.png", "errors.png")
FIGURES = OUTPUTS[3:]  # drawn from the images and the test predictions
MAX_KEPT_ENTRIES = 1000  # other files in --out that the swap carries over (as hard links)
_SWAP = ".swap-"  # leftovers: .<out>.swap-new-XXXXXXXX (staged) and .<out>.swap-old-XXXXXXXX
committed = None  # the folder whose set was swapped in by this process, once it is
# Every output set holds this file: --out may replace a folder only if it has it (or is
# empty), and leftover cleanup touches only folders that have it.
MARKER = ".cifar10-outputs"
MARKER_TEXT = (b"A set of CIFAR-10 outputs written by python -m examples.cifar10 "
               b"(acc.png, loss.png, metrics.json, samples.png, confusion.png, errors.png).\n"
               b"A later run given this folder as --out replaces them.\n")
REPOSITORY = Path(__file__).resolve().parents[2]
# Folders of the repository that no --out may be or be inside.
PROTECTED = (".git", "docs", "examples", "tested_docs", "tests")


class OutputError(Exception):
    """The outputs could not be written; the message is one line and the old set stands."""


def _exchange(a, b):
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, EXCHANGE
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # file system or kernel lacks it
        return False
    raise OSError(err, os.strerror(err), str(b))


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_output_set(folder):
    """Whether `folder` holds the marker a run writes into every output set."""
    marker = os.path.join(folder, MARKER)
    try:
        if os.path.islink(marker) or not os.path.isfile(marker):
            return False
        with open(marker, "rb") as f:
            return f.read(len(MARKER_TEXT) + 1) == MARKER_TEXT
    except OSError:
        return False


def check_replaceable(real, shown=None):
    """OutputError, in one line, unless the folder `real` (resolved) may become --out.

    Never the repository, a folder that holds it, or one of its own folders (.git, docs,
    examples...); and an existing folder only if it is empty or a previous output set.
    """
    shown = shown or real
    real = Path(real)
    if real == REPOSITORY or real in REPOSITORY.parents:
        raise OutputError(f"--out {shown}: give a folder of its own, not one that holds the "
                          f"repository (e.g. runs/NAME)")
    for name in PROTECTED:
        if real == REPOSITORY / name or REPOSITORY / name in real.parents:
            raise OutputError(f"--out {shown}: is inside the repository's {name}/, which "
                              f"holds no outputs")
    if real.is_dir() and not is_output_set(real) and any(os.scandir(real)):
        raise OutputError(f"--out {shown}: holds files but is not a set of outputs (no "
                          f"{MARKER} file); give a new or empty folder")


def kept_entries(out_dir, limit=MAX_KEPT_ENTRIES):
    """Count what a swap of `out_dir` carries over besides the outputs; OutputError past
    limit, or for anything but files, folders and links (a FIFO, a socket, a device)."""
    count = 0
    pending = [str(out_dir)]
    while pending:
        top = pending.pop()
        for entry in os.scandir(top):
            if top == str(out_dir) and entry.name in OUTPUTS + (MARKER,):
                continue
            count += 1
            if count > limit:
                raise OutputError(f"--out {out_dir}: holds more than {limit} other files; "
                                  f"give the outputs a folder of their own")
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif not (entry.is_symlink() or entry.is_file(follow_symlinks=False)):
                inside = os.path.relpath(entry.path, out_dir)
                raise OutputError(f"--out {out_dir}: {inside} is not a file, folder or link "
                                  f"(a FIFO, socket or device cannot be carried over)")
    return count


def _carry_over(old, new, skip=()):
    """Hard-link every other file of the old folder into the new one (no data copied)."""
    for entry in os.scandir(old):
        if entry.name in skip:
            continue
        target = os.path.join(new, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            os.mkdir(target)
            _carry_over(entry.path, target)
            shutil.copystat(entry.path, target)
        elif entry.is_file():
            os.link(entry.path, target)
        else:
            raise OSError(errno.EINVAL, "not a file or folder, cannot carry it over",
                          entry.path)


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT, SIGTERM and SIGHUP wait until the block ends, then act as they would have."""
    caught = []
    names = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    try:
        previous = {s: signal.signal(s, lambda number, frame: caught.append(number))
                    for s in names}
    except ValueError:  # not the main thread: Python runs signal handlers only there
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(caught):
            os.kill(os.getpid(), number)


def leftovers_of(real):
    """The folders a killed run of this writer left beside `real`: named as it names
    them, and holding its marker. Anything else, however named, is not ours."""
    parent, name = os.path.split(real)
    pattern = re.compile(rf"\.{re.escape(name)}\.swap-(new|old)-[a-z0-9_]{{8}}")
    found = []
    for n in sorted(os.listdir(parent)):
        path = os.path.join(parent, n)
        if pattern.fullmatch(n) and not os.path.islink(path) and os.path.isdir(path) \
                and is_output_set(path):
            found.append(path)
    return found


def clean_leftovers(real):
    """Remove what a killed run left beside `real`; put an old set back if it was taken out."""
    for path in leftovers_of(real):
        # Only the two-rename fallback takes the old set out; put it back if --out is gone.
        if _SWAP + "old-" in os.path.basename(path) and not os.path.lexists(real):
            os.rename(path, real)
        else:
            shutil.rmtree(path, ignore_errors=True)


def swap_in(out_dir, files):
    """Make `files` ({name: bytes}) the content of `out_dir`'s outputs, all or nothing.

    The new set is staged in a sibling folder that also holds hard links to everything
    else in `out_dir`; then one rename exchanges the two folders. A reader, and a kill at
    any instant, finds the whole old set or the whole new set. Leftovers of a killed run
    are removed by the next one.
    """
    global committed
    out_dir = Path(out_dir)
    real = os.path.realpath(out_dir)  # a symlinked --out: swap the folder it points to
    check_replaceable(real, out_dir)
    out_dir.absolute().parent.mkdir(parents=True, exist_ok=True)
    parent, name = os.path.split(real)
    lock = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one swap at a time beside this folder
        clean_leftovers(real)
        staged = tempfile.mkdtemp(dir=parent, prefix=f".{name}{_SWAP}new-")
        files = {MARKER: MARKER_TEXT, **files}  # first: a leftover is known to be ours
        try:
            for file_name, data in files.items():
                with open(os.path.join(staged, file_name), "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            if os.path.isdir(real):
                kept_entries(real)
                _carry_over(real, staged, skip=OUTPUTS + (MARKER,))
                shutil.copystat(real, staged)
            else:
                os.chmod(staged, 0o777 & ~_umask())
            for file_name in files:
                os.chmod(os.path.join(staged, file_name), 0o644)
            _fsync_dir(staged)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        with _signals_deferred():  # from here on the swap is one step
            if not os.path.isdir(real):
                os.rename(staged, real)
                staged = None
            elif not _exchange(staged, real):
                # No atomic exchange here: take the old set out, put the new one in. A kill
                # in between leaves no --out at all, never a mix; the next run restores it.
                old = tempfile.mkdtemp(dir=parent, prefix=f".{name}{_SWAP}old-")
                os.rmdir(old)
                if not is_output_set(real):  # an empty folder: mark it, so that the
                    write_atomically(os.path.join(real, MARKER), MARKER_TEXT)  # next run
                    # can restore it if a kill lands between the two renames
                os.rename(real, old)
                os.rename(staged, real)
                staged = old
            committed = out_dir
            _fsync_dir(parent)
            if staged:
                shutil.rmtree(staged, ignore_errors=True)  # the old set
    finally:
        os.close(lock)
    return sorted(out_dir / name for name in files if name != MARKER)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_outputs(out_dir, history, metrics, figures):
    """Render everything in memory, then swap the files in as one set.

    `figures`: the PNG bytes of FIGURES. Raises OutputError (one line) when they cannot
    be written: the old set stays.
    """
    files = {
        "acc.png": plot_curve(history, "accuracy", "accuracy"),
        "loss.png": plot_curve(history, "loss", "loss (training objective)"),
        "metrics.json": (json.dumps(metrics, indent=2, allow_nan=False) + "\n").encode(),
        **{name: figures[name] for name in FIGURES},
    }
    try:
        return swap_in(out_dir, files)
    except OSError as err:
        reason = err.strerror or str(err)
        raise OutputError(f"--out {out_dir}: could not write the outputs ({reason}); "
                          f"the previous ones are unchanged") from None
