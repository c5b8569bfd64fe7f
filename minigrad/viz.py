"""Pictures and tables of a network: ``draw`` (graphviz), ``summary`` (text, like Keras).

``draw`` walks the module tree once (``_Tracer``) and emits one node per leaf
module, an HTML-like table with its type, name, output shape, parameter shapes
and parameter count; containers become clusters. With ``gradients=True`` it draws
the backward pass of the last ``backward`` instead: edges from the loss back to
the input, labelled with the L2 norm of the gradient crossing them, and layers
coloured by how far their gradient is from the median layer's.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import MinigradError, StateError
from .module import Module

Shape = tuple  # without the batch dimension; None when unknown

# Vanishing (blue) .. normal (white) .. exploding (red), by log10(|g| / median |g|).
SCALE = [(-3, "#4575b4"), (-2, "#91bfdb"), (-1, "#e0f3f8"), (1, "#ffffff"), (2, "#fee090"), (3, "#fc8d59")]
EXPLODING = "#d73027"


INSTALL_HINT = (
    "graphviz's `dot` program is not installed, so the picture cannot be rendered "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda install graphviz). "
    "The DOT source is still available as .source"
)


def _picture_class():
    """A graphviz.Digraph whose rendering, without `dot`, fails with how to install it."""
    import graphviz

    class DotNotFound(graphviz.ExecutableNotFound):
        def __str__(self) -> str:
            return INSTALL_HINT

    class Picture(graphviz.Digraph):
        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as exc:
                raise DotNotFound(exc.args) from None

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as exc:
                raise DotNotFound(exc.args) from None

    return Picture


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "(N, ?)"
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def grad_colour(ratio: float) -> str:
    """Colour for a layer whose gradient norm is ``ratio`` times the median layer's."""
    if ratio <= 0:
        return SCALE[0][1]
    exponent = math.log10(ratio)
    for bound, colour in SCALE:
        if exponent < bound:
            return colour
    return EXPLODING


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


class _Tracer:
    """Walks a module tree, recording leaves, edges and clusters for drawing or the summary table."""

    def __init__(self, expand_nested: bool = True) -> None:
        self.leaves: list[Leaf] = []
        self.edges: list[Edge] = []
        self.root = Cluster("", "")
        self.expand = expand_nested
        self.depth: dict[str, int] = {}
        self.ids = 0

    def new_id(self) -> str:
        self.ids += 1
        return f"n{self.ids}"

    def add_node(self, cluster: Cluster) -> str:
        node_id = self.new_id()
        cluster.members.append(node_id)
        return node_id

    def trace(
        self, module: Module, name: str, srcs: list[tuple[str, Shape | None, Any]], cluster: Cluster, top: bool = False
    ) -> list[tuple[str, Shape | None]]:
        """Add ``module`` fed by ``srcs`` (node id, shape, gradient); return its outputs (node id, shape).

        Containers are opened (their children drawn) when ``expand_nested`` or at the top level.
        """
        opened = self.expand or top
        traced = getattr(module, "trace_graph", None)
        if traced is not None and opened:
            return traced(self, name, srcs, cluster)
        if module._modules and hasattr(module, "_layers") and opened:
            return self._trace_sequential(module, name, srcs, cluster)
        return [self.add_leaf(module, name, srcs, cluster)]

    def add_leaf(self, module: Module, name: str, srcs, cluster: Cluster) -> tuple[str, Shape | None]:
        node_id = self.add_node(cluster)
        shapes = [s for _, s, _ in srcs]
        out_shape: Shape | None
        try:
            if any(s is None for s in shapes):
                out_shape = None
            elif len(shapes) == 1:
                out_shape = tuple(module.output_shape(shapes[0]))
            else:
                out_shape = tuple(module.output_shape(*shapes))
        except MinigradError:
            raise
        except Exception:
            out_shape = None
        depth = 1 + max((self.depth.get(s, 0) for s, _, _ in srcs), default=0)
        self.depth[node_id] = depth
        self.leaves.append(Leaf(node_id, name, module, out_shape))
        for src, shape, g in srcs:
            self.edges.append(Edge(src, node_id, shape, g))
        return node_id, out_shape

    def _trace_sequential(self, seq: Module, name: str, srcs, cluster: Cluster):
        inner = cluster
        if cluster is not self.root or name:
            inner = Cluster(name, f"{name} ({type(seq).__name__})" if name else type(seq).__name__)
            cluster.members.append(inner)
        flow = getattr(seq, "grad_flow", None)
        current = srcs
        for i, (child_name, child) in enumerate(seq.named_children()):
            grad = flow[i] if flow is not None else (current[0][2] if len(current) == 1 else None)
            current = [(node, shape, grad) for node, shape, _ in current]
            outs = self.trace(child, f"{name}.{child_name}" if name else child_name, current, inner)
            current = [(node, shape, None) for node, shape in outs]
        return [(node, shape) for node, shape, _ in current]


