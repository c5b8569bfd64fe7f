"""What the backward picture reads, and how it colours it.

The gradient crossing each edge is recorded only after ``model.retain_grad()``:
``Sequential.grad_flow`` and ``Graph.grad_flow`` / ``Graph.grad_outputs`` exist only
then, so a normal training step allocates nothing for pictures. ``check_recorded``
says what to do when they are missing; parameter gradients are read without
touching them (reading ``Parameter.grad`` of a zeroed parameter would mark it written).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..containers import Sequential
from ..errors import StateError
from ..graph import Graph
from ..module import Module, Parameter
from .tracing import Tracer

# Vanishing (blue) .. normal (white) .. exploding (red), by log10(|g| / median |g|).
SCALE = [(-3, "#4575b4"), (-2, "#91bfdb"), (-1, "#e0f3f8"), (1, "#ffffff"), (2, "#fee090"), (3, "#fc8d59")]
EXPLODING = "#d73027"


def check_recorded(model: Module) -> None:
    """Raise ``StateError`` unless ``model`` holds the record of a backward since its last forward / zero_grad."""
    name = type(model).__name__
    if not model.retains_grad:
        raise StateError(
            f"draw(gradients=True): {name} keeps no record of its backward pass; call model.retain_grad() "
            "before the forward and backward you want drawn (recording is off by default, so that training "
            "allocates nothing for pictures)"
        )
    if isinstance(model, (Sequential, Graph)):
        recorded = getattr(model, "grad_flow", None) is not None
    else:
        recorded = any(p.has_grad for p in model.parameters())
    if not recorded:
        raise StateError(
            f"draw(gradients=True): no backward pass of {name} since its last forward or zero_grad(); "
            "run loss(model(x), y) and model.backward(loss.backward()) first (retain_grad() is on)"
        )


def output_gradients(model: Module, n: int) -> list[Any]:
    """The gradients given to ``model.backward`` (one per output), ``None`` where not recorded."""
    if isinstance(model, Sequential):
        return [model.grad_flow[-1]]
    if isinstance(model, Graph):
        return list(getattr(model, "grad_outputs", (None,) * n))
    return [None] * n


def norm(a: Any) -> float | None:
    """The L2 norm of ``a``; ``None`` for a gradient that was not computed."""
    if a is None:
        return None
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64)))


def grad_norm(p: Parameter) -> float | None:
    """``|p.grad|``, or ``None`` when nothing was added since ``zero_grad`` (``p.grad`` is not read then)."""
    return norm(p.grad) if p.has_grad else None


def grad_colour(ratio: float) -> str:
    """Colour for a layer whose gradient norm is ``ratio`` times the median layer's."""
    if ratio <= 0:
        return SCALE[0][1]
    exponent = math.log10(ratio)
    for bound, colour in SCALE:
        if exponent < bound:
            return colour
    return EXPLODING


def gradient_colours(tracer: Tracer) -> dict[str, str]:
    """Colour each leaf with parameters by the norm of its parameters' gradient / the median leaf's."""
    norms: dict[str, float] = {}
    for leaf in tracer.leaves:
        params = leaf.module.parameters()
        if params:
            norms[leaf.node_id] = math.sqrt(sum((grad_norm(p) or 0.0) ** 2 for p in params))
    if not norms:
        return {}
    median = float(np.median(list(norms.values())))
    if median == 0:
        return {k: SCALE[0][1] for k in norms}
    return {k: grad_colour(v / median) for k, v in norms.items()}


def legend() -> str:
    """The colour scale as an HTML-like graphviz table."""
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
