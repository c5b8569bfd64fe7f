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
    net = seed_net()
    loss = mg.SoftmaxCrossEntropy()
    x = np.random.default_rng(0).random((20, 784))
    loss(net(x), np.arange(20) % 10)
    with pytest.raises(mg.StateError, match="no backward pass"):
        mg.draw(net, gradients=True)
    net.backward(loss.backward())
    src = mg.draw(net, loss=loss, gradients=True).source
    assert len(re.findall(r"\|g\| \d", src)) == 4  # output->2, 2->1, 1->0, 0->input
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
    net = mg.Sequential(*layers, mg.Linear(20, 10, rng=99))
    loss = mg.SoftmaxCrossEntropy()
    loss(net(np.random.default_rng(0).standard_normal((32, 20))), np.arange(32) % 10)
    net.backward(loss.backward())
    src = mg.draw(net, gradients=True).source

    def colour(name):
        return re.search(r'<TD BGCOLOR="(#[0-9a-f]+)"><B>Linear</B> <FONT POINT-SIZE="10">' + name + "<", src)[1]

    assert colour("0") in ("#4575b4", "#91bfdb")  # vanishing: blue
    assert colour("16") in ("#fc8d59", "#d73027")  # far above the median: red
    assert colour("8") == "#ffffff"


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
