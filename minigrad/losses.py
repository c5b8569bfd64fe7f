"""Losses: ``forward(input, target) -> float`` and ``backward() -> dL/dinput``.

Each loss works on a batch ``input`` of shape (N, C). ``reduction="mean"``
(default) averages over the N examples, ``"sum"`` adds them. After ``forward``,
``.probs`` holds the predictions (softmax, sigmoid or the input itself), so
accuracy needs no second pass.

Both cross-entropies are fused with their output nonlinearity, which is why
their gradient is the famous ``delta = a - y`` (divided by N for the mean):
the ``sigma'(z)`` factor cancels analytically and is never computed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import NonFiniteError, ShapeError, TargetError, describe
from .functional import scalar, sigmoid
from .layers import as_batch
from .module import Module

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_SMALL_BATCH = 64  # up to here, labels are checked in Python (0.2 us for 10 labels, 0.8 for 64; NumPy's max 1.2)
# The smallest normal float of each dtype (float16's too; other dtypes take the log-sum-exp path).
_TINY = {np.dtype(t): float(np.finfo(t).tiny) for t in (np.float16, np.float32, np.float64)}


class Loss(Module):
    """Base class of the losses.

    A subclass implements ``forward(input, target) -> float``, keeps its predictions in
    ``.probs`` and the unscaled output error ``a - y`` in ``._delta``; the base ``backward``
    scales that by ``1/N`` for the mean.
    """

    _classes: frozenset[int] = frozenset()  # {0, ..., C-1} of the last C seen: the label check of small batches

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            # A loss is never called on symbolic graph nodes, so calling it is its forward,
            # without Module.__call__'s extra frame (it runs once per training step).
            cls.__call__ = cls.forward

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self.probs: np.ndarray | None = None
        self._delta: np.ndarray | None = None  # a - y, before the 1/N of the mean
        self._rows_cache: np.ndarray | None = None

    # -- input checking -----------------------------------------------------------------
    def _logits(self, x: Any) -> np.ndarray:
        z = as_batch(self, x)
        if z.ndim != 2:
            raise ShapeError(f"{self!r}: expected input (N, C), got {describe(z)}")
        if not len(z):
            raise ShapeError(f"{self!r}: got an empty batch {describe(z)}: a loss needs at least one example")
        return z

    def _class_indices(self, z: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Class-index targets (N,) checked against logits (N, C): integers in [0, C)."""
        if t.dtype.kind not in "iu":
            raise TargetError(f"{self!r}: class labels must be integers, got dtype {t.dtype} (use y.astype(np.int64))")
        n, c = z.shape
        if t.shape != (n,):
            raise TargetError(f"{self!r}: expected {n} labels to match input {z.shape}, got {describe(t)}")
        if n <= _SMALL_BATCH:  # a NumPy reduction costs ~1 us whatever its size; a set test of a short list less
            classes = self._classes
            if len(classes) != c:
                classes = self._classes = frozenset(range(c))
            bad = not classes.issuperset(t.tolist())  # every label one of the C classes
        else:  # viewed as unsigned, a negative label becomes huge: one max() checks both ends of [0, C)
            bad = np.maximum.reduce(t.view(_UNSIGNED[t.dtype.itemsize])) >= c
        if bad:
            raise self._bad_labels(z, t)
        return t

    def _bad_labels(self, z: np.ndarray, t: np.ndarray) -> TargetError:
        c = z.shape[1]
        bad = t[(t < 0) | (t >= c)]
        return TargetError(f"{self!r}: class labels must be in [0, {c}), got {bad[:5].tolist()}")

    def _rows(self, n: int) -> np.ndarray:
        """``arange(n)``, kept between calls: batches mostly share one size."""
        rows = self._rows_cache
        if rows is None or len(rows) != n:
            rows = self._rows_cache = np.arange(n)
        return rows

    def _dense(self, z: np.ndarray, t: Any, what: str, unit_range: bool = True) -> np.ndarray:
        """Targets as a float array shaped like ``z``; class indices become one-hot rows."""
        t = np.asarray(t)
        if t.ndim == 1:
            idx = self._class_indices(z, t)
            y = np.zeros_like(z)
            y[self._rows(z.shape[0]), idx] = 1.0
            return y
        if t.shape != z.shape:
            raise TargetError(
                f"{self!r}: expected targets {z.shape} ({what}) or class labels ({z.shape[0]},), got {describe(t)}"
            )
        if t.dtype != z.dtype:
            t = t.astype(z.dtype)
        if unit_range and t.size and not (t.min() >= 0.0 and t.max() <= 1.0):
            raise TargetError(f"{self!r}: targets must be {what} in [0, 1], got values in [{t.min()}, {t.max()}]")
        if not unit_range and not np.isfinite(t).all():
            raise TargetError(f"{self!r}: targets hold NaN or inf")
        return t

    def _finish(self, z: np.ndarray, total: float) -> float:
        if not math.isfinite(total):
            bad = "NaN" if np.isnan(z).any() else "inf" if np.isinf(z).any() else "no NaN/inf either"
            raise NonFiniteError(
                f"{self!r}: the loss is {total}; its input {z.shape} holds {bad} "
                "(a diverging run: try a smaller learning rate)"
            )
        return total / z.shape[0] if self.reduction == "mean" else total

    # -- the contract ---------------------------------------------------------------------
    def backward(self, grad_output: float = 1.0) -> np.ndarray:
        """``dL/dinput`` of the last forward, same shape as its input."""
        delta = self._delta
        if delta is None:
            raise self._not_run()
        scale = grad_output / delta.shape[0] if self.reduction == "mean" else grad_output
        return delta * delta.dtype.type(scale)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return ()

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by categorical cross-entropy, fused: ``L = -sum_i y_i log softmax(z)_i``.

    ``input``: logits (N, C). ``target``: class indices (N,) of an integer dtype,
    or probabilities / one-hot rows (N, C). Equals ``torch.nn.CrossEntropyLoss``.

    Forward uses log-sum-exp, ``log softmax(z) = z - m - log sum_j exp(z_j - m)``
    with ``m = max_j z_j``, so logits of +-1e4 are fine.
    Backward: ``dL/dz = (softmax(z) - y) / N``.
    """

    _offsets_shape: tuple[int, ...] = ()
    _offsets: np.ndarray

    def forward(self, input: Any, target: Any) -> float:
        """Mean (or sum) cross-entropy of ``softmax(input)`` against ``target``; keeps the probabilities."""
        z = input
        if type(z) is not np.ndarray or z.ndim != 2 or z.dtype.kind != "f" or not len(z):
            z = self._logits(input)
        t = target if type(target) is np.ndarray else np.asarray(target)
        labels = t.ndim == 1
        if labels:
            flat = self._label_positions(z, t)
        else:
            y = self._dense(z, t, "probabilities")
        # ufunc.reduce instead of z.max()/.sum(): the same C loop without the Python wrappers.
        m = np.maximum.reduce(z, 1, None, None, True)  # (axis=1, keepdims=True), positional: a little cheaper
        probs = z - m  # the shifted logits z - m (all <= 0: exp cannot overflow), made probabilities in place
        np.exp(probs, probs)
        s = np.add.reduce(probs, 1, None, None, True)
        probs /= s
        self.probs = self._delta = probs
        if labels:
            picked = probs.ravel()[flat]  # softmax(z)_y of each row
            self._target = flat
            # -sum_n log p_n = -log prod_n p_n: one log, exact while the product is a normal float
            # (every p_n is then one too, and the loss finite); otherwise (very wrong, or many rows)
            # the log-sum-exp form below.
            prod = float(np.multiply.reduce(picked))
            if prod >= _TINY.get(probs.dtype, 1.0):
                total = -math.log(prod)
                return total / len(picked) if self.reduction == "mean" else total
            shifted_y = z.ravel()[flat] - m[:, 0]  # z_y - m
            log_s = np.log(s[:, 0])
        else:
            self._target = y
            shifted_y = np.add.reduce(y * (z - m), axis=1)  # sum_i y_i (z_i - m)
            log_s = np.log(s[:, 0]) * np.add.reduce(y, axis=1)
        # -sum_i y_i log softmax(z)_i = log sum_j exp(z_j - m) * sum_i y_i - sum_i y_i (z_i - m)
        return self._finish(z, float(np.add.reduce(log_s - shifted_y)))

    def _label_positions(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Positions ``n * C + y_n`` of the class labels in the flattened (N, C) logits, once checked.

        One flat index array picks (or writes) N elements in a fraction of the time
        a ``[rows, labels]`` pair takes.
        """
        self._class_indices(z, labels)
        n, c = shape = z.shape
        dt = labels.dtype
        if dt.kind == "u" and dt.itemsize == 8:  # int64 + uint64 would promote to float64: no index
            labels = labels.astype(np.intp)
        if self._offsets_shape != shape:
            self._offsets_shape = shape
            self._offsets = np.arange(0, n * c, c)
        return self._offsets + labels

    def backward(self, grad_output: float = 1.0) -> np.ndarray:
        """``(softmax(z) - y) / N``: the delta ``a - y`` of the derivation, averaged over the batch."""
        probs = self._delta
        if probs is None:
            raise self._not_run()
        scale = float(grad_output) / probs.shape[0] if self.reduction == "mean" else float(grad_output)
        scale = scalar(scale, probs.dtype)
        grad = probs * scale
        target = self._target
        if target.ndim == 1:
            grad.ravel()[target] -= scale  # (p_y - 1) / N at the targets, without building y
        else:
            grad -= target * scale
        return grad


