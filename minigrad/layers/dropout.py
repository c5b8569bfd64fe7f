"""``Dropout``: inverted dropout, the identity in ``eval()`` mode. Input (N, ...) -> the same shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import HyperParameterError
from ..init import get_rng
from ..module import Module
from .linear import as_batch


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode, scale the rest by ``1/(1-p)``.

    Inverted dropout: the expected output equals the input, so ``eval()`` mode is
    the identity. Backward multiplies the gradient by the same mask and scale.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
            raise HyperParameterError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = float(p)
        # An own generator, so drawing masks does not shift other modules' random streams.
        self.rng = (
            np.random.default_rng(get_rng(rng).integers(2**63)) if not isinstance(rng, np.random.Generator) else rng
        )
        self._mask: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: Any) -> np.ndarray:
        """Training: ``x * mask / (1 - p)`` with a fresh mask; eval: ``x`` unchanged."""
        x = as_batch(self, x)
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        if self.p == 1.0:
            self._mask = np.zeros_like(x)
        else:
            keep = self.rng.random(x.shape) >= self.p
            self._mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._mask

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dx = dL/dy * mask / (1 - p)``, the same mask and scale (unchanged in eval mode)."""
        g = self._check_grad(grad_output, self._shape)
        if self._mask is None:
            return g
        return g * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}

    def extra_repr(self) -> str:
        return f"p={self.p}"
