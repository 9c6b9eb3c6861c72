# outsourcing-classifier: `make help` lists the targets. Everything sets itself up from a bare
# machine with Python 3.11: a bootstrap venv with pinned uv, then `uv sync --locked`.
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/outsourcing
REAL_DEV := ../shared/real_dev/onet_dev.csv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.DEFAULT_GOAL := help

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	touch $@

## setup: create .venv and install the pinned dependencies (uv.lock)
setup: $(VENV)/.synced

## run: set up, train a model if none exists, label the sample contract register
run: setup
	$(CLI) corpus-stats
	$(CLI) train --if-missing
	$(CLI) label data/examples/contracts_sample.xlsx -o outputs/contracts_sample.labeled.xlsx --force

## test: set up, lint, and run the whole test suite
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## corpus-stats: counts per label, register and origin, lengths, near-duplicates, templates
corpus-stats: setup
	$(CLI) corpus-stats

## train: train a model, record it in MLflow, promote it if it is the first
train: setup
	$(CLI) train

## evaluate-real: measure the champion on the real O*NET development set (never trained on)
evaluate-real: setup
	@if [ -f $(REAL_DEV) ]; then $(CLI) evaluate $(REAL_DEV) && echo "target: macro F1 >= 0.75 (zero-shot sentence-embedding baseline: 0.63)"; else echo "no $(REAL_DEV): nothing to measure"; fi

## evaluate-frames: flip rate and macro-F1 of the champion on the test split in held-out frames
evaluate-frames: setup
	$(CLI) evaluate-frames

## bench: training time, labelling throughput, peak memory and predict cold start
bench: setup
	$(BIN)/python benchmarks/bench.py

## ui: the MLflow UI on 127.0.0.1 against the project's store
ui: setup
	$(CLI) ui

## clean: remove the virtual environments and caches (never data, models or the MLflow store)
clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache

.PHONY: help setup run test corpus-stats train evaluate-real evaluate-frames bench ui clean
