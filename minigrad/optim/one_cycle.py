"""OneCycleLR as ``torch.optim.lr_scheduler.OneCycleLR``: the 1cycle policy, stepped once per batch."""

from __future__ import annotations

import math
from typing import Any

from ..errors import HyperParameterError
from .optimizer import Optimizer
from .scheduler import LRScheduler, _number, _whole


def _per_group(optimizer: Optimizer, name: str, value: Any) -> list[float]:
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise HyperParameterError(f"OneCycleLR: expected {n} values for {name}, got {len(values)}")
    return [_number("OneCycleLR", name, v, ">= 0", lambda x: x >= 0) for v in values]


class OneCycleLR(LRScheduler):
    """Warm up from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of ``total_steps``, then
    anneal to ``initial_lr / final_div_factor`` (cosine or linear); momentum (or Adam's beta1)
    cycles the other way between ``max_momentum`` and ``base_momentum`` when ``cycle_momentum``.

    ``total_steps`` or ``epochs`` and ``steps_per_epoch``; stepping past ``total_steps`` is an error.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        where = "OneCycleLR"
        if total_steps is not None:
            self.total_steps = _whole(where, "total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _whole(where, "epochs", epochs, 1) * _whole(where, "steps_per_epoch", steps_per_epoch, 1)
        else:
            raise HyperParameterError(f"{where}: give total_steps, or epochs and steps_per_epoch")
        _number(where, "pct_start", pct_start, "in [0, 1]", lambda v: 0 <= v <= 1)
        if anneal_strategy not in ("cos", "linear"):
            raise HyperParameterError(f"{where}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self._phases = self._make_phases(float(pct_start), bool(three_phase))
        self.cycle_momentum = bool(cycle_momentum)
        div = _number(where, "div_factor", div_factor, "> 0", lambda v: v > 0)
        final_div = _number(where, "final_div_factor", final_div_factor, "> 0", lambda v: v > 0)
        if last_epoch == -1:
            for g, m in zip(optimizer.param_groups, _per_group(optimizer, "max_lr", max_lr)):
                g["initial_lr"], g["max_lr"], g["min_lr"] = m / div, m, m / div / final_div
        if self.cycle_momentum:
            self._setup_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _make_phases(self, pct: float, three: bool) -> list[dict[str, Any]]:
        n = self.total_steps
        if three:
            return [
                {"end_step": pct * n - 1, "lr": ("initial_lr", "max_lr"), "m": ("max_momentum", "base_momentum")},
                {"end_step": 2 * pct * n - 2, "lr": ("max_lr", "initial_lr"), "m": ("base_momentum", "max_momentum")},
                {"end_step": n - 1, "lr": ("initial_lr", "min_lr"), "m": ("max_momentum", "max_momentum")},
            ]
        return [
            {"end_step": pct * n - 1, "lr": ("initial_lr", "max_lr"), "m": ("max_momentum", "base_momentum")},
            {"end_step": n - 1, "lr": ("max_lr", "min_lr"), "m": ("base_momentum", "max_momentum")},
        ]

    def _setup_momentum(self, optimizer: Optimizer, base: Any, top: Any, last_epoch: int) -> None:
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise HyperParameterError(
                "OneCycleLR: cycle_momentum=True needs an optimizer with momentum or betas; pass cycle_momentum=False"
            )
        self.use_beta1 = "betas" in optimizer.defaults
        if last_epoch != -1:
            return
        bases, tops = _per_group(optimizer, "base_momentum", base), _per_group(optimizer, "max_momentum", top)
        for g, b, m in zip(optimizer.param_groups, bases, tops):
            self._set_momentum(g, m)
            g["max_momentum"], g["base_momentum"] = m, b

    def _set_momentum(self, g: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            g["betas"] = (value, *g["betas"][1:])
        else:
            g["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise HyperParameterError(
                f"OneCycleLR: stepped {step} times, but total_steps is {self.total_steps}; make it larger"
            )
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._phases):
                end = phase["end_step"]
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(g[phase["lr"][0]], g[phase["lr"][1]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[phase["m"][0]], g[phase["m"][1]], pct))
                    break
                start = end
        return lrs
