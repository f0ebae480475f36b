# flowscope — the two commands the README promises: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format system-deps services graphon-venv clean

# (Re)install when pyproject.toml changes; idempotent.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# Debian packages and local services the tests need (Chromium, PostgreSQL, MariaDB).
system-deps:
	bash scripts/system-deps.sh

services:
	bash scripts/services.sh

# Python 3.12 venv with Dify's graphon engine, for the graphon probe tests (tests/graphon).
graphon-venv:
	bash scripts/graphon-venv.sh

demo: $(STAMP)
	bash scripts/demo.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) system-deps services graphon-venv
	$(MAKE) lint
	$(VENV)/bin/pytest
	.venv-graphon/bin/pytest tests/graphon

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
