"""``Parameter``: a trainable array and its accumulated gradient (the optimizers' unit)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ShapeError, describe
from .init import get_default_dtype


class Parameter:
    """A trainable array: ``.data`` and its gradient ``.grad`` (same shape and dtype).

    ``.grad`` holds the sum of every gradient added since the last ``zero_grad()`` (the
    Torch7 contract: backward ADDS). ``has_grad`` tells whether anything was added since
    then (PyTorch: ``p.grad is not None`` after ``zero_grad(set_to_none=True)``); every
    optimizer leaves a parameter with ``has_grad == False`` alone.

    ``zero_grad()`` only marks the gradient as zero; reading ``.grad`` then gives real
    zeros (so ``p.grad += ...`` in a user's module is always right), and the kernels of
    ``minigrad.kernels`` write the first gradient straight into the buffer ``_buffer``
    (``_grad`` is ``None`` while the gradient is zero, else it is ``_buffer``).
    """

    __slots__ = ("data", "_grad", "_buffer")

    def __init__(self, data: Any, dtype: Any = None) -> None:
        # Like torch.nn.Parameter, a float array is wrapped, not copied.
        arr = np.asarray(data, dtype=None if dtype is None else np.dtype(dtype))
        if arr.dtype.kind != "f":
            arr = arr.astype(get_default_dtype())
        self.data: np.ndarray = arr
        self._buffer: np.ndarray = np.zeros_like(arr)  # the gradient's memory, reused across steps
        self._grad: np.ndarray | None = None  # None means "zero": nothing added since zero_grad

    @property
    def grad(self) -> np.ndarray:
        """The accumulated gradient; zeros (counted as written) when nothing was added since ``zero_grad``."""
        g = self._grad
        if g is None:
            g = self._buffer
            g.fill(0)
            self._grad = g
        return g

    @grad.setter
    def grad(self, value: Any) -> None:
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ShapeError(f"Parameter.grad: expected shape {self.data.shape}, got {describe(value)}")
        self._buffer = self._grad = value

    @property
    def has_grad(self) -> bool:
        """True once a gradient was added (or ``.grad`` read) since the last ``zero_grad()``."""
        return self._grad is not None

    def zero_grad(self) -> None:
        self._grad = None

    def accumulate(self, value: Any) -> None:
        """``grad += value``, where ``value`` must have the parameter's shape (never broadcast)."""
        value = np.asarray(value)
        # += would broadcast a (1, n) or scalar value over the whole gradient: a silent wrong answer.
        if value.shape != self.data.shape:
            raise ShapeError(f"Parameter{self.data.shape}: a gradient of {describe(value)} does not fit")
        if self._grad is None:
            np.copyto(self._buffer, value)
            self._grad = self._buffer
        else:
            self._grad += value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
