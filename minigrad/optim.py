"""Optimizers with PyTorch's exact update rules, so results compare number for number.

``params`` is an iterable of Parameters, or of parameter groups: dicts
``{"params": [...], "lr": ..., "weight_decay": ...}`` whose keys override the
optimizer's defaults for that group (e.g. no weight decay on biases).
All updates are in place on ``Parameter.data``.

A parameter whose gradient was not written since ``zero_grad()`` (``not p.has_grad``) is
left completely alone: no step, no momentum decay, no weight decay, no Adam step count,
as PyTorch skips a parameter whose ``.grad`` is ``None``.

Hyper-parameters are checked at construction and in ``load_state_dict`` (NaN, wrong
types, out of range: :class:`~minigrad.errors.HyperParameterError`); a value changed
later by hand or by a schedule is used as it is, as in PyTorch.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .errors import HyperParameterError, StateDictError, describe
from .kernels import constant
from .module import Parameter


def _as_finite(value: Any) -> float | None:
    """``value`` as a float if it is a finite real number (int, float, NumPy scalar, 0-d array), else None.

    Never a bool: ``True`` would silently be a learning rate of 1.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return None
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return v if math.isfinite(v) else None


def _require(where: str, name: str, value: Any, rule: str, ok: Callable[[float], bool]) -> None:
    v = _as_finite(value)
    if v is None or not ok(v):
        raise HyperParameterError(f"{where}: {name} must be a finite number {rule}, got {value!r}")


