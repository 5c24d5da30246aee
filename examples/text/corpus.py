"""The text chapter's corpus: sentences of this site's own chapters, labelled by chapter.

    python -m examples.text.corpus [--docs docs] [--out examples/text/sentences.tsv]

writes a frozen snapshot, so that the chapter's outputs do not move each time a chapter's
prose is edited; docs/text.md reads it. Each line of the file is
`chapter<TAB>sentence`; lines that start with `#` are comments (source and licence).
"""
import argparse
import re
import subprocess
from pathlib import Path

# Four chapters with clearly different topics, and about as many sentences each.
CHAPTERS = ("gradients", "data", "gpu", "distribute")
MIN_WORDS = 5  # shorter pieces are headings' leftovers, list stubs or captions

FENCE = re.compile(r"^\s*(```|~~~)")
SKIPPED_LINE = re.compile(r"^\s*(<!--|-->|!\[|\||#|--8<--|\$\$)")
LIST_ITEM = re.compile(r"^\s*(-|\d+\.)\s+")
ADMONITION = re.compile(r'^\s*(!!!|\?\?\?\+?)\s*\S+\s*("([^"]*)")?\s*$')
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\[(])")


def prose_lines(markdown):
    """The lines of prose of a chapter: no code, comments, images, tables or headings."""
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or SKIPPED_LINE.match(line):
            continue
        if LIST_ITEM.match(line):
            yield ""  # each list item is a paragraph of its own
            line = LIST_ITEM.sub("", line)
        admonition = ADMONITION.match(line)
        if admonition:  # keep an admonition's title, drop its marker
            line = admonition.group(3) or ""
        yield line.strip()


def sentences(markdown):
    """The sentences of a chapter's prose, as a reader sees them (links as their text)."""
    paragraphs = "\n".join(prose_lines(markdown)).split("\n\n")
    for paragraph in paragraphs:
        text = LINK.sub(r"\1", " ".join(paragraph.split()))
        text = text.replace("`", "").replace("**", "")
        for sentence in SENTENCE_END.split(text):
            if len(sentence.split()) >= MIN_WORDS:
                yield sentence


def write_corpus(docs, out, source):
    """Write `chapter<TAB>sentence` lines for CHAPTERS, under a header naming `source`."""
    lines = [
        "# Sentences of the chapters " + ", ".join(f"{c}.md" for c in CHAPTERS),
        f"# of this site (docs/ at {source}), written by python -m examples.text.corpus.",
        "# Licence: the site's own text, under the same terms as its repository.",
    ]
    for chapter in CHAPTERS:
        text = (Path(docs) / f"{chapter}.md").read_text(encoding="utf-8")
        lines += [f"{chapter}\t{s}" for s in sentences(text)]
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 3


def current_commit():
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "an unknown commit"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="docs")
    parser.add_argument("--out", default="examples/text/sentences.tsv")
    args = parser.parse_args(argv)
    count = write_corpus(args.docs, args.out, current_commit())
    print(f"{count} sentences written to {args.out}")


if __name__ == "__main__":
    main()
