"""``to_torch``: the table of minigrad modules and their torch.nn namesakes, and the walk over a module tree.

Each entry builds the torch module of one minigrad layer's hyper-parameters and dtype; then the
torch layer's ``load_state_dict`` takes copies of the layer's parameters and buffers. Containers
keep their children's names, so the whole tree's ``state_dict`` keys match too (``"0.weight"``,
``"1.running_mean"``, ``"linear_1.bias"``). The training / eval mode of every module is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..containers import Sequential
from ..errors import ConversionError
from ..graph import Add, Concat, Graph
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


def require_torch(where: str) -> Any:
    """The ``torch`` package, or a ConversionError saying it is needed (it is never a dependency of minigrad)."""
    try:
        import torch
    except ImportError:
        raise ConversionError(f"{where} needs PyTorch: pip install torch") from None
    return torch


def _dtype(torch: Any, m: Module) -> Any:
    """The torch dtype of ``m``'s parameters or buffers (float32 when it has none)."""
    arrays = [p.data for p in m.parameters()] + [b for b in m.buffers() if b.dtype.kind == "f"]
    return torch.float64 if arrays and arrays[0].dtype == np.float64 else torch.float32


def _batch_norm_to_torch(nn: Any, m: BatchNorm1d | BatchNorm2d, dt: Any) -> Any:
    if m.affine and m.bias is None:
        raise ConversionError(f"mg.interop.to_torch: {m!r}: bias=False with affine=True has no torch form")
    cls = nn.BatchNorm2d if isinstance(m, BatchNorm2d) else nn.BatchNorm1d
    return cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, dtype=dt)


TO_TORCH: dict[type, Callable[[Any, Any, Any], Any]] = {
    Linear: lambda nn, m, dt: nn.Linear(m.in_features, m.out_features, bias=m.bias is not None, dtype=dt),
    Sigmoid: lambda nn, m, dt: nn.Sigmoid(),
    Tanh: lambda nn, m, dt: nn.Tanh(),
    ReLU: lambda nn, m, dt: nn.ReLU(),
    LeakyReLU: lambda nn, m, dt: nn.LeakyReLU(m.negative_slope),
    Softmax: lambda nn, m, dt: nn.Softmax(dim=m.dim),
    Flatten: lambda nn, m, dt: nn.Flatten(m.start_dim, m.end_dim),
    Identity: lambda nn, m, dt: nn.Identity(),
    Dropout: lambda nn, m, dt: nn.Dropout(m.p),
    Conv2d: lambda nn, m, dt: nn.Conv2d(
        m.in_channels,
        m.out_channels,
        m.kernel_size,
        m.stride,
        m.padding,
        m.dilation,
        m.groups,
        m.bias is not None,
        dtype=dt,
    ),  # fmt: skip
    MaxPool2d: lambda nn, m, dt: nn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation),
    AvgPool2d: lambda nn, m, dt: nn.AvgPool2d(m.kernel_size, m.stride, m.padding),
    AdaptiveAvgPool2d: lambda nn, m, dt: nn.AdaptiveAvgPool2d(m.output_size),
    BatchNorm1d: _batch_norm_to_torch,
    BatchNorm2d: _batch_norm_to_torch,
    LayerNorm: lambda nn, m, dt: nn.LayerNorm(
        m.normalized_shape, m.eps, m.elementwise_affine, bias=m.bias is not None, dtype=dt
    ),
}


def _to_torch(torch: Any, m: Module, where: str) -> Any:
    """The torch module of ``m`` (its children converted), without weights."""
    from .torch_graph import TorchAdd, TorchConcat, TorchGraph

    if isinstance(m, Sequential):
        out = torch.nn.Sequential(*(_to_torch(torch, c, f"{where}.{i}") for i, c in enumerate(m)))
    elif isinstance(m, Graph):
        kids = [_to_torch(torch, n.module, f"{where}.{n.name}") for n in m.nodes]
        nodes = [(n.name, kid, [p.name for p in n.parents]) for n, kid in zip(m.nodes, kids)]
        out = TorchGraph([(n.name, n.shape) for n in m.inputs], nodes, [o.name for o in m.outputs])
    elif type(m) is Add:
        out = TorchAdd()
    elif type(m) is Concat:
        out = TorchConcat(m.axis)
    elif type(m) in TO_TORCH:
        out = TO_TORCH[type(m)](torch.nn, m, _dtype(torch, m))
        out.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()})
    else:
        known = ", ".join(sorted(t.__name__ for t in TO_TORCH))
        raise ConversionError(
            f"mg.interop.to_torch: {m!r} ({where}) has no PyTorch form; convertible: Sequential, Graph, Add, "
            f"Concat, {known}"
        )
    out.training = m.training
    return out


def to_torch(model: Module) -> Any:
    """A ``torch.nn.Module`` computing what ``model`` computes, with copies of its parameters and buffers.

    ``Sequential`` becomes ``torch.nn.Sequential``, a ``Graph`` a ``TorchGraph`` (its nodes as named
    children, so ``state_dict`` keys match), every layer its namesake in ``torch.nn``. The dtype
    (float32 or float64) and the train / eval mode of each module are kept.
    """
    torch = require_torch("mg.interop.to_torch")
    if not isinstance(model, Module):
        raise ConversionError(f"mg.interop.to_torch: expected a minigrad Module, got {type(model).__name__}")
    return _to_torch(torch, model, type(model).__name__)
