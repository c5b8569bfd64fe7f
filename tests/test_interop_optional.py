"""Without onnx or torch installed, minigrad imports and the conversions say what to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

import minigrad as mg


def test_importing_minigrad_imports_neither_onnx_nor_torch():
    code = "import sys, minigrad; print('onnx' in sys.modules, 'torch' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_missing_packages_are_named_with_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(
        mg.ConversionError, match=r"mg.onnx.export needs the onnx package: pip install 'minigrad\[onnx\]'"
    ):
        mg.onnx.export(mg.Sequential(mg.Linear(2, 2)), tmp_path / "m.onnx")
    with pytest.raises(mg.ConversionError, match="mg.onnx.load needs the onnx package"):
        mg.onnx.load(tmp_path / "m.onnx")
    with pytest.raises(mg.ConversionError, match="mg.interop.to_torch needs PyTorch"):
        mg.interop.to_torch(mg.Linear(2, 2))
    with pytest.raises(mg.ConversionError, match="mg.interop.from_torch needs PyTorch"):
        mg.interop.from_torch(object())
