"""Every chapter as a Jupyter notebook, generated from its Markdown page.

    python -m tested_docs.notebooks           # (re)write notebooks/<page>.ipynb
    python -m tested_docs.notebooks --check   # exit 1, naming them, if any is stale

The page is the only source. Its code cells are the blocks the test harness runs, found
by the harness's own lexers (``tested_docs.blocks``), in page order: visible Python
blocks (inside admonitions and content tabs too), invisible setup blocks, and
``--8<--`` includes expanded to the sections they show. The text between them becomes
Markdown cells: admonitions and tabs flattened to a bold heading over their content,
HTML comments (skip markers) dropped, the image link under a block that draws dropped
(the cell draws the figure itself), links to other pages made absolute on the site's
URL, and build-time numbers filled in by the site's own hook. A first cell installs the
pinned packages the page imports, so the notebook runs in Colab; a cell that needs a GPU
(a block after ``<!-- skip: next if(NO_GPU, ...) -->``) is tagged ``raises-exception``, so
running the notebook on a CPU does not stop there.

A notebook's outputs are kept while its source is unchanged (the case study's notebook
is committed with the outputs of the run behind plots/); a changed page drops them.
"""
import argparse
import ast
import importlib.metadata
import posixpath
import re
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import yaml
from sybil import Document

from tested_docs import DOCS, ROOT, blocks, figures, includes, metrics_format, replace_file

NOTEBOOKS = ROOT / "notebooks"
COMMAND = "make notebooks"  # the command the README and the freshness test name
# Chapters whose notebook asks Colab for a GPU runtime.
GPU_PAGES = {"gpu.md"}
GPU_TAG = "raises-exception"  # nbclient's standard tag: an error in this cell is expected
INSTALL_ID = "install"


# --- the site: chapters, URLs, build-time numbers ------------------------------------------

class _Loader(yaml.SafeLoader):
    """mkdocs.yml may hold tags such as !!python/name: read them as plain values."""


_Loader.add_multi_constructor("", lambda loader, suffix, node: None)


def site_config():
    """mkdocs.yml, read again when it changes (`make serve` keeps this module loaded)."""
    return _read_config((ROOT / "mkdocs.yml").stat().st_mtime_ns)


@cache
def _read_config(_version):
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)


def nav_files():
    """Every file in mkdocs.yml's nav (pages and notebooks), in nav order."""
    found = []

    def walk(entries):
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            if isinstance(value, list):
                walk(value)
            else:
                found.append(value)

    walk(site_config()["nav"])
    return found


def chapters():
    """Docs-relative paths of the Markdown pages in the nav, in nav order, but the overview."""
    return [name for name in nav_files() if name.endswith(".md") and name != "index.md"]


def site_url():
    return site_config()["site_url"].rstrip("/") + "/"


def repo_path():
    """'owner/name' of the GitHub repository in mkdocs.yml's repo_url."""
    match = re.match(r"https://github\.com/([^/]+/[^/]+?)/?$", site_config()["repo_url"])
    if match is None:
        raise ValueError("repo_url in mkdocs.yml is not a https://github.com/owner/name URL")
    return match[1]


def notebook_path(page):
    return NOTEBOOKS / (Path(page).stem + ".ipynb")


def colab_url(page):
    return (f"https://colab.research.google.com/github/{repo_path()}/blob/main/"
            f"notebooks/{Path(page).stem}.ipynb")


def fill_results(markdown, page):
    """Build-time numbers ({{ run.path | fmt }}, result tables), exactly as the site fills them."""
    return metrics_format.fill_results(markdown, page)


# --- the page, split into cells -----------------------------------------------------------

def code_regions(document):
    """(start, end, source, kind) of each block the harness runs, in page order."""
    regions = []
    for region, kind in blocks.python_regions(document):
        if kind == "doctest":
            raise ValueError(f"{document.path}: a doctest block cannot become a notebook "
                             f"cell; write it as a Python block with '#>' lines")
        regions.append((region.start, region.end, str(region.lexemes["source"]), kind))
    return regions


GPU_ONLY = re.compile(r"^\s*(next|start)\s+if\s*\(\s*NO_GPU\b")


