"""``Conv2d``, the 2-D convolution (PyTorch's cross-correlation) on NCHW batches, by im2col and one GEMM.

The parts shared with pooling live here too: the hyper-parameter checks (``pair``) and the input check
of a 4-D batch (``as_images``). The strided-view tricks are in ``minigrad/kernels.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, HyperParameterError, ShapeError, describe
from ..init import as_float_dtype, get_rng, initialise
from ..kernels import add_group_matmul, col2im, conv_output_size, group_matmul, im2col
from ..module import Module, Parameter
from .linear import as_batch


def pair(owner: str, name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """``value`` (an int or a pair of ints, each >= ``minimum``) as a pair; HyperParameterError otherwise."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items)
    if not ok or min(items) < minimum:
        raise HyperParameterError(f"{owner}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def as_images(module: Module, x: Any, channels: int | None, dtype: np.dtype | None = None) -> np.ndarray:
    """``x`` as a float array (N, C, H, W) (of ``channels`` channels when given); ShapeError naming ``module``."""
    x = as_batch(module, x, dtype)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        c = "C" if channels is None else str(channels)
        raise ShapeError(f"{module!r}: expected input (N, {c}, H, W), got {describe(x)}")
    return x


def output_hw(module: Module, hw: tuple[int, int], pads: tuple[int, int, int, int], kernel, stride, dilation):
    """(OH, OW) of a padded (H, W) input; ShapeError naming ``module`` when the window does not fit."""
    hp, wp = hw[0] + pads[0] + pads[1], hw[1] + pads[2] + pads[3]
    span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    if hp < span[0] or wp < span[1]:
        raise ShapeError(
            f"{module!r}: input of height and width {hw} is {hp} x {wp} padded, smaller than the "
            f"{span[0]} x {span[1]} window (kernel with dilation)"
        )
    oh = conv_output_size(hp, kernel[0], stride[0], dilation[0])
    return oh, conv_output_size(wp, kernel[1], stride[1], dilation[1])


class Conv2d(Module):
    """2-D convolution ``y = W * x + b`` on NCHW batches, printed as ``Conv2d(1 -> 20, kernel_size=(5, 5), ...)``.

    As ``torch.nn.Conv2d`` (a cross-correlation; the same names, defaults and state_dict keys), with
    ``xp`` the zero-padded input, ``G = groups``, ``Cg = in_channels / G`` and ``c'`` the input channels
    of output channel ``o``'s group::

        y[n, o, p, q] = b[o] + sum_{c < Cg, i < kH, j < kW} W[o, c, i, j] xp[n, c', p*sH + i*dH, q*sW + j*dW]

    Inputs / Returns of forward:
        x: (N, in_channels, H, W)
        y: (N, out_channels, OH, OW), ``OH = (H + pad_top + pad_bottom - dH (kH - 1) - 1) // sH + 1`` (OW alike)
    Parameters: ``weight`` W (out_channels, in_channels / groups, kH, kW), ``bias`` b (out_channels,).

    **im2col.** Gather every window once: ``cols[(c, i, j), (p, q, n)] = xp[n, c, p*sH + i*dH, q*sW + j*dW]``,
    shape (Cg kH kW, OH OW N) per group. Then the convolution is a matrix product, as ``Linear`` is::

        y = W2 @ cols + b     W2 = W.reshape(O, Cg kH kW): (O, Cg kH kW) @ (Cg kH kW, OH OW N)

    **Backward**, with ``g = dL/dy`` (N, O, OH, OW) laid out as ``g2`` (O, OH OW N) like ``y``:

        dL/dW += g2 @ cols.T      (O, Cg kH kW): dL/dW[o,c,i,j] = sum_{n,p,q} g[n,o,p,q] xp[n,c',p*sH+i*dH,q*sW+j*dW]
        dL/db += g.sum((0, 2, 3)) (O,)
        dL/dcols = W2.T @ g2      (Cg kH kW, OH OW N), then dL/dx = col2im(dL/dcols), unpadded

    The weight gradient is a *correlation of the input with the output error*: each weight is used at
    every output position, so its gradient sums, over those positions, the error there times the input
    the weight saw there. The input gradient is a *full convolution of the error with the flipped
    kernel*: input pixel (u, v) fed output (p, q) through weight (i, j) exactly when u = p*sH + i*dH,
    so ``dL/dx[u, v] = sum_{o,i,j} W[o,c,i,j] g[o, (u - i*dH) / sH, (v - j*dW) / sW]`` (integer positions
    only), the kernel run backwards over a zero-padded error. ``col2im`` computes it without flipping
    anything: it adds each column's gradient back to the pixels that column was gathered from
    (``kernels.col2im``: one strided add per kernel offset). The first layer of a network skips it
    (``needs_input_grad`` False), as ``Linear`` does.

    **Memory order.** The GEMM writes ``y`` as (O, OH, OW, N); ``forward`` returns it as the (N, O, OH, OW)
    *view* ``y.transpose(3, 0, 1, 2)``, not a copy: NCHW to every reader, batch-last in memory (the idea of
    PyTorch's ``channels_last``). The next ReLU, max pooling and Conv2d keep or use that order, so the next
    im2col and this backward's ``g.transpose(1, 2, 3, 0)`` need no transposing copy (measured: 15-20 % of
    the chapter-6 step at batch 64); ``np.ascontiguousarray(y)`` gives the C-ordered array when one matters.

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` take an int or a pair (height, width);
    ``padding`` also ``"valid"`` (none) or ``"same"`` (output size = input size, stride 1 only; for an even
    ``dilation * (k - 1)`` split in two, else the extra row and column at the bottom and right, as PyTorch).
    ``init`` names the initialiser as in ``Linear`` with fan-in ``in_channels / groups * kH * kW``; the
    default ``"pytorch"`` is U(+-1/sqrt(fan_in)) for weight and bias (torch's kaiming_uniform(a=sqrt(5))).
    The Xavier initialisers take ``out_channels`` as the fan-out (PyTorch: ``out_channels * kH * kW``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        init: str = "pytorch",
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise HyperParameterError(f"Conv2d: {name} must be a positive int, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise HyperParameterError(
                f"Conv2d: groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
            )
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size)
        self.stride = pair("Conv2d", "stride", stride)
        self.dilation = pair("Conv2d", "dilation", dilation)
        self.padding = self._padding_arg(padding)
        self.pads = self._pads()  # (top, bottom, left, right)
        self.init = init
        fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        try:
            w, b = initialise(init, get_rng(rng), self.out_channels, fan_in, as_float_dtype(dtype))
        except ConfigError as exc:  # named: the message says which module's init or dtype it was
            raise ConfigError(f"Conv2d: {exc}") from None
        self.weight = Parameter(w.reshape(self.out_channels, self.in_channels // self.groups, *self.kernel_size))
        self.bias = Parameter(b) if bias else None
        self._cols: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None
        self._y_shape: tuple[int, ...] | None = None

    def _padding_arg(self, padding: Any) -> tuple[int, int] | str:
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ConfigError(f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise HyperParameterError(f"Conv2d: padding='same' needs stride 1 (as PyTorch), got {self.stride}")
            return padding
        return pair("Conv2d", "padding", padding, minimum=0)

    def _pads(self) -> tuple[int, int, int, int]:
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":  # total d (k - 1); PyTorch puts the odd one at the bottom / right
            th, tw = (d * (k - 1) for d, k in zip(self.dilation, self.kernel_size))
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def _has_parameters(self) -> bool:
        return True

    def forward(self, x: Any) -> np.ndarray:
        """``x`` (N, C, H, W) -> ``y`` (N, O, OH, OW); keeps the columns ``cols`` for backward."""
        w = self.weight.data
        x = as_images(self, x, self.in_channels, w.dtype)
        n = len(x)
        oh, ow = output_hw(self, x.shape[2:], self.pads, self.kernel_size, self.stride, self.dilation)
        g, o = self.groups, self.out_channels
        # (C, kH, kW, OH, OW, N), written into the last forward's columns when they have the size
        cols = im2col(x, self.kernel_size, self.stride, self.dilation, self.pads, out=self._cols)
        cols = cols.reshape(g, -1, oh * ow * n)  # per group: (Cg kH kW, OH OW N)
        y = group_matmul(w.reshape(g, o // g, -1), cols)  # (G, O/G, OH OW N): one GEMM per group
        y = y.reshape(o, oh, ow, n)
        if self.bias is not None:
            y += self.bias.data[:, None, None, None]
        self._cols, self._x_shape, self._y_shape = cols, x.shape, (n, o, oh, ow)
        return y.transpose(3, 0, 1, 2)  # NCHW indices over batch-last memory: no copy (see the class docstring)

    def backward(self, grad_output: Any) -> np.ndarray | None:
        """Add ``g2 @ cols.T`` to dL/dW and ``g.sum((0, 2, 3))`` to dL/db; return ``col2im(W2.T @ g2)``."""
        g = self._check_grad(grad_output, self._y_shape)
        w, cols, groups = self.weight.data, self._cols, self.groups
        o = self.out_channels
        g2 = np.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(groups, o // groups, -1)  # (G, O/G, OH OW N)
        add_group_matmul(self.weight, g2, cols.transpose(0, 2, 1))  # dL/dW += g2 @ cols.T
        if self.bias is not None:
            self.bias.accumulate(np.add.reduce(g2.reshape(o, -1), axis=1))  # dL/db += g.sum((0, 2, 3))
        if not self.needs_input_grad:
            return None  # a first layer: nobody needs dL/dx
        dcols = group_matmul(w.reshape(groups, o // groups, -1).transpose(0, 2, 1), g2)  # (G, Cg kH kW, OH OW N)
        dcols = dcols.reshape(self.in_channels, *self.kernel_size, *self._y_shape[2:], len(g))
        return col2im(dcols, self._x_shape, self.stride, self.dilation, self.pads)  # (N, C, H, W)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ShapeError(
                f"{self!r}: expected input (N, {self.in_channels}, H, W), got (N, {', '.join(map(str, input_shape))})"
            )
        oh, ow = output_hw(self, tuple(input_shape[1:]), self.pads, self.kernel_size, self.stride, self.dilation)
        return (self.out_channels, oh, ow)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "init": self.init,
            "dtype": str(self.weight.dtype),
        }

    def extra_repr(self) -> str:
        s = f"{self.in_channels} -> {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")
