"""The overview's install command installs every third-party package the chapters import.

A reader who runs exactly the `pip install` line of docs/index.md must be able to run
every visible block of every page. The imports come from the blocks the harness collects
(included sections as they are shown), top-level module names only, without the standard
library and the project's own `examples` package.
"""
import importlib.metadata
import re
import shlex
import sys

from sybil import Document

from tested_docs import DOCS, blocks, includes
from tested_docs.notebooks import imported_modules, pinned_requirements

# The pip package that provides each module the pages import. None: it comes with the
# package named in COMES_WITH, which the command installs, so the command leaves it out
# (its version is the one that package's pins allow).
PACKAGE_OF = {
    "tensorflow": "tensorflow",
    "keras": "keras",
    "matplotlib": "matplotlib",
    "tensorboard": "tensorboard",
    "sklearn": "scikit-learn",
    "palmerpenguins": "palmerpenguins",
    "numpy": None,
    "pandas": None,
    "absl": None,
    "h5py": None,
    # The case study's figures cell displays images with IPython, which comes with the
    # Jupyter the overview installs (a second `pip install` line) to run its notebook.
    "IPython": "jupyterlab",
}
COMES_WITH = {"numpy": "tensorflow", "pandas": "palmerpenguins", "absl": "tensorflow",
              "h5py": "keras"}
OWN = {"examples"}  # the project's own package, not installed from an index


def visible_sources(page):
    document = Document(page.read_text(), str(page))
    for region, kind in blocks.python_regions(document):
        if kind == "invisible":
            continue
        source = includes.expand(str(region.lexemes["source"]))
        if kind == "doctest":
            source = "\n".join(re.sub(r"^\s*(>>>|\.\.\.) ?", "", line)
                               for line in source.splitlines()
                               if re.match(r"^\s*(>>>|\.\.\.)", line))
        yield source


def third_party_imports():
    """{module: first page that imports it} over every visible block of every page."""
    found = {}
    for page in sorted(DOCS.rglob("*.md")):
        for source in visible_sources(page):
            for module in sorted(imported_modules([source])):
                found.setdefault(module, page.relative_to(DOCS).as_posix())
    return {m: p for m, p in found.items()
            if m not in sys.stdlib_module_names and m not in OWN and m != "__future__"}


def install_command():
    """{package: version or ''} of the `pip install` lines in docs/index.md's bash blocks
    (the optional GPU line, `tensorflow[and-cuda]`, aside)."""
    text = (DOCS / "index.md").read_text()
    pins = {}
    for block in re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", text, re.DOTALL | re.MULTILINE):
        for command in block.replace("\\\n", " ").splitlines():
            words = shlex.split(command)
            if words[:2] == ["pip", "install"] and not any("[" in w for w in words):
                for word in words[2:]:
                    name, _, version = word.partition("==")
                    pins[name.lower()] = version
    assert pins, "docs/index.md has no `pip install ...` line in a bash block"
    return pins


def test_every_import_has_a_known_package():
    unknown = {m: p for m, p in third_party_imports().items() if m not in PACKAGE_OF}
    assert not unknown, (f"modules the pages import with no package in PACKAGE_OF: "
                         f"{unknown}; add each, and to docs/index.md's install command")


def test_the_overview_installs_every_imported_package_pinned_as_tested():
    pins, command = pinned_requirements(), install_command()
    needed = {PACKAGE_OF.get(m) or COMES_WITH.get(m) for m in third_party_imports()}
    needed.discard(None)
    missing = sorted(needed - set(command))
    assert not missing, f"docs/index.md's `pip install` line leaves out {missing}"
    wrong = [f"{name}=={command[name]} (tested: {pins[name]})" for name in sorted(needed)
             if name in pins and command[name] != pins[name]]
    assert not wrong, f"docs/index.md's `pip install` pins differ from requirements.txt: {wrong}"


def test_what_comes_with_a_package_is_one_of_its_requirements():
    distributions = importlib.metadata.packages_distributions()
    for module, package in COMES_WITH.items():
        installed = "tensorflow-cpu" if package == "tensorflow" and sys.platform == "linux" \
            else package
        requires = {re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0].lower().replace("_", "-")
                    for r in importlib.metadata.requires(installed) or []}
        provided = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        assert provided & requires, f"{module} does not come with {package}"
