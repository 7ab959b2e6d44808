# Two commands do all set-up on a fresh clone: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-server
NODE := tests/e2e/node
NODE_STAMP := $(NODE)/node_modules/.installed

.PHONY: serve test lint bench bench-tools browser-tools prometheus-tools soak unasync clean

# The server alone (`make serve`): edgekv and what it runs on, none of the test tools.
$(SERVE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

# Everything the checks and benchmarks need (the dev extra).
$(STAMP): $(SERVE_STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# workerd, wrangler and miniflare at the versions the e2e tests pin (package-lock.json).
$(NODE_STAMP): $(NODE)/package-lock.json
	npm ci --prefix $(NODE) --no-audit --no-fund
	touch $@

serve: $(SERVE_STAMP)
	$(BIN)/edgekv serve

lint: $(STAMP)
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(NODE_STAMP) browser-tools prometheus-tools
	$(BIN)/pytest

# Debian's chromium, which Playwright (the dev extra) drives in the dashboard's browser tests.
browser-tools:
	command -v chromium >/dev/null || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# Debian's Prometheus, which scrapes `edgekv serve --metrics-port` and runs the Grafana
# dashboard's queries in tests/server/test_grafana.py.
prometheus-tools:
	command -v prometheus >/dev/null || apt-get install -y prometheus || (apt-get update && apt-get install -y prometheus)

# wrk (Debian) loads the server in bench_server; Miniflare, its anchor, comes with the npm tools.
bench-tools:
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

bench: $(STAMP) $(NODE_STAMP) bench-tools
	$(BIN)/python -m benchmarks

# Mixed load through 3 edges over each central store while edges are killed and stores frozen
# and restarted (benchmarks/soak.py): SOAK_SECONDS (default 600) in all, split over the stores.
# Not part of test or bench.
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

unasync: $(STAMP)
	$(BIN)/python scripts/unasync.py

clean:
	rm -rf $(VENV)
