"""Layers with no nonlinearity of their own: ``Linear``, ``Flatten``, ``Dropout``, ``Identity``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ShapeError, describe
from .init import as_float_dtype, get_rng, initialise
from .module import Module, Parameter, pack_parameters


def as_batch(module: Module, x: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as an ndarray of ``dtype`` (no copy when it already is); clear error otherwise."""
    if type(x) is not np.ndarray:
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ShapeError(f"{module!r}: expected an array, got {type(x).__name__} ({exc})") from None
    if x.dtype.kind not in "fiub":
        raise ShapeError(f"{module!r}: expected a numeric array, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    elif x.dtype.kind != "f":
        x = x.astype(np.float64)
    return x


class Linear(Module):
    """Affine map ``y = x @ W.T + b``.

    Shapes: ``x`` (N, in_features) -> ``y`` (N, out_features); ``W`` (out, in), ``b`` (out,).

    Backward, with ``g = dL/dy`` of shape (N, out)::

        dL/dW += g.T @ x        (out, in)
        dL/db += g.sum(axis=0)  (out,)
        dL/dx  = g @ W          (N, in)

    ``init`` names the initialiser: ``"pytorch"`` (default, U(+-1/sqrt(in)) as
    ``torch.nn.Linear``), ``"normal"`` (N(0, 1), Nielsen chapter 1),
    ``"scaled_normal"`` (N(0, 1/in), Nielsen chapter 3), ``"xavier_uniform"``,
    ``"xavier_normal"``, ``"he_uniform"``, ``"he_normal"``.
    """

    can_skip_input_grad = True

    def _trainable(self) -> bool:
        return True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "pytorch",
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ShapeError(f"Linear: {name} must be a positive int, got {v!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = init
        w, b = initialise(init, get_rng(rng), self.out_features, self.in_features, as_float_dtype(dtype))
        self.weight = Parameter(w)
        self.bias = Parameter(b) if bias else None
        if self.bias is not None:
            pack_parameters(self.weight, self.bias)  # one buffer each for data and grads: a one-call SGD step
        self._x: np.ndarray | None = None

    def forward(self, x: Any) -> np.ndarray:
        """``x`` (N, in_features) -> ``x @ W.T + b`` (N, out_features); keeps ``x`` for backward."""
        w = self.weight.data
        if type(x) is not np.ndarray or x.dtype is not w.dtype or x.ndim != 2:  # `is`: the fast check
            x = as_batch(self, x, w.dtype)
            if x.ndim != 2:
                raise self._bad_input(x)
        try:
            out = x @ w.T
        except ValueError:  # a shape mismatch, said in our words
            raise self._bad_input(x) from None
        self._x = x
        b = self.bias
        if b is not None:
            out += b.data
        return out

    def _bad_input(self, x: np.ndarray) -> ShapeError:
        w = self.weight.data
        if x.ndim == 2 and x.shape[1] == self.in_features and w.shape != (self.out_features, self.in_features):
            return ShapeError(
                f"{self!r}: its weight has shape {w.shape}, expected ({self.out_features}, {self.in_features}) "
                "(was .data rebound to an array of another shape?)"
            )
        return ShapeError(f"{self!r}: expected input (N, {self.in_features}), got {describe(x)}")

    def backward(self, grad_output: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Add ``g.T @ x`` to the weight's and ``g.sum(0)`` to the bias's gradient; return ``g @ W``.

        ``input_grad=False`` skips ``g @ W`` (returns None) when no one needs it, e.g. for
        the first layer of a network: the largest matmul of a step for a wide first layer.
        """
        x = self._x
        if x is None:
            raise self._not_run()
        w, b = self.weight, self.bias
        try:  # a grad_output of the wrong shape fails the first matmul (Parameter.accumulate* checks shapes)
            w.accumulate_matmul(grad_output.T, x)  # dL/dW += g.T @ x
            if b is not None:
                b.accumulate_sum(grad_output)  # dL/db += g.sum(0)
            return grad_output @ w.data if input_grad else None
        except (ValueError, AttributeError) as exc:  # said in our words
            raise self._bad_grad(grad_output, x, exc) from None

    def _bad_grad(self, grad_output: Any, x: np.ndarray, exc: Exception) -> ShapeError:
        expected = (x.shape[0], self.out_features)
        if getattr(grad_output, "shape", None) == expected:  # not the shape, then: pass on NumPy's words
            return ShapeError(f"{self!r}: backward could not use grad_output {describe(grad_output)}: {exc}")
        return ShapeError(
            f"{self!r}: backward expected grad_output {expected} to match the last forward, got {describe(grad_output)}"
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 1 or input_shape[0] != self.in_features:
            raise ShapeError(
                f"{self!r}: expected input (N, {self.in_features}), got (N, {', '.join(map(str, input_shape))})"
            )
        return (self.out_features,)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "init": self.init,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}" + ("" if self.bias is not None else ", bias=False")


class Identity(Module):
    """Returns its input unchanged; backward returns the gradient unchanged."""

    def forward(self, x: Any) -> np.ndarray:
        """Returns ``x`` itself."""
        return as_batch(self, x)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Returns ``grad_output`` itself."""
        return grad_output


class Flatten(Module):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1 * d2 * ...)``; backward reshapes back.

    ``start_dim`` and ``end_dim`` follow ``torch.nn.Flatten`` (defaults 1 and -1).
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim
        self._in_shape: tuple[int, ...] | None = None

    def _flat_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        nd = len(shape)
        s, e = self.start_dim % nd, self.end_dim % nd
        if s > e:
            raise ShapeError(f"{self!r}: start_dim {self.start_dim} is after end_dim {self.end_dim} for {shape}")
        return shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]

    def forward(self, x: Any) -> np.ndarray:
        """(N, d1, d2, ...) -> (N, d1 * d2 * ...); keeps the input shape."""
        x = as_batch(self, x)
        if x.ndim < 1:
            raise ShapeError(f"{self!r}: expected a batch (N, ...), got a scalar")
        self._in_shape = x.shape
        return x.reshape(self._flat_shape(x.shape))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Reshape ``grad_output`` back to the input shape."""
        if self._in_shape is None:
            raise self._not_run()
        return grad_output.reshape(self._in_shape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self._flat_shape((-1, *input_shape))[1:]

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode, scale the rest by ``1/(1-p)``.

    Inverted dropout: the expected output equals the input, so ``eval()`` mode is
    the identity. Backward multiplies the gradient by the same mask and scale.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = float(p)
        # An own generator, so drawing masks does not shift other modules' random streams.
        self.rng = (
            np.random.default_rng(get_rng(rng).integers(2**63)) if not isinstance(rng, np.random.Generator) else rng
        )
        self._mask: np.ndarray | None = None
        self._ran = False

    def forward(self, x: Any) -> np.ndarray:
        """Training: ``x * mask / (1 - p)`` with a fresh mask; eval: ``x`` unchanged."""
        x = as_batch(self, x)
        self._ran = True
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        if self.p == 1.0:
            self._mask = np.zeros_like(x)
        else:
            keep = self.rng.random(x.shape) >= self.p
            self._mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._mask

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """``grad_output`` times the same mask and scale (unchanged in eval mode)."""
        if not self._ran:
            raise self._not_run()
        if self._mask is None:
            return grad_output
        return grad_output * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}

    def extra_repr(self) -> str:
        return f"p={self.p}"
