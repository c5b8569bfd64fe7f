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
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import HyperParameterError, StateDictError, describe
from ..module import Parameter

# Keys a learning-rate scheduler writes into a parameter group (as torch's schedulers do);
# groups and saved state dicts may carry them besides the optimizer's own options.
SCHEDULER_KEYS = frozenset({"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"})


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
    of one entry in ``_state_keys``, or overrides ``_keys_for(group)`` when they depend on the
    group's options (RMSprop); ``load_state_dict`` checks them.
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
            unknown = set(g) - set(defaults) - {"params"} - SCHEDULER_KEYS
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
        group_of: dict[int, dict[str, Any]] = {}
        merged = []
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            ids, n = (s.get("params") if isinstance(s, dict) else None), len(g["params"])
            if not (isinstance(ids, list) and len(ids) == n and all(isinstance(k, int) for k in ids)):
                got = f"{len(ids)} entries" if isinstance(ids, list) else type(ids).__name__
                raise StateDictError(f"{where}: parameter group {i} must list {n} parameter indices (ints), got {got}")
            unknown = set(s) - set(self.defaults) - {"params"} - SCHEDULER_KEYS
            if unknown:
                raise StateDictError(f"{where}: parameter group {i} has unknown option(s) {sorted(unknown)}")
            merged.append({**g, **s, "params": g["params"]})
            self._check_hyper(merged[-1], f"{where} (parameter group {i})")
            by_index.update(zip(ids, g["params"]))
            group_of.update(dict.fromkeys(ids, merged[-1]))
        if len(by_index) != sum(len(g["params"]) for g in self.param_groups):
            raise StateDictError(f"{where}: a parameter index appears twice in 'param_groups'")
        state = {}
        for k, entry in state_dict["state"].items():
            if k not in by_index:
                raise StateDictError(f"{where}: state for parameter {k!r}, which no parameter group lists")
            keys = self._keys_for(group_of[k])
            state[id(by_index[k])] = self._checked_entry(entry, by_index[k], keys, f"{where}: state of parameter {k!r}")
        for g, m in zip(self.param_groups, merged):
            g.update(m)  # in place: SGD finds a group's flat arrays by the group dict's identity
        self.state = state

    def _keys_for(self, group: dict[str, Any]) -> frozenset[str]:
        """The keys of one parameter's state under ``group``'s options (RMSprop's depend on them)."""
        return self._state_keys

    def _checked_entry(self, entry: Any, p: Parameter, keys: frozenset[str], where: str) -> dict[str, Any]:
        """A copy of one parameter's saved state, arrays cast to its dtype; StateDictError if it does not fit."""
        if not isinstance(entry, dict) or set(entry) != keys:
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise StateDictError(f"{where}: expected the keys {sorted(keys)}, got {got}")
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
