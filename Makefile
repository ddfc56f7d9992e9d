# Developer commands. Each works on a fresh machine with Python 3.11+ and make: uv is bootstrapped
# into .tools/ when it is not installed, and the locked environment is synced before anything runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV = $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)

.PHONY: help uv sync chromium run test test-fast check fmt bench

help:
	@echo "make run        set up and serve a demo on SQLite (prints an API key and group ids); PORT=8010 for another port"
	@echo "make test       set up and run the whole test suite (SQLite and PostgreSQL)"
	@echo "make test-fast  the unit and API tests on SQLite only: the quick loop while working"
	@echo "make check      formatting, lint, types and import layering"
	@echo "make fmt        format and auto-fix"
	@echo "make bench      benchmarks (writes BENCHMARKS.md)"

uv:
	@command -v uv >/dev/null 2>&1 || test -x .tools/bin/uv || { \
		echo "installing uv into .tools/"; \
		python3 -m venv .tools && .tools/bin/python -m pip install --quiet uv; }

# Bytecode is compiled once, here: where PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile every
# module it imports at every start, and each `subgroups` command would take seconds instead of a fraction of one.
sync: uv
	@$(UV) sync --locked --quiet --compile-bytecode

chromium:
	@scripts/ensure-chromium

# The demo's port: `make run PORT=8010` when 8000 is taken.
PORT ?= 8000

run: sync
	$(UV) run subgroups demo --port $(PORT)

test: sync chromium
	$(UV) run pytest

# The loop to run while working: no browser, no PostgreSQL. `make test` (and CI) still run everything.
test-fast: sync
	$(UV) run pytest --backend sqlite tests/unit tests/api tests/test_fakes.py

check: sync
	$(UV) run ruff format --check .
	$(UV) run ruff check .
	$(UV) run mypy
	$(UV) run lint-imports

fmt: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: sync
	$(UV) run python -m bench
