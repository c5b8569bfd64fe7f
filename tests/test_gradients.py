"""Every backward proven against central finite differences in float64, over hypothesis-chosen shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg

sizes = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
fast = settings(max_examples=25, deadline=None)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values with |x| >= 0.1, keeping ReLU-type kinks out of the difference stencil."""
    x = rng.uniform(0.1, 2.0, shape)
    return x * rng.choice([-1.0, 1.0], shape)


ACTIVATIONS = [mg.Sigmoid, mg.Tanh, mg.ReLU, lambda: mg.LeakyReLU(0.2), mg.Softmax, mg.Identity, mg.Flatten]


@fast
@given(n=sizes, f=sizes, seed=seeds, which=st.sampled_from(range(len(ACTIVATIONS))))
def test_activations(n, f, seed, which):
    rng = np.random.default_rng(seed)
    assert mg.gradcheck(ACTIVATIONS[which](), away_from_zero(rng, (n, f))).ok


@fast
@given(n=sizes, fin=sizes, fout=sizes, bias=st.booleans(), seed=seeds)
def test_linear(n, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    lin = mg.Linear(fin, fout, bias=bias, rng=seed)
    assert mg.gradcheck(lin, rng.standard_normal((n, fin))).ok


@fast
@given(n=sizes, f=sizes, p=st.floats(0.0, 0.9), seed=seeds)
def test_dropout_in_training_mode(n, f, p, seed):
    x = np.random.default_rng(seed).standard_normal((n, f))
    assert mg.gradcheck(mg.Dropout(p, rng=seed), x).ok


@fast
@given(n=sizes, c=st.integers(2, 6), seed=seeds, reduction=st.sampled_from(["mean", "sum"]))
def test_softmax_cross_entropy_indices_and_probabilities(n, c, seed, reduction):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * 3
    labels = rng.integers(0, c, n)
    assert mg.gradcheck(mg.SoftmaxCrossEntropy(reduction), z, labels).ok
    probs = rng.dirichlet(np.ones(c), n)
    assert mg.gradcheck(mg.SoftmaxCrossEntropy(reduction), z, probs).ok


@fast
@given(n=sizes, c=sizes, seed=seeds, reduction=st.sampled_from(["mean", "sum"]))
def test_sigmoid_bce_and_quadratic(n, c, seed, reduction):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * 3
    y = rng.uniform(0, 1, (n, c))
    assert mg.gradcheck(mg.SigmoidBCE(reduction), z, y).ok
    assert mg.gradcheck(mg.QuadraticCost(reduction), z, y).ok


@fast
@given(n=sizes, h=sizes, seed=seeds)
def test_nested_sequential(n, h, seed):
    rng = np.random.default_rng(seed)
    net = mg.Sequential(
        mg.Linear(4, h, rng=seed),
        mg.Sequential(mg.Tanh(), mg.Linear(h, h, rng=seed + 1), mg.Sequential(mg.Sigmoid())),
        mg.Linear(h, 3, rng=seed + 2),
        mg.Softmax(),
    )
    assert mg.gradcheck(net, rng.standard_normal((n, 4))).ok


@pytest.mark.parametrize(
    "loss,target",
    [
        (mg.SoftmaxCrossEntropy(), np.array([3, 1, 0, 9, 2])),
        (mg.SigmoidBCE(), np.eye(10)[[3, 1, 0, 9, 2]]),
        (mg.QuadraticCost(), np.eye(10)[[3, 1, 0, 9, 2]]),
    ],
)
def test_whole_seed_model_with_each_loss(loss, target):
    """Nielsen's network, shrunk to 20 inputs, through each loss; a sample of elements per tensor."""
    rng = np.random.default_rng(0)
    layers = [mg.Linear(20, 8, init="normal", rng=1), mg.Sigmoid(), mg.Linear(8, 10, init="normal", rng=2)]
    if isinstance(loss, mg.QuadraticCost):
        layers.append(mg.Sigmoid())
    report = mg.gradcheck(mg.Sequential(*layers), rng.uniform(0, 1, (5, 20)), target, loss=loss, max_checks=60)
    assert report.ok
    assert [c.name for c in report.checks] == ["input", "0.weight", "0.bias", "2.weight", "2.bias"]


def test_gradcheck_leaves_the_module_untouched():
    lin = mg.Linear(3, 2, rng=0)
    before = lin.weight.data.copy()
    mg.gradcheck(lin, np.ones((2, 3)))
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, before)
    assert not lin.weight.grad.any()


@fast
@given(n=sizes, a=sizes, b=sizes, seed=seeds)
def test_add_concat_and_graph_fanout(n, a, b, seed):
    """Add and Concat alone (several inputs), and a Graph whose node feeds three consumers."""
    rng = np.random.default_rng(seed)
    xa, xb = rng.standard_normal((n, a)), rng.standard_normal((n, b))
    assert mg.gradcheck(mg.Concat(), (xa, xb)).ok
    assert mg.gradcheck(mg.Add(), (xa, rng.standard_normal((n, a)), rng.standard_normal((n, a)))).ok
    x = mg.Input(a)
    h = mg.Tanh()(mg.Linear(a, b, rng=seed, dtype="float64")(x))
    both = mg.Concat()(h, mg.Add()(h, mg.Linear(a, b, rng=seed + 1, dtype="float64")(x)))
    g = mg.Graph(x, [mg.Linear(2 * b, 3, rng=seed + 2, dtype="float64")(both), h])
    assert mg.gradcheck(g, xa).ok


IMAGE_LAYERS = [mg.Sigmoid, mg.Tanh, mg.ReLU, lambda: mg.LeakyReLU(0.2), lambda: mg.Softmax(1), mg.Flatten]


@fast
@given(n=sizes, c=sizes, h=st.integers(1, 3), w=st.integers(1, 3), seed=seeds, which=st.integers(0, 6))
def test_layers_on_images(n, c, h, w, seed, which):
    """(N, C, H, W) through the activations, Flatten, Dropout and Concat(axis=1) / Add of images."""
    rng = np.random.default_rng(seed)
    x = away_from_zero(rng, (n, c, h, w))
    if which < len(IMAGE_LAYERS):
        assert mg.gradcheck(IMAGE_LAYERS[which](), x).ok
    else:
        assert mg.gradcheck(mg.Dropout(0.3, rng=seed), x).ok
    other = rng.standard_normal((n, c + 1, h, w))
    assert mg.gradcheck(mg.Concat(axis=1), (x, other)).ok
    assert mg.gradcheck(mg.Add(), (x, rng.standard_normal(x.shape))).ok
