"""Gradient clipping as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Both act in place on the gradients written since ``zero_grad`` (a parameter whose ``_grad``
is None is skipped, as PyTorch skips ``p.grad is None``). Call them between
``model.backward(...)`` and ``optimizer.step()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import HyperParameterError
from ..module import Parameter
from .optimizer import _as_finite


def _grads(parameters: Any, where: str) -> list[np.ndarray]:
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    if not isinstance(parameters, Iterable):
        raise HyperParameterError(f"{where}: parameters must be Parameters, got {type(parameters).__name__}")
    out = []
    for p in parameters:
        if not isinstance(p, Parameter):
            raise HyperParameterError(f"{where}: expected Parameters, got {type(p).__name__}")
        if p._grad is not None:
            out.append(p._grad)
    return out


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients together so their total ``norm_type``-norm is at most ``max_norm``.

    The total norm is the norm of the per-parameter norms (all gradients as one vector);
    ``norm_type`` may be ``float("inf")`` (the largest absolute entry). When the total norm
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (total_norm + 1e-6)``,
    PyTorch's exact factor. Returns the total norm before clipping (a float; NaN or inf if a
    gradient holds one, as PyTorch with ``error_if_nonfinite=False``).
    """
    where = "clip_grad_norm_"
    mx, nt = _as_finite(max_norm), norm_type
    if mx is None or mx < 0:
        raise HyperParameterError(f"{where}: max_norm must be a finite number >= 0, got {max_norm!r}")
    if isinstance(nt, bool) or not isinstance(nt, (int, float)) or math.isnan(nt) or nt <= 0:
        raise HyperParameterError(f"{where}: norm_type must be a number > 0 or float('inf'), got {norm_type!r}")
    grads = _grads(parameters, where)
    if not grads:
        return 0.0
    if math.isinf(nt):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        norms = np.array([np.sum(np.abs(g) ** nt) ** (1.0 / nt) for g in grads])
        total = float(np.sum(norms**nt) ** (1.0 / nt))
    coef = mx / (total + 1e-6)
    if coef < 1.0:  # torch clamps the factor to 1: a small total norm is left as it is
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters: Any, clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place."""
    cv = _as_finite(clip_value)
    if cv is None or cv < 0:
        raise HyperParameterError(f"clip_grad_value_: clip_value must be a finite number >= 0, got {clip_value!r}")
    for g in _grads(parameters, "clip_grad_value_"):
        np.clip(g, -cv, cv, out=g)
