# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned to the build on this machine's disk; the project itself asks for a range
TORCH ?= torch==2.13.0
PIP := $(BIN)/python -m pip -q --disable-pip-version-check

.PHONY: demo test lint bench install install-dev clean

$(VENV)/.core: pyproject.toml
	$(PY) -m venv $(VENV)
	$(PIP) install "$(TORCH)"
	$(PIP) install -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -e ".[dev,bench,datatrove,ray]"
	@touch $@

install: $(VENV)/.core
install-dev: $(VENV)/.dev

demo: $(VENV)/.core
	$(BIN)/textkl demo -o demo.html

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench: $(VENV)/.dev
	$(BIN)/python scripts/bench_train.py
	$(BIN)/python scripts/bench_score.py --stream-mb 100
	$(BIN)/python scripts/bench_segment.py
	$(BIN)/python scripts/bench_filter.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo.html