def _require_bool(where: str, name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise HyperParameterError(f"{where}: {name} must be True or False, got {value!r}")


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``state_dict`` / ``load_state_dict``.

    ``state`` maps ``id(parameter)`` to that parameter's state; a subclass lists the keys
    of one entry in ``_state_keys`` (``load_state_dict`` checks them).
    """

    _state_keys: frozenset[str] = frozenset()

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        name = type(self).__name__
        self._check_hyper(self.defaults, name)  # as PyTorch: the constructor's own arguments too
        if isinstance(params, (Parameter, dict, str)) or not isinstance(params, Iterable):
            kind = type(params).__name__
            raise HyperParameterError(f"{name}: params must be a list of Parameters or of parameter groups, got {kind}")
        items = list(params)
        if not items:
            raise HyperParameterError(f"{name}: got an empty parameter list")
        if all(isinstance(x, dict) for x in items):
            groups = items
        elif any(isinstance(x, dict) for x in items):
            raise HyperParameterError(f"{name}: params mixes parameter groups (dicts) and Parameters")
        else:
            groups = [{"params": items}]
        self.param_groups: list[dict[str, Any]] = []
        seen: set[int] = set()
        for i, g in enumerate(groups):
            where = f"{name} (parameter group {i})"
            group = {**self.defaults, **g, "params": self._group_params(g, where, seen)}
            unknown = set(g) - set(defaults) - {"params"}
            if unknown:
                raise HyperParameterError(f"{where}: unknown option(s) {sorted(unknown)}")
            self._check_hyper(group, where)
            self.param_groups.append(group)
        self.state: dict[int, dict[str, Any]] = {}  # keyed by id(Parameter)

    @staticmethod
    def _group_params(g: dict[str, Any], where: str, seen: set[int]) -> list[Parameter]:
        ps = g.get("params")
        if isinstance(ps, Parameter):
            ps = [ps]  # PyTorch accepts a lone tensor here
        # A set has no stable order, so state_dict indices would not survive a restart (PyTorch refuses it too).
        if isinstance(ps, (set, frozenset, dict, str)) or not isinstance(ps, Iterable):
            raise HyperParameterError(f"{where}: 'params' must be a list of Parameters, got {type(ps).__name__}")
        ps = list(ps)
        for p in ps:
            if not isinstance(p, Parameter):
                raise HyperParameterError(f"{where}: expected Parameters, got {type(p).__name__}")
            if id(p) in seen:
                raise HyperParameterError(f"{where}: a parameter appears twice (in this or an earlier group)")
            seen.add(id(p))
        return ps

    def _check_hyper(self, group: dict[str, Any], where: str) -> None:
        """Raise HyperParameterError unless every option of ``group`` is valid (subclasses add theirs)."""
        _require(where, "lr", group["lr"], ">= 0", lambda v: v >= 0)
        _require(where, "weight_decay", group.get("weight_decay", 0), ">= 0", lambda v: v >= 0)

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
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        state = {
            index[pid]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for pid, s in self.state.items()
            if pid in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Any) -> None:
        """Take the hyper-parameters and state of ``state_dict`` (from ``state_dict()``).

        Saved parameter indices map to this optimizer's parameters in group order, as in
        PyTorch. Everything is checked before anything changes: StateDictError for a
        structure that does not fit, HyperParameterError for a bad saved option.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not (
            isinstance(state_dict, dict)
            and isinstance(state_dict.get("param_groups"), list)
            and isinstance(state_dict.get("state"), dict)
        ):
            raise StateDictError(f"{where}: expected a dict with 'state' (a dict) and 'param_groups' (a list)")
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise StateDictError(f"{where}: {len(saved)} parameter group(s) saved, {len(self.param_groups)} here")
        by_index: dict[int, Parameter] = {}
        merged = []
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            ids, n = (s.get("params") if isinstance(s, dict) else None), len(g["params"])
            if not (isinstance(ids, list) and len(ids) == n and all(isinstance(k, int) for k in ids)):
                got = f"{len(ids)} entries" if isinstance(ids, list) else type(ids).__name__
                raise StateDictError(f"{where}: parameter group {i} must list {n} parameter indices (ints), got {got}")
            unknown = set(s) - set(self.defaults) - {"params"}
            if unknown:
                raise StateDictError(f"{where}: parameter group {i} has unknown option(s) {sorted(unknown)}")
            merged.append({**g, **s, "params": g["params"]})
            self._check_hyper(merged[-1], f"{where} (parameter group {i})")
            by_index.update(zip(ids, g["params"]))
        if len(by_index) != sum(len(g["params"]) for g in self.param_groups):
            raise StateDictError(f"{where}: a parameter index appears twice in 'param_groups'")
        state = {}
        for k, entry in state_dict["state"].items():
            if k not in by_index:
                raise StateDictError(f"{where}: state for parameter {k!r}, which no parameter group lists")
            state[id(by_index[k])] = self._checked_entry(entry, by_index[k], f"{where}: state of parameter {k!r}")
        for g, m in zip(self.param_groups, merged):
            g.update(m)  # in place: SGD finds a group's flat arrays by the group dict's identity
        self.state = state

    def _checked_entry(self, entry: Any, p: Parameter, where: str) -> dict[str, Any]:
        """A copy of one parameter's saved state, arrays cast to its dtype; StateDictError if it does not fit."""
        if not isinstance(entry, dict) or set(entry) != self._state_keys:
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise StateDictError(f"{where}: expected the keys {sorted(self._state_keys)}, got {got}")
        out: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "step":
                v = _as_finite(value)
                if v is None or v < 0 or v != int(v):
                    raise StateDictError(f"{where}: 'step' must be a whole number >= 0, got {value!r}")
                out[key] = int(v)
                continue
            if not (isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.shape == p.data.shape):
                got = describe(value) if isinstance(value, np.ndarray) else type(value).__name__
                raise StateDictError(f"{where}: {key!r} must be a numeric array of shape {p.data.shape}, got {got}")
            out[key] = np.array(value, dtype=p.data.dtype)
        return out

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({opts})"


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

    def step(self) -> None:
        for g in self.param_groups:
            lr, (b1, b2), eps, wd = float(g["lr"]), g["betas"], g["eps"], g["weight_decay"]
            for p in g["params"]:
                grad = p._grad
                if grad is None:  # PyTorch: p.grad is None -> no step count, no moment update
                    continue
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
