"""Write the published outputs: acc.png, loss.png and metrics.json, each atomically."""
import io
import json
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; also keeps the CLI usable over SSH
import matplotlib.pyplot as plt  # noqa: E402


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


def write_outputs(out_dir, history, metrics):
    """Render everything in memory, stage the three files, then swap them in."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "acc.png": plot_curve(history, "accuracy", "accuracy"),
        "loss.png": plot_curve(history, "loss", "loss (cross-entropy)"),
        "metrics.json": (json.dumps(metrics, indent=2) + "\n").encode(),
    }
    # Stage all three before replacing any, so an error leaves the old set untouched.
    staged = {}
    try:
        for name, data in files.items():
            staged[name] = stage(out_dir / name, data)
    except BaseException:
        for tmp in staged.values():
            os.unlink(tmp)
        raise
    for name, tmp in staged.items():
        os.replace(tmp, out_dir / name)
    return sorted(out_dir / name for name in files)
