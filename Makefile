# Koble: the two commands of the README are `make run` and `make test`.
# Both do all set-up themselves on a fresh machine (Python 3.11+ required).

PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint install browser axe clean schemathesis

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# torch first, pinned to the CPU build on this machine: sentence-transformers would pull a CUDA one.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(RUN_STAMP) $@

install: $(RUN_STAMP)

## Run Koble with demo data at http://127.0.0.1:8000 (embedded Postgres + pgvector and Redis).
run: $(RUN_STAMP)
	$(BIN)/koble demo
	$(BIN)/koble themes --recompute > /dev/null  # the map (/staff/map, /kartlegging) from the demo data; ~2 s
	$(BIN)/koble serve --host 127.0.0.1 --port 8000

## Chromium for the browser tests, from the system's packages (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## axe-core for the browser tests' accessibility checks (tests/support.py assert_accessible), git-ignored.
axe:
	@test -f tests/.axe/node_modules/axe-core/axe.min.js || npm install --silent --prefix tests/.axe axe-core@4

## Style, types, and the shape of the code: imports run one way (.importlinter, docs/architecture.md).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy service tests
	$(BIN)/lint-imports

## Lint, type-check and run every test against real Postgres+pgvector, Redis, SMTP and Chromium.
test: $(DEV_STAMP) browser axe lint
	$(BIN)/python -m pytest -q

## Schemathesis with a large budget (every check and phase, ~3,000 requests per run) against a running
## server, with and without the token: make schemathesis URL=http://127.0.0.1:8000 TOKEN=$$KOBLE_API_TOKEN
URL      ?= http://127.0.0.1:8000
EXAMPLES ?= 60
schemathesis: $(DEV_STAMP)
	$(BIN)/schemathesis --config-file tests/app/schemathesis.toml run $(URL)/openapi.json -n $(EXAMPLES) \
		-H "Authorization: Bearer $(TOKEN)" --exclude-checks ignored_auth
	$(BIN)/schemathesis --config-file tests/app/schemathesis.toml run $(URL)/openapi.json -n $(EXAMPLES)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
