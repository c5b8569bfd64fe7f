"""SGD (with momentum, Nesterov, weight decay) as ``torch.optim.SGD``, and the flat storage of fused plain SGD."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import HyperParameterError
from ..kernels import constant
from ..module import Parameter
from .optimizer import Optimizer, _require, _require_bool

_DATA, _GRAD = operator.attrgetter("data"), operator.attrgetter("_grad")


class _FlatGroup:
    """One parameter group's storage made flat: per dtype, one data array and one gradient array.

    At construction every parameter's ``data`` and gradient buffer become views of the flat
    arrays (values copied in; an accumulated gradient is kept). ``step(lr)`` then equals
    ``for p in params: p.data -= lr * p.grad`` in two NumPy calls per dtype instead of two
    per parameter (Torch7's ``getParameters``, PyTorch's ``fused=``), and gives the same
    numbers bit for bit. ``covers(params)`` says whether that is still true: every parameter
    still has its views as ``data`` and as the gradient written since ``zero_grad``.
    """

    def __init__(self, params: list[Parameter]) -> None:
        self.flats: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (data, grad, scratch) per dtype
        views: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for dtype in dict.fromkeys(p.data.dtype for p in params):
            members = [p for p in params if p.data.dtype == dtype]
            data = np.empty(sum(p.data.size for p in members), dtype)
            grad = np.zeros_like(data)
            start = 0
            for p in members:
                end = start + p.data.size
                d, g = data[start:end].reshape(p.data.shape), grad[start:end].reshape(p.data.shape)
                d[...] = p.data
                if p._grad is not None:  # an accumulated gradient survives the move
                    g[...] = p._grad
                    p._grad = g
                p.data, p._buffer = d, g
                views[id(p)] = (d, g)
                start = end
            # The product goes through a buffer made once: lr * grad would allocate every step.
            self.flats.append((data, grad, np.empty_like(grad)))
        self.datas = [views[id(p)][0] for p in params]  # in the group's order
        self.grads = [views[id(p)][1] for p in params]

    def covers(self, params: list[Parameter]) -> bool:
        """Every parameter of the group (same count, same order) uses its views, its gradient written.

        ``p._grad is g`` also proves the gradient was written since zero_grad (else it is None).
        The identity tests run in C (``map(operator.is_, ...)``): a Python loop over the
        parameters cost a batch-10 step about 1 us.
        """
        return (
            len(params) == len(self.datas)
            and all(map(operator.is_, map(_DATA, params), self.datas))
            and all(map(operator.is_, map(_GRAD, params), self.grads))
        )

    def step(self, lr: float) -> None:
        for data, grad, scratch in self.flats:
            np.multiply(grad, constant(float(lr), grad.dtype), out=scratch)  # a 0-d lr: see kernels.constant
            data -= scratch


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    With ``g = grad + weight_decay * p``: ``b = momentum * b + (1 - dampening) * g``
    (``b = g`` at the first step), then ``p -= lr * (g + momentum * b if nesterov else b)``;
    with ``momentum == 0`` simply ``p -= lr * g``.

    ``fused`` (default True): each group of plain SGD (momentum and weight_decay 0 at
    construction) has its parameters moved into one flat array per dtype, so a step is
    two NumPy calls instead of two per parameter, with the same numbers. ``p.data`` then
    is a view of that array: an array taken from ``p.data`` before is no longer the
    parameter's storage (as after ``Module.to``). Rebinding ``p.data``, assigning
    ``p.grad``, ``Module.to`` or editing a group's ``params`` later stays correct: that
    group then takes the per-parameter update.
    """

    _state_keys = frozenset({"momentum_buffer"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        fused: bool = True,
    ) -> None:
        _require_bool("SGD", "fused", fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay)
        super().__init__(params, defaults)
        self.fused = bool(fused)
        # Keyed by the group dict's identity, so a group appended to param_groups later simply has none.
        self._flat: dict[int, _FlatGroup] = {
            id(g): _FlatGroup(g["params"])
            for g in self.param_groups
            if self.fused and not g["momentum"] and not g["weight_decay"]
        }

    def _check_hyper(self, group: dict[str, Any], where: str) -> None:
        super()._check_hyper(group, where)
        _require(where, "momentum", group["momentum"], ">= 0", lambda v: v >= 0)
        _require(where, "dampening", group["dampening"], "in [0, 1]", lambda v: 0 <= v <= 1)
        _require_bool(where, "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise HyperParameterError(
                f"{where}: nesterov=True needs momentum > 0 and dampening == 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def step(self) -> None:
        for g in self.param_groups:
            params, lr = g["params"], float(g["lr"])
            if g["momentum"] or g["weight_decay"]:
                self._momentum_step(g, params, lr)
                continue
            flat = self._flat.get(id(g))
            if flat is not None and flat.covers(params):
                flat.step(lr)
                continue
            for p in params:
                grad = p._grad
                if grad is not None:  # nothing written since zero_grad: left alone
                    p.data -= lr * grad

    def _momentum_step(self, g: dict[str, Any], params: list[Parameter], lr: float) -> None:
        mom, damp, wd, nesterov = g["momentum"], g["dampening"], g["weight_decay"], g["nesterov"]
        for p in params:
            d = p._grad
            if d is None:  # PyTorch: p.grad is None -> no decay, no momentum update
                continue
            if wd:
                d = d + wd * p.data
            if mom:
                st = self.state.setdefault(id(p), {})
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = d.copy()  # d may be the gradient itself
                else:
                    buf *= mom
                    buf += (1.0 - damp) * d
                d = d + mom * buf if nesterov else buf
            p.data -= lr * d
