"""The command line and ONNX: `minigrad export`, and eval / summary / draw of an .onnx file."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.cli import main
from minigrad.models import nielsen_cnn, nielsen_mlp

from .idx_files import write_dataset

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize(
    ("make", "shape"), [(lambda: nielsen_mlp([784, 16, 10], rng=0), (784,)), (lambda: nielsen_cnn(rng=0), (1, 28, 28))]
)
def test_export_then_eval_summary_draw_the_onnx_file(make, shape, tmp_path, capsys, rng):
    model = make()
    mg.save(model, tmp_path / "model.npz")
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", str(tmp_path / "model.npz"), "-o", str(onnx_path)]) == 0
    assert f"Wrote {onnx_path}" in capsys.readouterr().out
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((5, *shape)).astype(np.float32)
    assert np.abs(session.run(None, {"input": x})[0] - model(x)).max() < 1e-5

    data = tmp_path / "data"
    write_dataset(data, n_train=40, n_test=30)
    assert main(["eval", str(onnx_path), "--data-dir", str(data)]) == 0
    assert "mnist test accuracy" in capsys.readouterr().out
    assert main(["summary", str(onnx_path)]) == 0
    table = capsys.readouterr().out
    assert "Linear" in table and str(sum(p.size for p in model.parameters())) in table.replace(",", "")
    assert main(["draw", str(onnx_path), "-o", str(tmp_path / "g.gv")]) == 0
    assert "digraph" in (tmp_path / "g.gv").read_text()
    args = ["draw", str(onnx_path), "-o", str(tmp_path / "back.gv"), "--gradients", "--data-dir", str(data)]
    assert main(args) == 0
    assert "|g| " in (tmp_path / "back.gv").read_text()


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "m.onnx")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "missing.onnx")]) == 1
    assert "minigrad: error: mg.onnx.load" in capsys.readouterr().err
