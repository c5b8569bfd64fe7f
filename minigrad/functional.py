"""Numerically stable elementwise kernels shared by layers and losses, and the constants they use.

Each takes and returns NumPy arrays and never warns on overflow.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

# Why 0-d arrays: NumPy converts a Python float operand on every call; a 0-d array of the
# operand's own dtype skips that, so `a *= half` costs about half of `a *= 0.5` on the small
# arrays of a small network (0.3 against 0.65 us here), with the same result and dtype.
_ONE_HALF: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}


@functools.lru_cache(maxsize=256)  # few distinct values recur: learning rates, 1/N of the batch sizes
def scalar(value: float, dtype: Any) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``, made once: the cheapest scalar operand (see above)."""
    c = np.array(value, dtype=dtype)
    c.flags.writeable = False  # shared by every caller
    return c


def one_half(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The constants 1 and 1/2 as ``scalar``s of ``dtype`` (one dict lookup: the sigmoid asks twice a step)."""
    pair = _ONE_HALF.get(dtype)
    if pair is None:
        pair = _ONE_HALF[dtype] = (scalar(1.0, dtype), scalar(0.5, dtype))
    return pair


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``1 / (1 + exp(-z))`` computed as ``(1 + tanh(z / 2)) / 2``.

    The tanh form cannot overflow at any input (the naive form overflows at
    z = -89 in float32), and costs one transcendental per element.
    """
    one, half = one_half(z.dtype)
    out = np.multiply(z, half, out)
    np.tanh(out, out)
    out += one
    out *= half
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    """``exp(z) / sum exp(z)`` along the last axis; the max is subtracted first so exp cannot overflow."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e
