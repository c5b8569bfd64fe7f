"""Pooling on NCHW batches: ``MaxPool2d``, ``AvgPool2d`` and ``AdaptiveAvgPool2d``, as PyTorch's.

Max and average pooling see each window as a row of ``kH kW`` values (``kernels.pool_windows``: a
reshape when the windows tile the input, a strided view otherwise); their backward puts the
gradient of each window back where the window came from (``kernels.pool_windows_backward``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import HyperParameterError, ShapeError
from ..kernels import max_pool_tiled, max_pool_tiled_backward, pool_windows, pool_windows_backward, tiles
from ..module import Module
from .conv import as_images, output_hw, pair


class _Pool2d(Module):
    """Shared by max and average pooling: hyper-parameters, padding, the windows, shapes and printing."""

    _pad_value = 0.0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(name, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair(name, "stride", stride)
        self.padding = pair(name, "padding", padding, minimum=0)
        self.dilation = pair(name, "dilation", dilation)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):  # PyTorch's rule
            raise HyperParameterError(
                f"{name}: padding {self.padding} must be at most half the kernel size {self.kernel_size}"
            )
        self._x_shape: tuple[int, ...] | None = None
        self._y_shape: tuple[int, ...] | None = None

    def _has_parameters(self) -> bool:
        return False

    def _windows(self, x: Any) -> np.ndarray:
        """The windows (N, C, OH, OW, kH kW) of the padded input; keeps the shapes."""
        x = as_images(self, x, None)
        ph, pw = self.padding
        oh, ow = output_hw(self, x.shape[2:], (ph, ph, pw, pw), self.kernel_size, self.stride, self.dilation)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=self._pad_value) if ph or pw else x
        self._x_shape, self._xp_shape, self._y_shape = x.shape, xp.shape, (*x.shape[:2], oh, ow)
        return pool_windows(xp, self.kernel_size, self.stride, self.dilation)

    def _unwindow(self, dwin: np.ndarray) -> np.ndarray:
        """dL/dx (N, C, H, W) from the windows' gradient (N, C, OH, OW, kH kW): summed back, padding cut."""
        dxp = pool_windows_backward(dwin, self._xp_shape, self.kernel_size, self.stride, self.dilation)
        ph, pw = self.padding
        return dxp[:, :, ph : dxp.shape[2] - ph, pw : dxp.shape[3] - pw]

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise ShapeError(f"{self!r}: expected input (N, C, H, W), got (N, {', '.join(map(str, input_shape))})")
        ph, pw = self.padding
        oh, ow = output_hw(self, tuple(input_shape[1:]), (ph, ph, pw, pw), self.kernel_size, self.stride, self.dilation)
        return (input_shape[0], oh, ow)

    def get_config(self) -> dict[str, Any]:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
        }

    def extra_repr(self) -> str:
        s = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + (f", dilation={self.dilation}" if self.dilation != (1, 1) else "")


class MaxPool2d(_Pool2d):
    """The largest value of each ``kernel_size`` window, as ``torch.nn.MaxPool2d``.

    Inputs / Returns: x (N, C, H, W) -> y (N, C, OH, OW), ``OH = (H + 2 pH - dH (kH - 1) - 1) // sH + 1``.
    ``stride`` defaults to ``kernel_size``; ``padding`` pads with -inf (it is never the max), at most
    half the kernel.

    Backward: ``y[n, c, p, q] = x[n, c, a]`` at the window's argmax ``a``, so ``dy/dx`` is 1 there and 0
    at the other positions of the window: ``dL/dx[a] += g[n, c, p, q]`` (a sum where overlapping windows
    share an argmax). On ties the first maximum in row-major window order takes the gradient, as PyTorch.
    """

    _pad_value = -np.inf

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1) -> None:
        super().__init__(kernel_size, stride, padding, dilation)
        self._argmax: np.ndarray | None = None

    def forward(self, x: Any) -> np.ndarray:
        """``y = max over each window``; keeps the argmax of every window."""
        x = as_images(self, x, None)
        if self.padding == (0, 0) and tiles(x.shape, self.kernel_size, self.stride, self.dilation):
            y, self._argmax = max_pool_tiled(x, self.kernel_size)  # the same, without a window array
            self._x_shape, self._y_shape, self._tiled = x.shape, y.shape, True
            return y
        win = self._windows(x)  # (N, C, OH, OW, kH kW)
        a = win.argmax(axis=-1)[..., None]  # first maximum on ties (NaN counts as the maximum, as torch)
        self._argmax, self._tiled = a, False
        return np.take_along_axis(win, a, axis=-1)[..., 0]

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dx``: each window's gradient at its argmax, zero elsewhere."""
        g = self._check_grad(grad_output, self._y_shape)
        if self._tiled:
            return max_pool_tiled_backward(g, self._argmax, self.kernel_size)
        dwin = np.zeros((*self._y_shape, self.kernel_size[0] * self.kernel_size[1]), dtype=g.dtype)
        np.put_along_axis(dwin, self._argmax, g[..., None], axis=-1)
        return self._unwindow(dwin)


