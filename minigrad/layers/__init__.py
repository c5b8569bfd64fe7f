"""The layers, one family per file, each a textbook forward and backward (copy ``linear.py``)."""

from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout
from .linear import Linear, as_batch
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .shape import Flatten, Identity

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "Flatten",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "as_batch",
]
