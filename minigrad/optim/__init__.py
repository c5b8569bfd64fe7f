"""Optimizers, learning-rate schedules and gradient clipping, with PyTorch's names and exact rules.

``mg.optim.SGD``, ``mg.optim.Adam``, ``mg.optim.AdamW``, ``mg.optim.RMSprop``, ``mg.optim.Adagrad``;
``mg.optim.lr_scheduler.StepLR`` and friends; ``mg.clip_grad_norm_`` / ``mg.clip_grad_value_``.
See :mod:`minigrad.optim.optimizer` for what every optimizer shares (parameter groups, unwritten
gradients left alone, hyper-parameter checks, state dicts).
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .adaptive import Adagrad, RMSprop
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
]