class AvgPool2d(_Pool2d):
    """The mean of each ``kernel_size`` window, as ``torch.nn.AvgPool2d`` (``count_include_pad=True``).

    Inputs / Returns: x (N, C, H, W) -> y (N, C, OH, OW), as ``MaxPool2d``. Zero padding counts in the
    mean (every window divides by ``kH kW``), PyTorch's default.

    Backward: ``dy/dx = 1 / (kH kW)`` at every position of the window, so each window spreads its
    gradient evenly, ``dL/dx[a] += g[n, c, p, q] / (kH kW)`` for every ``a`` in it.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__(kernel_size, stride, padding)

    def forward(self, x: Any) -> np.ndarray:
        """``y = mean over each window`` (padding counted)."""
        return self._windows(x).mean(axis=-1)

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dx``: ``g / (kH kW)`` spread over each window, summed where windows overlap."""
        g = self._check_grad(grad_output, self._y_shape)
        k = self.kernel_size[0] * self.kernel_size[1]
        dwin = np.broadcast_to((g / k)[..., None], (*g.shape, k))
        return self._unwindow(np.ascontiguousarray(dwin))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["dilation"]
        return config


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's bins of an adaptive pool: bin ``i`` is ``[floor(i size / out), ceil((i + 1) size / out))``."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


class AdaptiveAvgPool2d(Module):
    """The mean over each of ``output_size`` bins, as ``torch.nn.AdaptiveAvgPool2d``; ``1`` is global average pooling.

    Inputs / Returns: x (N, C, H, W) -> y (N, C, OH, OW) = ``output_size`` (an int, a pair, or ``None`` in
    a pair for "the input's size"). Bin ``p`` of the rows is ``[floor(p H / OH), ceil((p + 1) H / OH))``
    (the columns alike): bins may overlap by a row when OH does not divide H.

    Backward: each bin spreads its gradient evenly over its pixels, ``dL/dx[u, v] += g[p, q] / |bin(p, q)|``.
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        items = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size, output_size]
        if len(items) != 2 or not all(
            v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1) for v in items
        ):
            raise HyperParameterError(
                f"AdaptiveAvgPool2d: output_size must be an int >= 1 or a pair of them (or None), got {output_size!r}"
            )
        self.output_size = tuple(None if v is None else int(v) for v in items)
        self._x_shape: tuple[int, ...] | None = None
        self._y_shape: tuple[int, ...] | None = None

    def _has_parameters(self) -> bool:
        return False

    def _out(self, h: int, w: int) -> tuple[int, int]:
        oh, ow = self.output_size
        return (h if oh is None else oh, w if ow is None else ow)

    def forward(self, x: Any) -> np.ndarray:
        """``y[n, c, p, q] = mean of x[n, c]`` over bin (p, q)."""
        x = as_images(self, x, None)
        n, c, h, w = x.shape
        oh, ow = self._out(h, w)
        self._x_shape, self._y_shape = x.shape, (n, c, oh, ow)
        if (oh, ow) == (1, 1):  # global average pooling
            return x.mean(axis=(2, 3), keepdims=True)
        y = np.empty((n, c, oh, ow), dtype=x.dtype)
        for p, (r0, r1) in enumerate(adaptive_bins(h, oh)):  # OH OW bins, each a whole (N, C) block
            for q, (c0, c1) in enumerate(adaptive_bins(w, ow)):
                y[:, :, p, q] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        return y

    def backward(self, grad_output: Any) -> np.ndarray:
        """``dL/dx``: each bin's ``g / |bin|`` added to every pixel of the bin."""
        g = self._check_grad(grad_output, self._y_shape)
        n, c, h, w = self._x_shape
        oh, ow = self._y_shape[2:]
        if (oh, ow) == (1, 1):
            return np.broadcast_to(g / (h * w), self._x_shape).copy()
        dx = np.zeros(self._x_shape, dtype=g.dtype)
        for p, (r0, r1) in enumerate(adaptive_bins(h, oh)):
            for q, (c0, c1) in enumerate(adaptive_bins(w, ow)):
                dx[:, :, r0:r1, c0:c1] += (g[:, :, p, q] / ((r1 - r0) * (c1 - c0)))[:, :, None, None]
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise ShapeError(f"{self!r}: expected input (N, C, H, W), got (N, {', '.join(map(str, input_shape))})")
        return (input_shape[0], *self._out(*input_shape[1:]))

    def get_config(self) -> dict[str, Any]:
        return {"output_size": list(self.output_size)}

    def extra_repr(self) -> str:
        oh, ow = self.output_size
        return f"output_size={oh}" if oh == ow else f"output_size={self.output_size}"
