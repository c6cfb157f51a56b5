# Two entry points for a fresh machine: `make run` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean container-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

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

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.train
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.moment
	$(BIN)/python -m bench.segment_blends

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
