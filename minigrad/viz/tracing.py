"""Walk a module tree into what a picture or a table shows: leaves, edges and clusters.

``Sequential`` and ``Graph`` are opened (their children traced, inside a cluster when
nested); every other module is one leaf. Each edge carries the shape crossing it and,
when the model retained its last backward (``model.retain_grad()``), the gradient
crossing it the other way (``None``: not recorded, or not computed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..containers import Sequential
from ..errors import MinigradError
from ..graph import Graph
from ..module import Module

Shape = tuple  # without the batch dimension; None when unknown
Source = tuple[str, "Shape | None", Any]  # node id, shape, gradient crossing the edge from it


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "(N, ?)"
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


@dataclass
class Leaf:
    """One drawn module: its node id, path name, the module and its output shape."""

    node_id: str
    name: str
    module: Module
    out_shape: Shape | None


@dataclass
class Edge:
    src: str
    dst: str
    shape: Shape | None
    grad: Any = None


@dataclass
class Cluster:
    name: str
    label: str
    members: list[Any] = field(default_factory=list)  # node ids and sub-clusters


def infer_input_shape(module: Module) -> Shape | None:
    """The input shape of the first leaf that declares one (``Linear.in_features``)."""
    shape = getattr(module, "input_shape", None)
    if shape is not None:
        return tuple(shape)
    for m in module.modules():
        if hasattr(m, "in_features"):
            return (m.in_features,)
        if m._modules:
            continue
        return None
    return None


def _output_shape(module: Module, shapes: list[Shape | None]) -> Shape | None:
    """``module.output_shape`` of the input shapes; ``None`` when unknown or not computable."""
    if any(s is None for s in shapes):
        return None
    try:
        return tuple(module.output_shape(*shapes))
    except MinigradError:
        raise
    except Exception:
        return None


class Tracer:
    """Walks a module tree, recording leaves, edges and clusters for drawing or the summary table."""

    def __init__(self, expand_nested: bool = True) -> None:
        self.leaves: list[Leaf] = []
        self.edges: list[Edge] = []
        self.root = Cluster("", "")
        self.expand = expand_nested
        self.depth: dict[str, int] = {}
        self.ids = 0
        self.inputs: list[tuple[str, Shape | None]] = []
        self.input_names: list[str] = []
        self.outputs: list[tuple[str, Shape | None]] = []

    def new_id(self) -> str:
        self.ids += 1
        return f"n{self.ids}"

    def add_input(self, name: str, shape: Shape | None) -> Source:
        node_id = self.new_id()
        self.depth[node_id] = 0
        self.inputs.append((node_id, shape))
        self.input_names.append(name)
        return node_id, shape, None

    def trace(
        self, module: Module, name: str, srcs: list[Source], cluster: Cluster, top: bool = False
    ) -> list[tuple[str, Shape | None]]:
        """Add ``module`` fed by ``srcs``; return its outputs (node id, shape).

        Containers are opened (their children drawn) when ``expand_nested`` or at the top level.
        """
        opened = self.expand or top
        if opened and isinstance(module, Graph):
            return self.trace_graph(module, name, srcs, cluster)
        if opened and isinstance(module, Sequential) and len(module):
            return self.trace_sequential(module, name, srcs, cluster)
        return [self.add_leaf(module, name, srcs, cluster)]

    def add_leaf(self, module: Module, name: str, srcs: list[Source], cluster: Cluster) -> tuple[str, Shape | None]:
        node_id = self.new_id()
        cluster.members.append(node_id)
        out_shape = _output_shape(module, [s for _, s, _ in srcs])
        self.depth[node_id] = 1 + max((self.depth.get(s, 0) for s, _, _ in srcs), default=0)
        self.leaves.append(Leaf(node_id, name, module, out_shape))
        for src, shape, g in srcs:
            self.edges.append(Edge(src, node_id, shape, g))
        return node_id, out_shape

    def _sub_cluster(self, module: Module, name: str, cluster: Cluster) -> Cluster:
        """A dashed cluster for a nested container (the top-level one, named "", draws none)."""
        if not name:
            return cluster
        inner = Cluster(name, f"{name} ({type(module).__name__})")
        cluster.members.append(inner)
        return inner

    def trace_sequential(self, seq: Sequential, name: str, srcs: list[Source], cluster: Cluster):
        """Chain the children; edge i carries ``seq.grad_flow[i]``, the gradient w.r.t. child i's input."""
        inner = self._sub_cluster(seq, name, cluster)
        flow = getattr(seq, "grad_flow", None)
        current = srcs
        for i, child in enumerate(seq):
            grad = flow[i] if flow is not None else (current[0][2] if len(current) == 1 else None)
            current = [(node, shape, grad) for node, shape, _ in current]
            outs = self.trace(child, f"{name}.{i}" if name else str(i), current, inner)
            current = [(node, shape, None) for node, shape in outs]
        return [(node, shape) for node, shape, _ in current]

    def trace_graph(self, graph: Graph, name: str, srcs: list[Source], cluster: Cluster):
        """Every node of ``graph`` fed by its parents; the edge parent -> node carries ``grad_flow[(p, n)]``.

        Positions are ``Graph``'s: its inputs first, then its nodes in topological order.
        """
        inner = self._sub_cluster(graph, name, cluster)
        position = {id(n): i for i, n in enumerate(graph.inputs + graph.nodes)}
        traced: list[Any] = [(s[0], s[1]) for s in srcs] + [None] * len(graph.nodes)
        flow = getattr(graph, "grad_flow", None) or {}
        for node in graph.nodes:
            pos = position[id(node)]
            parents = [position[id(p)] for p in node.parents]
            child_srcs = [(*traced[p], flow.get((p, pos))) for p in parents]
            label = f"{name}.{node.name}" if name else node.name
            traced[pos] = self.trace(node.module, label, child_srcs, inner)[0]
        return [traced[position[id(o)]] for o in graph.outputs]


def trace_model(module: Module, input_shape: Shape | int | None = None, expand_nested: bool = True) -> Tracer:
    """Trace ``module`` from its input node(s): a Graph's named inputs, else one ``input``."""
    tracer = Tracer(expand_nested)
    if isinstance(module, Graph):
        srcs = [tracer.add_input(n.name, n.shape) for n in module.inputs]
    else:
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (int(input_shape),)
        shape = tuple(input_shape) if input_shape is not None else infer_input_shape(module)
        srcs = [tracer.add_input("input", shape)]
    tracer.outputs = tracer.trace(module, "", srcs, tracer.root, top=True)
    return tracer
