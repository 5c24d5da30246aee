# The two commands of the README. Each creates .venv from requirements.lock (every
# package pinned with its hashes) on first use, and again whenever the lock changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.requirements-installed

.PHONY: help serve test test-page test-replay build compat update-outputs notebooks test-notebooks figures seeds ablation ablation-full-budget ablation-airbench ablation-xla clean
.DEFAULT_GOAL := help

help:  ## this list: every target with what it does
	@grep -E '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | \
		awk -F ':.*## ' '{ printf "  make %-22s %s\n", $$1, $$2 }'

serve: $(READY)  ## the site with live reload at http://127.0.0.1:8000/intro-tensorflow-keras/ (warns about stale notebooks)
	@$(BIN)/python -m tested_docs.notebooks --warn
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000 --livereload

# Three workers on two cores: a worker often waits (on a browser, a server starting, a
# kill test's held system call), and the third fills those gaps. --dist loadfile: a
# page's blocks run in order in one process. PYTHONDONTWRITEBYTECODE= : the suite starts
# about a hundred Python processes, and each would compile the project's modules again
# where the environment turns caching off.
test: $(READY)  ## every test: snippets, examples, notebook, site build, browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 3 --dist loadfile

test-page: $(READY)  ## one page's blocks and its notebook's freshness: make test-page PAGE=docs/x.md
	@test -f "$(PAGE)" || { echo "make test-page: PAGE=docs/<page>.md names no page (got '$(PAGE)')" >&2; exit 2; }
	$(BIN)/python -m pytest -p no:cacheprovider "$(PAGE)" tests/test_notebooks.py -k "$(notdir $(PAGE))"

test-replay: $(READY)  ## each chapter's visible blocks as one script in a fresh python (REPLAY_PAGES=a.md,b.md picks)
	REPLAY_PAGES="$${REPLAY_PAGES:-1}" $(BIN)/python -m pytest -p no:cacheprovider tests/test_replay.py

update-outputs: $(READY)  ## rewrite every page's '#>' lines and figures from real runs
	$(BIN)/python -m pytest docs --update-outputs

build: $(READY)  ## the static site in site/, as the hosting workflow builds it
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

notebooks: $(READY)  ## regenerate notebooks/*.ipynb from the chapters (tests say when)
	$(BIN)/python -m tested_docs.notebooks

compat: $(READY)  ## run the docs suite under each TensorFlow release of the matrix into compat/record.json
	$(BIN)/python -m tested_docs.compat

test-notebooks: $(READY)  ## also execute every chapter's notebook in a fresh kernel
	EXECUTE_NOTEBOOKS=1 $(BIN)/python -m pytest -n 2 --dist loadfile tests/test_notebooks.py

# The baseline from the command line, then the improved model: the case-study notebook,
# executed, writes $(PLOTS) and $(NOTEBOOK) from one run (last, so that the numbers its
# text quotes from plots/ are final). A scratch run: PLOTS=/tmp/x NOTEBOOK=/tmp/x/cifar10.ipynb.
PLOTS    ?= plots
NOTEBOOK ?= notebooks/cifar10.ipynb
RUNS     ?= runs
figures: $(READY)  ## retrain both models into plots/ (EPOCHS, BASELINE_EPOCHS, FIGURES_ARGS, BASELINE_ARGS)
	$(BIN)/python -m examples.cifar10 --model baseline --epochs "$${BASELINE_EPOCHS:-10}" --out "$(PLOTS)/baseline" $(FIGURES_ARGS) $(BASELINE_ARGS)
	$(BIN)/python -m examples.cifar10.notebook --epochs "$${EPOCHS:-18}" --out "$(PLOTS)" --notebook "$(NOTEBOOK)" $(FIGURES_ARGS)

seeds: $(READY)  ## two more seeds of the improved recipe into $(RUNS), then plots/seeds.json with plots/'s run
	for seed in 1 2; do $(BIN)/python -m examples.cifar10 --model improved --epochs "$${EPOCHS:-18}" --seed $$seed --quiet --out "$(RUNS)/seed$$seed" $(FIGURES_ARGS) || exit 1; done
	$(BIN)/python -m examples.cifar10.seeds "$(RUNS)/seed1" "$(RUNS)/seed2" "$(PLOTS)" --figures-from "$(PLOTS)" --out "$(PLOTS)/seeds.json"

ablation: $(READY)  ## plots/ablation.json: validation accuracy with one technique changed at a time
	$(BIN)/python -m examples.cifar10.ablation --out "$(PLOTS)/ablation.json" $(ABLATION_ARGS)

ablation-full-budget: $(READY)  ## plots/ablation-full-budget.json: the full recipe and ReLU at the published budget
	$(BIN)/python -m examples.cifar10.ablation --epochs "$${EPOCHS:-18}" --variants full relu --out "$(PLOTS)/ablation-full-budget.json" $(ABLATION_ARGS)

ablation-airbench: $(READY)  ## plots/ablation-airbench.json: the full recipe with and without airbench's remaining details, at the published budget
	$(BIN)/python -m examples.cifar10.ablation --epochs "$${EPOCHS:-18}" --variants full airbench-details --out "$(PLOTS)/ablation-airbench.json" $(ABLATION_ARGS)

ablation-xla: $(READY)  ## plots/ablation-xla.json: the full recipe with and without XLA compilation (jit_compile=True), at the ablation budget
	$(BIN)/python -m examples.cifar10.ablation --variants full xla --out "$(PLOTS)/ablation-xla.json" $(ABLATION_ARGS)

$(READY): requirements.lock
	$(PYTHON) -m venv "$(VENV)"
	"$(BIN)/python" -m pip install --quiet --require-hashes -r requirements.lock
	touch "$@"

clean:
	rm -rf $(VENV) site .pytest_cache .cache
