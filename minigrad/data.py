"""Mini-batches: ``batches`` walks through ``(x, y)`` in (shuffled) slices of ``batch_size``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import HyperParameterError, ShapeError
from .init import get_rng


def batches(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, Any]]:
    """Yield ``(x_batch, y_batch)`` pairs covering the data once (one epoch).

    Shapes: ``x`` (N, ...), ``y`` (N, ...) or None -> batches of ``batch_size``
    rows (the last one smaller unless ``drop_last``). With ``shuffle`` the order
    is a fresh permutation drawn from ``rng``. Each batch is a copy (fancy
    indexing) when shuffled and a view of ``x`` otherwise: no second copy of
    the whole data set is ever made.
    """
    n = len(x)
    if y is not None and len(y) != n:
        raise ShapeError(f"batches: x has {n} examples but y has {len(y)}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise HyperParameterError(f"batches: batch_size must be a positive int, got {batch_size!r}")
    stop = n - n % batch_size if drop_last else n
    if shuffle:
        order = get_rng(rng).permutation(n)
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            yield x[idx], (None if y is None else y[idx])
    else:
        for start in range(0, stop, batch_size):
            end = start + batch_size
            yield x[start:end], (None if y is None else y[start:end])
