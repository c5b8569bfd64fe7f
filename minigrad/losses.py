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

from .errors import ConfigError, NonFiniteError, ShapeError, TargetError, describe
from .kernels import labels_in_range, sigmoid, softmax_cross_entropy, softmax_cross_entropy_backward
from .layers import as_batch
from .module import Module


class Loss(Module):
    """Base class of the losses.

    A subclass implements ``forward(input, target) -> float``, keeps its predictions in
    ``.probs`` and the unscaled output error ``a - y`` in ``._delta``; the base ``backward``
    scales that by ``1/N`` for the mean. A loss's input is a model's output, so its
    backward always returns ``dL/dinput``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ConfigError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self.probs: np.ndarray | None = None
        self._delta: np.ndarray | None = None  # a - y, before the 1/N of the mean

    # -- input checking -----------------------------------------------------------------
    def _logits(self, x: Any) -> np.ndarray:
        z = x if type(x) is np.ndarray and x.dtype.kind == "f" else as_batch(self, x)
        if z.ndim != 2 or not z.shape[1]:
            raise ShapeError(f"{self!r}: expected input (N, C) with C >= 1, got {describe(z)}")
        if not len(z):
            raise ShapeError(f"{self!r}: got an empty batch {describe(z)}: a loss needs at least one example")
        return z

    def _as_target(self, t: Any) -> np.ndarray:
        if type(t) is np.ndarray:
            return t
        try:
            return np.asarray(t)
        except (TypeError, ValueError) as exc:  # a ragged list
            raise TargetError(f"{self!r}: targets must be an array (or a list convertible to one) ({exc})") from None

    def _class_indices(self, z: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Class-index targets (N,) checked against logits (N, C): integers in [0, C)."""
        if t.dtype.kind not in "iu":
            raise TargetError(f"{self!r}: class labels must be integers, got dtype {t.dtype} (use y.astype(np.int64))")
        n, c = z.shape
        if t.shape != (n,):
            raise TargetError(f"{self!r}: expected {n} labels to match input {z.shape}, got {describe(t)}")
        if not labels_in_range(t, c):
            bad = t[(t < 0) | (t >= c)]
            raise TargetError(f"{self!r}: class labels must be in [0, {c}), got {bad[:5].tolist()}")
        return t

    def _dense(self, z: np.ndarray, t: Any, what: str, unit_range: bool = True) -> np.ndarray:
        """Targets as a float array shaped like ``z``; class indices become one-hot rows."""
        t = self._as_target(t)
        if t.ndim == 1:
            idx = self._class_indices(z, t)
            y = np.zeros_like(z)
            y[np.arange(len(z)), idx] = 1.0
            return y
        if t.shape != z.shape:
            raise TargetError(
                f"{self!r}: expected targets {z.shape} ({what}) or class labels ({z.shape[0]},), got {describe(t)}"
            )
        if t.dtype != z.dtype:
            if t.dtype.kind not in "fiub":
                raise TargetError(f"{self!r}: targets must be numbers, got dtype {t.dtype}")
            t = t.astype(z.dtype)
        if not np.isfinite(t).all():
            raise TargetError(f"{self!r}: targets hold NaN or inf")
        if unit_range and not (t.min() >= 0.0 and t.max() <= 1.0):
            raise TargetError(f"{self!r}: targets must be {what} in [0, 1], got values in [{t.min()}, {t.max()}]")
        return t

    def _finish(self, z: np.ndarray, total: float) -> float:
        if not math.isfinite(total):
            bad = "NaN" if np.isnan(z).any() else "inf" if np.isinf(z).any() else "no NaN/inf either"
            raise NonFiniteError(
                f"{self!r}: the loss is {total}; its input {z.shape} holds {bad} "
                "(a diverging run: try a smaller learning rate)"
            )
        return total / z.shape[0] if self.reduction == "mean" else total

    def _scale(self, grad_output: Any, n: int) -> float:
        """The factor of the gradient: ``grad_output / N`` for the mean, ``grad_output`` for the sum."""
        try:
            scale = float(grad_output)
        except (TypeError, ValueError):
            got = describe(grad_output)
            raise ShapeError(f"{self!r}: backward expected a number as grad_output, got {got}") from None
        return scale / n if self.reduction == "mean" else scale

    # -- the contract ---------------------------------------------------------------------
    def backward(self, grad_output: float = 1.0) -> np.ndarray:
        """``dL/dinput`` of the last forward: ``grad_output * (a - y) / N`` (mean) or ``... * (a - y)`` (sum)."""
        delta = self._delta
        if delta is None:
            raise self._not_run()
        return delta * self._scale(grad_output, len(delta))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return ()

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by categorical cross-entropy, fused: ``L = -sum_i y_i log softmax(z)_i``.

    Inputs: logits z (N, C); target: class indices (N,) of an integer dtype, or
    probability / one-hot rows (N, C). Returns the mean (or sum) over the batch.
    Equals ``torch.nn.CrossEntropyLoss``.

    Forward uses log-sum-exp, ``log softmax(z) = z - m - log sum_j exp(z_j - m)`` with
    ``m = max_j z_j``, so logits of +-1e4 are fine. Backward, with ``p = softmax(z)``::

        dL/dz = (p - y) / N      (N, C): the delta a - y of the derivation; sigma' cancels
    """

    def forward(self, input: Any, target: Any) -> float:
        """Mean (or sum) cross-entropy of ``softmax(input)`` against ``target``; keeps the probabilities."""
        z = self._logits(input)
        t = self._as_target(target)
        if t.ndim == 1:
            total, probs, self._target = softmax_cross_entropy(z, self._class_indices(z, t))
        else:
            y = self._dense(z, t, "probabilities")
            self._check_distributions(y)
            m = z.max(axis=1, keepdims=True)
            e = np.exp(z - m)
            s = e.sum(axis=1, keepdims=True)
            probs = e / s
            # -sum_i y_i log softmax(z)_i = sum_i y_i (log s - (z_i - m))
            total = float((y * (np.log(s) - (z - m))).sum())
            self._target = y
        self.probs = self._delta = probs
        return self._finish(z, total)

    def backward(self, grad_output: float = 1.0) -> np.ndarray:
        """``(softmax(z) - y) / N``: the delta ``a - y`` of the derivation, averaged over the batch."""
        probs = self._delta
        if probs is None:
            raise self._not_run()
        target, scale = self._target, self._scale(grad_output, len(probs))
        if target.ndim == 1:  # flat positions of the labels: y is one-hot, subtract 1 there
            return softmax_cross_entropy_backward(probs, target, scale)
        return (probs - target) * scale

    def _check_distributions(self, y: np.ndarray) -> None:
        """Probability targets (N, C) must be distributions: each row sums to 1 (within sqrt(eps) of the dtype).

        Otherwise the loss is not a cross-entropy at all (all-zero rows give 0.0, whatever the logits).
        """
        sums = y.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > np.sqrt(np.finfo(y.dtype).eps))
        if len(bad):
            raise TargetError(
                f"{self!r}: probability targets must sum to 1 in each row; row {bad[0]} sums to {sums[bad[0]]:g} "
                f"({len(bad)} of {len(y)} rows do not). For multi-label targets use SigmoidBCE"
            )


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
