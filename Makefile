# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned to the build on this machine's disk; the project itself asks for a range
TORCH ?= torch==2.13.0

.PHONY: demo test lint bench install clean

$(BIN)/textkl: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,bench,datatrove,ray]"
	@touch $(BIN)/textkl

install: $(BIN)/textkl

demo: install
	$(BIN)/textkl demo -o demo.html

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python scripts/bench_train.py --quick
	$(BIN)/python scripts/bench_score.py
	$(BIN)/python scripts/bench_segment.py
	$(BIN)/python scripts/bench_filter.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo.html
