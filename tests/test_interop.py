"""mg.interop.to_torch / from_torch: outputs, input and parameter gradients equal after one forward and backward."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.models import nielsen_cnn, nielsen_mlp

torch = pytest.importorskip("torch")
nn = torch.nn

TOL = 1e-6  # float32, relative to the size of the values compared (at least 1)


def close(a, b) -> float:
    """The largest |a - b|, scaled by max(1, max |b|); asserted below TOL."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / max(1.0, np.abs(b).max())) if a.size else 0.0


def step_both(ours: mg.Module, theirs, xs: list[np.ndarray], rng) -> float:
    """One forward and backward on each side with the same inputs and output gradients; the worst difference."""
    ours.zero_grad()
    theirs.zero_grad()
    ours.needs_input_grad = True
    out = ours(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    grads = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
    dxs = ours.backward(*grads)
    dxs = dxs if isinstance(dxs, tuple) else (dxs,)
    txs = [torch.from_numpy(x.copy()).requires_grad_() for x in xs]
    tout = theirs(*txs)
    touts = tout if isinstance(tout, tuple) else (tout,)
    torch.autograd.backward(touts, [torch.from_numpy(g) for g in grads])
    worst = max(close(o, t.detach().numpy()) for o, t in zip(outs, touts))
    worst = max(worst, *(close(d, t.grad.numpy()) for d, t in zip(dxs, txs)))
    theirs_params = dict(theirs.named_parameters())
    assert set(theirs_params) == {k for k, _ in ours.named_parameters()}
    for name, p in ours.named_parameters():
        worst = max(worst, close(p.grad, theirs_params[name].grad.numpy()))
    theirs_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():  # BatchNorm's running statistics moved the same way
        worst = max(worst, close(b, theirs_buffers[name].numpy()))
    return worst


def randomise(model: mg.Module, rng) -> mg.Module:
    for m in model.modules():
        if isinstance(m, (mg.BatchNorm1d, mg.BatchNorm2d)) and m.running_mean is not None:
            m.running_mean[...] = rng.standard_normal(m.num_features)
            m.running_var[...] = rng.uniform(0.5, 2.0, m.num_features)
    for p in model.parameters():
        p.data[...] = rng.uniform(-1, 1, p.shape)
    return model


LAYERS = [
    (lambda: mg.Linear(7, 4), (7,)),
    (lambda: mg.Linear(7, 4, bias=False), (7,)),
    (mg.Sigmoid, (6,)),
    (mg.Tanh, (6,)),
    (mg.ReLU, (2, 5, 5)),
    (lambda: mg.LeakyReLU(0.2), (6,)),
    (lambda: mg.Softmax(dim=1), (3, 4)),
    (mg.Flatten, (2, 3, 4)),
    (lambda: mg.Flatten(1, 2), (2, 3, 4)),
    (mg.Identity, (5,)),
    (lambda: mg.Dropout(0.0), (5,)),
    (lambda: mg.Conv2d(3, 4, 3), (3, 9, 9)),
    (lambda: mg.Conv2d(4, 6, (3, 2), stride=2, padding=(1, 2), dilation=(2, 1), groups=2), (4, 11, 10)),
    (lambda: mg.Conv2d(2, 3, 4, padding="same", bias=False), (2, 7, 7)),
    (lambda: mg.MaxPool2d(2), (3, 8, 8)),
    (lambda: mg.MaxPool2d(3, stride=2, padding=1, dilation=2), (2, 11, 11)),
    (lambda: mg.AvgPool2d(3, stride=2, padding=1), (2, 9, 9)),
    (lambda: mg.AdaptiveAvgPool2d((2, 3)), (3, 5, 7)),
    (lambda: mg.BatchNorm1d(5), (5,)),
    (lambda: mg.BatchNorm1d(4, momentum=None, affine=False), (4, 6)),
    (lambda: mg.BatchNorm2d(3, eps=1e-3), (3, 4, 4)),
    (lambda: mg.BatchNorm2d(3, track_running_stats=False), (3, 4, 4)),
    (lambda: mg.LayerNorm(6), (6,)),
    (lambda: mg.LayerNorm((3, 4), bias=False), (2, 3, 4)),
]
IDS = [repr(make()) for make, _ in LAYERS]


SAME_EVEN = "ignore:Using padding='same' with even kernel:UserWarning"  # torch pads a copy: a notice, not a fault


@pytest.mark.filterwarnings(SAME_EVEN)
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize(("make", "shape"), LAYERS, ids=IDS)
def test_every_layer_to_torch_computes_the_same_forward_and_backward(make, shape, mode, rng):
    ours = randomise(make(), rng).train(mode == "train")
    theirs = mg.interop.to_torch(ours)
    assert type(theirs).__name__ == type(ours).__name__ and theirs.training == ours.training
    assert step_both(ours, theirs, [rng.standard_normal((4, *shape)).astype(np.float32)], rng) < TOL


@pytest.mark.filterwarnings(SAME_EVEN)
@pytest.mark.parametrize(("make", "shape"), LAYERS, ids=IDS)
def test_every_layer_from_torch_computes_the_same_forward_and_backward(make, shape, rng):
    theirs = mg.interop.to_torch(make())  # a torch layer: the constructor arguments come from the table
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
    ours = mg.interop.from_torch(theirs)
    assert type(ours).__name__ == type(theirs).__name__
    assert step_both(ours, theirs, [rng.standard_normal((4, *shape)).astype(np.float32)], rng) < TOL


def residual_graph(rng) -> mg.Graph:
    x = mg.Input((3, 8, 8))
    h = mg.Conv2d(3, 3, 3, padding=1, rng=rng)(x)
    h = mg.ReLU()(mg.BatchNorm2d(3)(h))
    h = mg.Add()(x, h)
    pooled = mg.Flatten()(mg.AdaptiveAvgPool2d(1)(h))
    both = mg.Concat()(pooled, mg.Flatten()(mg.MaxPool2d(4)(h)))
    return mg.Graph(x, [mg.Linear(15, 4, rng=rng)(both), pooled])


def test_whole_models_both_ways(rng):
    models = {
        "nielsen_mlp": (nielsen_mlp([784, 30, 10], rng=0), (784,)),
        "nielsen_cnn": (nielsen_cnn(rng=0), (1, 28, 28)),
        "residual_graph": (residual_graph(rng), (3, 8, 8)),
    }
    for name, (model, shape) in models.items():
        theirs = mg.interop.to_torch(model)
        assert list(theirs.state_dict()) == list(model.state_dict()), name
        x = rng.standard_normal((5, *shape)).astype(np.float32)
        assert step_both(model, theirs, [x], rng) < TOL, name
        back = mg.interop.from_torch(theirs)
        assert type(back) is type(model) and list(back.state_dict()) == list(model.state_dict())
        assert step_both(back, theirs, [x], rng) < TOL, name


def test_a_graph_becomes_a_torch_module_that_fx_can_trace(rng):
    graph = residual_graph(rng).eval()
    theirs = mg.interop.to_torch(graph)
    traced = theirs.to_fx()
    assert isinstance(traced, torch.fx.GraphModule)
    called = [n.target for n in traced.graph.nodes if n.op == "call_module"]
    assert called == [n.name for n in graph.nodes]
    assert [n.target for n in traced.graph.nodes if n.op == "placeholder"] == ["input"]
    x = torch.from_numpy(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    for a, b in zip(traced(x), theirs(x)):
        assert torch.equal(a, b)


def test_a_torch_sequential_with_named_children_and_float64(rng):
    from collections import OrderedDict

    theirs = nn.Sequential(OrderedDict(fc=nn.Linear(3, 4, dtype=torch.float64), act=nn.Tanh()))
    ours = mg.interop.from_torch(theirs)
    assert ours[0].weight.dtype == np.float64 and list(ours.state_dict()) == ["0.weight", "0.bias"]
    x = rng.standard_normal((2, 3))
    assert np.abs(ours(x) - theirs(torch.from_numpy(x)).detach().numpy()).max() < 1e-12
    assert mg.interop.to_torch(ours)[0].weight.dtype == torch.float64


def test_load_state_dict_takes_a_torch_state_dict_of_tensors(rng):
    theirs = nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10))
    ours = nielsen_mlp([784, 30, 10], rng=0)
    ours.load_state_dict(theirs.state_dict())  # the tensors themselves: the keys already match
    x = rng.standard_normal((3, 784)).astype(np.float32)
    assert np.abs(ours(x) - theirs(torch.from_numpy(x)).detach().numpy()).max() < TOL


class Custom(mg.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (mg.Sequential(mg.Linear(2, 2), Custom()), r"Custom\(\) \(Sequential.1\) has no PyTorch form"),
        (mg.BatchNorm1d(3, bias=False), "bias=False with affine=True"),
        (mg.SoftmaxCrossEntropy(), "has no PyTorch form"),
    ],
)
def test_to_torch_names_what_does_not_convert(model, match):
    with pytest.raises(mg.ConversionError, match=match):
        mg.interop.to_torch(model)


class TorchNet(nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize(
    ("module", "match"),
    [
        (nn.Sequential(nn.Linear(2, 2), nn.GELU()), r"GELU \(Sequential.1\) has no minigrad form"),
        (TorchNet(), "torch.onnx.export it, then mg.onnx.load"),
        (nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), "padding_mode='reflect'"),
        (nn.MaxPool2d(2, ceil_mode=True), "ceil_mode=True"),
        (nn.AvgPool2d(3, padding=1, count_include_pad=False), "count_include_pad"),
        (nn.Softmax(), "without dim"),
    ],
)
def test_from_torch_names_what_does_not_convert(module, match):
    with pytest.raises(mg.ConversionError, match=match):
        mg.interop.from_torch(module)
