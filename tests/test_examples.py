"""Every example runs, in a quick mode, and does what its docstring claims."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_and_rings_reach_100_percent(capsys):
    result = load("xor_and_rings").main()
    assert result == {"xor": 1.0, "rings": 1.0}
    assert "XOR   training accuracy: 100%" in capsys.readouterr().out
