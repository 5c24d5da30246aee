"""Build-time generation for the site (MkDocs hooks; see `hooks:` in mkdocs.yml).

Nothing here is typed by hand into a page: the figures and results come from plots/,
each chapter's "tested with" stamp comes from the record the test run writes, and its
"Open in Colab" and "Download notebook" buttons point to notebooks/, which
`python -m tested_docs.notebooks` generates from the chapters.
"""
import html
import json
import logging
import re
import statistics
import sys
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

# MkDocs loads this file by path; the project's packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sybil import Document  # noqa: E402

from examples.cifar10 import schema  # noqa: E402
from tested_docs import ROOT, blocks, record  # noqa: E402

log = logging.getLogger("mkdocs.hooks.site")

PLOTS = ROOT / "plots"
RUNS = {name: PLOTS / path for name, path in schema.PUBLISHED.items()}
METRIC = re.compile(r"\{\{\s*(?P<run>\w+)\.(?P<path>[\w.]+)\s*(?:\|\s*(?P<fmt>\w+)\s*)?\}\}")
RESULTS_TABLE = "<!-- results-table -->"
BENCHMARK_TABLE = "<!-- benchmark-table -->"
# Each ablation file has its table: <!-- ablation-table --> for "ablation",
# <!-- ablation-full-budget-table --> for "ablation_full_budget", and so on.
ABLATIONS = [name for name in RUNS if name.startswith("ablation")]
SEEDS_TABLE = "<!-- seeds-table -->"
NOTEBOOKS = ROOT / "notebooks"
# The case study's notebook (committed with the outputs of the run behind plots/) is also
# a page: mkdocs-jupyter renders this copy, and only it (its `include` in mkdocs.yml).
CASE_STUDY_NOTEBOOK = ("cifar10.ipynb", "cifar10-notebook.ipynb")
_notebook_dir = tempfile.TemporaryDirectory(prefix="site-notebook-")


# --- files: figures from plots/, the chapters' notebooks ---------------------------------

@event_priority(100)  # before mkdocs-jupyter looks for notebooks among the files
def on_files(files, config):
    # notebooks/*.ipynb are served as plain files, for "Download notebook".
    for path in sorted(PLOTS.rglob("*.png")) + sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(File(str(path.relative_to(ROOT)), str(ROOT), config["site_dir"],
                          config["use_directory_urls"]))
    source, page_name = CASE_STUDY_NOTEBOOK
    if (NOTEBOOKS / source).exists():
        copy = Path(_notebook_dir.name) / page_name
        copy.write_bytes((NOTEBOOKS / source).read_bytes())
        files.append(File(page_name, str(copy.parent), config["site_dir"],
                          config["use_directory_urls"]))
    for file in files:
        if file.src_uri.endswith(".ipynb"):
            refuse_failed_cells(Path(file.abs_src_path), file.src_uri)
    return files


