"""The layers, one family per file, each a textbook forward and backward (copy ``linear.py``)."""

from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout
from .linear import Linear, as_batch
from .shape import Flatten, Identity

__all__ = ["Dropout", "Flatten", "Identity", "LeakyReLU", "Linear", "ReLU", "Sigmoid", "Softmax", "Tanh", "as_batch"]
