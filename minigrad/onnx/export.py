"""``export(model, path, input_shape)``: a ``Sequential`` or ``Graph`` written as an ONNX file.

The containers are opened (a ``Sequential`` inside a ``Graph`` inside a ``Sequential`` is fine) and
every leaf module is written by its function in ``export_ops.EXPORTERS``. Names come from the model:
a leaf's nodes are named by its path (``"0"``, ``"block.linear_1"``), its initializers by its
state_dict keys (``"0.weight"``), the inputs by the ``Graph``'s input names (``"input"`` for a
``Sequential``) and the outputs by the last nodes' names (``"output"`` for a ``Sequential``).
Every tensor is ``(N, ...)`` with ``N`` dynamic, in float32.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..containers import Sequential
from ..errors import ConversionError, ShapeError
from ..files import atomic_write
from ..graph import Graph
from ..module import Module
from ..viz.tracing import infer_input_shape
from .export_ops import EXPORTERS
from .spec import BATCH, IR_VERSION, OPSET, require_onnx

Shape = tuple[int, ...]


class Builder:
    """The graph being written: nodes and initializers, with names kept unique."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: set[str] = set()

    def unique(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``, ... when taken (node and tensor names share this pool)."""
        candidate, i = name, 1
        while candidate in self.names:
            i += 1
            candidate = f"{name}_{i}"
        self.names.add(candidate)
        return candidate

    def weight(self, name: str, array: np.ndarray) -> str:
        """Add ``array`` as an initializer named ``name`` (floating arrays in float32); returns its name."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self.unique(name.lstrip("."))  # a bare layer's own keys: "weight", not ".weight"
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """Add node ``op`` named ``name`` (``op`` lower-cased for ``""``), its one output tensor named alike."""
        name = self.unique(name or op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def rename(self, old: str, new: str) -> None:
        """Call tensor ``old`` ``new`` wherever it is produced or read (to name the graph's outputs)."""
        for n in self.nodes:
            for field in (n.input, n.output):
                for i, t in enumerate(field):
                    if t == old:
                        field[i] = new


def emit(b: Builder, module: Module, x: list[str], shapes: list[Shape], name: str) -> tuple[list[str], list[Shape]]:
    """Write ``module`` applied to tensors ``x`` of ``shapes``; returns its output tensors and shapes."""
    if isinstance(module, Sequential):
        for i, child in enumerate(module):
            x, shapes = emit(b, child, x, shapes, f"{name}.{i}" if name else str(i))
        return x, shapes
    if isinstance(module, Graph):
        return _emit_graph(b, module, x, name)
    fn = EXPORTERS.get(type(module))
    if fn is None:
        known = ", ".join(sorted(t.__name__ for t in EXPORTERS))
        raise ConversionError(
            f"mg.onnx.export: {module!r} ({name or 'the model'}) has no ONNX form; exportable modules: "
            f"Sequential, Graph, {known}"
        )
    out_shape = tuple(module.output_shape(*shapes))
    return [fn(b, module, x, shapes, name)], [out_shape]


def _emit_graph(b: Builder, graph: Graph, x: list[str], prefix: str) -> tuple[list[str], list[Shape]]:
    """The nodes of ``graph`` in its topological order, each named by its node name."""
    values: dict[int, tuple[str, Shape]] = {id(n): (t, n.shape) for n, t in zip(graph.inputs, x)}
    for node in graph.nodes:
        ins = [values[id(p)] for p in node.parents]
        name = f"{prefix}.{node.name}" if prefix else node.name
        outs, shapes = emit(b, node.module, [t for t, _ in ins], [s for _, s in ins], name)
        values[id(node)] = (outs[0], shapes[0])
    return [values[id(o)][0] for o in graph.outputs], [values[id(o)][1] for o in graph.outputs]


def _input_shapes(model: Module, input_shape: Any) -> list[Shape]:
    """The shapes (batch excluded) of the model's inputs: a Graph's own, else ``input_shape`` or its example."""
    if isinstance(model, Graph):
        return [n.shape for n in model.inputs]
    if isinstance(input_shape, np.ndarray):
        input_shape = input_shape.shape[1:]  # an example batch
    elif isinstance(input_shape, (int, np.integer)):
        input_shape = (int(input_shape),)
    shape = tuple(input_shape) if input_shape is not None else infer_input_shape(model)
    if shape is None:
        raise ShapeError(
            f"mg.onnx.export: cannot infer the input shape of {type(model).__name__} (its first layer declares "
            "none); pass input_shape=(C, H, W) without the batch dimension, or an example batch"
        )
    return [tuple(int(d) for d in shape)]


def _value(onnx: Any, name: str, shape: Shape) -> Any:
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [BATCH, *shape])


def _name_outputs(b: Builder, outs: list[str], names: list[str], inputs: set[str]) -> list[str]:
    """Give each output tensor its graph output name (an Identity node where a tensor is an input or repeats)."""
    done: list[str] = []
    for t, want in zip(outs, names):
        if want in done or (want != t and want in b.names):  # repeated, or another tensor's name
            want = b.unique(want)
        b.names.add(want)
        if t == want:
            done.append(t)
            continue
        shared = t in done or t in names or outs.count(t) > 1  # another output is this tensor, or wants its name
        if shared or t in inputs or t in (i.name for i in b.initializers):
            b.nodes.append(b.onnx.helper.make_node("Identity", [t], [want], name=b.unique(f"{want}_identity")))
        else:
            b.rename(t, want)
        done.append(want)
    return done


def to_model_proto(model: Module, input_shape: Any = None) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (see :func:`export`), checked by ``onnx.checker``."""
    onnx = require_onnx("mg.onnx.export")
    if not isinstance(model, Module):
        raise ConversionError(f"mg.onnx.export: expected a minigrad Module, got {type(model).__name__}")
    shapes = _input_shapes(model, input_shape)
    b = Builder(onnx)
    in_names = [n.name for n in model.inputs] if isinstance(model, Graph) else ["input"]
    for n in in_names:
        b.names.add(n)
    try:
        model.output_shape(*shapes)
    except ShapeError as exc:
        raise ShapeError(f"mg.onnx.export: input shape {shapes} does not fit the model: {exc}") from None
    outs, out_shapes = emit(b, model, list(in_names), shapes, "")
    out_names = [o.name for o in model.outputs] if isinstance(model, Graph) else ["output"]
    out_names = _name_outputs(b, outs, out_names, set(in_names))
    graph = onnx.helper.make_graph(
        b.nodes,
        type(model).__name__,
        [_value(onnx, n, s) for n, s in zip(in_names, shapes)],
        [_value(onnx, n, s) for n, s in zip(out_names, out_shapes)],
        b.initializers,
    )
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)], producer_name="minigrad", ir_version=IR_VERSION
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: Module, path: str | os.PathLike, input_shape: Any = None) -> Path:
    """Write ``model``'s inference form (eval mode: Dropout dropped, BatchNorm's running statistics) to ``path``.

    ``input_shape`` is one example's shape without the batch dimension, ``(1, 28, 28)``, or an
    example batch (an array ``(N, ...)``); it can be omitted for a ``Graph`` (its inputs have
    shapes) and for a network whose first layer is ``Linear`` (its ``in_features``). The batch
    dimension of the file is dynamic. A module with no ONNX form raises ``ConversionError``
    naming it. The write is atomic, as ``mg.save``'s. Returns the path.
    """
    data = to_model_proto(model, input_shape).SerializeToString()
    return atomic_write(path, lambda f: f.write(data))  # a crash half-way leaves any older file intact
