"""Ready-made networks from Nielsen's book, built from the public modules (nothing here is special).

``nielsen_mlp([784, 30, 10])`` is chapter 1's and 3's ``Network``; ``nielsen_cnn()`` is chapter 6's
convolutional network: two convolution + max-pooling layers, a fully connected layer, softmax output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .containers import Sequential
from .errors import ConfigError
from .layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sigmoid, Tanh
from .module import Module

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}


def _activation(name: str, where: str) -> type[Module]:
    if name not in ACTIVATIONS:
        raise ConfigError(f"{where}: activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def nielsen_mlp(
    sizes: list[int], activation: str = "sigmoid", init: str = "scaled_normal", rng: Any = None
) -> Sequential:
    """``Linear`` layers of ``sizes`` with ``activation`` between them (no activation after the last)."""
    act, gen = _activation(activation, "nielsen_mlp"), np.random.default_rng(rng)
    layers: list[Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(fan_in, fan_out, init=init, rng=gen))
        if i < len(sizes) - 2:
            layers.append(act())
    return Sequential(*layers)


def nielsen_cnn(
    activation: str = "relu",
    channels: tuple[int, int] = (20, 40),
    hidden: tuple[int, ...] = (100,),
    dropout: float = 0.0,
    init: str = "pytorch",
    rng: Any = None,
) -> Sequential:
    """Chapter 6's network on (N, 1, 28, 28) images, 10 classes (the logits: use ``SoftmaxCrossEntropy``).

    Conv2d(1, 20, 5) -> act -> MaxPool2d(2) -> Conv2d(20, 40, 5) -> act -> MaxPool2d(2) -> Flatten
    -> Linear(640, 100) -> act -> Linear(100, 10). ``channels=(20,)`` gives his one conv-pool layer
    network; ``hidden=(1000, 1000), dropout=0.5`` his final one (dropout before each fully connected
    layer, inverted: no rescaling at test time). He applies conv, then pooling, then bias and
    activation; ReLU and max pooling commute, and a per-channel bias commutes with max pooling, so
    conv (with bias) -> act -> pool computes the same function.
    """
    act, gen = _activation(activation, "nielsen_cnn"), np.random.default_rng(rng)
    if not 1 <= len(channels) <= 2:
        raise ConfigError(f"nielsen_cnn: channels must name one or two conv-pool layers, got {channels!r}")
    layers: list[Module] = []
    c, side = 1, 28
    for out in channels:
        layers += [Conv2d(c, out, 5, init=init, rng=gen), act(), MaxPool2d(2)]
        c, side = out, (side - 4) // 2
    layers.append(Flatten())
    width = c * side * side
    for h in hidden:
        if dropout:
            layers.append(Dropout(dropout, rng=gen))
        layers += [Linear(width, h, init=init, rng=gen), act()]
        width = h
    if dropout:
        layers.append(Dropout(dropout, rng=gen))
    layers.append(Linear(width, 10, init=init, rng=gen))
    return Sequential(*layers)
