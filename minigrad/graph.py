"""The functional API: symbolic ``Input`` nodes, ``Add`` and ``Concat``, and the ``Graph`` container.

    x = mg.Input(784)
    h = mg.Sigmoid()(mg.Linear(784, 30)(x))       # calling a module on a node records an edge
    y = mg.Linear(30, 10)(mg.Add()(h, mg.Linear(784, 30)(x)))
    model = mg.Graph(inputs=x, outputs=y)

Shapes are inferred while the graph is built, so a mismatch is an error at the
line that made it. ``Graph.forward`` runs the nodes in topological order;
``backward`` runs them in reverse and sums the gradients of a node whose output
feeds several consumers (the multivariate chain rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .containers import annotate
from .errors import GraphError, ShapeError, describe
from .layers import as_axis, as_batch
from .module import Module, Symbolic, build_module


def _fmt(shape: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(map(str, shape)) + ")"


class Node(Symbolic):
    """A symbolic tensor: the output of ``module`` applied to ``parents`` (an ``Input`` has no module).

    ``shape`` excludes the batch dimension. ``name`` names the node in the Graph's
    ``state_dict`` keys and pictures; it is chosen automatically when not given.
    """

    __slots__ = ("module", "parents", "shape", "name")

    def __init__(self, module: Module | None, parents: tuple[Node, ...], shape: tuple[int, ...], name: str | None):
        self.module = module
        self.parents = parents
        self.shape = shape
        self.name = name

    def apply(self, module: Module, inputs: tuple[Any, ...]) -> Node:
        """What ``module(node, ...)`` does: check the inputs, infer the output shape, return a new node."""
        if not all(isinstance(i, Node) for i in inputs):
            raise GraphError(f"{module!r}: mix of symbolic nodes and arrays; pass only nodes when building a Graph")
        try:
            shape = tuple(module.output_shape(*(i.shape for i in inputs)))
        except TypeError as exc:
            raise GraphError(f"{module!r}: called on {len(inputs)} node(s): {exc}") from None
        except ShapeError as exc:
            sources = ", ".join(_source(i) for i in inputs)
            raise GraphError(f"{exc}; building the graph, its input(s): {sources}") from None
        return Node(module, tuple(inputs), shape, None)

    def __repr__(self) -> str:
        what = "Input" if self.module is None else type(self.module).__name__
        return f"Node({self.name or what}, shape={_fmt(self.shape)})"


def _source(node: Node) -> str:
    """How an error names a node: its name if set, else the module that produces it."""
    if node.name:
        return f"node {node.name!r} {_fmt(node.shape)}"
    if node.module is None:
        return f"Input {_fmt(node.shape)}"
    return f"the output {_fmt(node.shape)} of {node.module!r}"


def Input(shape: int | tuple[int, ...], name: str | None = None) -> Node:  # noqa: N802 (reads like a layer)
    """A symbolic input of ``shape`` features (the batch dimension is implicit): ``Input(784)``."""
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if not dims or any(not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1 for d in dims):
        raise GraphError(f"Input: shape must be positive ints, got {shape!r}")
    return Node(None, (), tuple(int(d) for d in dims), name)


def _same_batch(module: Module, arrays: list[np.ndarray]) -> None:
    if any(a.ndim == 0 for a in arrays):
        raise ShapeError(f"{module!r}: expected batches (N, ...), got {', '.join(describe(a) for a in arrays)}")
    if len({a.shape[0] for a in arrays}) != 1:
        raise ShapeError(f"{module!r}: inputs have different batch sizes {[a.shape[0] for a in arrays]}")


class Add(Module):
    """Elementwise sum of inputs of one shape, (N, ...) each (a residual connection).

    Backward: every input gets ``grad_output`` itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self._n: int | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, *xs: Any) -> np.ndarray:
        """Elementwise sum of two or more arrays of one shape."""
        arrays = [as_batch(self, x) for x in xs]
        _same_batch(self, arrays)
        self.output_shape(*(a.shape[1:] for a in arrays))
        self._n, self._shape = len(arrays), arrays[0].shape
        out = arrays[0] + arrays[1]
        for a in arrays[2:]:
            out += a
        return out

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, ...]:
        """One copy of ``grad_output`` per input (the same array: do not modify it in place)."""
        g = self._check_grad(grad_output, self._shape)
        return (g,) * self._n

    def output_shape(self, *shapes: tuple[int, ...]) -> tuple[int, ...]:
        if len(shapes) < 2:
            raise ShapeError(f"{self!r}: needs at least two inputs, got {len(shapes)}")
        for s in shapes[1:]:
            if tuple(s) != tuple(shapes[0]):
                raise ShapeError(f"{self!r}: {_fmt(shapes[0])} and {_fmt(s)} differ")
        return tuple(shapes[0])


