"""minigrad: a small, fast, readable neural-network framework with hand-written backward passes.

import minigrad as mg
model = mg.Sequential(mg.Linear(784, 30), mg.Sigmoid(), mg.Linear(30, 10))
"""

from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .containers import Sequential
from .errors import (
    CheckpointError,
    GradcheckError,
    GraphError,
    MinigradError,
    NonFiniteError,
    ShapeError,
    StateDictError,
    StateError,
    TargetError,
)
from .gradcheck import GradcheckReport, gradcheck
from .init import get_default_dtype, manual_seed, set_default_dtype
from .layers import Dropout, Flatten, Identity, Linear
from .losses import Loss, QuadraticCost, SigmoidBCE, SoftmaxCrossEntropy
from .module import Module, Parameter
from .optim import SGD, Adam, Optimizer

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "CheckpointError",
    "Dropout",
    "Flatten",
    "GradcheckError",
    "GradcheckReport",
    "GraphError",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MinigradError",
    "Module",
    "NonFiniteError",
    "Optimizer",
    "Parameter",
    "QuadraticCost",
    "ReLU",
    "SGD",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "SigmoidBCE",
    "Softmax",
    "SoftmaxCrossEntropy",
    "StateDictError",
    "StateError",
    "Tanh",
    "TargetError",
    "gradcheck",
    "get_default_dtype",
    "manual_seed",
    "set_default_dtype",
]
