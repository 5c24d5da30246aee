"""Write the published outputs: acc.png, loss.png and metrics.json, swapped in as one set."""
import contextlib
import ctypes
import errno
import fcntl
import io
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path


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
    import matplotlib  # here, so that the CLI's checks answer without loading it

    matplotlib.use("Agg")  # no display needed; also keeps the CLI usable over SSH
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


# --- the output set, swapped as one --------------------------------------------------------

OUTPUTS = ("acc.png", "loss.png", "metrics.json")
MAX_KEPT_ENTRIES = 1000  # other files in --out that the swap carries over (as hard links)
_SWAP = ".swap-"  # leftovers: .<out>.swap-new-XXXX (staged set) and .<out>.swap-old-XXXX
committed = None  # the folder whose set was swapped in by this process, once it is


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


def kept_entries(out_dir, limit=MAX_KEPT_ENTRIES):
    """Count what a swap of `out_dir` carries over besides the outputs; OutputError past limit."""
    count = 0
    for top, dirs, files in os.walk(out_dir):
        names = [n for n in dirs + files if not (top == str(out_dir) and n in OUTPUTS)]
        count += len(names)
        if count > limit:
            raise OutputError(f"--out {out_dir}: holds more than {limit} other files; give "
                              f"the outputs a folder of their own")
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


def clean_leftovers(real):
    """Remove what a killed run left beside `real`; put an old set back if it was taken out."""
    parent, name = os.path.split(real)
    prefix = f".{name}{_SWAP}"
    leftovers = sorted(n for n in os.listdir(parent) if n.startswith(prefix))
    for n in leftovers:
        path = os.path.join(parent, n)
        # Only the two-rename fallback takes the old set out; put it back if --out is gone.
        if n.startswith(prefix + "old-") and not os.path.lexists(real):
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
    out_dir.absolute().parent.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(out_dir)  # a symlinked --out: swap the folder it points to
    parent, name = os.path.split(real)
    lock = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one swap at a time beside this folder
        clean_leftovers(real)
        staged = tempfile.mkdtemp(dir=parent, prefix=f".{name}{_SWAP}new-")
        try:
            for file_name, data in files.items():
                with open(os.path.join(staged, file_name), "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            if os.path.isdir(real):
                kept_entries(real)
                _carry_over(real, staged, skip=OUTPUTS)
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
                os.rename(real, old)
                os.rename(staged, real)
                staged = old
            committed = out_dir
            _fsync_dir(parent)
            if staged:
                shutil.rmtree(staged, ignore_errors=True)  # the old set
    finally:
        os.close(lock)
    return sorted(out_dir / name for name in files)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_outputs(out_dir, history, metrics):
    """Render everything in memory, then swap the three files in as one set.

    Raises OutputError (one line) when they cannot be written: the old set stays.
    """
    files = {
        "acc.png": plot_curve(history, "accuracy", "accuracy"),
        "loss.png": plot_curve(history, "loss", "loss (cross-entropy)"),
        "metrics.json": (json.dumps(metrics, indent=2, allow_nan=False) + "\n").encode(),
    }
    try:
        return swap_in(out_dir, files)
    except OSError as err:
        reason = err.strerror or str(err)
        raise OutputError(f"--out {out_dir}: could not write the outputs ({reason}); "
                          f"the previous ones are unchanged") from None
