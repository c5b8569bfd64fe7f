"""The parity figures of ONNX export / import and PyTorch conversion: the largest differences measured.

    .venv/bin/python benchmarks/interop_parity.py

For every exportable module and three whole models (Nielsen's [784, 30, 10] MLP, a residual Graph,
the chapter-6 CNN): max |minigrad - onnxruntime| over random float32 inputs at batches 1, 3, 8.
For PyTorch: max |minigrad - torch| over outputs, input gradients and parameter gradients after one
forward and backward (train mode), both directions. The tests assert 1e-5 and 1e-6 (relative) bounds;
this prints the measured values.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import minigrad as mg
from minigrad.models import nielsen_cnn, nielsen_mlp

LAYERS = {
    "Linear": (lambda: mg.Linear(30, 10), (30,)),
    "Sigmoid": (mg.Sigmoid, (30,)),
    "Tanh": (mg.Tanh, (30,)),
    "ReLU": (mg.ReLU, (30,)),
    "LeakyReLU": (lambda: mg.LeakyReLU(0.1), (30,)),
    "Softmax": (mg.Softmax, (10,)),
    "Flatten": (mg.Flatten, (4, 5, 5)),
    "Identity": (mg.Identity, (10,)),
    "Dropout": (mg.Dropout, (10,)),
    "Conv2d": (lambda: mg.Conv2d(3, 8, 3, padding=1), (3, 16, 16)),
    "Conv2d groups/stride/dilation": (lambda: mg.Conv2d(4, 8, 3, stride=2, dilation=2, groups=2), (4, 17, 17)),
    "MaxPool2d": (lambda: mg.MaxPool2d(2), (3, 16, 16)),
    "AvgPool2d (padded)": (lambda: mg.AvgPool2d(3, 2, 1), (3, 16, 16)),
    "AdaptiveAvgPool2d(1)": (lambda: mg.AdaptiveAvgPool2d(1), (3, 16, 16)),
    "BatchNorm1d": (lambda: mg.BatchNorm1d(30), (30,)),
    "BatchNorm2d": (lambda: mg.BatchNorm2d(3), (3, 16, 16)),
    "LayerNorm": (lambda: mg.LayerNorm(30), (30,)),
}


def residual_graph() -> mg.Graph:
    x = mg.Input(784)
    h = mg.ReLU()(mg.Linear(784, 64, rng=0)(x))
    h = mg.Add()(h, mg.Linear(64, 64, rng=1)(mg.ReLU()(mg.Linear(64, 64, rng=2)(h))))
    return mg.Graph(x, mg.Linear(64, 10, rng=3)(h))


def statistics(model: mg.Module, rng: np.random.Generator) -> mg.Module:
    for m in model.modules():
        if isinstance(m, (mg.BatchNorm1d, mg.BatchNorm2d)):
            m.running_mean[...] = rng.standard_normal(m.num_features)
            m.running_var[...] = rng.uniform(0.5, 2.0, m.num_features)
    return model


def onnx_diff(model: mg.Module, shape: tuple[int, ...], folder: Path, rng: np.random.Generator) -> float:
    path = mg.onnx.export(model.eval(), folder / "m.onnx", shape)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in (1, 3, 8):
        x = rng.standard_normal((n, *shape)).astype(np.float32)
        worst = max(worst, float(np.abs(session.run(None, {"input": x})[0] - model(x)).max()))
    return worst


def torch_diff(ours: mg.Module, theirs: torch.nn.Module, shape: tuple[int, ...], rng: np.random.Generator) -> tuple:
    """Max |difference| of the output, the input gradient and every parameter gradient after one step,
    absolute and relative to the size of the values (divided by max(1, max |torch's value|))."""
    x = rng.standard_normal((8, *shape)).astype(np.float32)
    ours.zero_grad()
    ours.needs_input_grad = True
    y = ours(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = ours.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    yt = theirs(xt)
    yt.backward(torch.from_numpy(g))
    tp = dict(theirs.named_parameters())
    pairs = [(y, yt.detach().numpy()), (dx, xt.grad.numpy())]
    pairs += [(p.grad, tp[k].grad.numpy()) for k, p in ours.named_parameters()]
    absolute = max(float(np.abs(a - b).max()) for a, b in pairs)
    relative = max(float(np.abs(a - b).max() / max(1.0, np.abs(b).max())) for a, b in pairs)  # the tests' measure
    return absolute, relative


def main() -> None:
    rng = np.random.default_rng(0)
    models = {
        **{name: (lambda make=make: mg.Sequential(make()), shape) for name, (make, shape) in LAYERS.items()},
        "nielsen_mlp [784, 30, 10]": (lambda: nielsen_mlp([784, 30, 10], rng=0), (784,)),
        "residual Graph": (residual_graph, (784,)),
        "nielsen_cnn (chapter 6)": (lambda: nielsen_cnn(rng=0), (1, 28, 28)),
    }
    print(f"{'':32} {'onnxruntime':>12} {'to_torch':>20} {'from_torch':>20}")
    print(f"{'model':32} {'abs':>12} {'abs':>10} {'rel':>9} {'abs':>10} {'rel':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for name, (make, shape) in models.items():
            model = statistics(make(), rng)
            ort_diff = onnx_diff(model, shape, Path(folder), rng)
            model.train()
            if name == "Dropout":  # its masks are random on each side: compare in eval mode
                model.eval()
            theirs = mg.interop.to_torch(model)
            to_diff = torch_diff(model, theirs, shape, rng)
            theirs.zero_grad()
            back = mg.interop.from_torch(theirs)
            from_diff = torch_diff(back, theirs, shape, rng)
            torch_cols = " ".join(f"{a:10.2e} {r:9.2e}" for a, r in (to_diff, from_diff))
            print(f"{name:32} {ort_diff:12.2e} {torch_cols}")


if __name__ == "__main__":
    main()