def trace_model(module: Module, input_shape: Shape | None, expand_nested: bool = True):
    """Trace ``module`` from one input node; returns the tracer and the input/output node ids."""
    tracer = _Tracer(expand_nested)
    input_nodes = getattr(module, "trace_inputs", None)
    if input_nodes is not None:
        srcs = input_nodes(tracer)
    else:
        if input_shape is not None and isinstance(input_shape, (int, np.integer)):
            input_shape = (int(input_shape),)
        shape = tuple(input_shape) if input_shape is not None else infer_input_shape(module)
        node = tracer.new_id()
        tracer.depth[node] = 0
        srcs = [(node, shape, None)]
    tracer.inputs = [(node, shape) for node, shape, _ in srcs]
    outs = tracer.trace(module, "", srcs, tracer.root, top=True)
    tracer.outputs = outs
    return tracer


# -- summary ------------------------------------------------------------------------------------
def summary(module: Module, input_shape: Shape | int | None = None) -> str:
    """A Keras-style table: layer, type, output shape ``(N, 30)``, parameters; totals and their bytes."""
    tracer = trace_model(module, input_shape)
    rows = [("Layer", "Type", "Output Shape", "Param #")]
    for leaf in tracer.leaves:
        count = sum(p.size for p in leaf.module.parameters())
        rows.append((leaf.name or "(module)", type(leaf.module).__name__, fmt_shape(leaf.out_shape), f"{count:,}"))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    widths[3] = max(widths[3], 9)
    line = "=" * sum(widths)

    def fmt(r: tuple[str, ...]) -> str:
        return "".join(c.ljust(w) for c, w in zip(r[:3], widths)) + r[3].rjust(widths[3])

    params = module.parameters()
    total = sum(p.size for p in params)
    nbytes = sum(p.data.nbytes for p in params)
    dtypes = sorted({str(p.dtype) for p in params}) or ["-"]
    out = [f"{type(module).__name__} summary", line, fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
    out.append(f"Total params: {total:,} ({_human_bytes(nbytes)} in {'/'.join(dtypes)})")
    return "\n".join(out)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"


# -- draw ---------------------------------------------------------------------------------------
def _norm(a: Any) -> float | None:
    if a is None:
        return None
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64)))


def _fmt(x: float) -> str:
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


