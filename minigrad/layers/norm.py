"""Normalisation: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``, and the backward of the normalisation.

All three normalise ``x`` over some axes to zero mean and unit variance, then scale and shift::

    mu      = mean(x)                    over the normalised axes, m elements per mean
    var     = mean((x - mu)**2)          the biased variance (divided by m)
    inv_std = 1 / sqrt(var + eps)
    xhat    = (x - mu) * inv_std
    y       = gamma * xhat + beta        gamma, beta broadcast along the other axes

BatchNorm normalises each channel over the batch and the positions (axes 0, 2, 3, ...);
LayerNorm normalises each example over its last dimensions.

Backward, with ``g = dL/dy`` and the sums over the axes that gamma is broadcast along::

    dL/dgamma = sum(g * xhat)            dL/dbeta = sum(g)
    dxhat     = g * gamma
    dL/dx     = (1/m) * inv_std * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

the last sums over the normalised axes. ``normalize_backward`` is that closed form, which the
layers use; ``normalize_backward_steps`` reaches the same result the long way, node by node
through the graph of ``normalize_forward_steps`` (cs231n's assignment 2), and the tests check
that both agree. In eval mode BatchNorm uses its running statistics, constants, so there
``dL/dx = dxhat * inv_std``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import HyperParameterError, ShapeError, describe
from ..init import as_float_dtype
from ..module import Module, Parameter
from .linear import as_batch

Axes = tuple[int, ...]


# -- the normalisation's backward: the graph node by node, and the closed form -----------------
def normalize_forward_steps(x: np.ndarray, eps: float, axes: Axes) -> tuple[np.ndarray, tuple]:
    """``xhat = (x - mean) / sqrt(var + eps)`` over ``axes``, one graph node a line; returns ``(xhat, cache)``."""
    m = math.prod(x.shape[a] for a in axes)
    mu = x.mean(axis=axes, keepdims=True)  # 1. mu = sum(x) / m
    xmu = x - mu  # 2. xmu = x - mu
    sq = xmu**2  # 3. sq = xmu^2
    var = sq.mean(axis=axes, keepdims=True)  # 4. var = sum(sq) / m
    std = np.sqrt(var + eps)  # 5. std = sqrt(var + eps)
    inv_std = 1.0 / std  # 6. inv_std = 1 / std
    xhat = xmu * inv_std  # 7. xhat = xmu * inv_std
    return xhat, (xmu, std, inv_std, m, axes)


def normalize_backward_steps(dxhat: np.ndarray, cache: tuple) -> np.ndarray:
    """``dL/dx`` from ``dL/dxhat``, back through the nodes of ``normalize_forward_steps`` (7 down to 1).

    The reference for :func:`normalize_backward`: slow (it keeps every node) but each line is
    one local derivative times the gradient that arrived, and a node used twice (``xmu``, ``x``)
    sums the gradients of its two paths.
    """
    xmu, std, inv_std, m, axes = cache
    dxmu = dxhat * inv_std  # 7. xhat = xmu * inv_std: the path through xmu ...
    dinv_std = (dxhat * xmu).sum(axis=axes, keepdims=True)  # ... and through inv_std
    dstd = -dinv_std / std**2  # 6. d(1/std) = -1/std^2
    dvar = 0.5 * dstd / std  # 5. d sqrt(v + eps) = 1 / (2 sqrt(v + eps))
    dsq = np.broadcast_to(dvar / m, xmu.shape)  # 4. each sq enters the mean with weight 1/m
    dxmu = dxmu + 2.0 * xmu * dsq  # 3. d xmu^2 = 2 xmu; xmu's two paths summed
    dmu = -dxmu.sum(axis=axes, keepdims=True)  # 2. xmu = x - mu: the path through mu ...
    dx = dxmu.copy()  # ... and the direct path to x
    dx += dmu / m  # 1. mu = sum(x) / m: x's two paths summed
    return dx


def normalize_backward(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, axes: Axes) -> np.ndarray:
    """``dL/dx = (1/m) * inv_std * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))``, sums over ``axes``.

    The closed form of :func:`normalize_backward_steps`: the steps' terms collected, with
    ``xhat = xmu * inv_std`` in place of ``xmu``. Inputs: ``dxhat`` and ``xhat`` of the input's
    shape, ``inv_std`` of that shape with the ``axes`` kept as 1 (``keepdims``). Returns ``dL/dx``.
    """
    m = math.prod(xhat.shape[a] for a in axes)
    sum_dxhat = dxhat.sum(axis=axes, keepdims=True)
    sum_dxhat_xhat = (dxhat * xhat).sum(axis=axes, keepdims=True)
    return (inv_std / m) * (m * dxhat - sum_dxhat - xhat * sum_dxhat_xhat)


def _moments(x: np.ndarray, axes: Axes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean, ``x - mean`` and the biased variance over ``axes`` (kept as 1)."""
    mu = x.mean(axis=axes, keepdims=True)
    xmu = x - mu
    return mu, xmu, (xmu * xmu).mean(axis=axes, keepdims=True)


