"""ONNX export and import: ``mg.onnx.export(model, path)`` and ``mg.onnx.load(path)``.

    mg.onnx.export(model, "model.onnx", input_shape=(1, 28, 28))   # serve it with onnxruntime
    model = mg.onnx.load("exported_by_torch.onnx")                  # view, check and train it here

The files are pinned to ``OPSET`` 17 and IR version ``IR_VERSION`` 8, so they load in onnxruntime
1.17 and later (onnx's own defaults, IR 14 and opset 28 in onnx 1.23, are refused by onnxruntime
1.31). The batch dimension is dynamic (``"N"``). Needs the optional packages: ``pip install
'minigrad[onnx]'``; importing ``minigrad`` never imports ``onnx``.

* ``export_ops``: one ONNX form per minigrad module (the table ``EXPORTERS``);
* ``export``: walks ``Sequential`` and ``Graph`` containers and writes the file;
* ``import_ops``: one minigrad module per ONNX operator (the table ``IMPORTERS``);
* ``constants``: the operators evaluated at load time (shape arithmetic, ``Constant``);
* ``load``: reads a file into a ``Sequential`` (a chain) or a ``Graph``.
"""

from __future__ import annotations

from .export import export
from .load import load
from .spec import BATCH, IR_VERSION, OPSET, require_onnx

__all__ = ["BATCH", "IR_VERSION", "OPSET", "export", "load", "require_onnx"]
