# Two commands for a fresh machine with Python 3.11 and make:  make book  and  make test.
# Every target creates .venv on demand with the exact pins of requirements.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
# The kernels that execute the chapters must be this venv's python.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# Bytecode caches on, although a machine may set PYTHONDONTWRITEBYTECODE: without them every
# pytest process rewrites and compiles the test modules and plugins again (collection 7.9 s
# of CPU instead of 5.4 s, for each xdist worker and each portability process).
unexport PYTHONDONTWRITEBYTECODE

PORT ?= 8000
NOTEBOOKS ?=
# pytest-xdist workers: one per core of the 2-core machines the limits are set for.
JOBS ?= 2
# Units start in the order tests/conftest.py gives them (the build, then the longest), not
# in xdist's default order by number of tests.
PYTEST := $(BIN)/python -m pytest -n $(JOBS) --dist loadscope --no-loadscope-reorder

.PHONY: help install book pdf test test-export portability lab lab-source outputs serve bench mutants lint format clean distclean

help:
	@echo "make book      build the HTML book into _build/html from the stored outputs"
	@echo "make pdf       the whole book as one PDF, offline: _build/pdf/book.pdf (headless Chromium)"
	@echo "make test      library tests, nbval over every chapter (native and emulated CPUs),"
	@echo "               build, links, browser"
	@echo "make test-export  the PDF, a reader's notebook run outside the repository, JupyterLab"
	@echo "make portability  only nbval, at the native CPU level and under emulated CPUs"
	@echo "make lab       JupyterLab on notebooks/: your copies of the reader's notebooks"
	@echo "make lab-source  JupyterLab on the MyST chapters in book/ (for authors)"
	@echo "make outputs   re-execute chapters in place (NOTEBOOKS='book/01-….ipynb' for some)"
	@echo "make serve     serve _build/html on http://127.0.0.1:$(PORT)/"
	@echo "make bench     accuracy and speed tables: nllkit vs numpy, scipy, torch"
	@echo "make mutants   mutation audit: curated mistakes in nllkit against the library tests"
	@echo "make lint      ruff check and format check;  make format  to apply the format"
	@echo "make clean     remove build outputs;  make distclean  also removes .venv"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --quiet --no-deps -r requirements.txt
	$(VENV)/bin/python -m pip check --disable-pip-version-check
	$(VENV)/bin/python -m pip install --disable-pip-version-check --quiet --no-deps \
		--no-build-isolation --editable .
	@touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is in _build/html. Open file://$(CURDIR)/_build/html/index.html"
	@echo "or run 'make serve' and open http://127.0.0.1:$(PORT)/"

# The single-page build (it shares the HTML build's doctrees) printed by Debian's Chromium.
pdf: $(STAMP)
	$(BIN)/python tools/make_pdf.py

test: $(STAMP)
	$(PYTEST) -m "not export"

# The export layer (issue 18): the PDF printed and read back, a reader's notebook run outside the
# repository, JupyterLab in Chromium. About 150 s of CPU, so it is a target of its own, which CI
# (.ci/run) runs after make test.
test-export: $(STAMP)
	$(PYTEST) -m export

# The portability layer alone: every chapter at this CPU's level and under emulated CPUs.
portability: $(STAMP)
	$(PYTEST) book tests/test_portability.py

# The learner's copies (tools/lab_notebooks.py says why not book/ itself); lab-source opens the
# MyST chapters for authors. Jupyter refuses to run as root unless told; CI machines often are.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(BIN)/python tools/lab_notebooks.py
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(AS_ROOT)

lab-source: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=book $(AS_ROOT)

outputs: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(NOTEBOOKS)

serve:
	@test -f _build/html/index.html || { echo "No built book: run 'make book' first."; exit 1; }
	@echo "Serving _build/html on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(or $(wildcard $(BIN)/python),$(PYTHON)) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Not part of make test: each mutant re-runs the library tests (tools/mutants.toml).
mutants: $(STAMP)
	$(BIN)/python tools/mutants.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools book
	$(BIN)/ruff format --check src tests benchmarks tools book

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks tools book

clean:
	rm -rf _build .pytest_cache .hypothesis .ruff_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
