"""The ONNX operators ``load`` evaluates at load time, on constants: ``fold(op, inputs, attrs)``.

PyTorch's exporter writes ``x.view(x.size(0), -1)`` as shape arithmetic, ``Shape -> Gather ->
Unsqueeze -> Concat -> Reshape``, and repeats equal weights through ``Identity`` nodes. Everything
here is known when the file is read except the batch size, so ``Shape`` of a tensor gives its
static shape with the batch as the marker ``BATCH_SIZE``, these operators carry it along as any
integer, and ``Reshape`` (``import_ops``) checks that it arrived untouched in front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConversionError

BATCH_SIZE = -(2**62)  # stands for the unknown batch size inside shape arithmetic


def shape_of(static: tuple[int, ...], attrs: dict[str, Any]) -> np.ndarray:
    """``Shape`` of a ``(N, *static)`` tensor: ``[BATCH_SIZE, *static]``, sliced by ``start``/``end`` (opset 15)."""
    full = np.array([BATCH_SIZE, *static], dtype=np.int64)
    return full[attrs.get("start", 0) : attrs.get("end", len(full))]


def _constant(ins: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            return value if isinstance(value, np.ndarray) else np.array(value)
    raise ConversionError(f"Constant: attribute {sorted(attrs)} not supported (value, value_float(s), value_int(s))")


def _axes(ins: list[Any], attrs: dict[str, Any]) -> list[int]:
    """The ``axes`` of Unsqueeze / Squeeze: an input since opset 13, an attribute before."""
    if len(ins) > 1 and ins[1] is not None:
        return [int(a) for a in ins[1]]
    return [int(a) for a in attrs.get("axes", [])]


def _unsqueeze(ins: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    x, axes = ins[0], _axes(ins, attrs)
    nd = x.ndim + len(axes)
    return np.expand_dims(x, tuple(a % nd for a in axes))


def _squeeze(ins: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    axes = _axes(ins, attrs)
    return np.squeeze(ins[0], axis=tuple(axes) if axes else None)


def _slice(ins: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    """``Slice`` (opset 10+: starts, ends, axes, steps as inputs)."""
    x, starts, ends = ins[0], ins[1], ins[2]
    axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
    steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def _reshape(ins: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    x, shape = ins[0], [int(d) for d in ins[1]]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]  # 0: copy that dimension
    return x.reshape(shape)


def _cast(ins: list[Any], attrs: dict[str, Any]) -> np.ndarray:
    from onnx import helper

    return ins[0].astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))


FOLDERS: dict[str, Callable[[list[Any], dict[str, Any]], np.ndarray]] = {
    "Constant": _constant,
    "Identity": lambda ins, attrs: ins[0],
    "Cast": _cast,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": lambda ins, attrs: np.concatenate([np.atleast_1d(i) for i in ins], axis=attrs.get("axis", 0)),
    "Gather": lambda ins, attrs: np.take(ins[0], ins[1], axis=attrs.get("axis", 0)),
    "Slice": _slice,
    "Reshape": _reshape,
    "Transpose": lambda ins, attrs: np.transpose(ins[0], attrs.get("perm")),
    "Shape": lambda ins, attrs: np.array(ins[0].shape, np.int64)[attrs.get("start", 0) : attrs.get("end", ins[0].ndim)],
    "Add": lambda ins, attrs: ins[0] + ins[1],
    "Sub": lambda ins, attrs: ins[0] - ins[1],
    "Mul": lambda ins, attrs: ins[0] * ins[1],
    "Div": lambda ins, attrs: ins[0] // ins[1] if ins[0].dtype.kind in "iu" else ins[0] / ins[1],
}


def fold(op: str, ins: list[Any], attrs: dict[str, Any]) -> np.ndarray | None:
    """The value of operator ``op`` on constant inputs, or ``None`` when ``op`` is not evaluated here."""
    fn = FOLDERS.get(op)
    return None if fn is None else np.asarray(fn(ins, attrs))
