"""draw and summary: the DOT source asserted structurally, real renders when `dot` is installed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg


def seed_net():
    return mg.Sequential(mg.Linear(784, 30, rng=0), mg.Sigmoid(), mg.Linear(30, 10, rng=1))


def test_summary_table():
    text = seed_net().summary((784,))
    assert re.search(r"0\s+Linear\s+\(N, 30\)\s+23,550", text)
    assert re.search(r"1\s+Sigmoid\s+\(N, 30\)\s+0", text)
    assert re.search(r"2\s+Linear\s+\(N, 10\)\s+310", text)
    assert "Total params: 23,860 (93.2 KB in float32)" in text
    assert text == mg.summary(seed_net())  # input shape inferred from the first Linear


def test_forward_picture_structure():
    net = mg.Sequential(mg.Linear(784, 30), mg.Sigmoid(), mg.Sequential(mg.Linear(30, 10), mg.Tanh()))
    src = mg.draw(net, (784,), loss=mg.SoftmaxCrossEntropy()).source
    assert src.count("<B>Linear</B>") == 2 and "<B>Sigmoid</B>" in src
    assert "23,550 params" in src and "weight (30, 784)" in src and "bias (30,)" in src
    assert "subgraph cluster_2" in src  # the nested Sequential is a cluster
    assert 'label="(N, 30)"' in src and 'label="(N, 784)"' in src
    assert "input (N, 784)" in src and "output (N, 10)" in src and "SoftmaxCrossEntropy()" in src
    assert re.search(r"\bn\d+ -> n\d+", src)  # plain node ids
    flat = mg.draw(net, expand_nested=False, direction="LR", show_params=False).source
    assert "cluster" not in flat and "rankdir=LR" in flat and "params" not in flat


def test_graph_picture_has_every_edge_and_named_inputs():
    img, meta = mg.Input(784, name="image"), mg.Input(3, name="meta")
    h = mg.Sigmoid()(mg.Linear(784, 30)(img))
    g = mg.Graph([img, meta], [mg.Linear(33, 10)(mg.Concat()(h, meta)), mg.Linear(30, 2)(h)])
    src = mg.draw(g).source
    assert "image (N, 784)" in src and "meta (N, 3)" in src
    assert "output (N, 10)" in src and "output (N, 2)" in src
    # image->linear, linear->sigmoid, sigmoid->concat, meta->concat, concat->linear, sigmoid->linear, 2 outputs
    assert len(re.findall(r"->", src)) == 8


def test_backward_picture_needs_a_backward_pass():
    net = seed_net().retain_grad()
    loss = mg.SoftmaxCrossEntropy()
    x = np.random.default_rng(0).random((20, 784))
    loss(net(x), np.arange(20) % 10)
    with pytest.raises(mg.StateError, match="no backward pass"):
        mg.draw(net, gradients=True)
    net.backward(loss.backward())
    src = mg.draw(net, loss=loss, gradients=True).source
    assert len(re.findall(r"\|g\| \d", src)) == 3  # output->2, 2->1, 1->0
    assert src.count("|g| not computed") == 1  # 0->input: the data's gradient is not computed
    assert "|grad|/|w|" in src and "legend" in src and "vanishing" in src
    assert re.search(r"out\d+ -> n\d+", src)  # edges run from the loss back to the input
    net.zero_grad()
    with pytest.raises(mg.StateError, match="no backward pass"):
        mg.draw(net, gradients=True)


def test_vanishing_gradients_are_coloured():
    """A deep sigmoid net with small weights: the first layer's gradient is ~1000x below the median."""
    layers = []
    for i in range(8):
        layers += [mg.Linear(20, 20, init="pytorch", rng=i), mg.Sigmoid()]
    net = mg.Sequential(*layers, mg.Linear(20, 10, rng=99)).retain_grad()
    loss = mg.SoftmaxCrossEntropy()
    loss(net(np.random.default_rng(0).standard_normal((32, 20))), np.arange(32) % 10)
    net.backward(loss.backward())
    src = mg.draw(net, gradients=True).source

    def colour(name):
        return re.search(r'<TD BGCOLOR="(#[0-9a-f]+)"><B>Linear</B> <FONT POINT-SIZE="10">' + name + "<", src)[1]

    assert colour("0") in ("#4575b4", "#91bfdb")  # vanishing: blue
    assert colour("16") in ("#fc8d59", "#d73027")  # far above the median: red
    assert colour("8") == "#ffffff"


def two_heads():
    img = mg.Input(784, name="image")
    h = mg.ReLU()(mg.Linear(784, 16, rng=0)(img))
    inner = mg.Sequential(mg.Linear(16, 8, rng=1), mg.Tanh())
    return mg.Graph(img, [mg.Linear(16, 10, rng=2)(h), mg.Linear(8, 2, rng=3)(inner(h))])


def train_step(net, x, y):
    """One step of a training loop, as fit does it: zero_grad, forward, loss, backward, update."""
    ce = mg.SoftmaxCrossEntropy()
    opt = mg.SGD(net.parameters(), lr=0.1)
    opt.zero_grad()
    out = net(x)
    if isinstance(out, tuple):
        ce(out[0], y)
        net.backward(ce.backward(), np.zeros_like(out[1]))
    else:
        ce(out, y)
        net.backward(ce.backward())
    opt.step()
    return ce


