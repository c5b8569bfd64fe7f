"""Regenerate docs/img/interop-backward.svg from the code of docs/interop.md itself (committed picture).

    .venv/bin/python docs/pictures_interop.py

Runs the page's ```python blocks in a scratch folder (they write quadrants.onnx and net.onnx), then
renders the backward picture they draw. Needs onnx, onnxruntime, torch and graphviz's `dot`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from minigrad.cli import render

HERE = Path(__file__).resolve().parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def main() -> None:
    namespace: dict = {"__name__": "doc:interop.md"}
    blocks = BLOCK.findall((HERE / "interop.md").read_text())
    start = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            for block in blocks:
                exec(compile(block, "interop.md", "exec"), namespace)
        finally:
            os.chdir(start)
    print("Wrote", render(namespace["picture"], HERE / "img" / "interop-backward.svg"))


if __name__ == "__main__":
    main()
