"""``Linear``, the affine layer, and ``as_batch`` and ``as_axis``, the input checks every layer shares.

``Linear`` is the model to copy when writing a layer: the math of the backward and the
shapes in the docstring, forward keeps what backward needs, backward checks
``grad_output`` against the last forward, adds parameter gradients, and returns
``dL/dinput`` unless ``needs_input_grad`` is false (see ``Module``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import HyperParameterError, ShapeError, describe
from ..init import as_float_dtype, get_rng, initialise
from ..kernels import add_batch_sum, add_matmul
from ..module import Module, Parameter


def as_batch(module: Module, x: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as an ndarray of ``dtype`` (no copy when it already is), at least 1-D; clear error otherwise."""
    if type(x) is not np.ndarray:
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ShapeError(f"{module!r}: expected an array, got {type(x).__name__} ({exc})") from None
    if x.dtype.kind not in "fiub":
        raise ShapeError(f"{module!r}: expected a numeric array, got dtype {x.dtype}")
    if x.ndim == 0:  # a scalar is no batch: NumPy would hand back scalars, not arrays
        raise ShapeError(f"{module!r}: expected a batch (N, ...) of at least 1 dimension, got the scalar {x.item()!r}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    elif x.dtype.kind != "f":
        x = x.astype(np.float64)
    return x


def as_axis(owner: str, name: str, value: Any) -> int:
    """An axis argument (``dim``, ``axis``, ``start_dim``) as an int; HyperParameterError for a bool, float or None."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise HyperParameterError(f"{owner}: {name} must be an int (an axis), got {value!r}")
    return int(value)


class Linear(Module):
    """Affine map ``y = x @ W.T + b``, printed as ``Linear(784 -> 30)``.

    Inputs / Returns of forward:
        x: (N, in_features)
        y: (N, out_features)
    Parameters: ``weight`` W (out_features, in_features), ``bias`` b (out_features,).

    Backward, with ``g = dL/dy`` of shape (N, out_features), for ``y_nj = sum_i x_ni W_ji + b_j``::

        dL/dW += g.T @ x        (out, in):  dL/dW_ji = sum_n g_nj x_ni
        dL/db += g.sum(axis=0)  (out,):     dL/db_j  = sum_n g_nj
        dL/dx  = g @ W          (N, in):    dL/dx_ni = sum_j g_nj W_ji   (only if needs_input_grad)

    ``init`` names the initialiser: ``"pytorch"`` (default, U(+-1/sqrt(in)) as
    ``torch.nn.Linear``), ``"normal"`` (N(0, 1), Nielsen chapter 1),
    ``"scaled_normal"`` (N(0, 1/in), Nielsen chapter 3), ``"xavier_uniform"``,
    ``"xavier_normal"``, ``"he_uniform"``, ``"he_normal"``.
    """

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
        self._x: np.ndarray | None = None

    def _has_parameters(self) -> bool:
        return True  # a weight, always (the generic scan of __dict__ costs a step ~1 us)

    def forward(self, x: Any) -> np.ndarray:
        """``x`` (N, in_features) -> ``x @ W.T + b`` (N, out_features); keeps ``x`` for backward."""
        w = self.weight.data
        if type(x) is not np.ndarray or x.dtype is not w.dtype or x.ndim != 2:
            x = as_batch(self, x, w.dtype)
            if x.ndim != 2:
                raise self._bad_input(x)
        try:
            y = x @ w.T
        except ValueError:  # the shapes do not fit: said in our words
            raise self._bad_input(x) from None
        if y.shape[1] != self.out_features:  # a weight rebound to (out', in): matmul could not tell
            raise self._bad_input(x)
        self._x = x
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_output: Any) -> np.ndarray | None:
        """Add ``g.T @ x`` to the weight's and ``g.sum(0)`` to the bias's gradient; return ``g @ W``."""
        x = self._x
        g = self._check_grad(grad_output, None if x is None else (len(x), self.out_features))
        add_matmul(self.weight, g.T, x)  # dL/dW += g.T @ x
        if self.bias is not None:
            add_batch_sum(self.bias, g)  # dL/db += g.sum(axis=0)
        if not self.needs_input_grad:
            return None  # no one wants dL/dx: skip the step's largest matmul in a first layer
        return g @ self.weight.data  # dL/dx = g @ W

    def _bad_input(self, x: np.ndarray) -> ShapeError:
        w = self.weight.data
        if x.ndim == 2 and x.shape[1] == self.in_features:
            return ShapeError(
                f"{self!r}: its weight has shape {w.shape}, expected ({self.out_features}, {self.in_features}) "
                "(was .data rebound to an array of another shape?)"
            )
        return ShapeError(f"{self!r}: expected input (N, {self.in_features}), got {describe(x)}")

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