def governed_starts(document, chosen):
    """Start offsets of the blocks that the `skip: next/start if(...)` markers whose
    arguments `chosen` accepts govern (the next block, or every block up to `end`)."""
    code = [start for start, *_ in code_regions(document)]
    marked = set()
    markers = sorted((lexed.start, (lexed.lexemes["arguments"] or "").strip())
                     for lexed in blocks.skip_lexer()(document))
    for index, (at, arguments) in enumerate(markers):
        if arguments == "end" or not chosen(arguments):
            continue
        following = [s for s in code if s > at]
        if arguments.startswith("next"):
            marked.update(following[:1])
        else:  # start ... end
            stop = next((m for m, a in markers[index + 1:] if a == "end"), None)
            marked.update(s for s in following if stop is None or s < stop)
    return marked


def gpu_only_starts(document):
    """Start offsets of the blocks a `skip: next/start if(NO_GPU, ...)` marker governs."""
    return governed_starts(document, GPU_ONLY.match)


PLACEHOLDER = "\x00"
PLACEHOLDER_LINE = re.compile(rf"^[ \t]*{PLACEHOLDER}(\d+)$")
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
CONTAINER = re.compile(r'^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?|===\+?)[ \t]+'
                       r'(?P<kind>[\w-]+)?[ \t]*(?:"(?P<title>[^"]*)")?[ \t]*$')
TAB = re.compile(r'^(?P<indent>[ \t]*)===\+?[ \t]+"(?P<title>[^"]*)"[ \t]*$')


def container_heading(line):
    """'**Title**' for an admonition or tab line, '' for an empty title, None otherwise."""
    match = TAB.match(line) or CONTAINER.match(line)
    if match is None:
        return None
    title = match["title"]
    if title is None:  # `!!! note` without a title: Material shows the type
        title = (match.groupdict().get("kind") or "").replace("-", " ").capitalize()
    return f"{match['indent']}**{title}**" if title.strip() else ""


def flatten(lines):
    """Admonitions (!!!, ???, ???+) and content tabs (===): a bold heading, then the
    content dedented by one level. Fenced blocks are left as they are."""
    out, i, fence = [], 0, None
    while i < len(lines):
        line = lines[i]
        if fence:
            out.append(line)
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            i += 1
            continue
        if (match := FENCE.match(line)) is not None:
            fence = match[1]
            out.append(line)
            i += 1
            continue
        heading = container_heading(line)
        if heading is None:
            out.append(line)
            i += 1
            continue
        indent = line[:len(line) - len(line.lstrip())]
        body, i = [], i + 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + "    ")):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():  # trailing blank lines are not the body's
            body.pop()
            i -= 1
        inner = [indent + b[len(indent) + 4:] if b.strip() else "" for b in body]
        while inner and not inner[0]:
            inner.pop(0)
        out += ([heading, ""] if heading else []) + flatten(inner)
    return out


COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
LINK = re.compile(r"(?P<text>!?\[[^\]]*\])\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"\n]*\")?\)")


def absolute(target, page):
    """A link of the page as an absolute URL on the published site."""
    if re.match(r"^[a-zA-Z][\w+.-]*:|^//", target):
        return target
    path, _, fragment = target.partition("#")
    if not path:
        path = page
    if path.endswith((".md", ".ipynb")):
        name = re.sub(r"\.(md|ipynb)$", "", posixpath.normpath(path))
        url = "" if name == "index" else f"{name}/"
    else:
        url = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    return urljoin(site_url(), url) + (f"#{fragment}" if fragment else "")


def image_file(target, page):
    """The file a relative image link of the page shows (docs/, or plots/ as the hook
    serves it), or None."""
    if re.match(r"^[a-zA-Z][\w+.-]*:|^//|^#", target) or not target.endswith(".png"):
        return None
    relative = posixpath.normpath(posixpath.join(posixpath.dirname(page), target))
    for base in (DOCS, ROOT):
        if (base / relative).is_file():
            return base / relative
    return None