class Concat(Module):
    """Join inputs along a feature ``axis`` (default the last). Backward splits ``grad_output`` back.

    ``Concat(axis=1)`` joins images (N, C_i, H, W) along the channel axis into (N, sum C_i, H, W),
    as an Inception block does; every other dimension must agree.
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = as_axis("Concat", "axis", axis)
        if self.axis == 0:
            raise GraphError("Concat: axis 0 is the batch axis; concatenate features (axis >= 1 or negative)")
        self._sizes: list[int] | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, *xs: Any) -> np.ndarray:
        """Concatenate along ``axis``; keeps the sizes to split the gradient."""
        arrays = [as_batch(self, x) for x in xs]
        _same_batch(self, arrays)
        self.output_shape(*(a.shape[1:] for a in arrays))
        self._sizes = [a.shape[self.axis] for a in arrays]
        out = np.concatenate(arrays, axis=self.axis)
        self._shape = out.shape
        return out

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, ...]:
        """Split ``grad_output`` (the shape of the last output) into one gradient per input."""
        g = self._check_grad(grad_output, self._shape)
        return tuple(np.split(g, np.cumsum(self._sizes)[:-1], axis=self.axis))

    def output_shape(self, *shapes: tuple[int, ...]) -> tuple[int, ...]:
        if len(shapes) < 2:
            raise ShapeError(f"{self!r}: needs at least two inputs, got {len(shapes)}")
        nd = len(shapes[0])
        axis = self.axis - 1 if self.axis > 0 else self.axis  # shapes here exclude the batch axis
        if not -nd <= axis < nd:
            raise ShapeError(f"{self!r}: axis {self.axis} out of range for inputs {_fmt(shapes[0])}")
        ax = axis % nd
        for s in shapes[1:]:
            if len(s) != nd or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ax):
                raise ShapeError(
                    f"{self!r}: {_fmt(shapes[0])} and {_fmt(s)} differ outside axis {self.axis} "
                    f"(only the sizes along axis {self.axis} may differ)"
                )
        out = list(shapes[0])
        out[ax] = sum(s[ax] for s in shapes)
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


def _check_node(node: Any, path: set[int]) -> None:
    """Enter a node while sorting the graph: a Node whose parents are Nodes, not one of its own ancestors."""
    parents = getattr(node, "parents", None)
    if not isinstance(node, Node) or not isinstance(parents, tuple) or not all(isinstance(p, Node) for p in parents):
        raise GraphError(f"Graph: expected a Node whose parents are a tuple of Nodes, got {node!r} (edited .parents?)")
    if id(node) in path:
        raise GraphError(f"Graph: {node!r} is its own ancestor: the nodes form a cycle (edited Node.parents?)")
    path.add(id(node))


def _as_nodes(x: Any, what: str) -> list[Node]:
    nodes = list(x) if isinstance(x, (list, tuple)) else [x]
    if not nodes or not all(isinstance(n, Node) for n in nodes):
        raise GraphError(f"Graph: {what} must be a node or a list of nodes (from mg.Input and module calls)")
    return nodes


class Graph(Module):
    """A network as a directed acyclic graph of modules, built with the functional API.

    ``forward(*xs)`` takes one array per input (in ``inputs`` order) and returns one
    array, or a tuple for several outputs. ``backward(*grads)`` takes one gradient per
    output and returns the input gradient, or a tuple of them for several inputs.
    Parameters are keyed by node name: ``"linear_1.weight"``.
    """

    needs_input_grad = False

    def __init__(self, inputs: Any, outputs: Any) -> None:
        super().__init__()
        self.inputs = _as_nodes(inputs, "inputs")
        self.outputs = _as_nodes(outputs, "outputs")
        if len(set(map(id, self.inputs))) != len(self.inputs):
            raise GraphError("Graph: the same Input is listed twice in inputs")
        for node in self.inputs:
            if node.module is not None:
                raise GraphError(f"Graph: inputs must be mg.Input nodes, got {node!r}")
        self.nodes = self._topological_order()
        self._name_nodes()
        for node in self.nodes:
            self.add_module(node.name, node.module)
        self.input_shape = self.inputs[0].shape if len(self.inputs) == 1 else None
        # The execution plan refers to values by position (inputs first, then nodes in topological
        # order), not by id(), so deep copies of the Graph (as gradcheck makes) run correctly.
        position = {id(n): i for i, n in enumerate(self.inputs + self.nodes)}
        self._plan = [
            (node.module, tuple(position[id(p)] for p in node.parents), position[id(node)]) for node in self.nodes
        ]
        self._names = [n.name for n in self.inputs + self.nodes]
        self._output_positions = [position[id(o)] for o in self.outputs]

    def _topological_order(self) -> list[Node]:
        """Nodes that the outputs depend on, each after its parents; refuses shared modules and foreign inputs."""
        order: list[Node] = []
        done: set[int] = set()
        allowed = set(map(id, self.inputs))
        owner: dict[int, Node] = {}
        path: set[int] = set()  # nodes being expanded: meeting one again is a cycle
        for out in self.outputs:
            stack: list[tuple[Node, bool]] = [(out, False)]
            while stack:
                node, expanded = stack.pop()
                if expanded:
                    path.discard(id(node))
                    done.add(id(node))
                    order.append(node)
                    continue
                if id(node) in done:
                    continue
                _check_node(node, path)
                if node.module is None:
                    if id(node) not in allowed:
                        raise GraphError(
                            f"Graph: output {out!r} depends on {node!r}, which is not among the inputs "
                            "given to Graph(inputs=...)"
                        )
                    done.add(id(node))
                    continue
                if owner.setdefault(id(node.module), node) is not node:
                    raise GraphError(
                        f"Graph: the module {node.module!r} is used at two places; weight sharing through one "
                        "module instance is not supported (its forward cache would be overwritten). Create two "
                        "modules and give the second the first's Parameters (b.weight = a.weight) to share weights."
                    )
                stack.append((node, True))
                stack.extend((p, False) for p in reversed(node.parents) if id(p) not in done)
        used = {id(p) for n in order for p in n.parents} | set(map(id, self.outputs))
        unused = [n for n in self.inputs if id(n) not in used]
        if unused:
            raise GraphError(f"Graph: no output depends on input(s) {unused}")
        return order

    def _name_nodes(self) -> None:
        taken: set[str] = set()
        for i, node in enumerate(self.inputs):
            node.name = node.name or ("input" if len(self.inputs) == 1 else f"input_{i + 1}")
            taken.add(node.name)
        for node in self.nodes:
            if node.name is not None:
                if node.name in taken or "." in node.name or hasattr(self, node.name):
                    raise GraphError(
                        f"Graph: node name {node.name!r} is used twice, contains '.', or is a Graph attribute"
                    )
                taken.add(node.name)
        counts: dict[str, int] = {}
        for node in self.nodes:
            if node.name is None:
                base = type(node.module).__name__.lower()
                while True:
                    counts[base] = counts.get(base, 0) + 1
                    candidate = f"{base}_{counts[base]}"
                    if candidate not in taken and not hasattr(self, candidate):
                        break
                node.name = candidate
                taken.add(candidate)

    # -- the contract -------------------------------------------------------------------------
    def forward(self, *xs: Any) -> Any:
        """Run every node in topological order; one array per input in, one (or a tuple) out."""
        if len(xs) != len(self.inputs):
            raise ShapeError(f"Graph: expected {len(self.inputs)} input array(s), got {len(xs)}")
        if self.retains_grad:
            self.grad_flow = None
        values: list[Any] = [None] * len(self._names)
        for i, (node, x) in enumerate(zip(self.inputs, xs)):
            x = as_batch(self, x)
            if x.shape[1:] != node.shape:
                raise ShapeError(f"Graph input {node.name!r}: expected {_fmt(node.shape)}, got {describe(x)}")
            values[i] = x
        for module, parents, pos in self._plan:
            try:
                values[pos] = module.forward(*(values[p] for p in parents))
            except Exception as exc:
                annotate(exc, f"Graph node {self._names[pos]!r}")
                raise
        outs = tuple(values[p] for p in self._output_positions)
        return outs[0] if len(outs) == 1 else outs

    def backward(self, *grad_outputs: Any) -> Any:
        """One gradient per output in; dL/dinput out (a tuple for several inputs) when ``needs_input_grad``.

        By default (``needs_input_grad`` False) nothing is returned and only the nodes that
        lead to a parameter run their backward, each told whether its input gradient is needed.
        """
        if len(grad_outputs) != len(self.outputs):
            raise ShapeError(f"Graph: expected {len(self.outputs)} output gradient(s), got {len(grad_outputs)}")
        wanted = self.needs_input_grad
        n_in = len(self.inputs)
        needed = [wanted] * n_in + [False] * len(self._plan)  # does anyone need dL/d(value at pos)?
        for module, parents, pos in self._plan:
            needed[pos] = module._has_parameters() or any(needed[p] for p in parents)
        grads: list[Any] = [None] * len(self._names)
        for pos, g in zip(self._output_positions, grad_outputs):
            grads[pos] = g if grads[pos] is None else grads[pos] + g
        flow: dict[tuple[int, int], Any] | None = {} if self.retains_grad else None  # (parent, node) -> gradient
        for module, parents, pos in reversed(self._plan):
            if not needed[pos]:
                continue
            wants = [needed[p] for p in parents]
            module.needs_input_grad = any(wants)
            try:
                back = module.backward(grads[pos])  # every node feeds an output: its gradient has arrived
            except Exception as exc:
                annotate(exc, f"Graph node {self._names[pos]!r}")
                raise
            finally:
                if not module.needs_input_grad:  # only for this call: on its own, the module keeps its default
                    del module.needs_input_grad
            if not any(wants):
                continue
            back = back if isinstance(back, tuple) else (back,)
            for p, gp, want in zip(parents, back, wants):
                if not want:
                    continue
                if flow is not None:
                    flow[(p, pos)] = gp
                # Not +=: gp may be an array another module also holds (Add returns grad_output itself).
                grads[p] = gp if grads[p] is None else grads[p] + gp
        if flow is not None:
            self.grad_flow = flow
            self.grad_outputs = grad_outputs
        if not wanted:
            return None
        result = tuple(grads[:n_in])
        return result[0] if n_in == 1 else result

    def output_shape(self, *input_shapes: tuple[int, ...]) -> Any:
        for node, shape in zip(self.inputs, input_shapes):
            if tuple(shape) != node.shape:
                raise ShapeError(f"Graph input {node.name!r}: expected {_fmt(node.shape)}, got {_fmt(tuple(shape))}")
        shapes = tuple(o.shape for o in self.outputs)
        return shapes[0] if len(shapes) == 1 else shapes

    # -- architecture as data -----------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        return {
            "type": "Graph",
            "inputs": [{"name": n.name, "shape": list(n.shape)} for n in self.inputs],
            "nodes": [
                {"name": n.name, "module": n.module.to_config(), "parents": [p.name for p in n.parents]}
                for n in self.nodes
            ],
            "outputs": [o.name for o in self.outputs],
        }

    @classmethod
    def from_config(cls, spec: dict[str, Any]) -> Graph:
        nodes: dict[str, Node] = {}
        inputs = []
        for item in spec["inputs"]:
            nodes[item["name"]] = Input(tuple(item["shape"]), name=item["name"])
            inputs.append(nodes[item["name"]])
        for item in spec["nodes"]:
            node = build_module(item["module"])(*(nodes[p] for p in item["parents"]))
            node.name = item["name"]
            nodes[item["name"]] = node
        return cls(inputs, [nodes[o] for o in spec["outputs"]])

    def extra_repr(self) -> str:
        ins = ", ".join(f"{n.name} {_fmt(n.shape)}" for n in self.inputs)
        outs = ", ".join(o.name for o in self.outputs)
        return f"inputs=[{ins}], outputs=[{outs}]"
