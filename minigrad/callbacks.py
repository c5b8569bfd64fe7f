"""Callbacks for :func:`~minigrad.training.fit`: early stopping, keeping the best weights (as in Keras),
and recording gradient norms.

A callback is either a plain function ``cb(epoch, history, model)`` (called after each
recorded epoch), or a :class:`Callback` whose hooks ``on_train_begin(history, model)``,
``on_after_backward(history, model)`` (every step, PyTorch Lightning's name),
``on_epoch_end(epoch, history, model)`` and ``on_train_end(history, model)`` fit calls;
setting ``self.stop_training = True`` ends training after the current epoch.

Both callbacks read the monitored metric from the History, so they also pick up correctly
when ``fit`` extends a history from an earlier run (a resumed run).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ConfigError, HyperParameterError
from .history import History
from .module import Module


class Callback:
    """Base class; every hook does nothing."""

    stop_training = False

    def on_train_begin(self, history: History, model: Module) -> None:
        pass

    def on_after_backward(self, history: History, model: Module) -> None:
        """Each step, after ``model.backward``: the ``.grad`` are the batch's, not yet clipped nor applied."""

    def on_epoch_end(self, epoch: int, history: History, model: Module) -> None:
        pass

    def on_train_end(self, history: History, model: Module) -> None:
        pass


class _Monitor(Callback):
    """Track the best value of ``monitor`` in the History: ``best``, ``best_epoch``, ``wait`` (epochs since)."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if not isinstance(monitor, str):
            raise HyperParameterError(f"{type(self).__name__}: monitor must be a metric name, got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise HyperParameterError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise HyperParameterError(f"{type(self).__name__}: min_delta must be a number >= 0, got {min_delta!r}")
        self.monitor, self.min_delta = monitor, float(min_delta)
        # Keras's "auto": accuracy-like metrics are maximised, everything else minimised.
        self.mode = mode if mode != "auto" else ("max" if "acc" in monitor else "min")
        self.best, self.best_epoch, self.wait = math.inf if self.mode == "min" else -math.inf, 0, 0

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _value(self, history: History, epoch: int) -> float:
        values = history.history.get(self.monitor)
        if values is None or len(values) < epoch:
            known = sorted(history.history)
            raise ConfigError(f"{type(self).__name__}: no metric {self.monitor!r} in the history (it has {known})")
        return values[epoch - 1]

    def on_train_begin(self, history: History, model: Module) -> None:
        for epoch in range(1, history.epochs + 1):  # an extended history: its past counts
            self._update(epoch, self._value(history, epoch))

    def _update(self, epoch: int, value: float) -> bool:
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs (Keras).

    ``mode="auto"`` maximises a metric whose name contains "acc" and minimises the others.
    ``restore_best_weights=True`` puts the best epoch's weights back at the end. ``stopped_epoch``
    is the epoch training stopped after (0 if it did not stop early).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise HyperParameterError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.patience, self.stopped_epoch = patience, 0
        self._keeper = BestModel(monitor, mode=mode, min_delta=min_delta) if restore_best_weights else None

    def on_train_begin(self, history: History, model: Module) -> None:
        super().on_train_begin(history, model)
        if self._keeper is not None:
            self._keeper.on_train_begin(history, model)

    def on_epoch_end(self, epoch: int, history: History, model: Module) -> None:
        if self._keeper is not None:
            self._keeper.on_epoch_end(epoch, history, model)
        self._update(epoch, self._value(history, epoch))
        if self.wait > 0 and self.wait >= self.patience:  # Keras: `patience` epochs without improvement
            self.stop_training, self.stopped_epoch = True, epoch

    def on_train_end(self, history: History, model: Module) -> None:
        if self._keeper is not None:
            self._keeper.on_train_end(history, model)


class BestModel(_Monitor):
    """Keep a copy of the weights of the best epoch by ``monitor`` in memory (``best_state``).

    ``restore=True`` loads them into the model when training ends, so ``fit`` returns with the
    best epoch's model (``fit(..., restore_best=True)`` adds one of these).
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0, restore: bool = True):
        super().__init__(monitor, mode, min_delta)
        self.restore = bool(restore)
        self.best_state: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, history: History, model: Module) -> None:
        if self._update(epoch, self._value(history, epoch)):
            self.best_state = {k: v.copy() for k, v in model.state_dict().items()}

    def on_train_end(self, history: History, model: Module) -> None:
        if self.restore and self.best_state is not None:
            model.load_state_dict(self.best_state)
            history.meta["restored_best_epoch"] = self.best_epoch