def refuse_failed_cells(path, name):
    """A notebook that stores a failed cell must not be published."""
    notebook = json.loads(path.read_text())
    for number, cell in enumerate(notebook.get("cells", []), 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise PluginError(f"{name}: cell {number} failed "
                                  f"({output.get('ename')}: {output.get('evalue')})")


# --- results of the published runs --------------------------------------------------------

def load_runs():
    """Every plots/ file that exists, each checked against examples/cifar10/schema.py."""
    runs = {}
    for name, path in RUNS.items():
        if path.exists():
            try:
                runs[name] = schema.load(path, shown_as=path.relative_to(ROOT).as_posix()
                                         if path.is_relative_to(ROOT) else path)
            except schema.SchemaError as err:
                raise PluginError(f"refusing to publish {err}") from None
    return runs


def lookup(run, dotted):
    value = run
    for key in dotted.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


# Characters that Markdown, its extensions (attr_list, pymdownx) or HTML give a meaning to.
MARKUP = set("\\`*_{}[]<>()#+!|~^=:$&\"'")


def escaped(text):
    """Text from a metrics file as literal characters in Markdown and HTML alike."""
    return "".join(f"&#{ord(c)};" if c in MARKUP else c for c in text)


def formatted(value, fmt):
    if isinstance(value, str):
        if fmt is not None:
            raise PluginError(f"format '{fmt}' needs a number, got text")
        return escaped(value)
    if fmt == "count" and isinstance(value, list):
        return str(len(value))
    if isinstance(value, (dict, list)) and fmt not in ("mean_s", "median_s", "slowest_s") \
            or isinstance(value, bool):
        raise PluginError(f"expected a single number or text, got {type(value).__name__}")
    if fmt == "pct":
        # Two decimals: 10,000 test images resolve 0.01 %, and one decimal would show
        # 84.95 % as 85.0 %.
        return f"{100 * value:.2f} %"
    if fmt == "min":
        return f"{value / 60:.1f} min"
    if fmt == "s":  # a tenth of a second where that is not noise next to the value
        return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
    if fmt == "mean_s":
        return f"{sum(value) / len(value):.0f} s"
    if fmt == "median_s":
        return f"{statistics.median(value):.0f} s"
    if fmt == "slowest_s":
        return f"{max(value):.0f} s"
    if fmt == "int":
        return f"{value:,}"
    if fmt is None:
        return str(value)
    raise PluginError(f"unknown metric format '{fmt}'")


def substitute_metrics(markdown, runs, page):
    def replace(match):
        run = runs.get(match["run"])
        if run is None:
            raise PluginError(f"{page}: no metrics for run '{match['run']}' "
                              f"(expected {RUNS.get(match['run'], 'a known run name')})")
        try:
            return formatted(lookup(run, match["path"]), match["fmt"])
        except PluginError as err:
            raise PluginError(f"{page}: {{{{ {match['run']}.{match['path']} }}}}: {err}") \
                from None
        except (KeyError, IndexError, ValueError, TypeError) as err:
            raise PluginError(f"{page}: metrics of '{match['run']}' have no "
                              f"'{match['path']}' ({err})") from None

    return METRIC.sub(replace, markdown)


def results_table(runs):
    rows = [
        ("Parameters", "parameters", "int"),
        ("Epochs", "epochs", None),
        ("Batch size", "batch_size", None),
        ("Precision", "precision", None),
        ("Seconds per epoch (mean)", "seconds_per_epoch", "mean_s"),
        ("Training time", "total_training_seconds", "min"),
        ("Training accuracy (last epoch)", "final.train.accuracy", "pct"),
        ("Validation accuracy", "final.validation.accuracy", "pct"),
        ("Test accuracy, images alone", "final.test.accuracy", "pct"),
        ("**Test accuracy, image and mirror voting**", "final.test_flip_averaged.accuracy", "pct"),
        ("Test loss", "final.test.loss", None),
    ]
    names = ["baseline", "improved"]
    lines = ["| Measure | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|" + "---:|" * len(names)]
    for label, path, fmt in rows:
        cells = []
        for n in names:
            value = lookup(runs[n], path)
            cells.append(f"{value:.3f}" if fmt is None and isinstance(value, float)
                         else formatted(value, fmt))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_cell(versus):
    if versus is None:
        return "not reached"
    return ("" if versus["kind"] == "exact" else "at most ") + f"{versus['time_ratio']:.2f} ×"


def benchmark_table(bench):
    """Time to the target validation accuracy of each recipe, 'not reached' where it was not."""
    target = f"{100 * bench['target']:g} %"
    lines = [f"| Recipe | Batch | Epoch budget | Best validation accuracy | Epochs to {target} "
             f"| Training time to {target} | Time against the tutorial's |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, label in (("tutorial", "TensorFlow tutorial"), ("baseline", "ours, `baseline`"),
                        ("improved", "ours, `improved`")):
        r = bench["recipes"][name]
        reached = r["epochs_to_target"] is not None
        ratio = "—" if name == "tutorial" else ratio_cell(bench["versus_tutorial"][name])
        best = max(c["validation_accuracy"] for c in r["checks"])
        lines.append(
            f"| {label} | {r['batch_size']} | {r['max_epochs']} "
            f"| {formatted(best, 'pct')} "
            f"| {format(r['epochs_to_target'], 'g') if reached else 'not reached'} "
            f"| {formatted(r['seconds_to_target'], 's') if reached else 'not reached'} "
            f"| {ratio} |")
    return "\n".join(lines)


def ablation_table(ablation):
    """Validation accuracy of each variant at the same budget, against the full recipe."""
    variants = ablation["variants"]
    full = next(v for v in variants if v["name"] == "full")["validation_accuracy"]
    lines = ["| Variant | What changes | Validation accuracy | Against the full recipe "
             "| Training time |",
             "|---|---|---:|---:|---:|"]
    for v in variants:
        delta = "—" if v["name"] == "full" else \
            f"{100 * (v['validation_accuracy'] - full):+.2f} points"
        lines.append(f"| `{v['name']}` | {escaped(v['description'])} "
                     f"| {formatted(v['validation_accuracy'], 'pct')} | {delta} "
                     f"| {formatted(v['seconds'], 's')} |")
    return "\n".join(lines)


def seeds_table(seeds):
    """One row per seed of the published recipe, then the mean and standard deviation."""
    lines = ["| Seed | Test accuracy, images alone | Image and mirror voting "
             "| Validation accuracy | Training time | Device |",
             "|---:|---:|---:|---:|---:|---|"]
    for r in seeds["runs"]:
        mark = " (figures)" if r["seed"] == seeds["figures_from_seed"] else ""
        lines.append(f"| {r['seed']}{mark} | {formatted(r['test_accuracy'], 'pct')} "
                     f"| {formatted(r['test_flip_averaged_accuracy'], 'pct')} "
                     f"| {formatted(r['validation_accuracy'], 'pct')} "
                     f"| {formatted(r['training_seconds'], 'min')} | {escaped(r['device'])} |")
    cells = [f"{100 * seeds[k]['mean']:.2f} ± {100 * seeds[k]['std']:.2f} %"
             for k in ("test_accuracy", "test_flip_averaged_accuracy", "validation_accuracy")]
    seconds = seeds["training_seconds"]
    lines.append(f"| **mean ± std** | {' | '.join(cells)} "
                 f"| {formatted(seconds['mean'], 'min')} ± {seconds['std']:.0f} s | |")
    return "\n".join(lines)


def stamp(entry, digest):
    """The line under a chapter's title: what the last test run proved of this very text."""
    state = record.status(entry, digest)
    if state == "untested":
        return ('<p class="tested-stamp untested">Not tested yet: no test run recorded this '
                'page on the machine that built the site.</p>')
    if state == "changed":
        return ('<p class="tested-stamp untested">Changed since it was last tested: this '
                'text has not yet been run by the test suite.</p>')
    versions = f'TensorFlow {entry["tensorflow"]} and Keras {entry["keras"]} on {entry["date"]}'
    if state == "partial":
        reasons = "; ".join(html.escape(r) for r in entry.get("skip_reasons", []))
        passed, skipped = entry["passed"], entry["skipped"]
        return (f'<p class="tested-stamp partial">&#10004; {passed} code '
                f'{"block" if passed == 1 else "blocks"} on this page passed with {versions}; '
                f'{skipped} {"was" if skipped == 1 else "were"} skipped on that machine '
                f'({reasons}).</p>')
    return (f'<p class="tested-stamp">&#10004; Every code block on this page passed with '
            f'{versions}.</p>')


def has_python_block(markdown, path):
    return bool(blocks.python_fences(Document(markdown, path)))


_tested = {}  # the record of the last test run, read once per build


def on_config(config):
    _tested.clear()
    _tested.update(record.load())
    if not record.RECORD.exists():
        log.info("No test record (%s): every chapter will say 'Not tested yet'. Run "
                 "`make test` first.", record.RECORD.relative_to(ROOT))
    return config


def insert_after_title(markdown, html):
    title = re.search(r"^# .*$", markdown, re.MULTILINE)
    at = title.end() if title else 0
    return f"{markdown[:at]}\n\n{html}\n{markdown[at:]}"


def fill_results(markdown, page_name):
    """Numbers and tables of the published runs filled into a page's Markdown (the site's
    pages here, the chapter notebooks in tested_docs.notebooks)."""
    tables = ((RESULTS_TABLE, ("improved", "baseline"), results_table),
              (BENCHMARK_TABLE, ("benchmark",), lambda runs: benchmark_table(runs["benchmark"])),
              *((f"<!-- {name.replace('_', '-')}-table -->", (name,),
                 lambda runs, name=name: ablation_table(runs[name])) for name in ABLATIONS),
              (SEEDS_TABLE, ("seeds",), lambda runs: seeds_table(runs["seeds"])))
    if METRIC.search(markdown) or any(marker in markdown for marker, _, _ in tables):
        runs = load_runs()
        for marker, run_names, render in tables:
            if marker in markdown:
                missing = [RUNS[n].relative_to(ROOT).as_posix() for n in run_names
                           if n not in runs]
                if missing:
                    raise PluginError(f"{page_name}: {marker} needs {', '.join(missing)}")
                markdown = markdown.replace(marker, render(runs))
        markdown = substitute_metrics(markdown, runs, page_name)
    return markdown


def notebook_buttons(markdown, page_name):
    """'Open in Colab' and 'Download notebook' under a chapter's title (and its stamp).
    The download is a Markdown link to the file, so the strict build checks that it exists."""
    from tested_docs import notebooks

    if page_name not in notebooks.chapters():
        return markdown
    stem = Path(page_name).stem
    buttons = (f'[Open in Colab]({notebooks.colab_url(page_name)}){{ .md-button .notebook-button }}\n'
               f'[Download notebook](notebooks/{stem}.ipynb){{ .md-button .notebook-button '
               f'download="{stem}.ipynb" }}')
    return insert_after_title(markdown, f'<div class="notebook-buttons" markdown>\n{buttons}\n</div>')


def on_page_markdown(markdown, page, config, files):
    markdown = fill_results(markdown, page.file.src_uri)
    markdown = notebook_buttons(markdown, page.file.src_uri)
    source = page.file.abs_src_path
    if page.file.src_uri.endswith(".md") and has_python_block(markdown, source):
        entry = _tested.get(page.file.src_uri)
        markdown = insert_after_title(markdown, stamp(entry, record.page_digest(Path(source))))
    return markdown
