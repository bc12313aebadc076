# SkySep — two commands for a newcomer: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo example test env lint typecheck pytest docs-check bench clean dashboard dashboard-check browser

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

# The two-party drill: the service on a temporary SQLite database, parties North and South,
# the simulator feeding the API with each party's token; prints each party's dashboard URL.
# The dashboard is rebuilt first when npm is there (the committed bundle is served otherwise).
demo: $(STAMP)
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory dashboard; \
	else echo "npm not found: serving the committed dashboard bundle"; fi
	$(VENV)/bin/skysep demo

# The engine on a snapshot: pairs that lose separation within five minutes.
example: $(STAMP)
	@mkdir -p out
	$(VENV)/bin/skysep detect examples/states.csv --preset rule-of-threes --out out/conflicts.csv
	@echo "(all conflicts: out/conflicts.csv)"

# The dashboard's sources are in dashboard/ (plain JavaScript, Leaflet, world-atlas, esbuild);
# its built bundle is committed in src/skysep/service/static/dashboard/ so that a wheel
# carries it. `make dashboard` rebuilds it; `make test` checks that the committed bundle is
# what the sources build (skipped, saying so, where npm is missing).
DASHBOARD_DEPS := dashboard/node_modules/.package-lock.json
$(DASHBOARD_DEPS): dashboard/package.json dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	touch $(DASHBOARD_DEPS)

dashboard: $(DASHBOARD_DEPS)
	cd dashboard && npm run --silent build

dashboard-check:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(DASHBOARD_DEPS) && \
	cd dashboard && npm run --silent check; \
	else echo "npm not found: the committed dashboard bundle was not checked"; fi

# What the browser tests (tests/test_dashboard_browser.py) need: Debian's Chromium (never a
# browser download) and the playwright package that drives it (until pyproject's dev extras
# list it). make test sets SKYSEP_REQUIRE_BROWSER=1: without them those tests fail, not skip.
browser: $(STAMP)
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }
	@$(PY) -c 'import playwright' 2>/dev/null || $(PY) -m pip install --quiet 'playwright>=1.45'

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no tests: that fails here like any other non-zero code.
# The storage and service suites run on SQLite and on PostgreSQL: scripts/postgres.sh finds a
# server or starts a private one from Debian's packages; if it cannot, those suites are
# skipped and pytest's summary (-ra) names each one and why.
pytest: $(STAMP) browser
	@if pg_url=$$(PY=$(PY) scripts/postgres.sh); then \
	  echo "PostgreSQL for the tests: $$pg_url"; \
	  export SKYSEP_TEST_POSTGRES=$$pg_url SKYSEP_REQUIRE_POSTGRES=1; \
	else \
	  echo "WARNING: no PostgreSQL: the PostgreSQL variants of the storage and service tests will be SKIPPED"; \
	fi; \
	SKYSEP_REQUIRE_BROWSER=1 $(PY) -m pytest -q

docs-check: $(STAMP)
	$(PY) -m skysep.docgen --check

test: lint typecheck docs-check dashboard-check pytest

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/bench_detect.py --write docs/numbers-detect.md
	$(PY) bench/bench_wellclear.py --write docs/numbers-wellclear.md
	$(PY) bench/bench_replay.py --peer --write docs/numbers-replay.md

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache dashboard/node_modules