class GradientNormRecorder(Callback):
    """Record the norm of each parameter's gradient, after each step's backward and before the step.

    Into ``history.gradient_norms[name]``, one value per epoch: the mean over the epoch's steps
    of ``||dL/dp||`` (the ``norm_type``-norm of the whole gradient array), where ``L`` is the
    batch's loss as the loss reduces it (the mean over the batch by default). With one full
    batch per epoch it is the norm of the gradient of the cost on the whole training data: for
    the bias of layer ``l``, Nielsen's speed of learning ``||delta^l||`` (chapter 5). With
    ``per_step=True`` each step's norm is also kept, in ``history.step_gradient_norms[name]``.

    ``names`` are names from ``model.named_parameters()`` (``"0.bias"``), or ``None`` for every
    parameter. The gradient is read before ``fit``'s ``clip_grad_norm`` and before the optimizer
    adds weight decay: the loss's own gradient. A parameter that got no gradient counts 0.
    Opt-in: it costs one pass over every recorded gradient per step.
    """

    def __init__(self, names: list[str] | None = None, norm_type: float = 2.0, per_step: bool = False) -> None:
        if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
            raise HyperParameterError(f"GradientNormRecorder: names must be a list of parameter names, got {names!r}")
        nt = norm_type
        if isinstance(nt, bool) or not isinstance(nt, (int, float)) or math.isnan(nt) or nt <= 0:
            raise HyperParameterError(f"GradientNormRecorder: norm_type must be > 0 or float('inf'), got {nt!r}")
        self.names = None if names is None else list(dict.fromkeys(names))  # each name once
        self.norm_type, self.per_step = float(norm_type), bool(per_step)
        self._params: list[tuple[str, Any]] = []
        self._sums: dict[str, float] = {}
        self._steps = 0

    def on_train_begin(self, history: History, model: Module) -> None:
        named = dict(model.named_parameters())
        names = list(named) if self.names is None else self.names
        unknown = [n for n in names if n not in named]
        if unknown:
            raise ConfigError(f"GradientNormRecorder: the model has no parameter {unknown}; it has {list(named)}")
        self._params = [(n, named[n]) for n in names]
        self._sums, self._steps = dict.fromkeys(names, 0.0), 0
        for name in names:  # an extended history recorded without this parameter: NaN for its epochs
            values = history.gradient_norms.setdefault(name, [])
            values.extend([math.nan] * (history.epochs - len(values)))

    def on_after_backward(self, history: History, model: Module) -> None:
        for name, p in self._params:
            norm = self.norm(p.grad) if p.has_grad else 0.0  # reading .grad would mark it as written
            self._sums[name] += norm
            if self.per_step:
                history.step_gradient_norms.setdefault(name, []).append(norm)
        self._steps += 1

    def on_epoch_end(self, epoch: int, history: History, model: Module) -> None:
        for name, total in self._sums.items():
            history.gradient_norms[name].append(total / self._steps if self._steps else math.nan)
        self._sums, self._steps = dict.fromkeys(self._sums, 0.0), 0

    def norm(self, grad: np.ndarray) -> float:
        """The ``norm_type``-norm of ``grad`` as one vector, summed in float64."""
        g = np.abs(grad.astype(np.float64, copy=False)).ravel()
        if math.isinf(self.norm_type):
            return float(g.max()) if g.size else 0.0
        if self.norm_type == 2.0:
            return math.sqrt(float(g @ g))
        return float(np.sum(g**self.norm_type) ** (1.0 / self.norm_type))


def call(callback: Any, hook: str, epoch: int, history: History, model: Module) -> bool:
    """Run one hook of ``callback`` (a Callback or a plain function); True if it asks to stop."""
    if isinstance(callback, Callback):
        if hook == "on_epoch_end":
            callback.on_epoch_end(epoch, history, model)
        else:
            getattr(callback, hook)(history, model)
        return callback.stop_training
    if hook == "on_epoch_end":
        callback(epoch, history, model)
    return False
