"""Optimizers with PyTorch's exact update rules, so results compare number for number.

``params`` is an iterable of Parameters, or of parameter groups: dicts
``{"params": [...], "lr": ..., "weight_decay": ...}`` whose keys override the
optimizer's defaults for that group (e.g. no weight decay on biases).
All updates are in place on ``Parameter.data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import StateDictError
from .module import Parameter


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``state_dict`` / ``load_state_dict``."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        items = list(params)
        if not items:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        self.param_groups: list[dict[str, Any]] = []
        seen: set[int] = set()
        for g in groups:
            unknown = set(g) - set(defaults) - {"params"}
            if unknown:
                raise ValueError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)} in a parameter group")
            group = {**self.defaults, **g, "params": list(g["params"])}
            for p in group["params"]:
                if not isinstance(p, Parameter):
                    raise TypeError(f"{type(self).__name__}: expected Parameters, got {type(p).__name__}")
                if id(p) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group")
                seen.add(id(p))
            self._check_hyper(group)
            self.param_groups.append(group)
        self.state: dict[int, dict[str, Any]] = {}  # keyed by id(Parameter)

    def _check_hyper(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {group['weight_decay']}")

    def _params(self) -> list[Parameter]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self) -> None:
        """Zero the ``.grad`` of every parameter this optimizer updates."""
        for g in self.param_groups:
            for p in g["params"]:
                p._grad = None  # Parameter.zero_grad() inlined: this runs every step

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array|number}}, "param_groups": [...]}`` as in PyTorch."""
        index = {id(p): i for i, p in enumerate(self._params())}
        groups = []
        for g in self.param_groups:
            groups.append(
                {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            )
        state = {
            index[pid]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for pid, s in self.state.items()
            if pid in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        params = self._params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)
        ):
            raise StateDictError(f"{type(self).__name__}.load_state_dict: parameter groups do not match")
        new_state: dict[int, dict[str, Any]] = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            entry = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.shape != p.data.shape:
                    raise StateDictError(
                        f"{type(self).__name__}.load_state_dict: state {k!r} of parameter {i} has shape "
                        f"{v.shape}, expected {p.data.shape}"
                    )
                entry[k] = np.array(v, dtype=p.data.dtype) if isinstance(v, np.ndarray) else v
            new_state[id(p)] = entry
        for g, saved in zip(self.param_groups, groups):
            g.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({opts})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    With ``g = grad + weight_decay * p``: ``b = momentum * b + (1 - dampening) * g``
    (``b = g`` at the first step), then ``p -= lr * (g + momentum * b if nesterov else b)``;
    with ``momentum == 0`` simply ``p -= lr * g``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0")
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "nesterov": nesterov,
                "weight_decay": weight_decay,
            },
        )

    def _check_hyper(self, group: dict[str, Any]) -> None:
        super()._check_hyper(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {group['momentum']}")

    def step(self) -> None:
        for g in self.param_groups:
            if not g["momentum"] and not g["weight_decay"]:  # plain SGD: p -= lr * grad
                for p in g["params"]:
                    grad = p._grad
                    if grad is not None:  # nothing added since zero_grad: left alone
                        p.data -= g["lr"] * grad
                continue
            lr, mom, damp, wd = g["lr"], g["momentum"], g["dampening"], g["weight_decay"]
            for p in g["params"]:
                d = p.grad
                if wd:
                    d = d + wd * p.data
                if mom:
                    st = self.state.setdefault(id(p), {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = d.copy()
                    else:
                        buf *= mom
                        buf += (1.0 - damp) * d
                    d = d + mom * buf if g["nesterov"] else buf
                p.data -= lr * d


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam`` (L2 ``weight_decay`` added to the gradient, no amsgrad).

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    def _check_hyper(self, group: dict[str, Any]) -> None:
        super()._check_hyper(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {group['betas']}")

    def step(self) -> None:
        for g in self.param_groups:
            lr, (b1, b2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
            for p in g["params"]:
                grad = p.grad
                if wd:
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
