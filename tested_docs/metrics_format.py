"""The numbers and tables of the published runs, as the site and the notebooks show them.

`{{ improved.final.test.accuracy | pct }}` in a page becomes `85.12 %`, filled from
plots/metrics.json; `<!-- results-table -->` and the other table markers become tables.
The site build (docs/_hooks/site.py) and the notebook generator (tested_docs.notebooks)
both call `fill_results`, so a page and its notebook show the same text.

Every string from plots/ is placed as literal text: in prose and tables as character
references (Markdown and HTML then give it no meaning), in a code span as an HTML
`<code>` element holding those references (a Markdown code span would show them as
typed). Text cannot be placed in a fenced block, where nothing is unescaped.
"""
import re
import statistics

from examples.cifar10 import schema
from tested_docs import ROOT

PLOTS = ROOT / "plots"
RUNS = {name: PLOTS / path for name, path in schema.PUBLISHED.items()}
METRIC = re.compile(r"\{\{\s*(?P<run>\w+)\.(?P<path>[\w.]+)\s*(?:\|\s*(?P<fmt>\w+)\s*)?\}\}")
# A placeholder, or one that is a whole code span: `{{ seeds.command }}`.
METRIC_OR_SPAN = re.compile(r"(?P<span>`)?(?P<metric>" + METRIC.pattern + r")(?(span)`)")
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
RESULTS_TABLE = "<!-- results-table -->"
BENCHMARK_TABLE = "<!-- benchmark-table -->"
# Each ablation file has its table: <!-- ablation-table --> for "ablation",
# <!-- ablation-full-budget-table --> for "ablation_full_budget", and so on.
ABLATIONS = [name for name in RUNS if name.startswith("ablation")]
SEEDS_TABLE = "<!-- seeds-table -->"


class MetricsError(ValueError):
    """A page asks for a number the published files cannot give; one line, naming it."""


def load_runs():
    """Every plots/ file that exists, each checked against examples/cifar10/schema.py,
    and the two runs checked to be the models their folders publish."""
    runs = {}
    for name, path in RUNS.items():
        if path.exists():
            try:
                runs[name] = schema.load(path, shown_as=shown_path(path))
            except schema.SchemaError as err:
                raise MetricsError(f"refusing to publish {err}") from None
    for name in ("improved", "baseline"):
        model = runs.get(name, {}).get("model", name)
        if model != name:
            # The likely cause: a training run was given --out plots (or plots/baseline).
            raise MetricsError(
                f"refusing to publish {shown_path(RUNS[name])}: it is a {model} run, where "
                f"the {name} run belongs; a training run wrote into {shown_path(RUNS[name].parent)}/ "
                f"- restore it with `git checkout {shown_path(RUNS[name].parent)}/`")
    return runs


def shown_path(path):
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


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
            raise MetricsError(f"format '{fmt}' needs a number, got text")
        return escaped(value)
    if fmt == "count" and isinstance(value, list):
        return str(len(value))
    if isinstance(value, (dict, list)) and fmt not in ("mean_s", "median_s", "slowest_s") \
            or isinstance(value, bool):
        raise MetricsError(f"expected a single number or text, got {type(value).__name__}")
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
    raise MetricsError(f"unknown metric format '{fmt}'")


def fence_spans(markdown):
    """(start, end) offsets of the fenced blocks of a page."""
    spans, start, fence, offset = [], None, None, 0
    for line in markdown.splitlines(keepends=True):
        match = FENCE.match(line)
        if fence is None and match:
            start, fence = offset, match[1]
        elif fence is not None and line.strip().startswith(fence) \
                and not line.strip().strip(fence[0]):
            spans.append((start, offset + len(line)))
            fence = None
        offset += len(line)
    if fence is not None:
        spans.append((start, len(markdown)))
    return spans


def substitute_metrics(markdown, runs, page):
    fences = fence_spans(markdown)

    def replace(match):
        run = runs.get(match["run"])
        if run is None:
            raise MetricsError(f"{page}: no metrics for run '{match['run']}' "
                               f"(expected {RUNS.get(match['run'], 'a known run name')})")
        where = f"{page}: {{{{ {match['run']}.{match['path']} }}}}"
        try:
            value = lookup(run, match["path"])
            shown = formatted(value, match["fmt"])
        except MetricsError as err:
            raise MetricsError(f"{where}: {err}") from None
        except (KeyError, IndexError, ValueError, TypeError) as err:
            raise MetricsError(f"{page}: metrics of '{match['run']}' have no "
                               f"'{match['path']}' ({err})") from None
        if any(start <= match.start() < end for start, end in fences):
            if isinstance(value, str):
                raise MetricsError(f"{where} is text, which a fenced block would show "
                                   f"escaped; put it in a code span or in prose")
            return match[0].replace(match["metric"], shown)
        if match["span"]:  # character references show as text in <code>, not in `...`
            return f"<code>{shown}</code>"
        return shown

    return METRIC_OR_SPAN.sub(replace, markdown)


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
        lines.append(f"| <code>{escaped(v['name'])}</code> | {escaped(v['description'])} "
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
                    raise MetricsError(f"{page_name}: {marker} needs {', '.join(missing)}")
                markdown = markdown.replace(marker, render(runs))
        markdown = substitute_metrics(markdown, runs, page_name)
    return markdown
