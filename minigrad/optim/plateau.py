"""ReduceLROnPlateau as ``torch.optim.lr_scheduler.ReduceLROnPlateau``: cut the rate when a metric stalls."""

from __future__ import annotations

import math
from typing import Any

from ..errors import HyperParameterError
from .optimizer import Optimizer
from .scheduler import LRScheduler, _number, _whole


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rates by ``factor`` once the metric given to ``step(metric)`` has not improved
    for more than ``patience`` epochs; then wait ``cooldown`` epochs. "Improved" is PyTorch's
    rule: in mode ``"min"`` with ``threshold_mode="rel"``, ``metric < best * (1 - threshold)``
    (``"abs"``: ``metric < best - threshold``; mode ``"max"`` the mirror image). A rate never
    goes below ``min_lr`` (a number, or one per group), and a change smaller than ``eps`` is skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        where = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise HyperParameterError(f"{where}: expected an Optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise HyperParameterError(
                f"{where}: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', "
                f"got {mode!r}, {threshold_mode!r}"
            )
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor = _number(where, "factor", factor, "in [0, 1)", lambda v: 0 <= v < 1)
        self.patience = _whole(where, "patience", patience, 0)
        self.threshold = _number(where, "threshold", threshold, ">= 0", lambda v: v >= 0)
        self.cooldown = _whole(where, "cooldown", cooldown, 0)
        self.eps = _number(where, "eps", eps, ">= 0", lambda v: v >= 0)
        n = len(optimizer.param_groups)
        lows = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(lows) != n:
            raise HyperParameterError(f"{where}: expected {n} values for min_lr, got {len(lows)}")
        self.min_lrs = [_number(where, "min_lr", v, ">= 0", lambda x: x >= 0) for v in lows]
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def is_better(self, a: float, best: float) -> bool:
        t = self.threshold
        if self.mode == "min":
            return a < (best * (1.0 - t) if self.threshold_mode == "rel" else best - t)
        return a > (best * (t + 1.0) if self.threshold_mode == "rel" else best + t)

    def step(self, metrics: Any = None) -> None:  # type: ignore[override]
        current = _number("ReduceLROnPlateau.step", "metrics", metrics, "(the monitored value)", lambda v: True)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, low in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(g["lr"])
                new = max(old * self.factor, low)
                if old - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        d = super().state_dict()
        d["best"] = _finite_or_text(d["best"])  # JSON has no inf
        return d

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best = float(self.best)


def _finite_or_text(v: float) -> float | str:
    return v if math.isfinite(v) else repr(v)
