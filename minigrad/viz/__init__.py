"""Pictures and tables of a network: ``draw`` (graphviz), ``summary`` (text, like Keras).

* ``tracing``: walks a module tree (``Sequential`` and ``Graph`` opened, any other module
  a leaf) into leaves, edges and clusters;
* ``picture``: ``draw``, forward or backward;
* ``backward``: what the backward picture reads (recorded after ``model.retain_grad()``);
* ``table``: ``summary``.

The containers know nothing of pictures: this package reads them. Importing it also
gives every ``Module`` its ``summary()`` and Jupyter's ``_repr_mimebundle_``.
"""

from __future__ import annotations

from typing import Any

from ..module import Module
from .backward import grad_colour
from .picture import INSTALL_HINT, draw
from .table import summary
from .tracing import Shape, fmt_shape, trace_model

__all__ = ["INSTALL_HINT", "draw", "fmt_shape", "grad_colour", "summary", "trace_model"]


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