def _check_eps(where: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)) or not eps > 0:
        raise HyperParameterError(f"{where}: eps must be a positive number, got {eps!r}")
    if not math.isfinite(eps):
        raise HyperParameterError(f"{where}: eps must be finite, got {eps!r}")
    return float(eps)


def _fmt(shape: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(map(str, shape)) + ")"


class _BatchNorm(Module):
    """BatchNorm over the channel axis 1: the shared forward, backward and running statistics."""

    _layouts: tuple[str, ...] = ()  # the accepted inputs, for errors: "(N, C)", "(N, C, L)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) or num_features < 1:
            raise ShapeError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and (
            isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.number)) or not 0 <= momentum <= 1
        ):
            raise HyperParameterError(f"{name}: momentum must be in [0, 1] or None (cumulative), got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = _check_eps(name, eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt, c = as_float_dtype(dtype), self.num_features
        self.weight = Parameter(np.ones(c, dt)) if self.affine else None  # gamma
        self.bias = Parameter(np.zeros(c, dt)) if self.affine and bias else None  # beta
        track = self.track_running_stats
        self.register_buffer("running_mean", np.zeros(c, dt) if track else None)
        self.register_buffer("running_var", np.ones(c, dt) if track else None)
        self.register_buffer("num_batches_tracked", np.array(0, np.int64) if track else None)
        self._dtype = None if self.affine or track else str(dt)  # for get_config when no array holds it
        self._xhat: np.ndarray | None = None

    def _array_dtype(self) -> np.dtype | None:
        """The dtype the layer computes in: its parameters' or buffers' (what ``.to`` moved last)."""
        for a in (self.weight, self.running_mean):
            if a is not None:
                return a.dtype
        return None

    def _bad_input(self, got: str) -> ShapeError:
        expected = " or ".join(s.replace("C", str(self.num_features)) for s in self._layouts)
        return ShapeError(f"{self!r}: expected input {expected}, got {got}")

    def forward(self, x: Any) -> np.ndarray:
        """``y = gamma * xhat + beta``, the statistics of the batch (training) or the running ones (eval).

        Inputs / Returns: x (N, C, *) -> y, same shape. In training mode the running
        statistics move towards the batch's: ``r = (1 - momentum) * r + momentum * batch``,
        with the unbiased variance ``var * m / (m - 1)`` (as PyTorch; ``momentum=None``:
        the cumulative average, ``1 / num_batches_tracked`` in place of momentum).
        """
        x = as_batch(self, x, self._array_dtype())
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise self._bad_input(describe(x))
        axes = (0, *range(2, x.ndim))  # every axis but the channel's
        m = x.size // self.num_features  # values per channel
        self._batch_stats = self.training or self.running_mean is None
        if self._batch_stats:
            if self.training and m < 2:
                raise ShapeError(f"{self!r}: expected more than 1 value per channel when training, got {describe(x)}")
            mu, xmu, var = _moments(x, axes)
            if self.training and self.running_mean is not None:
                self._update_running(mu.reshape(-1), var.reshape(-1), m)
        else:
            xmu, var = x - self._per_channel(self.running_mean, x.ndim), self._per_channel(self.running_var, x.ndim)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = xmu * inv_std
        self._xhat, self._inv_std, self._axes = xhat, inv_std, axes
        y = xhat if self.weight is None else xhat * self._per_channel(self.weight.data, x.ndim)
        return y if self.bias is None else y + self._per_channel(self.bias.data, x.ndim)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, m: int) -> None:
        """``r = (1 - f) * r + f * batch``, in place (an array taken from ``running_mean`` stays the buffer)."""
        self.num_batches_tracked += 1
        f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean *= 1.0 - f
        self.running_mean += f * mean
        self.running_var *= 1.0 - f
        self.running_var += (f * m / (m - 1)) * var  # the unbiased variance, as PyTorch

    @staticmethod
    def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
        """A (C,) vector shaped (1, C, 1, ...) to broadcast along the channel axis."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def backward(self, grad_output: Any) -> np.ndarray | None:
        """Add ``sum(g * xhat)`` to gamma's and ``sum(g)`` to beta's gradient; return ``dL/dx``.

        Training (batch statistics): ``dL/dx = normalize_backward(g * gamma, xhat, inv_std)``.
        Eval (running statistics, constants): ``dL/dx = g * gamma * inv_std``.
        """
        xhat = self._xhat
        g = self._check_grad(grad_output, None if xhat is None else xhat.shape)
        axes, ndim = self._axes, g.ndim
        dxhat = g
        if self.weight is not None:
            self.weight.accumulate((g * xhat).sum(axis=axes))  # dL/dgamma
            dxhat = g * self._per_channel(self.weight.data, ndim)
        if self.bias is not None:
            self.bias.accumulate(g.sum(axis=axes))  # dL/dbeta
        if not self.needs_input_grad:
            return None
        if not self._batch_stats:
            return dxhat * self._inv_std
        return normalize_backward(dxhat, xhat, self._inv_std, axes)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        if len(shape) + 1 not in self._ndims or shape[0] != self.num_features:
            raise self._bad_input(_fmt(shape))
        return shape

    def get_config(self) -> dict[str, Any]:
        dt = self._array_dtype()
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "dtype": self._dtype if dt is None else str(dt),
            "bias": self.bias is not None,
        }

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L): each channel over the batch (and L).

    ``torch.nn.BatchNorm1d``'s arguments, defaults, repr and state_dict keys: parameters
    ``weight`` (gamma, ones) and ``bias`` (beta, zeros; none with ``bias=False``) of shape (C,) when ``affine``;
    buffers ``running_mean`` (C,), ``running_var`` (C,) and ``num_batches_tracked`` (int64)
    when ``track_running_stats`` (else eval mode uses the batch's statistics too).

    Training mode normalises with the batch's mean and (biased) variance and moves the running
    statistics: ``r = (1 - momentum) * r + momentum * batch``, the variance's unbiased
    (``* m / (m - 1)``); ``momentum=None`` is the cumulative average. Eval mode normalises
    with the running statistics. The math and the backward: the module docstring of
    ``minigrad.layers.norm``.
    """

    _layouts = ("(N, C)", "(N, C, L)")
    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images (N, C, H, W): each channel over the batch and the positions.

    As :class:`BatchNorm1d` (the same arguments, parameters and buffers), for 4-D input;
    each mean is over ``m = N * H * W`` values.
    """

    _layouts = ("(N, C, H, W)",)
    _ndims = (4,)


class LayerNorm(Module):
    """Layer normalisation: each example over its last dimensions, ``normalized_shape``.

    ``torch.nn.LayerNorm``'s arguments and state_dict keys: ``normalized_shape`` an int or a
    tuple, the last dimensions of the input; parameters ``weight`` (gamma, ones) and
    ``bias`` (beta, zeros) of shape ``normalized_shape`` when ``elementwise_affine``
    (``bias=False``: no beta). No running statistics: training and eval mode are the same.

    Inputs / Returns: x (N, ..., *normalized_shape) -> y, same shape; each mean is over the
    ``m = prod(normalized_shape)`` values of one example. Backward: ``dL/dgamma = sum(g * xhat)``
    and ``dL/dbeta = sum(g)`` over the leading axes, ``dL/dx = normalize_backward(g * gamma, ...)``
    over the last ones (the module docstring of ``minigrad.layers.norm`` has the math).
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
        try:
            shape = tuple(shape)
        except TypeError:
            shape = ()
        if not shape or any(not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1 for d in shape):
            raise ShapeError(f"LayerNorm: normalized_shape must be a positive int or ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(int(d) for d in shape)
        self.eps = _check_eps("LayerNorm", eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = as_float_dtype(dtype)
        self.weight = Parameter(np.ones(self.normalized_shape, dt)) if self.elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dt)) if self.elementwise_affine and bias else None
        self._dtype = str(dt)
        self._xhat: np.ndarray | None = None

    def _bad_input(self, got: str) -> ShapeError:
        return ShapeError(f"{self!r}: expected input {_fmt(('...', *self.normalized_shape))}, got {got}")

    def forward(self, x: Any) -> np.ndarray:
        """``y = gamma * xhat + beta``, ``xhat`` normalised over the last ``len(normalized_shape)`` axes."""
        x = as_batch(self, x, None if self.weight is None else self.weight.dtype)
        k = len(self.normalized_shape)
        if x.ndim <= k or x.shape[-k:] != self.normalized_shape:
            raise self._bad_input(describe(x))
        axes = tuple(range(x.ndim - k, x.ndim))
        _, xmu, var = _moments(x, axes)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = xmu * inv_std
        self._xhat, self._inv_std, self._axes = xhat, inv_std, axes
        y = xhat if self.weight is None else xhat * self.weight.data
        return y if self.bias is None else y + self.bias.data

    def backward(self, grad_output: Any) -> np.ndarray | None:
        """Add ``sum(g * xhat)`` to gamma's, ``sum(g)`` to beta's gradient (over the leading axes); return ``dL/dx``."""
        xhat = self._xhat
        g = self._check_grad(grad_output, None if xhat is None else xhat.shape)
        lead = tuple(range(g.ndim - len(self.normalized_shape)))
        dxhat = g
        if self.weight is not None:
            self.weight.accumulate((g * xhat).sum(axis=lead))  # dL/dgamma
            dxhat = g * self.weight.data
        if self.bias is not None:
            self.bias.accumulate(g.sum(axis=lead))  # dL/dbeta
        if not self.needs_input_grad:
            return None
        return normalize_backward(dxhat, xhat, self._inv_std, self._axes)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape, k = tuple(input_shape), len(self.normalized_shape)
        if len(shape) < k or shape[len(shape) - k :] != self.normalized_shape:
            raise self._bad_input(_fmt(shape))
        return shape

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias is not None,
            "dtype": self._dtype if self.weight is None else str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        affine = self.elementwise_affine
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={affine}, bias={self.bias is not None}"