def _leaf_label(leaf: Leaf, show_shapes: bool, show_params: bool, gradients: bool, colour: str | None) -> str:
    m = leaf.module
    title = html.escape(type(m).__name__)
    extra = html.escape(m.extra_repr())
    bg = f' BGCOLOR="{colour}"' if colour else ' BGCOLOR="#e8eef7"'
    rows = [f'<TR><TD{bg}><B>{title}</B> <FONT POINT-SIZE="10">{html.escape(leaf.name)}</FONT></TD></TR>']
    if extra:
        rows.append(f'<TR><TD><FONT POINT-SIZE="10">{extra}</FONT></TD></TR>')
    if show_shapes:
        rows.append(f"<TR><TD>out {html.escape(fmt_shape(leaf.out_shape))}</TD></TR>")
    params = list(m.named_parameters())
    if show_params and params:
        lines = []
        for pname, p in params:
            text = f"{pname} {p.shape}"
            if gradients:
                g, w = _norm(p.grad), _norm(p.data)
                ratio = _fmt(g / w) if w else "-"  # zero weights (fresh biases) have no ratio
                text += f"  |grad| {_fmt(g)}  |grad|/|w| {ratio}"
            lines.append(html.escape(text))
        body = '<BR ALIGN="LEFT"/>'.join(lines)
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="10">{body}</FONT></TD></TR>')
        rows.append(f"<TR><TD>{sum(p.size for _, p in params):,} params</TD></TR>")
    return '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">' + "".join(rows) + "</TABLE>>"


def draw(
    model: Module,
    input_shape: Shape | int | None = None,
    *,
    loss: Module | None = None,
    direction: str = "TB",
    show_shapes: bool = True,
    show_params: bool = True,
    expand_nested: bool = True,
    gradients: bool = False,
    wrap: int = 12,
):
    """The layer graph of ``model`` as a ``graphviz.Digraph`` (``.source``, ``.render(...)``).

    ``input_shape`` excludes the batch dimension (``(784,)``); it is inferred from a
    first ``Linear`` when omitted. Chains longer than ``wrap`` layers are folded
    into side-by-side columns instead of one long strip.

    ``gradients=True`` draws the last backward pass; it raises ``StateError`` if
    no backward pass has run since the last forward (or ``zero_grad``).
    """
    if direction not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw: direction must be TB, LR, BT or RL, got {direction!r}")
    if gradients and not _has_backward(model):
        raise StateError(
            f"draw(gradients=True): no backward pass of {type(model).__name__} since its last forward or zero_grad(); "
            "run loss(model(x), y) and model.backward(loss.backward()) first"
        )
    tracer = trace_model(model, input_shape, expand_nested)
    dot = _picture_class()(name=type(model).__name__, format="svg")
    dot.attr(rankdir=direction, newrank="true", fontname="Helvetica", nodesep="0.3", ranksep="0.35")
    dot.attr("node", shape="plaintext", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="9", color="#555555")

    colours: dict[str, str] = {}
    if gradients:
        colours = _gradient_colours(tracer)
    names = getattr(tracer, "input_names", None) or ["input"] * len(tracer.inputs)
    for (node, shape), name in zip(tracer.inputs, names):
        dot.node(node, html.escape(f"{name} {fmt_shape(shape)}"), shape="oval", style="filled", fillcolor="#d9f0d3")

    labels = {leaf.node_id: leaf for leaf in tracer.leaves}

    def emit(cluster: Cluster, graph) -> None:
        for member in cluster.members:
            if isinstance(member, Cluster):
                with graph.subgraph(name=f"cluster_{member.name or 'root'}".replace(".", "_")) as sub:
                    sub.attr(label=member.label, style="rounded,dashed", color="#888888", fontsize="10")
                    emit(member, sub)
            else:
                leaf = labels[member]
                graph.node(member, _leaf_label(leaf, show_shapes, show_params, gradients, colours.get(member)))

    emit(tracer.root, dot)

    out_nodes = []
    for k, (node, shape) in enumerate(tracer.outputs):
        out_id = f"out{k}"
        out_nodes.append((out_id, node, shape))
        dot.node(out_id, f"output {fmt_shape(shape)}", shape="oval", style="filled", fillcolor="#fde0dd")

    flow_out = _output_gradients(model, loss, len(tracer.outputs))
    for edge in tracer.edges:
        label = fmt_shape(edge.shape) if show_shapes else ""
        attrs = {}
        if tracer.depth.get(edge.dst, 0) % wrap == 0 and len(tracer.edges) > wrap:
            attrs["constraint"] = "false"
        if gradients:
            g = _norm(edge.grad)
            # None: that gradient was not computed (e.g. the input's, skipped during training).
            label = f"|g| {_fmt(g)}" if g is not None else "|g| not computed"
            dot.edge(edge.dst, edge.src, label=label, color="#b2182b", fontcolor="#b2182b", **attrs)
        else:
            dot.edge(edge.src, edge.dst, label=label, **attrs)
    for (out_id, node, shape), g in zip(out_nodes, flow_out):
        if gradients:
            dot.edge(
                out_id,
                node,
                label=f"|g| {_fmt(_norm(g))}" if g is not None else "",
                color="#b2182b",
                fontcolor="#b2182b",
            )
        else:
            dot.edge(node, out_id, label=fmt_shape(shape) if show_shapes else "")
    if loss is not None:
        dot.node("loss", html.escape(repr(loss)), shape="box", style="filled,rounded", fillcolor="#fdd49e")
        for out_id, _, _ in out_nodes:
            if gradients:
                dot.edge("loss", out_id, label="dL/dout", color="#b2182b", fontcolor="#b2182b")
            else:
                dot.edge(out_id, "loss")
    if gradients:
        dot.node("legend", _legend(), shape="plaintext")
    return dot


