# Two commands matter on a fresh machine: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

## run: the main job — paper trading on the simulator with the bundled real candles
run: $(RUN_STAMP)
	$(BIN)/ratchet run --paper

## test: lint, type-check and the whole test suite
test: lint typecheck unit

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict src/ratchet/domain

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest

## bench: print the benchmark figures (not part of the tests)
bench: $(DEV_STAMP)
	$(BIN)/python bench/indicators.py
	$(BIN)/python bench/exchange_loopback.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/reconcile.py
	$(BIN)/python bench/live_paper.py
	$(BIN)/python bench/backtest_vs_peers.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
