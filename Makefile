# deskpilot: `make run` starts the product on its embedded defaults; `make test` runs every check.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test setup lint format typecheck contracts unit widget lock bench clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*##/\t/'

setup:  ## create or reuse the cached virtual environment (.venv)
	@bash scripts/bootstrap.sh

run: setup  ## migrate, create the demo product + admin, start worker, beat and API (PORT overrides 8000)
	@$(PY) -m backend.cli.main up

test: setup lint  ## ruff, mypy, import contracts, then the whole test suite
	@bash scripts/test.sh

lint: setup  ## ruff check, ruff format --check, mypy, import-linter
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy backend ml
	@.venv/bin/lint-imports

format: setup  ## apply ruff fixes and formatting
	@$(PY) -m ruff check --fix .
	@$(PY) -m ruff format .

unit: setup  ## fast unit tests only
	@$(PY) -m pytest -m unit -q

widget:  ## build and test the chat widget (frontend/widget: npm ci, typecheck, vitest, build, size budget)
	@cd frontend/widget && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build && npm run size

lock:  ## regenerate requirements.lock from pyproject.toml (needs network to PyPI)
	@bash scripts/lock.sh

clean:  ## remove local data (var/) and caches; the cached venv stays
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
