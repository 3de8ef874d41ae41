# Koble: the two commands of the README are `make run` and `make test`.
# Both do all set-up themselves on a fresh machine (Python 3.11+ required).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run Koble with demo data at http://127.0.0.1:8000 (embedded Postgres + pgvector and Redis).
run: $(STAMP)
	$(BIN)/koble demo
	$(BIN)/koble serve --host 127.0.0.1 --port 8000

## Chromium for the browser tests, from the system's packages (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy service

## Lint, type-check and run every test against real Postgres+pgvector, Redis, SMTP and Chromium.
test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
