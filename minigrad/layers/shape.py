"""Layers that only move values around: ``Identity`` and ``Flatten``. Shapes in each docstring."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError, describe
from ..module import Module
from .linear import as_axis, as_batch


class Identity(Module):
    """Returns its input unchanged; backward returns the gradient unchanged."""

    _shape: tuple[int, ...] | None = None

    def forward(self, x: Any) -> np.ndarray:
        """Returns ``x`` itself."""
        x = as_batch(self, x)
        self._shape = x.shape
        return x

    def backward(self, grad_output: Any) -> np.ndarray:
        """Returns ``grad_output`` itself (checked against the shape of the last forward)."""
        return self._check_grad(grad_output, self._shape)


def _fmt(shape: tuple[int, ...]) -> str:
    """A shape as errors print it, the batch dimension as N: ``(N, 3, 28, 28)``."""
    return "(" + ", ".join("N" if d == -1 else str(d) for d in shape) + ")"


class Flatten(Module):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1 * d2 * ...)``; backward reshapes back.

    ``start_dim`` and ``end_dim`` follow ``torch.nn.Flatten`` (defaults 1 and -1).
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = as_axis("Flatten", "start_dim", start_dim)
        self.end_dim = as_axis("Flatten", "end_dim", end_dim)
        self._in_shape: tuple[int, ...] | None = None

    def _flat_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        nd = len(shape)
        for name, d in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -nd <= d < nd:  # % would wrap it onto another axis: a silent wrong answer
                raise ShapeError(f"{self!r}: {name} {d} is out of range for an input {_fmt(shape)}")
        s, e = self.start_dim % nd, self.end_dim % nd
        if s > e:
            raise ShapeError(f"{self!r}: start_dim {self.start_dim} is after end_dim {self.end_dim} for {_fmt(shape)}")
        return shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]

    def forward(self, x: Any) -> np.ndarray:
        """(N, d1, d2, ...) -> (N, d1 * d2 * ...); keeps the input shape."""
        x = as_batch(self, x)
        if x.ndim < 2:
            raise ShapeError(f"{self!r}: expected a batch (N, d1, ...) of at least 2 dimensions, got {describe(x)}")
        out_shape = self._flat_shape(x.shape)
        self._in_shape, self._out_shape = x.shape, out_shape
        return x.reshape(out_shape)

    def backward(self, grad_output: Any) -> np.ndarray:
        """Reshape ``grad_output`` (the shape of the last output) back to the input shape."""
        g = self._check_grad(grad_output, None if self._in_shape is None else self._out_shape)
        return g.reshape(self._in_shape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (C * H * W,) with the defaults (the batch dimension excluded)."""
        if not input_shape:
            raise ShapeError(f"{self!r}: expected a batch (N, d1, ...) of at least 2 dimensions, got (N,)")
        return self._flat_shape((-1, *input_shape))[1:]

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
