"""The base of the learning-rate schedulers (``LRScheduler``) and their argument checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ..errors import HyperParameterError, StateDictError
from .optimizer import Optimizer, _as_finite


def _number(where: str, name: str, value: Any, rule: str, ok: Callable[[float], bool]) -> float:
    v = _as_finite(value)
    if v is None or not ok(v):
        raise HyperParameterError(f"{where}: {name} must be a finite number {rule}, got {value!r}")
    return v


def _whole(where: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise HyperParameterError(f"{where}: {name} must be an int >= {low}, got {value!r}")
    return value


class LRScheduler:
    """Base class: ``step()``, ``get_last_lr()``, ``state_dict()``, ``load_state_dict()``.

    A subclass defines ``get_lr()`` (the new rates from ``self.last_epoch`` and the current
    ones). Construction sets ``group["initial_lr"]`` (kept if present) and takes the first
    step, so the rates of epoch 0 are in place, as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise HyperParameterError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        elif any("initial_lr" not in g for g in optimizer.param_groups):
            name = type(self).__name__
            raise HyperParameterError(f"{name}: last_epoch={last_epoch} needs 'initial_lr' in every parameter group")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        self._step_count += 1
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group as last set by this scheduler."""
        return list(self._last_lr)

    _unsaved: frozenset[str] = frozenset({"optimizer"})

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (plain numbers, lists and dicts: JSON-able)."""
        return {k: _plain(v) for k, v in self.__dict__.items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise StateDictError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        mine = set(self.state_dict())
        if set(state_dict) != mine:
            raise StateDictError(f"{where}: expected the keys {sorted(mine)}, got {sorted(state_dict)}")
        for k, v in state_dict.items():
            setattr(self, k, Counter({int(m): c for m, c in v.items()}) if k == "milestones" else v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


def _plain(value: Any) -> Any:
    if isinstance(value, Counter):
        return {int(k): v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
