"""Commands as published: no path of the machine that ran them.

A recorded command (metrics.json's `command`, shown on the site as "Made with") keeps
what a reader can reuse and drops what belongs to one machine: a path inside the
repository becomes relative to it (`plots/baseline`), any other absolute path, or a
relative one that leaves the repository, keeps only its last part (`--data-dir
/tmp/x/cifar-10-batches-py` becomes `--data-dir '<cifar-10-batches-py>'`).

    python -m examples.cifar10.provenance   # apply it to the committed plots/ and notebook

rewrites the commands already recorded in plots/**/*.json and notebooks/cifar10.ipynb
the same way, and changes nothing else in them, byte for byte.
"""
import json
import os
import shlex
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def portable_argument(arg, root=REPOSITORY, cwd=None):
    """One command-line argument as published (see the module's docstring)."""
    if arg.startswith("--") and "=" in arg:
        option, value = arg.split("=", 1)
        return f"{option}={portable_argument(value, root, cwd)}"
    absolute = arg.startswith(("/", "~"))
    leaves = not absolute and os.path.normpath(arg).startswith("..")
    if not (absolute or leaves):
        return arg  # an option, a number, free text, or a path inside the repository
    path = Path(os.path.expanduser(arg))
    full = Path(os.path.abspath(Path(cwd or os.getcwd()) / path))
    try:
        return full.relative_to(root).as_posix() or "."
    except ValueError:
        return f"<{full.name or 'root'}>"


def published_command(module, argv, root=REPOSITORY, cwd=None):
    """`python -m module argv...` as metrics files record it: every path portable."""
    return shlex.join(["python", "-m", module,
                       *(portable_argument(a, root, cwd) for a in argv)])


def portable_command(command, root=REPOSITORY):
    """A command already recorded, rewritten as published_command would have written it."""
    words = shlex.split(command)
    if words[:2] != ["python", "-m"] or len(words) < 3:
        return command
    # Paths in old records were absolute, or relative to the repository (the cwd then).
    return published_command(words[2], words[3:], root, cwd=root)


# --- applying it once to the committed files ----------------------------------------------

def commands_in(value):
    """Every string under a "command" key, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "command" and isinstance(item, str):
                yield item
            else:
                yield from commands_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from commands_in(item)


def rewritten(text, replacements, encode):
    for old, new in replacements.items():
        text = text.replace(encode(old), encode(new))
    return text


def main(argv=None):
    from examples.cifar10 import schema
    from tested_docs import replace_file
    from tested_docs.metrics_format import escaped

    plots = sorted((REPOSITORY / "plots").rglob("*.json"))
    replacements = {}
    for path in plots:
        for command in commands_in(schema.parse(path.read_text())):
            if portable_command(command) != command:
                replacements[command] = portable_command(command)
    notebook = REPOSITORY / "notebooks" / "cifar10.ipynb"
    # Numbers stay byte for byte: only the JSON text of each command is replaced.
    changed = []
    for path in [*plots, notebook]:
        text = path.read_text()
        # In the notebook, a command is shown as the site shows it (escaped for Markdown).
        new = rewritten(text, replacements, lambda s: json.dumps(s)[1:-1])
        new = rewritten(new, replacements, lambda s: json.dumps(escaped(s))[1:-1])
        if new != text:
            replace_file(path, new.encode())
            changed.append(path.relative_to(REPOSITORY).as_posix())
    for name in changed:
        print(f"rewrote the recorded commands of {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
