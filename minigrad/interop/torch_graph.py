"""The PyTorch modules a ``Graph`` becomes: ``TorchGraph`` (the container), ``TorchAdd`` and ``TorchConcat``.

Imported by ``to_torch`` and ``from_torch`` only, so that ``import minigrad`` never imports torch.
``TorchGraph`` registers each node's module under the node's name, so its ``state_dict`` keys are
the Graph's (``"linear_1.weight"``); its ``forward`` runs the nodes in the Graph's order, and ``to_fx()``
writes the same nodes as a ``torch.fx.GraphModule`` (one placeholder per input, one ``call_module``
per node), for torch's graph tools.
"""

from __future__ import annotations

from typing import Any

import torch


class TorchAdd(torch.nn.Module):
    """``mg.Add``: the elementwise sum of its inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class TorchConcat(torch.nn.Module):
    """``mg.Concat(axis)``: ``torch.cat`` along ``axis``."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class TorchGraph(torch.nn.Module):
    """A minigrad ``Graph`` in PyTorch: named inputs (with their shapes), nodes ``(name, module, parents)``, outputs.

    ``forward(*xs)`` takes one tensor per input and returns one tensor, or a tuple for several outputs.
    """

    def __init__(
        self,
        inputs: list[tuple[str, tuple[int, ...]]],
        nodes: list[tuple[str, torch.nn.Module, list[str]]],
        outputs: list[str],
    ) -> None:
        super().__init__()
        self.input_specs = [(name, tuple(shape)) for name, shape in inputs]
        self.plan = [(name, list(parents)) for name, _, parents in nodes]
        self.output_names = list(outputs)
        for name, module, _ in nodes:
            self.add_module(name, module)

    def forward(self, *xs: torch.Tensor) -> Any:
        values = {name: x for (name, _), x in zip(self.input_specs, xs)}
        for name, parents in self.plan:
            values[name] = self.get_submodule(name)(*(values[p] for p in parents))
        outs = tuple(values[o] for o in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def to_fx(self) -> torch.fx.GraphModule:
        """The same network as a ``torch.fx.GraphModule``, sharing this module's children (and weights)."""
        graph = torch.fx.Graph()
        values = {name: graph.placeholder(name) for name, _ in self.input_specs}
        for name, parents in self.plan:
            values[name] = graph.call_module(name, tuple(values[p] for p in parents))
        outs = tuple(values[o] for o in self.output_names)
        graph.output(outs[0] if len(outs) == 1 else outs)
        return torch.fx.GraphModule(self, graph, class_name="TorchGraphFx")
