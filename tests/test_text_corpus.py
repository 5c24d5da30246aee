"""The text chapter's corpus: the generator keeps prose only, and the committed snapshot
is well formed (the chapter reads it with its own loader)."""
from pathlib import Path

from examples.text import corpus
from tested_docs import ROOT

SNAPSHOT = ROOT / "examples" / "text" / "sentences.tsv"

MARKDOWN = """# A title

Intro with a [link](other.md) and `code`. Second sentence of the intro here!

```python
print("code is not prose")
```

!!! warning "Mind the padding"

    Inside a box: five words at least.

    ```python
    x = "indented code is not prose either"
    ```

| a | table |
|---|---|
![an image](figures/x.png)
<!-- invisible-code-block: python -->

- first list item with enough words;
- second list item with enough words.
"""


def test_sentences_keep_prose_only():
    assert list(corpus.sentences(MARKDOWN)) == [
        "Intro with a link and code.",
        "Second sentence of the intro here!",
        "Inside a box: five words at least.",
        "first list item with enough words;",
        "second list item with enough words.",
    ]


def test_write_corpus_labels_each_sentence_with_its_chapter(tmp_path):
    for chapter in corpus.CHAPTERS:
        (tmp_path / f"{chapter}.md").write_text(f"The {chapter} chapter says this.\n")
    out = tmp_path / "out.tsv"
    assert corpus.write_corpus(tmp_path, out, "abc1234") == len(corpus.CHAPTERS)
    lines = out.read_text().splitlines()
    assert "abc1234" in lines[1] and all(line.startswith("#") for line in lines[:3])
    assert lines[3] == "gradients\tThe gradients chapter says this."


def test_the_committed_snapshot_is_well_formed():
    rows = [line.split("\t") for line in SNAPSHOT.read_text().splitlines()
            if not line.startswith("#")]
    assert all(len(row) == 2 for row in rows)
    labels = [label for label, _ in rows]
    assert set(labels) == set(corpus.CHAPTERS)
    assert min(labels.count(c) for c in corpus.CHAPTERS) >= 100
    assert all(len(text.split()) >= corpus.MIN_WORDS and "`" not in text
               for _, text in rows)


def test_main_reports_what_it_wrote(tmp_path, capsys):
    docs = Path(ROOT / "docs")
    out = tmp_path / "sentences.tsv"
    corpus.main(["--docs", str(docs), "--out", str(out)])
    assert capsys.readouterr().out.startswith(f"{len(out.read_text().splitlines()) - 3} ")
