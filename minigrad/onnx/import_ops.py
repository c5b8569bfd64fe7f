"""One minigrad module per ONNX operator: ``IMPORTERS[op_type] = fn(op) -> Module``.

``op`` (an ``Op``) is the node with its inputs resolved: a symbolic ``mg.Node`` for a tensor that
depends on the data (its ``.shape`` is static, batch excluded), an ndarray for a constant (an
initializer, a ``Constant``, folded shape arithmetic), ``None`` for an omitted optional input. The
loader applies the module returned to the node inputs. An importer may instead return a node
itself: ``Add`` of a bias after ``MatMul`` gives the ``Linear`` made from the ``MatMul`` its bias.

Supported: Gemm, MatMul (+ Add), Conv, MaxPool, AveragePool, GlobalAveragePool,
BatchNormalization, LayerNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Flatten, Reshape,
Identity, Dropout, Add, Sum, Concat. Anything else is a ConversionError naming the operator and node.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConversionError
from ..graph import Add, Concat, Node
from ..layers import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from ..module import Module, Parameter
from .constants import BATCH_SIZE
from .modules import Reshape


@dataclass
class Op:
    """An ONNX node being imported: its type, name, attributes and resolved inputs."""

    type: str
    name: str
    attrs: dict[str, Any]
    ins: list[Any]
    uses: list[int] = field(default_factory=list)  # how many nodes read each input tensor
    opset: int = 17
    batch: int | None = None  # the batch size of a file exported with a fixed one (no dynamic axis)

    def error(self, why: str) -> ConversionError:
        return ConversionError(f"mg.onnx.load: node {self.name!r} ({self.type}): {why}")

    def const(self, i: int, what: str, required: bool = True) -> np.ndarray | None:
        """Input ``i`` as an array; an error if it depends on the data (or is missing and ``required``)."""
        value = self.ins[i] if i < len(self.ins) else None
        if value is None:
            if required:
                raise self.error(f"input {i} ({what}) is missing")
            return None
        if isinstance(value, Node):
            raise self.error(f"input {i} ({what}) must be a constant (an initializer), not computed from the data")
        return value

    def data(self, i: int = 0) -> Node:
        """Input ``i`` as a tensor that depends on the data."""
        value = self.ins[i] if i < len(self.ins) else None
        if not isinstance(value, Node):
            raise self.error(f"input {i} must be computed from the model's input, got a constant")
        return value


def _dtype(a: np.ndarray) -> Any:
    return a.dtype if a.dtype in (np.float32, np.float64) else np.float32


def _set(p: Parameter | np.ndarray, value: np.ndarray, op: Op, what: str) -> None:
    """Copy ``value`` into a parameter or buffer of the same shape."""
    target = p.data if isinstance(p, Parameter) else p
    value = np.asarray(value)
    if value.size != target.size:
        raise op.error(f"{what} has shape {value.shape}, expected {target.shape}")
    target[...] = value.reshape(target.shape)


def gemm(op: Op) -> Module:
    """``Y = alpha A B' + beta C`` (B' = B.T when transB) as ``Linear``: ``W = alpha B'.T``, ``b = beta C``."""
    a = op.data(0)
    if op.attrs.get("transA", 0) or len(a.shape) != 1:
        raise op.error(f"only A of shape (N, in) untransposed is supported, got (N, {a.shape}) transA")
    w = op.const(1, "B")
    w = w if op.attrs.get("transB", 0) else w.T  # (out, in)
    c = op.const(2, "C", required=False)
    lin = Linear(w.shape[1], w.shape[0], bias=c is not None, dtype=_dtype(w))
    _set(lin.weight, op.attrs.get("alpha", 1.0) * w, op, "B")
    if c is not None:
        if c.size not in (1, w.shape[0]):
            raise op.error(f"C of shape {c.shape} is not one bias per output ({w.shape[0]},)")
        _set(lin.bias, np.broadcast_to(op.attrs.get("beta", 1.0) * c.reshape(-1), (w.shape[0],)), op, "C")
    return lin


def matmul(op: Op) -> Module:
    """``x @ B`` with B (in, out) constant: ``Linear(bias=False)``, ``W = B.T``."""
    a, w = op.data(0), op.const(1, "B")
    if len(a.shape) != 1 or w.ndim != 2:
        raise op.error(f"only (N, in) @ (in, out) is supported, got (N, {a.shape}) @ {w.shape}")
    lin = Linear(w.shape[0], w.shape[1], bias=False, dtype=_dtype(w))
    _set(lin.weight, w.T, op, "B")
    return lin


