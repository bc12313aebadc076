# SkySep — two commands for a newcomer: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test env lint typecheck pytest docs-check bench clean

# The virtual environment with SkySep and its development tools installed.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "SkySep needs Python 3.11+, found " + sys.version' 
	@# Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { apt-get update && apt-get install -y python3-venv; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	$(VENV)/bin/skysep detect examples/states.csv --preset rule-of-threes --out out/conflicts.csv
	@echo "(all conflicts: out/conflicts.csv)"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no tests: that fails here like any other non-zero code.
pytest: $(STAMP)
	$(PY) -m pytest -q

docs-check: $(STAMP)
	$(PY) -m skysep.docgen --check

test: lint typecheck docs-check pytest

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/bench_detect.py --write docs/numbers-detect.md
	$(PY) bench/bench_wellclear.py --write docs/numbers-wellclear.md
	$(PY) bench/bench_replay.py --peer --write docs/numbers-replay.md

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