def markdown_cell_text(text, page):
    """(text, attachments) of a Markdown cell. A relative image travels inside the
    notebook as an attachment, so it shows in Colab and offline; other links point to
    the site."""
    import base64

    text = fill_results(text, page)
    text = COMMENT.sub("", text)
    attachments = {}

    def link(match):
        target = match["target"]
        image = image_file(target, page) if match["text"].startswith("!") else None
        if image is not None:
            name = image.name
            attachments[name] = {"image/png": base64.b64encode(image.read_bytes()).decode()}
            return f"{match['text']}(attachment:{name}{match['title'] or ''})"
        return f"{match['text']}({absolute(target, page)}{match['title'] or ''})"

    parts = re.split(r"(^[ \t]*(?:`{3,}|~{3,}).*?^[ \t]*(?:`{3,}|~{3,})[ \t]*$)", text,
                     flags=re.MULTILINE | re.DOTALL)
    # Links outside fenced blocks only; a fence shows text literally.
    text = "".join(p if i % 2 else LINK.sub(link, p) for i, p in enumerate(parts))
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n"), attachments


def cells_of(page):
    """(kind, text, extra) of each cell of a page, in order: ('markdown', text, attachments)
    or ('code', source, gpu_only)."""
    path = DOCS / page
    text = path.read_text()
    document = Document(text, str(path))
    regions = code_regions(document)
    gpu_only = gpu_only_starts(document)
    lines = text.split("\n")
    replaced = {}  # line index -> placeholder line, or None to drop the line
    for number, (start, end, _, kind) in enumerate(regions):
        first, last = text.count("\n", 0, start), text.count("\n", 0, end)
        indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
        replaced[first] = f"{indent}{PLACEHOLDER}{number}"
        for index in range(first + 1, last + 1):
            replaced[index] = None
        if kind == "fence":
            for line_number, _ in figures.links_after(text, end):
                replaced[line_number - 1] = None  # the cell draws this figure itself
    kept = [replaced.get(i, line) for i, line in enumerate(lines)]
    flat = flatten([line for line in kept if line is not None])
    cells, chunk = [], []

    def close_chunk():
        body, attachments = markdown_cell_text("\n".join(chunk), page)
        if body:
            cells.append(("markdown", body, attachments))
        chunk.clear()

    for line in flat:
        match = PLACEHOLDER_LINE.match(line)
        if match is None:
            chunk.append(line)
            continue
        close_chunk()
        start, _, source, _ = regions[int(match[1])]
        cells.append(("code", includes.expand(source).strip("\n"), start in gpu_only))
    close_chunk()
    return cells


# --- the install cell ---------------------------------------------------------------------