def add(op: Op) -> Module | Node:
    """Two tensors: ``Add``. A tensor plus a constant (C,) after a MatMul: that ``Linear``'s bias."""
    if all(isinstance(i, Node) for i in op.ins):
        return Add()
    pos = next(i for i, v in enumerate(op.ins) if isinstance(v, Node))  # list.index would compare arrays
    x, c = op.ins[pos], op.ins[1 - pos]
    lin = x.module
    if isinstance(lin, Linear) and lin.bias is None and op.uses[pos] == 1 and c.size == lin.out_features:
        lin.bias = Parameter(np.zeros(lin.out_features, lin.weight.dtype))
        _set(lin.bias, c, op, "the bias")
        return x
    raise op.error("adding a constant is supported only as the bias of a MatMul (x @ W + b)")


def conv(op: Op) -> Module:
    """``Conv`` (2-D) as ``Conv2d``; ONNX's pads (top, left, bottom, right) must be symmetric."""
    w, b = op.const(1, "W"), op.const(2, "B", required=False)
    if w.ndim != 4:
        raise op.error(f"only 2-D convolutions are supported, got a weight of shape {w.shape}")
    op.attrs.setdefault("kernel_shape", list(w.shape[2:]))  # optional in ONNX: the weight's
    padding = _padding(op, op.attrs.get("pads", [0, 0, 0, 0]), conv=True)
    m = Conv2d(
        w.shape[1] * op.attrs.get("group", 1),
        w.shape[0],
        w.shape[2:],
        stride=op.attrs.get("strides", 1),
        padding=padding,
        dilation=op.attrs.get("dilations", 1),
        groups=op.attrs.get("group", 1),
        bias=b is not None,
        dtype=_dtype(w),
    )
    _set(m.weight, w, op, "W")
    if b is not None:
        _set(m.bias, b, op, "B")
    return m


def _padding(op: Op, pads: list[int], conv: bool = False) -> Any:
    """minigrad's ``padding`` from ONNX's ``auto_pad`` and ``pads`` (symmetric only)."""
    auto = op.attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return 0
    if auto == "SAME_UPPER" and conv and list(op.attrs.get("strides", [1, 1])) == [1, 1]:
        return "same"
    if auto != "NOTSET":
        raise op.error(f"auto_pad={auto} is not supported (NOTSET, VALID; SAME_UPPER for a stride-1 Conv)")
    if conv and list(op.attrs.get("strides", [1, 1])) == [1, 1] and list(pads) == _same_pads(op):
        return "same"  # PyTorch's padding="same" with an odd total: the extra row and column at the end
    if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
        raise op.error(f"pads {pads} are not the same on both sides (minigrad pads symmetrically)")
    return (pads[0], pads[1])


