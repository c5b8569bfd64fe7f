"""``from_torch``: the table of torch.nn modules and their minigrad namesakes, and the walk over a module tree.

Each entry checks that the torch module uses only what minigrad has (``padding_mode="zeros"``,
``ceil_mode=False``, ...) and builds the minigrad module of the same hyper-parameters and dtype;
then each layer's ``load_state_dict`` copies the torch layer's weights and buffers (it takes
torch's tensors as they are).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..containers import Sequential
from ..errors import ConversionError
from ..graph import Add, Concat, Graph, Input
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
from .torch_out import require_torch


def _dtype(t: Any) -> str:
    """The NumPy dtype name of a torch module's first floating parameter or buffer (float32 when none)."""
    for tensor in (*t.parameters(), *t.buffers()):
        if tensor.is_floating_point():
            return str(tensor.dtype).removeprefix("torch.")
    return "float32"


def _unsupported(t: Any, why: str) -> ConversionError:
    return ConversionError(f"mg.interop.from_torch: {t!r}: {why}")


def _conv(t: Any) -> Conv2d:
    if t.padding_mode != "zeros":
        raise _unsupported(t, f"padding_mode={t.padding_mode!r}; minigrad pads with zeros only")
    args = (t.in_channels, t.out_channels, t.kernel_size, t.stride, t.padding, t.dilation, t.groups)
    return Conv2d(*args, bias=t.bias is not None, dtype=_dtype(t))


def _pool(t: Any) -> dict[str, Any]:
    if t.ceil_mode:
        raise _unsupported(t, "ceil_mode=True; minigrad's pools round the output size down")
    return {"kernel_size": t.kernel_size, "stride": t.stride, "padding": t.padding}


def _max_pool(t: Any) -> MaxPool2d:
    if t.return_indices:
        raise _unsupported(t, "return_indices=True; minigrad's MaxPool2d returns the values only")
    return MaxPool2d(dilation=t.dilation, **_pool(t))


def _avg_pool(t: Any) -> AvgPool2d:
    padded = t.padding not in (0, (0, 0))
    if t.divisor_override is not None or (padded and not t.count_include_pad):
        raise _unsupported(t, "minigrad's AvgPool2d divides by kH kW (count_include_pad=True, no divisor_override)")
    return AvgPool2d(**_pool(t))


def _softmax(t: Any) -> Softmax:
    if t.dim is None:
        raise _unsupported(t, "Softmax without dim (torch's implicit choice is deprecated); give it dim=")
    return Softmax(dim=t.dim)


def _batch_norm(cls: type) -> Callable[[Any], Module]:
    def build(t: Any) -> Module:
        return cls(t.num_features, t.eps, t.momentum, t.affine, t.track_running_stats, dtype=_dtype(t))

    return build


FROM_TORCH: dict[str, Callable[[Any], Module]] = {
    "Linear": lambda t: Linear(t.in_features, t.out_features, bias=t.bias is not None, dtype=_dtype(t)),
    "Sigmoid": lambda t: Sigmoid(),
    "Tanh": lambda t: Tanh(),
    "ReLU": lambda t: ReLU(),
    "LeakyReLU": lambda t: LeakyReLU(t.negative_slope),
    "Softmax": _softmax,
    "Flatten": lambda t: Flatten(t.start_dim, t.end_dim),
    "Identity": lambda t: Identity(),
    "Dropout": lambda t: Dropout(t.p),
    "Conv2d": _conv,
    "MaxPool2d": _max_pool,
    "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool2d": lambda t: AdaptiveAvgPool2d(t.output_size),
    "BatchNorm1d": _batch_norm(BatchNorm1d),
    "BatchNorm2d": _batch_norm(BatchNorm2d),
    "LayerNorm": lambda t: LayerNorm(
        t.normalized_shape, t.eps, t.elementwise_affine, bias=t.bias is not None, dtype=_dtype(t)
    ),
    "TorchAdd": lambda t: Add(),
    "TorchConcat": lambda t: Concat(t.axis),
}


def _from_graph(torch: Any, t: Any, where: str) -> Graph:
    """A ``TorchGraph`` (what ``to_torch`` makes of a Graph) back into a ``Graph`` with the same node names."""
    nodes = {name: Input(shape, name=name) for name, shape in t.input_specs}
    inputs = list(nodes.values())
    for name, parents in t.plan:
        module = _from_torch(torch, t.get_submodule(name), f"{where}.{name}")
        nodes[name] = module(*(nodes[p] for p in parents))
        nodes[name].name = name
    return Graph(inputs, [nodes[o] for o in t.output_names])


def _from_torch(torch: Any, t: Any, where: str) -> Module:
    """The minigrad module of ``t`` (its children converted), without weights."""
    from .torch_graph import TorchGraph

    name = type(t).__name__
    if type(t) is torch.nn.Sequential:
        out: Module = Sequential(*(_from_torch(torch, c, f"{where}.{k}") for k, c in t.named_children()))
    elif isinstance(t, TorchGraph):
        out = _from_graph(torch, t, where)
    elif type(t).__module__.startswith(("torch.nn", "minigrad.interop")) and name in FROM_TORCH:
        out = FROM_TORCH[name](t)
        out.load_state_dict({k: v.detach().cpu() for k, v in t.state_dict().items()})  # tensors as they are
    else:
        known = ", ".join(sorted(FROM_TORCH))
        raise ConversionError(
            f"mg.interop.from_torch: {name} ({where}) has no minigrad form; convertible: Sequential, {known} "
            "(for a model with its own forward: torch.onnx.export it, then mg.onnx.load)"
        )
    out.training = t.training
    return out


def from_torch(module: Any) -> Module:
    """A minigrad ``Module`` computing what the torch ``module`` computes, with copies of its weights and buffers.

    ``torch.nn.Sequential`` becomes ``Sequential``, a ``TorchGraph`` (from ``to_torch``) a ``Graph``,
    every ``torch.nn`` layer of the table its minigrad namesake, in the same dtype and mode, its
    parameters and buffers copied. The children of a ``torch.nn.Sequential`` built from an
    ``OrderedDict`` are numbered ``"0"``, ``"1"``, ... here. Anything else raises ``ConversionError``
    naming the module.
    """
    torch = require_torch("mg.interop.from_torch")
    if not isinstance(module, torch.nn.Module):
        raise ConversionError(f"mg.interop.from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    return _from_torch(torch, module, type(module).__name__)
