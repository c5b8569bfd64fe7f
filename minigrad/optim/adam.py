"""Adam and AdamW as ``torch.optim.Adam`` / ``torch.optim.AdamW`` (no amsgrad)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import HyperParameterError
from .optimizer import Optimizer, _as_finite, _require


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam`` (L2 ``weight_decay`` added to the gradient, no amsgrad).

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, ``t`` counting the
    steps that parameter took (a parameter without a gradient takes none).
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def _check_hyper(self, group: dict[str, Any], where: str) -> None:
        """Also makes ``betas`` a tuple (a list is accepted, as in PyTorch)."""
        super()._check_hyper(group, where)
        betas = group["betas"]
        if not (
            isinstance(betas, (tuple, list))
            and len(betas) == 2
            and all(_as_finite(b) is not None and 0 <= float(b) < 1 for b in betas)
        ):
            raise HyperParameterError(f"{where}: betas must be a pair of finite numbers in [0, 1), got {betas!r}")
        group["betas"] = tuple(betas)
        _require(where, "eps", group["eps"], "> 0", lambda v: v > 0)

    _decoupled = False  # AdamW: the weight decay shrinks the parameter instead of joining the gradient

    def step(self) -> None:
        for g in self.param_groups:
            lr, (b1, b2), eps, wd = float(g["lr"]), g["betas"], g["eps"], g["weight_decay"]
            for p in g["params"]:
                grad = p._grad
                if grad is None:  # PyTorch: p.grad is None -> no step count, no moment update, no decay
                    continue
                if wd and self._decoupled:
                    p.data *= 1.0 - lr * wd
                elif wd:
                    grad = grad + wd * p.data
                st = self.state.get(id(p))
                if st is None:
                    st = self.state[id(p)] = {
                        "step": 0,
                        "exp_avg": np.zeros_like(p.data),
                        "exp_avg_sq": np.zeros_like(p.data),
                    }
                st["step"] += 1
                t = st["step"]
                m, v = st["exp_avg"], st["exp_avg_sq"]
                m *= b1
                m += (1.0 - b1) * grad
                v *= b2
                v += (1.0 - b2) * grad * grad
                denom = np.sqrt(v) / np.sqrt(1.0 - b2**t) + eps
                p.data -= (lr / (1.0 - b1**t)) * m / denom


class AdamW(Adam):
    """AdamW as ``torch.optim.AdamW``: Adam with decoupled weight decay (Loshchilov and Hutter).

    Before Adam's update of a parameter that has a gradient: ``p *= 1 - lr * weight_decay``;
    the gradient itself is not changed. ``weight_decay`` defaults to 0.01 as in PyTorch.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
