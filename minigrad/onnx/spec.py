"""The pinned ONNX versions and the optional import of the ``onnx`` package, shared by export and load."""

from __future__ import annotations

from typing import Any

from ..errors import ConversionError

# onnxruntime 1.17 (early 2024) reads IR version 9 and opset 20 at most: these load everywhere since.
OPSET = 17  # LayerNormalization is in the default domain from opset 17
IR_VERSION = 8
BATCH = "N"  # the name of the dynamic batch dimension


def require_onnx(where: str) -> Any:
    """The ``onnx`` package, or a ConversionError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ConversionError(f"{where} needs the onnx package: pip install 'minigrad[onnx]'") from None
    return onnx
