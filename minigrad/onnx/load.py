"""``load(path) -> Module``: an ONNX file as a minigrad network, to view, check and train.

The file's nodes are read in order (ONNX stores them topologically sorted). A node whose inputs
are all constants is evaluated at once (``constants.fold``); any other becomes a minigrad module
(``import_ops.IMPORTERS``) applied to symbolic ``mg.Input`` nodes, so the shapes are checked as
the graph is built. A chain (one input, each node feeding the next) loads as a ``Sequential``,
anything else as a ``Graph``, its nodes named after the file's (``/0/Conv`` -> ``0_Conv``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..containers import Sequential
from ..errors import ConversionError, GraphError, ShapeError
from ..graph import Graph, Input, Node
from ..module import Module
from .constants import fold, shape_of
from .import_ops import IMPORTERS, Op
from .spec import require_onnx

RESERVED = {"inputs", "outputs", "nodes", "input_shape"} | set(dir(Graph))


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded, tensors as arrays)."""
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, float):  # stored as float32: 1e-5 reads 9.99999974e-06; keep its shortest form
            v = float(str(np.float32(v)))
        elif isinstance(v, onnx.TensorProto):
            v = onnx.numpy_helper.to_array(v)
        out[a.name] = v
    return out


def _input_shape(onnx: Any, value: Any, where: Path) -> tuple[int, ...]:
    """The static shape (batch excluded) of a graph input; an error for another dynamic dimension."""
    t = value.type.tensor_type
    if t.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        raise ConversionError(f"mg.onnx.load: {where}: input {value.name!r} is not floating (type {t.elem_type})")
    dims = list(t.shape.dim)[1:]
    if not t.HasField("shape") or not dims or any(not d.HasField("dim_value") for d in dims):
        raise ConversionError(
            f"mg.onnx.load: {where}: input {value.name!r} needs a shape (N, ...) static after the batch, got "
            f"{[d.dim_value or d.dim_param or '?' for d in t.shape.dim]}"
        )
    return tuple(int(d.dim_value) for d in dims)


class _Names:
    """Graph node names from the file's node names: ``/layer1/conv/Conv`` -> ``layer1_conv_Conv``, unique."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, raw: str, op: str) -> str:
        base = re.sub(r"[^0-9A-Za-z_]", "_", raw.strip("/")) or op.lower()
        if base in RESERVED:
            base = f"{op.lower()}_{base}"
        name, i = base, 1
        while name in self.taken or name in RESERVED:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name


def _import_node(onnx: Any, node: Any, values: dict[str, Any], uses: Counter, names: _Names, context: dict) -> None:
    """Evaluate ``node`` (constant inputs) or turn it into a module applied to its inputs; store its outputs.

    ``context`` holds what every ``Op`` is told: the file's ``opset`` and fixed ``batch`` size (or None).
    """
    ins = [values.get(t) if t else None for t in node.input]
    missing = [t for t, v in zip(node.input, ins) if t and t not in values]
    label = node.name or (node.output[0] if node.output else "")  # names are optional in ONNX
    where = f"mg.onnx.load: node {label!r} ({node.op_type})"
    if missing:
        raise ConversionError(f"{where}: input(s) {missing} are produced by no earlier node")
    attrs = _attrs(onnx, node)
    if node.op_type == "Shape" and isinstance(ins[0], Node):
        values[node.output[0]] = shape_of(ins[0].shape, attrs)
        return
    if not any(isinstance(v, Node) for v in ins):
        try:
            value = fold(node.op_type, ins, attrs)
        except (ValueError, IndexError, TypeError, KeyError) as exc:
            raise ConversionError(f"{where}: could not evaluate it on its constant inputs ({exc})") from None
        if value is None:
            raise ConversionError(f"{where}: operator {node.op_type} on constants is not supported")
        values[node.output[0]] = value
        return
    importer = IMPORTERS.get(node.op_type)
    if importer is None:
        raise ConversionError(
            f"{where}: operator {node.op_type} is not supported; supported: {', '.join(sorted(IMPORTERS))}"
        )
    extra = [t for t in node.output[1:] if t and uses[t]]
    if extra:
        raise ConversionError(f"{where}: its extra output(s) {extra} are used; minigrad's module has one output")
    op = Op(node.op_type, label, attrs, ins, [uses[t] for t in node.input], **context)
    result = importer(op)
    if not isinstance(result, Node):
        try:
            result = result(*(v for v in ins if isinstance(v, Node)))
        except (GraphError, ShapeError) as exc:
            raise ConversionError(f"{where}: {exc}") from None
        result.name = names(label, node.op_type)
    values[node.output[0]] = result


def _as_sequential(inputs: list[Node], outputs: list[Node]) -> Sequential | None:
    """The modules of a chain from the one input to the one output, or ``None`` if the graph branches."""
    if len(inputs) != 1 or len(outputs) != 1:
        return None
    chain, node = [], outputs[0]
    while node is not inputs[0]:
        if node.module is None or len(node.parents) != 1:
            return None
        chain.append(node.module)
        node = node.parents[0]
    return Sequential(*reversed(chain)) if chain else None


def from_model_proto(proto: Any, where: Any = "<model>") -> Module:
    """The minigrad network of an ``onnx.ModelProto`` (see :func:`load`)."""
    onnx = require_onnx("mg.onnx.load")
    graph = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 17)
    values: dict[str, Any] = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    inputs, batch = [], None
    for v in graph.input:
        if v.name not in values:  # before IR 4, initializers were listed among the inputs too
            values[v.name] = Input(_input_shape(onnx, v, where), name=v.name)
            inputs.append(values[v.name])
            batch = batch or v.type.tensor_type.shape.dim[0].dim_value or None  # a file traced with a fixed batch
    uses = Counter(t for n in graph.node for t in n.input)
    uses.update(o.name for o in graph.output)
    context = {"opset": opset, "batch": batch}
    names = _Names()
    names.taken.update(i.name for i in inputs)
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise ConversionError(f"mg.onnx.load: node {node.name!r}: operator domain {node.domain!r} is not supported")
        _import_node(onnx, node, values, uses, names, context)
    outputs = [values[o.name] for o in graph.output]
    if not all(isinstance(o, Node) and o.module is not None for o in outputs):
        raise ConversionError(f"mg.onnx.load: {where}: every output must be computed from the inputs by an operator")
    model = _as_sequential(inputs, outputs)
    if model is None:
        return Graph(inputs, outputs)
    model.input_shape = inputs[0].shape  # what summary() and draw() infer the input from
    return model


def load(path: str | os.PathLike) -> Module:
    """The ONNX file at ``path`` as a ``Sequential`` (a chain) or ``Graph``, with its weights, in training mode.

    Reads what ``mg.onnx.export`` writes and what ``torch.onnx.export`` writes for the same layers
    (Gemm or MatMul + Add, Conv, pools, BatchNormalization, Flatten or the Reshape of ``x.view(N,
    -1)``, ...). A loaded ``Sequential`` keeps the file's input shape as ``.input_shape``. An
    unsupported operator raises ``ConversionError`` naming it and its node.
    """
    onnx = require_onnx("mg.onnx.load")
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"mg.onnx.load: {path}: no such file")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
        raise ConversionError(f"mg.onnx.load: {path}: not a readable ONNX file ({exc})") from None
    return from_model_proto(proto, path)