def pinned_requirements():
    """{distribution: version} from requirements.txt, as a Colab runtime must install them:
    `tensorflow`, never `tensorflow-cpu` (Colab is linux x86_64 with GPUs)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        name = "tensorflow" if name == "tensorflow-cpu" else name
        versions = [s.version for s in requirement.specifier if s.operator == "=="]
        if len(versions) != 1:
            raise ValueError(f"requirements.txt: {line!r} is not pinned with ==")
        if pins.get(name, versions[0]) != versions[0]:
            raise ValueError(f"requirements.txt pins {name} at {pins[name]} and {versions[0]}")
        pins[name] = versions[0]
    return pins


def imported_modules(sources):
    found = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


@cache
def installed_distributions():
    """{top-level module: [distributions]}: read once per process (every notebook asks,
    and each reading walks the RECORD of every installed package)."""
    return importlib.metadata.packages_distributions()


def install_cell_source(code_sources, page=None):
    """The notebook's first cell: keep the runtime's TensorFlow when this page passed with
    its release (compat/record.json), else install the pinned versions; install the
    other packages the page imports either way. It says in one line which case applies."""
    from tested_docs import compat, record

    pins = pinned_requirements()
    distributions = installed_distributions()
    needed = set()
    for module in imported_modules(code_sources):
        for dist in distributions.get(module, []):
            name = dist.lower().replace("_", "-")
            needed.add("tensorflow" if name == "tensorflow-cpu" else name)
    needed.add("tensorflow")  # every chapter runs on TensorFlow
    if "keras" in needed or page is not None:
        needed.add("keras")
    packages = [f"{name}=={version}" for name, version in pins.items() if name in needed]
    tested = [(pins["tensorflow"], pins["keras"])]
    if page is not None:
        tested = compat.passing(compat.load(), page, record.page_digest(DOCS / page)) \
            or tested
    releases = sorted({compat.minor(tf) for tf, _ in tested},
                      key=lambda v: tuple(map(int, v.split("."))))
    kerases = sorted({compat.minor(k) for _, k in tested})
    # With the runtime's TensorFlow, its NumPy and TensorBoard stay too.
    others = [p for p in packages if p.split("==")[0] not in
              ("tensorflow", "keras", "numpy", "tensorboard")]
    keras_pin = f"keras=={pins['keras']}"
    shown = ", ".join(tf for tf, _ in tested)
    return (
        f"# This page passed with TensorFlow {shown} (Keras "
        f"{', '.join(sorted({k for _, k in tested}))}).\n"
        "# Keep this runtime's TensorFlow if it is one of those releases; otherwise\n"
        "# install the versions the page is pinned to.\n"
        "from importlib import metadata\n\n\n"
        "def release(*names):\n"
        "    for name in names:\n"
        "        try:\n"
        "            return \".\".join(metadata.version(name).split(\".\")[:2])\n"
        "        except metadata.PackageNotFoundError:\n"
        "            pass\n"
        "    return None\n\n\n"
        "runtime = release(\"tensorflow\", \"tensorflow-cpu\")\n"
        f"if runtime in {releases!r}:\n"
        "    print(f\"Keeping this runtime's TensorFlow {runtime}: a tested release.\")\n"
        f"    if release(\"keras\") not in {kerases!r}:\n"
        f"        %pip install --quiet {keras_pin}\n"
        + (f"    %pip install --quiet {' '.join(others)}\n" if others else "")
        + "else:\n"
        f"    print(f\"Installing TensorFlow {pins['tensorflow']}: this runtime has \"\n"
        "          f\"{runtime or 'none'}, which this page was not tested with.\")\n"
        f"    %pip install --quiet {' '.join(packages)}\n")


# --- running one ---------------------------------------------------------------------------

CELL_TIMEOUT = 300  # seconds a cell may take before the run fails


def execute(notebook, workdir, timeout=CELL_TIMEOUT, env=None, then=None):
    """Run a notebook top to bottom in a fresh `python3` kernel of this Python, in place,
    but its %pip cell (which would install TensorFlow's GPU build). A failing cell raises
    nbclient's CellExecutionError, unless it is tagged raises-exception (GPU-only cells).
    `then`: code run afterwards in the same kernel, outside the notebook; its stdout is
    returned."""
    import os

    import nbclient

    env = dict(os.environ if env is None else env)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend shows the figures
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}},
                                     record_timing=False)
    with client.setup_kernel(env=env, cwd=str(workdir)):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and cell.get("id") != INSTALL_ID:
                client.execute_cell(cell, index)
        if then is None:
            return None
        extra = nbformat.v4.new_code_cell(then, id="after-the-notebook")
        scratch = nbformat.v4.new_notebook(cells=[extra])
        client.nb, kept = scratch, client.nb
        try:
            client.execute_cell(extra, 0)
        finally:
            client.nb = kept
        return "".join(o.get("text", "") for o in extra.outputs
                       if o.output_type == "stream" and o.name == "stdout")


# --- the notebook -------------------------------------------------------------------------

def build(page):
    """The notebook of one chapter (docs-relative path), as an nbformat v4 node."""
    cells = cells_of(page)
    code = [text for kind, text, _ in cells if kind == "code"]
    notebook_cells = [nbformat.v4.new_code_cell(install_cell_source(code, page),
                                                id=INSTALL_ID)]
    for number, (kind, text, extra) in enumerate(cells, 1):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text, id=f"cell-{number:03d}")
            if extra:
                cell.attachments = extra
        else:
            cell = nbformat.v4.new_code_cell(text, id=f"cell-{number:03d}")
            if extra:
                cell.metadata["tags"] = [GPU_TAG]
        notebook_cells.append(cell)
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                       "language": "python"},
        "language_info": {"name": "python"},
        "source": {"page": f"docs/{page}", "url": absolute(page, page),
                   "generated_by": f"python -m tested_docs.notebooks ({COMMAND})"},
        "colab": {"name": Path(page).stem + ".ipynb", "provenance": []},
    }
    if page in GPU_PAGES:
        metadata["accelerator"] = "GPU"
        metadata["colab"]["gpuType"] = "T4"
    notebook = nbformat.v4.new_notebook(cells=notebook_cells, metadata=metadata)
    nbformat.validate(notebook)
    return notebook


def without_outputs(notebook):
    """The notebook as generated: outputs, execution counts and run metadata removed."""
    notebook = nbformat.from_dict(nbformat.v4.upgrade(notebook) if notebook.get(
        "nbformat", 4) < 4 else notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return notebook


def text_of(notebook):
    return nbformat.writes(notebook) + "\n"


def readable(path):
    """The notebook at `path`, or None when it is not a notebook nbformat can read (a
    half-resolved merge, a truncated file)."""
    try:
        return nbformat.reads(path.read_text(), as_version=4)
    except (OSError, UnicodeDecodeError, ValueError, nbformat.reader.NotJSONError):
        return None


def stale(page):
    """None when notebooks/<page>.ipynb is what the page generates (outputs aside), else why."""
    path = notebook_path(page)
    if not path.exists():
        return f"{path.relative_to(ROOT)} does not exist"
    stored = readable(path)
    if stored is None:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        return f"{shown} is not a readable notebook (damaged JSON?)"
    stored = without_outputs(stored)
    if text_of(stored) != text_of(build(page)):
        return f"{path.relative_to(ROOT)} differs from what docs/{page} generates"
    return None


def carried_outputs(old, new):
    """`new` with the outputs of `old` when both hold the same code cells in the same order:
    the outputs came from running exactly that code, whatever prose now surrounds it.
    None when the code changed (then the outputs no longer belong to it)."""
    # The install cell is not the page's code, and the published run does not execute it.
    old_code = [c for c in old.cells if c.cell_type == "code" and c.get("id") != INSTALL_ID]
    new_code = [c for c in new.cells if c.cell_type == "code" and c.get("id") != INSTALL_ID]
    if [c.source for c in old_code] != [c.source for c in new_code]:
        return None
    for before, after in zip(old_code, new_code):
        after.outputs = before.get("outputs", [])
        after.execution_count = before.get("execution_count")
        if "execution" in before.metadata:
            after.metadata["execution"] = before.metadata["execution"]
    return new


def write(page):
    """Write the page's notebook; keep the stored one (and its outputs) if only they differ,
    and carry its outputs over when only the prose changed."""
    if stale(page) is None:
        return False
    path = notebook_path(page)
    notebook = build(page)
    old = readable(path) if path.exists() else None  # a damaged one is simply replaced
    if old is not None and any(cell.get("outputs") for cell in old.cells):
        carried = carried_outputs(old, notebook)
        if carried is None:
            print(f"note: {path.relative_to(ROOT)}: its code changed, so its outputs were "
                  f"dropped (make figures runs the case study again)", file=sys.stderr)
        else:
            notebook = carried
    replace_file(path, text_of(notebook).encode())
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tested_docs.notebooks",
        description="Write notebooks/<page>.ipynb for every chapter in mkdocs.yml's nav.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming each stale or missing notebook")
    parser.add_argument("--warn", action="store_true",
                        help="write nothing; one warning line per stale notebook, exit 0 "
                             "(make serve)")
    args = parser.parse_args(argv)
    pages = chapters()
    extra = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")
                   if p.stem not in {Path(page).stem for page in pages})
    if args.warn:
        for page in pages:
            if why := stale(page):
                print(f"WARNING: {why}: run `{COMMAND}`", file=sys.stderr)
        return 0
    if args.check:
        problems = [why for page in pages if (why := stale(page))]
        problems += [f"notebooks/{name} belongs to no chapter in the nav" for name in extra]
        for problem in problems:
            print(problem)
        if problems:
            print(f"update them with `{COMMAND}`")
        return 1 if problems else 0
    for page in pages:
        print(("wrote " if write(page) else "unchanged ")
              + str(notebook_path(page).relative_to(ROOT)))
    for name in extra:
        (NOTEBOOKS / name).unlink()
        print(f"removed notebooks/{name} (no chapter in the nav)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