def _same_pads(op: Op) -> list[int]:
    """ONNX pads (top, left, bottom, right) of ``padding="same"``: ``d (k - 1)`` split, the odd one at the end."""
    kernel, dilation = op.attrs["kernel_shape"], op.attrs.get("dilations", [1, 1])
    th, tw = (d * (k - 1) for d, k in zip(dilation, kernel))
    return [th // 2, tw // 2, th - th // 2, tw - tw // 2]


def _pool_args(op: Op) -> dict[str, Any]:
    if len(op.attrs["kernel_shape"]) != 2:
        raise op.error(f"only 2-D pooling is supported, got kernel_shape {op.attrs['kernel_shape']}")
    if op.attrs.get("ceil_mode", 0):
        raise op.error("ceil_mode=1 is not supported (minigrad's pools round the output size down)")
    return {
        "kernel_size": tuple(op.attrs["kernel_shape"]),
        "stride": tuple(op.attrs.get("strides", [1, 1])),  # ONNX's default stride is 1, not the kernel
        "padding": _padding(op, op.attrs.get("pads", [0, 0, 0, 0])),
    }


def max_pool(op: Op) -> Module:
    return MaxPool2d(dilation=tuple(op.attrs.get("dilations", [1, 1])), **_pool_args(op))


def average_pool(op: Op) -> Module:
    args = _pool_args(op)
    if args["padding"] != (0, 0) and not op.attrs.get("count_include_pad", 0):
        raise op.error("count_include_pad=0 with padding is not supported (minigrad counts the padding, as PyTorch)")
    return AvgPool2d(**args)


def global_average_pool(op: Op) -> Module:
    if len(op.data(0).shape) != 3:
        raise op.error(f"only images (N, C, H, W) are supported, got (N, {op.data(0).shape})")
    return AdaptiveAvgPool2d(1)


def batch_norm(op: Op) -> Module:
    """``BatchNormalization`` as ``BatchNorm1d`` (N, C[, L]) or ``BatchNorm2d`` (N, C, H, W), statistics loaded."""
    rank = len(op.data(0).shape) + 1
    if rank not in (2, 3, 4):
        raise op.error(f"inputs of rank {rank} are not supported (2, 3 or 4)")
    scale, bias, mean, var = (op.const(i, w) for i, w in ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    cls = BatchNorm2d if rank == 4 else BatchNorm1d
    momentum = 1.0 - float(op.attrs.get("momentum", 0.9))  # ONNX keeps momentum of the old value; PyTorch of the new
    m = cls(scale.size, eps=float(op.attrs.get("epsilon", 1e-5)), momentum=round(momentum, 6), dtype=_dtype(scale))
    for target, value, what in ((m.weight, scale, "scale"), (m.bias, bias, "B"), (m.running_mean, mean, "mean")):
        _set(target, value, op, what)
    _set(m.running_var, var, op, "var")
    return m


def layer_norm(op: Op) -> Module:
    """``LayerNormalization`` over the axes from ``axis`` on, as ``LayerNorm(shape[axis:])``."""
    shape = op.data(0).shape
    axis = op.attrs.get("axis", -1)
    axis = axis + len(shape) + 1 if axis < 0 else axis
    if axis < 1:
        raise op.error("normalising over the batch axis is not supported")
    normalized = shape[axis - 1 :]
    scale, bias = op.const(1, "Scale"), op.const(2, "B", required=False)
    m = LayerNorm(normalized, eps=float(op.attrs.get("epsilon", 1e-5)), bias=bias is not None, dtype=_dtype(scale))
    _set(m.weight, np.broadcast_to(scale, normalized), op, "Scale")
    if bias is not None:
        _set(m.bias, np.broadcast_to(bias, normalized), op, "B")
    return m


def softmax(op: Op) -> Module:
    """``Softmax(axis)``; before opset 13 it flattened from ``axis`` on, the same only for the last axis."""
    rank = len(op.data(0).shape) + 1
    axis = op.attrs.get("axis", -1 if op.opset >= 13 else 1)
    if op.opset < 13 and axis % rank != rank - 1:
        raise op.error(f"opset {op.opset} Softmax over axes {axis}.. of a rank-{rank} input is not supported")
    return Softmax(dim=axis)


def flatten(op: Op) -> Module:
    if op.attrs.get("axis", 1) != 1:
        raise op.error(f"Flatten axis={op.attrs['axis']} would merge the batch dimension; only axis=1 is supported")
    return Flatten()


def reshape(op: Op) -> Module:
    """``Reshape`` that keeps the batch first: ``Flatten`` to ``(N, prod)``, else ``Reshape``."""
    static, target = op.data(0).shape, [int(d) for d in op.const(1, "shape")]
    fixed = (BATCH_SIZE, 0) if op.attrs.get("allowzero", 0) else (BATCH_SIZE, 0, op.batch)
    copied = bool(target) and target[0] in fixed  # the batch, or the fixed batch size a file was traced with
    inferred = bool(target) and target[0] == -1 and -1 not in target[1:]  # x.view(-1, 640): the batch is what is left
    if not (copied or inferred):
        raise op.error(f"the target shape {target} does not keep the batch dimension first")
    rest = target[1:]
    rest = [static[i] if d == 0 and i < len(static) else d for i, d in enumerate(rest, start=0)]
    if any(d == BATCH_SIZE or d < -1 or d == 0 for d in rest) or rest.count(-1) > 1:
        raise op.error(f"the target shape {target} mixes the batch size into the other dimensions")
    if -1 in rest:
        known = math.prod(d for d in rest if d != -1)
        rest[rest.index(-1)] = math.prod(static) // known
    if math.prod(rest) != math.prod(static):
        raise op.error(f"cannot reshape (N, {', '.join(map(str, static))}) to (N, {', '.join(map(str, rest))})")
    return Flatten() if len(rest) == 1 else Reshape(rest)


def dropout(op: Op) -> Module:
    ratio = op.const(1, "ratio", required=False)
    return Dropout(float(op.attrs.get("ratio", 0.5 if ratio is None else ratio)))


def concat(op: Op) -> Module:
    for i in range(len(op.ins)):
        op.data(i)
    return Concat(axis=op.attrs["axis"])


def leaky_relu(op: Op) -> Module:
    return LeakyReLU(op.attrs.get("alpha", 0.01))


def simple(cls: type[Module]) -> Callable[[Op], Module]:
    """An operator that is one minigrad module without arguments."""

    def build(op: Op) -> Module:
        for i in range(len(op.ins)):
            op.data(i)
        return cls()

    return build


IMPORTERS: dict[str, Callable[[Op], Module | Node]] = {
    "Gemm": gemm,
    "MatMul": matmul,
    "Add": add,
    "Sum": simple(Add),
    "Conv": conv,
    "MaxPool": max_pool,
    "AveragePool": average_pool,
    "GlobalAveragePool": global_average_pool,
    "BatchNormalization": batch_norm,
    "LayerNormalization": layer_norm,
    "Relu": simple(ReLU),
    "Sigmoid": simple(Sigmoid),
    "Tanh": simple(Tanh),
    "LeakyRelu": leaky_relu,
    "Softmax": softmax,
    "Flatten": flatten,
    "Reshape": reshape,
    "Identity": simple(Identity),
    "Dropout": dropout,
    "Concat": concat,
}
