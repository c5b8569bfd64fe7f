"""``draw``: the layer graph of a network as a ``graphviz.Digraph``, forward or backward.

One node per leaf module, an HTML-like table with its type, name, output shape,
parameter shapes and parameter count; containers become dashed clusters. With
``gradients=True`` it draws the last backward pass instead (recorded after
``model.retain_grad()``): edges from the loss back to the input, labelled with the L2
norm of the gradient crossing them, and layers coloured by how far their gradient is
from the median layer's.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ..module import Module
from .backward import check_recorded, grad_norm, gradient_colours, legend, norm, output_gradients
from .tracing import Cluster, Leaf, Shape, Tracer, fmt_shape, trace_model

INSTALL_HINT = (
    "graphviz's `dot` program is not installed, so the picture cannot be rendered "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda install graphviz). "
    "The DOT source is still available as .source"
)
BACKWARD = {"color": "#b2182b", "fontcolor": "#b2182b"}  # the style of a backward edge


def _picture_class() -> type:
    """A graphviz.Digraph whose rendering, without `dot`, fails with how to install it."""
    import graphviz  # an optional dependency: imported when a picture is made

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


def _fmt(x: float | None) -> str:
    if x is None:
        return "not computed"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


@dataclass
class _Style:
    show_shapes: bool
    show_params: bool
    gradients: bool
    wrap: int
    colours: dict[str, str] = field(default_factory=dict)


def _param_lines(m: Module, gradients: bool) -> list[str]:
    lines = []
    for pname, p in m.named_parameters():
        text = f"{pname} {p.shape}"
        if gradients:
            g, w = grad_norm(p), norm(p.data)
            ratio = _fmt(g / w) if w and g is not None else "-"  # zero weights (fresh biases) have no ratio
            text += f"  |grad| {_fmt(g)}  |grad|/|w| {ratio}"
        lines.append(html.escape(text))
    return lines


def _leaf_label(leaf: Leaf, style: _Style) -> str:
    m = leaf.module
    title = html.escape(type(m).__name__)
    extra = html.escape(m.extra_repr())
    name = html.escape(leaf.name)
    colour = style.colours.get(leaf.node_id, "#e8eef7")
    rows = [f'<TR><TD BGCOLOR="{colour}"><B>{title}</B> <FONT POINT-SIZE="10">{name}</FONT></TD></TR>']
    if extra:
        rows.append(f'<TR><TD><FONT POINT-SIZE="10">{extra}</FONT></TD></TR>')
    if style.show_shapes:
        rows.append(f"<TR><TD>out {html.escape(fmt_shape(leaf.out_shape))}</TD></TR>")
    if style.show_params and m.parameters():
        body = '<BR ALIGN="LEFT"/>'.join(_param_lines(m, style.gradients))
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="10">{body}</FONT></TD></TR>')
        rows.append(f"<TR><TD>{sum(p.size for p in m.parameters()):,} params</TD></TR>")
    return '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">' + "".join(rows) + "</TABLE>>"


def _new_picture(name: str, direction: str) -> Any:
    dot = _picture_class()(name=name, format="svg")
    dot.attr(rankdir=direction, newrank="true", fontname="Helvetica", nodesep="0.3", ranksep="0.35")
    dot.attr("node", shape="plaintext", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="9", color="#555555")
    return dot


def _add_nodes(dot: Any, tracer: Tracer, style: _Style) -> None:
    """The input ovals, then every leaf inside its (nested) cluster."""
    for (node, shape), name in zip(tracer.inputs, tracer.input_names):
        dot.node(node, html.escape(f"{name} {fmt_shape(shape)}"), shape="oval", style="filled", fillcolor="#d9f0d3")
    leaves = {leaf.node_id: leaf for leaf in tracer.leaves}

    def emit(cluster: Cluster, graph: Any) -> None:
        for member in cluster.members:
            if isinstance(member, Cluster):
                with graph.subgraph(name=f"cluster_{member.name or 'root'}".replace(".", "_")) as sub:
                    sub.attr(label=member.label, style="rounded,dashed", color="#888888", fontsize="10")
                    emit(member, sub)
            else:
                graph.node(member, _leaf_label(leaves[member], style))

    emit(tracer.root, dot)


def _add_edges(dot: Any, tracer: Tracer, style: _Style) -> None:
    """Forward: the shape on each edge. Backward: reversed edges with the norm of the gradient crossing them."""
    for edge in tracer.edges:
        attrs = {}
        if tracer.depth.get(edge.dst, 0) % style.wrap == 0 and len(tracer.edges) > style.wrap:
            attrs["constraint"] = "false"  # fold a long chain into side-by-side columns
        if style.gradients:
            # None: that gradient was not computed (e.g. the input's, skipped during training).
            dot.edge(edge.dst, edge.src, label=f"|g| {_fmt(norm(edge.grad))}", **BACKWARD, **attrs)
        else:
            dot.edge(edge.src, edge.dst, label=fmt_shape(edge.shape) if style.show_shapes else "", **attrs)


def _add_outputs(dot: Any, tracer: Tracer, style: _Style, model: Module, loss: Module | None) -> None:
    """The output ovals, the loss box, and the edges between them and the last leaves."""
    n = len(tracer.outputs)
    grads = output_gradients(model, n) if style.gradients else [None] * n
    for k, ((node, shape), g) in enumerate(zip(tracer.outputs, grads)):
        out_id = f"out{k}"
        dot.node(out_id, f"output {fmt_shape(shape)}", shape="oval", style="filled", fillcolor="#fde0dd")
        if style.gradients:
            dot.edge(out_id, node, label=f"|g| {_fmt(norm(g))}" if g is not None else "", **BACKWARD)
        else:
            dot.edge(node, out_id, label=fmt_shape(shape) if style.show_shapes else "")
    if loss is not None:
        dot.node("loss", html.escape(repr(loss)), shape="box", style="filled,rounded", fillcolor="#fdd49e")
        for k in range(n):
            if style.gradients:
                dot.edge("loss", f"out{k}", label="dL/dout", **BACKWARD)
            else:
                dot.edge(f"out{k}", "loss")


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
) -> Any:
    """The layer graph of ``model`` as a ``graphviz.Digraph`` (``.source``, ``.render(...)``).

    ``input_shape`` excludes the batch dimension (``(784,)``); it is inferred from a
    first ``Linear`` when omitted. Chains longer than ``wrap`` layers are folded
    into side-by-side columns instead of one long strip.

    ``gradients=True`` draws the last backward pass. It needs ``model.retain_grad()``
    before that forward and backward (recording is off by default, so that training
    allocates nothing for pictures), and raises ``StateError`` without it, or if no
    backward pass has run since the last forward (or ``zero_grad``).
    """
    if direction not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw: direction must be TB, LR, BT or RL, got {direction!r}")
    if gradients:
        check_recorded(model)
    tracer = trace_model(model, input_shape, expand_nested)
    style = _Style(show_shapes, show_params, gradients, wrap)
    if gradients:
        style.colours = gradient_colours(tracer)
    dot = _new_picture(type(model).__name__, direction)
    _add_nodes(dot, tracer, style)
    _add_edges(dot, tracer, style)
    _add_outputs(dot, tracer, style, model, loss)
    if gradients:
        dot.node("legend", legend(), shape="plaintext")
    return dot