def _has_backward(model: Module) -> bool:
    flow = getattr(model, "_grad_flow", None)
    if flow is not None:
        return True
    if hasattr(model, "_grad_flow"):  # a container whose forward reset it
        return False
    return any(p.grad.any() for p in model.parameters())


def _output_gradients(model: Module, loss: Module | None, n: int) -> list[Any]:
    flow = getattr(model, "_grad_flow", None)
    if flow is not None and hasattr(model, "_layers"):
        return [flow[-1]]
    out = getattr(model, "_grad_outputs", None)
    if out is not None:
        return list(out)
    return [None] * n


def _gradient_colours(tracer: _Tracer) -> dict[str, str]:
    """Colour each leaf by its gradient norm (parameters if it has any, else its input gradient) / median."""
    norms: dict[str, float] = {}
    for leaf in tracer.leaves:
        params = leaf.module.parameters()
        if params:
            norms[leaf.node_id] = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
    if not norms:
        return {}
    median = float(np.median(list(norms.values())))
    if median == 0:
        return {k: SCALE[0][1] for k in norms}
    return {k: grad_colour(v / median) for k, v in norms.items()}


def _legend() -> str:
    cells = [
        (SCALE[0][1], "&lt; 1/1000"),
        (SCALE[1][1], "&lt; 1/100"),
        (SCALE[2][1], "&lt; 1/10"),
        (SCALE[3][1], "within 10x"),
        (SCALE[4][1], "&gt; 10x"),
        (SCALE[5][1], "&gt; 100x"),
        (EXPLODING, "&gt; 1000x"),
    ]
    row = "".join(f'<TD BGCOLOR="{c}"><FONT POINT-SIZE="9">{t}</FONT></TD>' for c, t in cells)
    return (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
        f'<TR><TD COLSPAN="{len(cells)}"><FONT POINT-SIZE="10">layer |grad| vs the median layer '
        "(blue: vanishing, red: exploding)</FONT></TD></TR>"
        f"<TR>{row}</TR></TABLE>>"
    )


# -- the Module methods that show a module: defined here, so that module.py needs no import of viz ---------
def _module_summary(self: Module, input_shape: Shape | int | None = None) -> str:
    """A Keras-style table of layers, output shapes and parameter counts (see ``minigrad.viz.summary``)."""
    return summary(self, input_shape)


def _module_repr_mimebundle_(self: Module, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """Jupyter shows a module as its graph picture, or as text when graphviz's ``dot`` is missing."""
    try:
        return draw(self)._repr_mimebundle_(include, exclude)
    except Exception:  # no dot binary, or a module that cannot be traced: text is still useful
        return {"text/plain": repr(self)}


Module.summary = _module_summary  # model.summary(), as in Keras
Module._repr_mimebundle_ = _module_repr_mimebundle_