def containers(net):
    return [m for m in net.modules() if isinstance(m, (mg.Sequential, mg.Graph))]


@pytest.mark.parametrize("make", [seed_net, two_heads], ids=["sequential", "graph"])
def test_training_allocates_nothing_for_pictures(make):
    net = make()
    x, y = np.random.default_rng(0).random((8, 784)), np.arange(8) % 10
    for _ in range(2):
        train_step(net, x, y)
    assert containers(net)
    for m in net.modules():
        assert not m.retains_grad
        assert "grad_flow" not in m.__dict__ and "grad_outputs" not in m.__dict__, m


@pytest.mark.parametrize("make", [seed_net, two_heads], ids=["sequential", "graph"])
def test_backward_picture_without_retain_grad_says_what_to_do(make):
    net = make()
    train_step(net, np.random.default_rng(0).random((8, 784)), np.arange(8) % 10)
    with pytest.raises(mg.StateError, match=r"call model\.retain_grad\(\) before the forward and backward") as e:
        mg.draw(net, gradients=True)
    assert "allocates nothing for pictures" in str(e.value)
    with pytest.raises(mg.StateError, match="retain_grad"):  # a lone layer too
        mg.draw(mg.Linear(3, 2), gradients=True)


@pytest.mark.parametrize("make", [seed_net, two_heads], ids=["sequential", "graph"])
def test_retain_grad_puts_gradient_norms_on_the_edges(make):
    net = make().retain_grad()
    assert all(m.retains_grad for m in net.modules())
    x, y = np.random.default_rng(0).random((8, 784)), np.arange(8) % 10
    ce = train_step(net, x, y)
    src = mg.draw(net, loss=ce, gradients=True).source
    edges = re.findall(r'(\w+) -> (\w+) \[label="\|g\| ([^"]+)"', src)
    assert edges and all(dst.startswith("n") for _, dst, _ in edges)  # backward: towards the input
    norms = [float(v) for _, _, v in edges if v != "not computed"]
    assert len(norms) >= 3 and all(v >= 0 for v in norms) and max(norms) > 0
    assert [v for _, _, v in edges].count("not computed") == 1  # the data input's: not requested
    net.needs_input_grad = True  # asked for: computed and drawn
    train_step(net, x, y)
    assert "not computed" not in mg.draw(net, gradients=True).source
    net.zero_grad()  # the record is stale now
    with pytest.raises(mg.StateError, match="no backward pass"):
        mg.draw(net, gradients=True)


def test_retain_grad_false_turns_recording_off_again():
    net = seed_net().retain_grad()
    x, y = np.random.default_rng(0).random((8, 784)), np.arange(8) % 10
    train_step(net, x, y)
    assert net.grad_flow is not None
    assert net.retain_grad(False) is net
    assert "grad_flow" not in net.__dict__
    train_step(net, x, y)
    assert all("grad_flow" not in m.__dict__ for m in net.modules())
    with pytest.raises(mg.StateError, match=r"retain_grad\(\)"):
        mg.draw(net, gradients=True)


def test_drawing_does_not_mark_zeroed_gradients_written():
    net = seed_net().retain_grad()
    x, y = np.random.default_rng(0).random((8, 784)), np.arange(8) % 10
    train_step(net, x, y)
    net[2].weight.zero_grad()
    src = mg.draw(net, gradients=True).source
    assert "weight (10, 30)  |grad| not computed" in src
    assert not net[2].weight.has_grad  # an optimizer would still skip it


def test_graph_module_knows_nothing_of_pictures():
    import minigrad.graph

    assert not hasattr(mg.Graph, "trace_graph") and not hasattr(mg.Graph, "trace_inputs")
    assert "viz" not in Path(minigrad.graph.__file__).read_text()


def test_long_chain_wraps_instead_of_a_strip():
    layers = []
    for _ in range(10):
        layers += [mg.Linear(16, 16), mg.ReLU()]
    src = mg.draw(mg.Sequential(*layers), wrap=12).source
    assert "constraint=false" in src


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_real_renders(tmp_path):
    layers = []
    for _ in range(10):
        layers += [mg.Linear(16, 16), mg.ReLU()]
    dot = mg.draw(mg.Sequential(*layers))
    svg = dot.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    png = dot.pipe(format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert height < 2500 and width < 2500  # 20 layers wrap into columns, not a 3000-pixel strip
    path = dot.render(tmp_path / "net", format="pdf")
    assert Path(path).read_bytes()[:4] == b"%PDF"
    bundle = seed_net()._repr_mimebundle_()
    assert "image/svg+xml" in bundle


def test_missing_dot_gives_text_and_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on PATH
    bundle = seed_net()._repr_mimebundle_()
    assert bundle == {"text/plain": repr(seed_net())}
    from minigrad.cli import render

    with pytest.raises(mg.MinigradError, match="apt-get install graphviz"):
        render(mg.draw(seed_net()), tmp_path / "x.svg")
    import graphviz

    dot = mg.draw(seed_net())
    assert "digraph" in dot.source  # the DOT source needs no binary
    with pytest.raises(graphviz.ExecutableNotFound, match="apt-get install graphviz"):
        dot.render(tmp_path / "net", format="png")
