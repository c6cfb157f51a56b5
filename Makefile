# Two entry points for a fresh machine: `make run` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint lock bench clean container-check

# The exact versions (with hashes) come from requirements/dev.txt; `make lock` refreshes it.
$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

COMPILE := $(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras

## Refresh the lock files from pyproject.toml: after changing a dependency, or to take new releases.
lock: $(STAMP)
	cd requirements && ../$(COMPILE) --upgrade -o main.txt ../pyproject.toml
	cd requirements && ../$(COMPILE) --upgrade --extra dev -o dev.txt ../pyproject.toml

## The demo: migrate the embedded SQLite store, import the shipped sample and train on first run, serve on 127.0.0.1:8000.
run: $(STAMP)
	$(BIN)/nbo demo

## ruff, mypy and pytest (PostgreSQL too when NBO_TEST_DATABASE_URL is set).
test: $(STAMP) lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## hadolint, docker compose config, and an image build and run where a container engine runs.
container-check: $(STAMP)
	bash scripts/container_check.sh

## Every benchmark, on the full Online Retail file in ../shared and PostgreSQL (both checked first).
bench: $(STAMP)
	$(BIN)/python -c "from bench.common import data_file, require_postgresql; data_file(); require_postgresql()"
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.train
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.moment
	$(BIN)/python -m bench.value
	$(BIN)/python -m bench.segment_blends
	$(BIN)/python -m bench.campaign
	$(BIN)/python -m bench.scale --postgresql

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
