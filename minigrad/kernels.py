"""The speed tricks that pay, each beside the plain expression it equals.

Layer and loss files read as textbook NumPy; where a benchmark figure needs a faster
form, the layer calls a kernel from here instead, and the kernel's docstring names
the textbook expression. ``tests/test_kernels.py`` checks every kernel against that
expression on random inputs (minitorch keeps its SimpleOps and FastOps side by side
the same way). What each kernel is worth is measured in docs/performance.md; a kernel
that stops paying is removed.

Nothing here imports the rest of minigrad: kernels take and return NumPy arrays (and
the two gradient kernels a :class:`~minigrad.module.Parameter`, by duck typing).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=512)  # few values recur: 1/2 and 1, learning rates, 1/N of the batch sizes
def constant(value: float, dtype: Any) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``: the cheap scalar operand.

    NumPy 2 works out the result type of a Python float operand on every call; a 0-d
    array of the other operand's dtype skips that. ``a *= constant(0.5, a.dtype)`` equals
    ``a *= 0.5`` and costs about half as much on the small arrays of a small network.
    """
    c = np.array(value, dtype=dtype)
    c.flags.writeable = False  # shared by every caller
    return c


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + np.exp(-z))``, computed as ``(1 + tanh(z / 2)) / 2``.

    The plain form overflows (a RuntimeWarning, then exact 0) for z below -89 in float32
    and -710 in float64; the tanh form cannot overflow at any input, and costs one
    transcendental per element, worked in place in one new array.
    """
    half, one = constant(0.5, z.dtype), constant(1.0, z.dtype)
    a = np.multiply(z, half)
    np.tanh(a, out=a)
    a += one
    a *= half
    return a


def softmax(z: np.ndarray) -> np.ndarray:
    """``np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)``, the row max subtracted first.

    ``z - max`` is <= 0, so ``exp`` cannot overflow (the plain form gives NaN for ``[1000, 0]``);
    the division is in place.
    """
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def add_matmul(p: Any, a: np.ndarray, b: np.ndarray) -> None:
    """``p.grad += a @ b`` for a :class:`~minigrad.module.Parameter` ``p`` (the weight gradient).

    Right after ``zero_grad()`` the gradient is known to be zero, so the product is written
    straight into the gradient's buffer (``np.matmul(a, b, out=...)``): no zero fill, no
    temporary, no add. A product of the wrong shape is a ValueError from NumPy (``out=``
    must fit exactly, never broadcast).
    """
    if p._grad is None:
        p._grad = np.matmul(a, b, out=p._buffer)
    else:
        p.accumulate(a @ b)


def add_batch_sum(p: Any, g: np.ndarray) -> None:
    """``p.grad += g.sum(axis=0)`` for a Parameter ``p`` (the bias gradient: a sum over the batch).

    After ``zero_grad()`` the sum is written straight into the gradient's buffer (``out=``).
    """
    if p._grad is None:  # np.add.reduce is np.sum without its Python wrapper (~170 bytecodes a call)
        p._grad = np.add.reduce(g, axis=0, out=p._buffer)
    else:
        p.accumulate(np.add.reduce(g, axis=0))


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def labels_in_range(labels: np.ndarray, c: int) -> bool:
    """``bool(((labels >= 0) & (labels < c)).all())`` for an integer array: every label one of C classes.

    Viewed as unsigned, a negative label becomes huge, so one ``max`` checks both ends of
    [0, C): one reduction instead of two comparisons, two temporaries and an ``all``.
    """
    if not labels.size:
        return True
    if labels.dtype.kind == "i":
        labels = labels.view(_UNSIGNED[labels.dtype.itemsize])
    return bool(np.maximum.reduce(labels) < c)


def softmax_cross_entropy(z: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(-log_softmax(z)[np.arange(N), labels].sum(), softmax(z), targets)`` for logits (N, C), labels in range.

    With ``m`` the row max and ``s = sum_j exp(z_j - m)``: ``log softmax(z)_y = z_y - m - log s``,
    so nothing overflows (``z - m <= 0``) and the probabilities come out of the same exp.
    ``targets`` are the positions ``n * C + y_n`` of the labels in the flattened (N, C) array:
    one flat index picks (and, in the backward, writes) N elements in a fraction of the time
    a ``[rows, labels]`` pair of index arrays takes; the row max is picked the same way at the
    row's ``argmax`` (``z.max(axis=1)`` over 10 classes: 3 us at batch 10, 14 at 128, 95 at 1024;
    argmax 0.5, 2.4, 24). ``np.add.reduce`` is ``.sum`` without its Python wrapper.

    The value is summed in the log-sum-exp form ``sum_n (log s_n - (z_ny - m_n))``, exact even
    where ``p_y`` underflows to 0. (A ``-log(prod_n p_n)`` shortcut saved 0.1 us at batch 10 and
    underflows from batch ~100 on: removed, see docs/performance.md.)
    """
    n, c = z.shape
    rows = np.arange(0, n * c, c)  # where each row starts in z.ravel()
    # The row max as z at the row's argmax: NumPy's max along a short axis is 5-7x slower than argmax.
    m = z.ravel()[rows + z.argmax(axis=1)][:, None]
    probs = np.subtract(z, m)  # the shifted logits, made probabilities in place
    np.exp(probs, out=probs)
    s = np.add.reduce(probs, axis=1, keepdims=True)
    probs /= s
    if labels.dtype != np.intp:  # (int64 + uint64 would promote to float64: no index)
        labels = labels.astype(np.intp)
    targets = rows + labels
    shifted_y = z.ravel()[targets] - m[:, 0]  # z_y - m: exact where p_y = exp(z_y - m) / s underflows
    return float(np.add.reduce(np.log(s[:, 0]) - shifted_y)), probs, targets


def softmax_cross_entropy_backward(probs: np.ndarray, targets: np.ndarray, scale: float) -> np.ndarray:
    """``scale * (probs - one_hot)``, with ``one_hot`` 1 at the flat positions ``targets``, in one new array."""
    k = constant(scale, probs.dtype)
    grad = np.multiply(probs, k)
    grad.ravel()[targets] -= k
    return grad
