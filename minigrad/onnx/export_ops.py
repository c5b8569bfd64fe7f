"""The ONNX form of each exportable module: ``EXPORTERS[type] = fn(builder, module, inputs, shapes, name)``.

Each function writes the module's nodes through the ``Builder`` of ``minigrad.onnx.export`` and
returns the name of its output tensor. ``inputs`` are tensor names, ``shapes`` their shapes without
the batch dimension, ``name`` the module's own name in the model (``"0"``, ``"block.conv_1"``), which
names its nodes and (with ``.weight``, ``.bias``) its initializers, as PyTorch's state_dict keys.
Every export is the inference form: ``Dropout`` disappears, ``BatchNorm`` uses its running statistics.

============================  =======================================================================
minigrad                      ONNX (opset 17)
============================  =======================================================================
Linear                        Gemm(x, W, b, transB=1):  y = x W^T + b
Sigmoid, Tanh, ReLU           Sigmoid, Tanh, Relu
LeakyReLU(s)                  LeakyRelu(alpha=s)
Softmax(dim)                  Softmax(axis=dim)
Flatten(1, -1)                Flatten(axis=1); other dims: Reshape to the static shape
Identity, Dropout             Identity; nothing (its output is its input)
Conv2d                        Conv(pads = top, left, bottom, right; strides, dilations, group)
MaxPool2d, AvgPool2d          MaxPool, AveragePool(count_include_pad=1, as PyTorch's default)
AdaptiveAvgPool2d(1)          GlobalAveragePool; other sizes that divide the input: AveragePool
BatchNorm1d, BatchNorm2d      BatchNormalization(x, gamma, beta, running_mean, running_var)
LayerNorm                     LayerNormalization(axis=-len(normalized_shape))
Add, Concat(axis)             Add (Sum for more than two), Concat(axis)
============================  =======================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConversionError
from ..graph import Add, Concat
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
from ..module import Module

Shape = tuple[int, ...]


def _data(p: Any) -> np.ndarray | None:
    return None if p is None else p.data


def linear(b: Any, m: Linear, x: list[str], shapes: list[Shape], name: str) -> str:
    """``Gemm(x, W, b, transB=1)``: ``y = x @ W.T + b`` with ``W`` (out, in) as stored."""
    ins = [x[0], b.weight(f"{name}.weight", m.weight.data)]
    if m.bias is not None:
        ins.append(b.weight(f"{name}.bias", m.bias.data))
    return b.node("Gemm", ins, name, transB=1)


def elementwise(op: str, **attrs: Any) -> Callable[..., str]:
    """An activation that is one ONNX operator of the same name (with fixed attributes)."""

    def emit(b: Any, m: Module, x: list[str], shapes: list[Shape], name: str) -> str:
        return b.node(op, x, name, **attrs)

    return emit


def leaky_relu(b: Any, m: LeakyReLU, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("LeakyRelu", x, name, alpha=m.negative_slope)


def softmax(b: Any, m: Softmax, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("Softmax", x, name, axis=m.dim)  # opset 13+: along one axis, as minigrad's


def flatten(b: Any, m: Flatten, x: list[str], shapes: list[Shape], name: str) -> str:
    """``Flatten(axis=1)`` for the default dims; else ``Reshape`` to ``(N, *output_shape)``, batch copied (0)."""
    nd = len(shapes[0]) + 1
    if m.start_dim % nd == 0:
        raise ConversionError(
            f"{m!r}: flattening the batch dimension (start_dim 0) has no ONNX form with a dynamic batch"
        )
    if m.start_dim % nd == 1 and m.end_dim % nd == nd - 1:
        return b.node("Flatten", x, name, axis=1)
    target = np.array([0, *m.output_shape(shapes[0])], dtype=np.int64)
    return b.node("Reshape", [x[0], b.weight(f"{name}.shape", target)], name)


def identity(b: Any, m: Module, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("Identity", x, name)


def dropout(b: Any, m: Dropout, x: list[str], shapes: list[Shape], name: str) -> str:
    return x[0]  # the identity at inference: no node at all


def conv2d(b: Any, m: Conv2d, x: list[str], shapes: list[Shape], name: str) -> str:
    """``Conv``; minigrad's pads (top, bottom, left, right) are ONNX's (top, left, bottom, right)."""
    top, bottom, left, right = m.pads
    ins = [x[0], b.weight(f"{name}.weight", m.weight.data)]
    if m.bias is not None:
        ins.append(b.weight(f"{name}.bias", m.bias.data))
    return b.node(
        "Conv",
        ins,
        name,
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        pads=[top, left, bottom, right],
        dilations=list(m.dilation),
        group=m.groups,
    )


def _pool_attrs(m: MaxPool2d | AvgPool2d) -> dict[str, Any]:
    ph, pw = m.padding
    return {"kernel_shape": list(m.kernel_size), "strides": list(m.stride), "pads": [ph, pw, ph, pw]}


def max_pool(b: Any, m: MaxPool2d, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("MaxPool", x, name, dilations=list(m.dilation), **_pool_attrs(m))


def avg_pool(b: Any, m: AvgPool2d, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("AveragePool", x, name, count_include_pad=1, **_pool_attrs(m))


def adaptive_avg_pool(b: Any, m: AdaptiveAvgPool2d, x: list[str], shapes: list[Shape], name: str) -> str:
    """``GlobalAveragePool`` for output 1 x 1; ``AveragePool`` when the output size divides the input's."""
    c, h, w = shapes[0]
    oh, ow = m.output_shape(shapes[0])[1:]
    if (oh, ow) == (1, 1):
        return b.node("GlobalAveragePool", x, name)
    if h % oh or w % ow:
        raise ConversionError(
            f"{m!r}: output {oh} x {ow} does not divide the input {h} x {w}; its uneven bins have no ONNX operator"
        )
    kernel = [h // oh, w // ow]
    return b.node("AveragePool", x, name, kernel_shape=kernel, strides=kernel)


def batch_norm(b: Any, m: BatchNorm1d | BatchNorm2d, x: list[str], shapes: list[Shape], name: str) -> str:
    """``BatchNormalization`` with the running statistics: ``y = gamma (x - mean) / sqrt(var + eps) + beta``."""
    if m.running_mean is None:
        raise ConversionError(
            f"{m!r}: track_running_stats=False normalises with each batch's own statistics at inference; "
            "ONNX's BatchNormalization needs running statistics"
        )
    c = m.num_features
    gamma = np.ones(c, np.float32) if m.weight is None else m.weight.data
    beta = np.zeros(c, np.float32) if m.bias is None else m.bias.data
    ins = [x[0]] + [
        b.weight(f"{name}.{key}", v)
        for key, v in (
            ("weight", gamma),
            ("bias", beta),
            ("running_mean", m.running_mean),
            ("running_var", m.running_var),
        )
    ]
    return b.node("BatchNormalization", ins, name, epsilon=m.eps)


def layer_norm(b: Any, m: LayerNorm, x: list[str], shapes: list[Shape], name: str) -> str:
    """``LayerNormalization`` over the last ``len(normalized_shape)`` axes (opset 17)."""
    gamma = np.ones(m.normalized_shape, np.float32) if m.weight is None else m.weight.data
    ins = [x[0], b.weight(f"{name}.weight", gamma)]
    if m.bias is not None:
        ins.append(b.weight(f"{name}.bias", m.bias.data))
    return b.node("LayerNormalization", ins, name, axis=-len(m.normalized_shape), epsilon=m.eps)


def add(b: Any, m: Add, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("Add" if len(x) == 2 else "Sum", x, name)


def concat(b: Any, m: Concat, x: list[str], shapes: list[Shape], name: str) -> str:
    return b.node("Concat", x, name, axis=m.axis)


EXPORTERS: dict[type, Callable[..., str]] = {
    Linear: linear,
    Sigmoid: elementwise("Sigmoid"),
    Tanh: elementwise("Tanh"),
    ReLU: elementwise("Relu"),
    LeakyReLU: leaky_relu,
    Softmax: softmax,
    Flatten: flatten,
    Identity: identity,
    Dropout: dropout,
    Conv2d: conv2d,
    MaxPool2d: max_pool,
    AvgPool2d: avg_pool,
    AdaptiveAvgPool2d: adaptive_avg_pool,
    BatchNorm1d: batch_norm,
    BatchNorm2d: batch_norm,
    LayerNorm: layer_norm,
    Add: add,
    Concat: concat,
}
