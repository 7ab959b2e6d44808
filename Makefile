# Two commands do all set-up on a fresh clone: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE := tests/e2e/node
NODE_STAMP := $(NODE)/node_modules/.installed

.PHONY: serve test lint bench bench-tools unasync clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# workerd, wrangler and miniflare at the versions the e2e tests pin (package-lock.json).
$(NODE_STAMP): $(NODE)/package-lock.json
	npm ci --prefix $(NODE) --no-audit --no-fund
	touch $@

serve: $(STAMP)
	$(BIN)/edgekv serve

lint: $(STAMP)
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(NODE_STAMP)
	$(BIN)/pytest

# wrk (Debian) loads the server in bench_server; Miniflare, its anchor, comes with the npm tools.
bench-tools:
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

bench: $(STAMP) $(NODE_STAMP) bench-tools
	$(BIN)/python -m benchmarks

unasync: $(STAMP)
	$(BIN)/python scripts/unasync.py

clean:
	rm -rf $(VENV)
