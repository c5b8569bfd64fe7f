"""``Reshape``: the one module an imported ONNX file may need that minigrad's layers do not have."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError, describe
from ..layers import as_batch
from ..module import Module


class Reshape(Module):
    """Reshape each example to ``shape``: ``(N, *in_shape) -> (N, *shape)``; backward reshapes back.

    What ONNX's ``Reshape`` does when the batch dimension is kept (the only case ``mg.onnx.load``
    accepts); a target of ``(prod(in_shape),)`` loads as ``Flatten`` instead.
    """

    def __init__(self, shape: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        self.shape = tuple(int(d) for d in shape)
        if not self.shape or min(self.shape) < 1:
            raise ShapeError(f"Reshape: shape must be positive ints (without the batch dimension), got {shape!r}")
        self._in_shape: tuple[int, ...] | None = None

    def forward(self, x: Any) -> np.ndarray:
        """``x`` (N, *in_shape) -> (N, *shape); keeps the input shape."""
        x = as_batch(self, x)
        if x.ndim < 1 or math.prod(x.shape[1:]) != math.prod(self.shape):
            raise ShapeError(
                f"{self!r}: expected (N, ...) of {math.prod(self.shape)} values per example, got {describe(x)}"
            )
        self._in_shape = x.shape
        return x.reshape(len(x), *self.shape)

    def backward(self, grad_output: Any) -> np.ndarray:
        """``grad_output`` reshaped back to the input shape."""
        shape = None if self._in_shape is None else (self._in_shape[0], *self.shape)
        return self._check_grad(grad_output, shape).reshape(self._in_shape)

    def _has_parameters(self) -> bool:
        return False

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if math.prod(input_shape) != math.prod(self.shape):
            raise ShapeError(f"{self!r}: cannot reshape (N, {', '.join(map(str, input_shape))}) to (N, *{self.shape})")
        return self.shape

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
