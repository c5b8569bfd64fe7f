"""minigrad: a small, fast, readable neural-network framework with hand-written backward passes.

import minigrad as mg
model = mg.Sequential(mg.Linear(784, 30), mg.Sigmoid(), mg.Linear(30, 10))
"""

from . import datasets, interop, models, onnx, optim  # interop, onnx: import torch / onnx only when used
from .callbacks import BestModel, Callback, EarlyStopping, GradientNormRecorder
from .containers import Sequential
from .data import batches
from .errors import (
    CheckpointError,
    ConversionError,
    DatasetError,
    GradcheckError,
    GraphError,
    HyperParameterError,
    MinigradError,
    NonFiniteError,
    ShapeError,
    StateDictError,
    StateError,
    TargetError,
)
from .gradcheck import GradcheckReport, gradcheck
from .graph import Add, Concat, Graph, Input, Node
from .history import History
from .init import get_default_dtype, manual_seed, set_default_dtype
from .io import Checkpoint, load, load_checkpoint, save
from .layers import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import Loss, QuadraticCost, SigmoidBCE, SoftmaxCrossEntropy
from .module import Module, Parameter
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm_, clip_grad_value_, lr_scheduler
from .training import evaluate, fit
from .viz import draw, summary

__version__ = "0.1.0"

__all__ = [
    "Adagrad",
    "AdaptiveAvgPool2d",
    "Adam",
    "AdamW",
    "Add",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BestModel",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "Concat",
    "ConversionError",
    "Conv2d",
    "DatasetError",
    "Dropout",
    "EarlyStopping",
    "Flatten",
    "GradcheckError",
    "GradcheckReport",
    "GradientNormRecorder",
    "Graph",
    "GraphError",
    "History",
    "HyperParameterError",
    "Identity",
    "Input",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MaxPool2d",
    "MinigradError",
    "Module",
    "Node",
    "NonFiniteError",
    "Optimizer",
    "Parameter",
    "QuadraticCost",
    "RMSprop",
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
    "batches",
    "clip_grad_norm_",
    "clip_grad_value_",
    "datasets",
    "draw",
    "evaluate",
    "fit",
    "gradcheck",
    "get_default_dtype",
    "interop",
    "load",
    "load_checkpoint",
    "lr_scheduler",
    "manual_seed",
    "models",
    "onnx",
    "optim",
    "save",
    "set_default_dtype",
    "summary",
]
