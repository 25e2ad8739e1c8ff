# Two commands do all the set-up on a fresh machine:
#   make run    installs everything into .venv and starts the web app (follicle serve)
#   make test   installs everything (Python packages, Debian chromium, PostgreSQL) and runs
#               every check: ruff, mypy --strict, the knowledge-base check and all tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/follicle serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/follicle kb check

test: $(STAMP) lint
	bash scripts/ensure-chromium.sh
	eval "$$(bash scripts/ensure-postgres.sh)"; status=0; $(BIN)/pytest || status=$$?; \
		bash scripts/ensure-postgres.sh --stop; exit $$status

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/nhanes/evaluate.py
	$(BIN)/python benchmarks/load_api.py --json benchmarks/results/load_api.json