class SigmoidBCE(Loss):
    """Independent sigmoids with binary cross-entropy, from the logits: multi-label classification.

    ``L = -sum_c [y_c log a_c + (1 - y_c) log(1 - a_c)]`` with ``a = sigmoid(z)``,
    summed over the C outputs and averaged over the batch: the seed's ``J`` and
    Nielsen's network2 ``CrossEntropyCost``. Computed stably as
    ``max(z, 0) - z * y + log(1 + exp(-|z|))``.

    ``target``: (N, C) values in [0, 1], or class indices (N,) taken as one-hot.
    Backward: ``dL/dz = (sigmoid(z) - y) / N``.

    PyTorch's ``BCEWithLogitsLoss()`` averages over the C outputs too, so its
    value is this loss divided by C (and so is its gradient); use
    ``BCEWithLogitsLoss(reduction="sum") / N`` to get this one.
    """

    def forward(self, input: Any, target: Any) -> float:
        """Binary cross-entropy from the logits, summed over outputs, mean (or sum) over the batch."""
        z = self._logits(input)
        y = self._dense(z, target, "probabilities")
        total = float((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum())
        probs = sigmoid(z)
        self.probs = probs
        self._delta = probs - y
        return self._finish(z, total)


class QuadraticCost(Loss):
    """Nielsen's quadratic cost ``L = 0.5 * ||a - y||^2`` per example, averaged over the batch.

    Applied to whatever the last layer outputs (put a ``Sigmoid`` before it, as
    in Nielsen's chapter 1). ``target``: (N, C), or class indices (N,) as one-hot.
    Backward: ``dL/da = (a - y) / N``; the preceding ``Sigmoid`` then multiplies
    by ``sigma'(z)``, the factor behind the learning slowdown cross-entropy avoids.
    """

    def forward(self, input: Any, target: Any) -> float:
        """``0.5 * ||input - target||^2`` per example, mean (or sum) over the batch."""
        a = self._logits(input)
        y = self._dense(a, target, "values", unit_range=False)
        delta = a - y
        total = 0.5 * float(np.vdot(delta, delta))
        self.probs = a
        self._delta = delta
        return self._finish(a, total)
