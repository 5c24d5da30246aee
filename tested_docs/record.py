"""The record a test run leaves, and the digest that ties it to a page's content.

The build stamps a page "passed" only when the page, with every section it includes,
is byte for byte what the test run saw.
"""
import hashlib
import json

from tested_docs import ROOT, replace_file
from tested_docs.includes import includes, section_text

RECORD = ROOT / ".cache" / "tested-with.json"


def page_digest(path):
    """sha256 of a page and of every section it includes (a missing one counts as such)."""
    text = path.read_text()
    digest = hashlib.sha256(text.encode())
    for source, section in includes(text):
        try:
            shown = section_text(source, section)
        except (OSError, ValueError) as err:
            shown = f"<unreadable: {err}>"
        digest.update(f"\0{source}:{section}\0{shown}".encode())
    return digest.hexdigest()


def load(path=RECORD):
    """The record, or {} when there is none (or it is unreadable: nothing is stamped)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def save(record, path=RECORD):
    replace_file(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


def status(entry, digest):
    """'untested', 'changed', 'partial' (some blocks skipped) or 'passed'."""
    if not isinstance(entry, dict):
        return "untested"
    if entry.get("digest") != digest:
        return "changed"
    return "partial" if entry.get("skipped") else "passed"
