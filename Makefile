# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned to the build on this machine's disk; the project itself asks for a range
TORCH ?= torch==2.13.0
PIP := $(BIN)/python -m pip -q --disable-pip-version-check

.PHONY: demo test lint bench bench-cpu install install-dev browser clean

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

# real headless Chromium and its driver for the report's browser tests: installed through the
# system package manager when missing (as root), else one line saying what to do
BROWSER_PKGS := chromium chromium-driver fonts-dejavu-core
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing headless Chromium for the browser tests (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS) >/dev/null; \
	else \
	  echo "make test: the browser tests need Chromium and ChromeDriver; install them" \
	    "(Debian/Ubuntu: sudo apt-get install $(BROWSER_PKGS)) or put both on PATH" >&2; \
	  exit 1; \
	fi

test: $(VENV)/.dev browser
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench: $(VENV)/.dev
	$(BIN)/python scripts/bench_train.py
	$(BIN)/python scripts/bench_score.py --stream-mb 100
	$(BIN)/python scripts/bench_segment.py
	$(BIN)/python scripts/bench_filter.py

# the README's per-CPU speed rows on this machine, in one go (about 12 minutes on 2 cores):
# scoring, `textkl segment` end to end and the corpus filter, each beside lingua EN+FR
PAIRS := textkl/data/pairs
bench-cpu: $(VENV)/.dev
	$(BIN)/python scripts/bench_score.py --repeat 3 --model $(PAIRS)/english.pt \
	  --model $(PAIRS)/english-large.pt --model $(PAIRS)/moby-dick.pt
	$(BIN)/python scripts/bench_pipeline.py --repeat 3
	$(BIN)/python scripts/bench_filter.py --threads 2
	$(BIN)/python scripts/bench_filter_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo.html
