# The README's whole set-up: `make demo` and `make test` on a machine with only Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The `text` extra (sentence embeddings of item titles) needs PyTorch. `make install-text` pins
# torch==2.13.0, a CPU build on the machines CI runs on (it lies on their disk); an unpinned torch
# there, or a newer one, is a CUDA build of several GB that the CPU-only embeddings never use.
# Elsewhere pass another pin: `make install-text TORCH=torch`.
TORCH ?= torch==2.13.0
TEXT_STAMP := $(VENV)/.installed-text

.PHONY: demo test test-all install-text lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(TEXT_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet '$(TORCH)' -e '.[dev,text]'
	touch $(STAMP) $(TEXT_STAMP)

install-text: $(TEXT_STAMP)

demo: $(STAMP)
	$(BIN)/moorec demo

test: $(STAMP)
	$(BIN)/ruff check moorec tests examples benchmarks
	$(BIN)/python -m pytest -n 2 -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check moorec tests examples benchmarks
	$(BIN)/ruff format --check moorec tests examples benchmarks

format: $(STAMP)
	$(BIN)/ruff format moorec tests examples benchmarks
	$(BIN)/ruff check --fix moorec tests examples benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
