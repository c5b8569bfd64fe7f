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

from typing import Any

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + np.exp(-z))``, computed as ``(1 + tanh(z / 2)) / 2``.

    The plain form overflows (a RuntimeWarning, then exact 0) for z below -89 in float32
    and -710 in float64; the tanh form cannot overflow at any input, and costs one
    transcendental per element, worked in place in one new array.
    """
    a = z * 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
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
    if p._grad is None:
        p._grad = np.sum(g, axis=0, out=p._buffer)
    else:
        p.accumulate(g.sum(axis=0))


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
    return int(labels.max()) < c


def softmax_cross_entropy(z: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """``(-log_softmax(z)[np.arange(N), labels].sum(), softmax(z))`` for logits (N, C), labels (N,) in range.

    With ``m`` the row max and ``s = sum_j exp(z_j - m)``: ``log softmax(z)_y = z_y - m - log s``,
    so nothing overflows (``z - m <= 0``) and the probabilities come out of the same exp.
    The targets are picked through one flat index ``n * C + y_n``, a fraction of the
    time a ``[rows, labels]`` pair of index arrays takes.
    """
    n, c = z.shape
    m = z.max(axis=1, keepdims=True)
    probs = z - m  # the shifted logits, made probabilities in place
    np.exp(probs, out=probs)
    s = probs.sum(axis=1)
    flat = np.arange(0, n * c, c) + labels.astype(np.intp, copy=False)
    shifted_y = z.ravel()[flat] - m[:, 0]  # z_y - m
    probs /= s[:, None]
    total = float((np.log(s) - shifted_y).sum())
    return total, probs
