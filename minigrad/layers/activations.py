"""Elementwise activations and ``Softmax``. Shapes: input (N, ...) -> output of the same shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import HyperParameterError, ShapeError, describe
from ..kernels import sigmoid, softmax
from ..module import Module
from .linear import as_axis, as_batch


class _Elementwise(Module):
    """Shared plumbing: convert the input, keep the cache, check ``grad_output``'s shape."""

    _cache: np.ndarray | None = None

    def _has_parameters(self) -> bool:
        return False  # backward only passes the gradient on

    def _check(self, grad_output: Any) -> np.ndarray:
        """``grad_output``, checked against the shape of the last forward (the cache's shape)."""
        cache = self._cache
        return self._check_grad(grad_output, None if cache is None else cache.shape)


class Sigmoid(_Elementwise):
    """``a = 1 / (1 + exp(-z))``, without overflow at any input (``kernels.sigmoid``).

    Inputs / Returns: z (N, ...) -> a, same shape. Backward, with ``g = dL/da``::

        dL/dz = g * a * (1 - a)      (sigma'(z) = a (1 - a), from the output a kept by forward)
    """

    def forward(self, x: Any) -> np.ndarray:
        """``a = sigmoid(z)``; keeps ``a``."""
        if type(x) is not np.ndarray or x.dtype.kind != "f" or not x.ndim:
            x = as_batch(self, x)
        a = sigmoid(x)
        self._cache = a
        return a

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dz = dL/da * a * (1 - a)``, the ``sigma'(z)`` factor of the backward recursion."""
        g = self._check(grad_output)
        a = self._cache
        return g * a * (1.0 - a)


class Tanh(_Elementwise):
    """``a = tanh(z)``. Backward: ``dL/dz = dL/da * (1 - a**2)``."""

    def forward(self, x: Any) -> np.ndarray:
        """``a = tanh(z)``; keeps ``a``."""
        a = np.tanh(as_batch(self, x))
        self._cache = a
        return a

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dz = dL/da * (1 - a**2)``."""
        g = self._check(grad_output)
        a = self._cache
        return g * (1.0 - a * a)


class ReLU(_Elementwise):
    """``a = max(z, 0)``. Backward: ``dL/dz = dL/da * [z > 0]`` (0 at the kink, as PyTorch)."""

    def forward(self, x: Any) -> np.ndarray:
        """``max(z, 0)``; keeps the mask ``z > 0``."""
        z = as_batch(self, x)
        self._cache = z > 0
        return np.maximum(z, 0)

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dz = dL/da * [z > 0]``."""
        return self._check(grad_output) * self._cache


class LeakyReLU(_Elementwise):
    """``a = z if z > 0 else negative_slope * z``. Backward: ``dL/dz = dL/da * (1 or negative_slope)``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        v = negative_slope
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise HyperParameterError(f"LeakyReLU: negative_slope must be a finite number, got {v!r}")
        self.negative_slope = float(v)

    def forward(self, x: Any) -> np.ndarray:
        """``z`` where positive, ``negative_slope * z`` elsewhere; keeps the slopes."""
        z = as_batch(self, x)
        slope = np.where(z > 0, z.dtype.type(1), z.dtype.type(self.negative_slope))
        self._cache = slope
        return z * slope

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dz = dL/da * slope``."""
        return self._check(grad_output) * self._cache

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(_Elementwise):
    """``s_i = exp(z_i) / sum_j exp(z_j)`` along ``dim`` (default the last axis), stable for any z.

    Backward is the true Jacobian-vector product ``dL/dz = s * (g - sum(g * s))``
    with ``g = dL/ds``. Do not put it before ``SoftmaxCrossEntropy``, which
    applies softmax itself: the softmax would be applied, and differentiated, twice.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = as_axis("Softmax", "dim", dim)

    def forward(self, x: Any) -> np.ndarray:
        """Softmax along ``dim`` (max subtracted first); keeps the output ``s``."""
        z = as_batch(self, x)
        if not -z.ndim <= self.dim < z.ndim:
            raise ShapeError(f"{self!r}: dim {self.dim} is out of range for an input of {describe(z)}")
        if not z.shape[self.dim]:
            raise ShapeError(f"{self!r}: softmax over no classes: dim {self.dim} of {describe(z)} has size 0")
        s = np.moveaxis(softmax(np.moveaxis(z, self.dim, -1)), -1, self.dim)
        self._cache = s
        return s

    def backward(self, grad_output: Any) -> np.ndarray:
        """Jacobian-vector product ``s * (g - sum(g * s))`` along ``dim``."""
        g = self._check(grad_output)
        s = self._cache
        gs = g * s
        return gs - s * gs.sum(axis=self.dim, keepdims=True)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        nd = len(input_shape) + 1  # with the batch dimension
        if not -nd <= self.dim < nd:
            shape = ", ".join(map(str, ("N", *input_shape)))
            raise ShapeError(f"{self!r}: dim {self.dim} is out of range for an input ({shape})")
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
