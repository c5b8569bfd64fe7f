"""RMSprop and Adagrad as ``torch.optim.RMSprop`` / ``torch.optim.Adagrad``: per-coordinate step sizes.

Both follow PyTorch's single-tensor code line for line, so float64 results agree to rounding.
A parameter without a gradient since ``zero_grad`` takes no step and its state does not change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _require, _require_bool


class RMSprop(Optimizer):
    """RMSprop as ``torch.optim.RMSprop``.

    With ``g = grad + weight_decay * p``: ``v = alpha v + (1 - alpha) g^2``; when ``centered``,
    also ``a = alpha a + (1 - alpha) g`` and the denominator is ``sqrt(v - a^2) + eps``, else
    ``sqrt(v) + eps``. With ``momentum > 0``: ``b = momentum b + g / denom`` and ``p -= lr b``;
    else ``p -= lr g / denom``.

    Differences from PyTorch: ``alpha`` must lie in [0, 1] and ``eps`` be > 0 (PyTorch takes any
    ``alpha >= 0`` and ``eps >= 0``, which can divide 0 by 0).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def _check_hyper(self, group: dict[str, Any], where: str) -> None:
        super()._check_hyper(group, where)
        _require(where, "alpha", group["alpha"], "in [0, 1]", lambda v: 0 <= v <= 1)
        _require(where, "eps", group["eps"], "> 0", lambda v: v > 0)
        _require(where, "momentum", group["momentum"], ">= 0", lambda v: v >= 0)
        _require_bool(where, "centered", group["centered"])

    def _keys_for(self, group: dict[str, Any]) -> frozenset[str]:
        keys = {"step", "square_avg"}
        if group["momentum"] > 0:
            keys.add("momentum_buffer")
        if group["centered"]:
            keys.add("grad_avg")
        return frozenset(keys)

    def _new_state(self, p: Any, g: dict[str, Any]) -> dict[str, Any]:
        st: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(p.data)}
        if g["momentum"] > 0:
            st["momentum_buffer"] = np.zeros_like(p.data)
        if g["centered"]:
            st["grad_avg"] = np.zeros_like(p.data)
        return st

    def step(self) -> None:
        for g in self.param_groups:
            lr, alpha, eps, wd, mom = float(g["lr"]), g["alpha"], g["eps"], g["weight_decay"], g["momentum"]
            for p in g["params"]:
                grad = p._grad
                if grad is None:  # PyTorch: p.grad is None -> skipped
                    continue
                st = self.state.get(id(p))
                if st is None:
                    st = self.state[id(p)] = self._new_state(p, g)
                st["step"] += 1
                if wd:
                    grad = grad + wd * p.data
                v = st["square_avg"]
                v *= alpha
                v += (1.0 - alpha) * grad * grad
                if g["centered"]:
                    a = st.setdefault("grad_avg", np.zeros_like(p.data))
                    a += (grad - a) * (1.0 - alpha)  # torch: grad_avg.lerp_(grad, 1 - alpha)
                    denom = np.sqrt(v - a * a) + eps
                else:
                    denom = np.sqrt(v) + eps
                if mom > 0:
                    buf = st.setdefault("momentum_buffer", np.zeros_like(p.data))
                    buf *= mom
                    buf += grad / denom
                    p.data -= lr * buf
                else:
                    p.data -= lr * (grad / denom)


class Adagrad(Optimizer):
    """Adagrad as ``torch.optim.Adagrad``.

    At a parameter's step ``t`` (1, 2, ...), with ``g = grad + weight_decay * p``:
    ``clr = lr / (1 + (t - 1) lr_decay)``; ``s += g^2``; ``p -= clr g / (sqrt(s) + eps)``,
    ``s`` starting at ``initial_accumulator_value``.

    Differences from PyTorch: the state of a parameter is made at its first step, not at
    construction (same numbers; a parameter never stepped has no entry in ``state_dict``),
    and ``eps`` must be > 0.
    """

    _state_keys = frozenset({"step", "sum"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        super().__init__(params, defaults)

    def _check_hyper(self, group: dict[str, Any], where: str) -> None:
        super()._check_hyper(group, where)
        _require(where, "lr_decay", group["lr_decay"], ">= 0", lambda v: v >= 0)
        _require(where, "initial_accumulator_value", group["initial_accumulator_value"], ">= 0", lambda v: v >= 0)
        _require(where, "eps", group["eps"], "> 0", lambda v: v > 0)

    def step(self) -> None:
        for g in self.param_groups:
            lr, lr_decay, wd, eps = float(g["lr"]), g["lr_decay"], g["weight_decay"], g["eps"]
            for p in g["params"]:
                grad = p._grad
                if grad is None:  # PyTorch: p.grad is None -> skipped
                    continue
                st = self.state.get(id(p))
                if st is None:
                    st = self.state[id(p)] = {
                        "step": 0,
                        "sum": np.full_like(p.data, g["initial_accumulator_value"]),
                    }
                st["step"] += 1
                if wd:
                    grad = grad + wd * p.data
                clr = lr / (1.0 + (st["step"] - 1) * lr_decay)
                s = st["sum"]
                s += grad * grad
                p.data -= clr * (grad / (np.sqrt(s) + eps))
