# Every target bootstraps .venv on a fresh machine that has only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help run test lint format bench clean system-packages

help:           ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)   ## start PostgreSQL, Redis, web, workers and scheduler with demo data
	$(BIN)/bpo up

system-packages: ## Chromium for the browser tests and Python's venv (apt-get, when missing)
	@bash .ci/system-packages

test: system-packages $(STAMP)  ## run the test suite (embedded servers unless BPO_TEST_DATABASE_URL/BPO_TEST_REDIS_URL are set)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## rewrite files with ruff's formatter and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## run the benchmarks in bench/ and print their RESULT lines
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:          ## remove the virtualenv and local data (instance/)
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
