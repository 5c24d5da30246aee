"""Figures drawn by a page's own code.

A block that draws with matplotlib ends with ``plt.show()``; the next non-blank
lines after its closing fence are its image links, one per figure, pointing under
``figures/`` next to the page (``![What it shows](figures/<page>/<name>.png)``).
The PNG is committed, so the site serves it before any test run; the test run draws
it again and fails when it no longer matches within a tolerance, and
``--update-outputs`` redraws it.
"""
import io
import re
import tempfile
from pathlib import Path

IMAGE_LINE = re.compile(r"^[ \t]*!\[(?P<alt>[^\]]*)\]\((?P<src>figures/[^)\s]+\.png)\)[ \t]*$")
DPI = 100
# Root-mean-square difference (0-255 scale) tolerated between a stored and a new drawing:
# Agg draws the same figure identically on one matplotlib version; this absorbs nothing
# bigger than anti-aliasing.
TOLERANCE = 3.0


def links_after(text, end):
    """(line number, src) of the image links right after a block that ends at offset `end`."""
    lines = text[end:].split("\n")
    first_line = text.count("\n", 0, end) + 1
    found, index = [], 1  # lines[0] is the rest of the closing fence's line
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines) and (match := IMAGE_LINE.match(lines[index])):
        found.append((first_line + index, match["src"]))
        index += 1
    return found


def open_figures():
    import matplotlib.pyplot as plt

    return [plt.figure(number) for number in plt.get_fignums()]


def close_all():
    import matplotlib.pyplot as plt

    plt.close("all")


def png_bytes(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight",
                   metadata={"Software": None})
    return buffer.getvalue()


def difference(stored, drawn):
    """None when the drawing matches the stored PNG, else why not."""
    from matplotlib.testing.compare import compare_images
    from matplotlib.testing.exceptions import ImageComparisonFailure

    if not stored.is_file():
        return "it does not exist yet"
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp) / "drawn.png"
        new.write_bytes(drawn)
        try:
            result = compare_images(str(stored), str(new), TOLERANCE, in_decorator=True)
        except (ImageComparisonFailure, OSError, SyntaxError, ValueError) as err:
            return f"it cannot be compared ({str(err).splitlines()[0]})"
    if result is None:
        return None
    return f"it differs from the new drawing (RMS {result['rms']:.1f} > {TOLERANCE})"
