# The README's commands. Each target sets up .venv itself, so a fresh clone needs only python3.11.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The web map's JavaScript/CSS (Leaflet and plugins), pinned by resources/webmap/package-lock.json.
WEBMAP_ASSETS := resources/webmap/node_modules/.package-lock.json
DEMO ?= demo
CORES ?= 2
# make test's pytest-xdist workers (tests/conftest.py groups the tests; 1 runs them in one process).
TEST_WORKERS ?= 2

.PHONY: help venv webmap-assets demo test test-fast lint format clean-demo

help:
	@echo "make demo   - set up .venv, simulate the synthetic field under $(DEMO)/ and run the workflow on it"
	@echo "make test   - set up .venv and run the whole test suite"
	@echo "make lint   - ruff, snakefmt --check, snakemake --lint and pytest --collect-only"
	@echo "make format - apply ruff format and snakefmt"

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@# wfsspipe is not installed: rule scripts, resources/scripts and pytest (pythonpath) find it in workflow/scripts.
	touch $@

$(WEBMAP_ASSETS): resources/webmap/package.json resources/webmap/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js (Debian: apt-get install npm)"; exit 1; }
	npm ci --prefix resources/webmap --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

webmap-assets: $(WEBMAP_ASSETS)

venv: $(STAMP) $(WEBMAP_ASSETS)

demo: $(STAMP) $(WEBMAP_ASSETS)
	$(BIN)/python resources/scripts/demo.py --output $(DEMO) --cores $(CORES)

test: $(STAMP) $(WEBMAP_ASSETS)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

test-fast: $(STAMP) $(WEBMAP_ASSETS)
	$(BIN)/python -m pytest -m "not slow and not workflow and not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint --snakefile workflow/Snakefile --directory . --config fields_csv=tests/data/fields-lint.csv
	@# Every test module must be collectable (e.g. two test files may not share a basename).
	$(BIN)/python -m pytest --collect-only -q -p no:cacheprovider > $(VENV)/collect.log 2>&1 || { cat $(VENV)/collect.log; exit 1; }

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt workflow

clean-demo:
	rm -rf $(DEMO)
