"""The Graph container: residual, two-input and two-output models, build-time errors, state, nesting."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(autouse=True)
def _float64(float64_default):
    yield


def residual_mlp(seed=0):
    x = mg.Input(6)
    h = mg.Tanh()(mg.Linear(6, 5, rng=seed)(x))
    r = mg.Tanh()(mg.Linear(5, 5, rng=seed + 1)(h))
    y = mg.Linear(5, 3, rng=seed + 2)(mg.Add()(h, r))  # skip connection around the second layer
    return mg.Graph(x, y)


def two_inputs():
    img, meta = mg.Input(6, name="image"), mg.Input(2, name="meta")
    h = mg.Sigmoid()(mg.Linear(6, 4, rng=0)(img))
    return mg.Graph([img, meta], mg.Linear(6, 3, rng=1)(mg.Concat()(h, meta)))


def two_outputs():
    x = mg.Input(6)
    h = mg.ReLU()(mg.Linear(6, 5, rng=0)(x))
    return mg.Graph(
        x, [mg.Linear(5, 3, rng=1, name=None)(h) if False else mg.Linear(5, 3, rng=1)(h), mg.Linear(5, 2, rng=2)(h)]
    )


RNG = np.random.default_rng(0)
X = RNG.uniform(0.2, 1.0, (4, 6)) * RNG.choice([-1, 1], (4, 6))


def test_residual_gradcheck_and_fanout_sums():
    assert mg.gradcheck(residual_mlp(), X).ok


def test_two_input_model():
    g = two_inputs()
    g.needs_input_grad = True
    out = g(X, RNG.standard_normal((4, 2)))
    assert out.shape == (4, 3)
    gx, gm = g.backward(np.ones_like(out))
    assert gx.shape == (4, 6) and gm.shape == (4, 2)
    assert mg.gradcheck(g, (X, RNG.standard_normal((4, 2)))).ok
    assert [n for n, _ in g.named_parameters()] == [
        "linear_1.weight",
        "linear_1.bias",
        "linear_2.weight",
        "linear_2.bias",
    ]


def test_two_output_model():
    g = two_outputs()
    g.needs_input_grad = True
    a, b = g(X)
    assert a.shape == (4, 3) and b.shape == (4, 2)
    assert g.backward(np.ones_like(a), np.ones_like(b)).shape == X.shape
    assert mg.gradcheck(g, X).ok
    with pytest.raises(mg.ShapeError, match="expected 2 output gradient"):
        g.backward(np.ones_like(a))


def test_graph_equals_the_equivalent_sequential():
    seq = mg.Sequential(mg.Linear(6, 5, rng=3), mg.Sigmoid(), mg.Linear(5, 2, rng=4))
    x = mg.Input(6)
    g = mg.Graph(x, seq[2](seq[1](seq[0](x))))
    np.testing.assert_array_equal(g(X), seq(X))
    seq2 = mg.Sequential(mg.Linear(6, 5, rng=3), mg.Sigmoid(), mg.Linear(5, 2, rng=4))
    ones = np.ones((4, 2))
    np.testing.assert_array_equal(g.backward(ones), seq2.backward(ones) if seq2(X) is not None else None)
    for (_, p), (_, q) in zip(g.named_parameters(), seq2.named_parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_nesting_both_ways():
    inner = residual_mlp()
    outer_seq = mg.Sequential(mg.Linear(4, 6, rng=9), inner, mg.Softmax())
    assert mg.gradcheck(outer_seq, RNG.standard_normal((3, 4))).ok
    x = mg.Input(6)
    block = mg.Sequential(mg.Linear(6, 6, rng=5), mg.Tanh())
    g = mg.Graph(x, mg.Linear(6, 2, rng=6)(mg.Add()(block(x), x)))
    assert "sequential_1.0.weight" in g.state_dict()
    assert mg.gradcheck(g, X).ok
    assert outer_seq.output_shape((4,)) == (3,)


def test_state_dict_keys_use_node_names_and_roundtrip(tmp_path):
    x = mg.Input(6)
    enc = mg.Linear(6, 4, rng=0)
    h = enc(x)
    h.name = "encoder"
    g = mg.Graph(x, mg.Linear(4, 2, rng=1)(h))
    assert list(g.state_dict()) == ["encoder.weight", "encoder.bias", "linear_1.weight", "linear_1.bias"]
    back = mg.load(mg.save(g, tmp_path / "g.npz"))
    np.testing.assert_array_equal(back(X), g(X))
    assert list(back.state_dict()) == list(g.state_dict())
    back2 = mg.load(mg.save(two_inputs(), tmp_path / "g2.npz"))
    assert [n.name for n in back2.inputs] == ["image", "meta"]


def test_train_eval_and_parameters_through_graph():
    x = mg.Input(6)
    g = mg.Graph(x, mg.Dropout(0.5)(mg.Linear(6, 3)(x)))
    g.eval()
    assert all(not m.training for m in g.modules())
    np.testing.assert_array_equal(g(X), g(X))
    assert len(g.parameters()) == 2


def test_build_time_errors():
    x = mg.Input(784)
    h = mg.Linear(784, 31)(x)
    with pytest.raises(
        mg.GraphError,
        match=r"Linear\(30 -> 10\): expected input \(N, 30\), got \(N, 31\).*"
        r"Linear\(784 -> 31\)",
    ):
        mg.Linear(30, 10)(h)
    a, b = mg.Linear(784, 10)(x), mg.Linear(784, 5)(x)
    with pytest.raises(mg.GraphError, match=r"Add\(\): \(N, 10\) and \(N, 5\) differ"):
        mg.Add()(a, b)
    shared = mg.Linear(784, 784)
    with pytest.raises(mg.GraphError, match="used at two places"):
        mg.Graph(x, shared(shared(x)))
    other = mg.Input(3)
    with pytest.raises(mg.GraphError, match="not among the inputs"):
        mg.Graph(x, mg.Concat()(a, mg.Linear(3, 2)(other)))
    with pytest.raises(mg.GraphError, match="no output depends on input"):
        mg.Graph([x, other], a)
    with pytest.raises(mg.GraphError, match="mix of symbolic nodes and arrays"):
        mg.Add()(a, np.ones((1, 10)))
    with pytest.raises(mg.GraphError, match="batch axis"):
        mg.Concat(axis=0)
    with pytest.raises(mg.GraphError, match="positive ints"):
        mg.Input(0)
    with pytest.raises(mg.GraphError, match="must be mg.Input"):
        mg.Graph(a, mg.Linear(10, 2)(a))


def test_weight_sharing_through_shared_parameters_is_correct():
    x = mg.Input(4)
    first = mg.Linear(4, 4, rng=0)
    second = mg.Linear(4, 4, rng=1)
    second.weight, second.bias = first.weight, first.bias  # one set of weights, two uses
    g = mg.Graph(x, second(mg.Tanh()(first(x))))
    assert len(g.parameters()) == 2
    assert mg.gradcheck(g, RNG.standard_normal((3, 4))).ok  # grads are the sum over both uses


def test_runtime_errors_name_the_node():
    g = residual_mlp()
    with pytest.raises(mg.ShapeError, match=r"Graph input 'input': expected \(N, 6\), got shape \(4, 5\)"):
        g(np.ones((4, 5)))
    with pytest.raises(mg.ShapeError, match="expected 1 input array"):
        g(X, X)
    fresh = residual_mlp()
    with pytest.raises(mg.StateError, match="Graph node 'linear_3'"):
        fresh.backward(np.ones((4, 3)))


def test_by_default_a_graph_runs_only_what_leads_to_parameters():
    def build():
        x, meta = mg.Input(6), mg.Input(2)
        side = mg.Tanh()(meta)  # no parameter anywhere behind it: its backward is skipped
        h = mg.Linear(6, 4, rng=0)(x)
        return mg.Graph([x, meta], mg.Linear(6, 3, rng=1)(mg.Concat()(h, side)))

    a, b = build(), build()
    a.needs_input_grad = True
    meta = RNG.standard_normal((4, 2))
    ones = np.ones((4, 3))
    a(X, meta)
    gx, gm = a.backward(ones)
    b(X, meta)
    assert b.backward(ones) is None
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_inception_style_concat_on_the_channel_axis():
    x = mg.Input((3, 4, 4))
    a, b = mg.ReLU()(x), mg.Tanh()(x)
    both = mg.Concat(axis=1)(a, b, mg.Sigmoid()(x))
    assert both.shape == (9, 4, 4)
    res = mg.Add()(both, mg.Concat(axis=1)(b, a, a))
    g = mg.Graph(x, mg.Flatten()(res))
    assert g.output_shape((3, 4, 4)) == (144,)
    g.needs_input_grad = True
    data = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    assert g(data).shape == (2, 144)
    assert g.backward(np.ones((2, 144))).shape == data.shape
    with pytest.raises(mg.GraphError, match=r"\(N, 3, 4, 4\) and \(N, 3, 4, 5\) differ outside axis 1 \(only"):
        mg.Concat(axis=1)(x, mg.Input((3, 4, 5)))
    with pytest.raises(mg.GraphError, match=r"Add\(\): \(N, 3, 4, 4\) and \(N, 3, 2, 2\) differ"):
        mg.Add()(x, mg.Input((3, 2, 2)))


@pytest.mark.parametrize("module", [mg.Add(), mg.Concat(axis=1)])
def test_add_and_concat_check_their_inputs_and_grad_output(module):
    with pytest.raises(mg.StateError, match="backward called before forward"):
        module.backward(np.ones((2, 3)))
    with pytest.raises(mg.ShapeError, match=r"different batch sizes \[2, 3\]"):
        module.forward(np.ones((2, 3, 4, 4)), np.ones((3, 3, 4, 4)))
    out = module.forward(np.ones((2, 3, 4, 4)), np.ones((2, 3, 4, 4)))
    with pytest.raises(
        mg.ShapeError, match=rf"backward expected grad_output of shape \({', '.join(map(str, out.shape))}\)"
    ):
        module.backward(np.ones((2, 3, 4, 1)))
