"""Layer-specific behaviour: Linear's math and initialisers, Dropout, Flatten, Softmax."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.init import INITIALISERS


def test_linear_computes_x_wT_plus_b():
    lin = mg.Linear(3, 2, dtype="float64")
    lin.weight.data[...] = [[1, 2, 3], [4, 5, 6]]
    lin.bias.data[...] = [0.5, -1]
    np.testing.assert_allclose(lin(np.array([[1.0, 0, -1]])), [[1 - 3 + 0.5, 4 - 6 - 1]])
    assert lin.weight.shape == (2, 3) and lin.bias.shape == (2,)
    assert mg.Linear(3, 2, bias=False).parameters()[0].shape == (2, 3)
    assert len(mg.Linear(3, 2, bias=False).parameters()) == 1


@pytest.mark.parametrize("name", sorted(INITIALISERS))
def test_initialisers_reproducible_and_scaled(name):
    a = mg.Linear(400, 300, init=name, rng=7)
    b = mg.Linear(400, 300, init=name, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    std = a.weight.data.std()
    expected = {
        "normal": 1.0,
        "scaled_normal": 1 / np.sqrt(400),
        "pytorch": 1 / np.sqrt(400) / np.sqrt(3),
        "xavier_uniform": np.sqrt(2 / 700),
        "xavier_normal": np.sqrt(2 / 700),
        "he_uniform": np.sqrt(2 / 400),
        "he_normal": np.sqrt(2 / 400),
    }[name]
    assert std == pytest.approx(expected, rel=0.05)


def test_manual_seed_reproduces_modules():
    mg.manual_seed(3)
    a = mg.Linear(5, 4)
    mg.manual_seed(3)
    b = mg.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    with pytest.raises(mg.MinigradError, match="unknown initialiser 'gaussian'"):
        mg.Linear(2, 2, init="gaussian")
    with pytest.raises(TypeError, match="rng"):
        mg.Linear(2, 2, rng="seed")
    with pytest.raises(mg.ShapeError, match="in_features must be a positive int"):
        mg.Linear(0, 2)


def test_dropout_scaling_and_eval_identity():
    d = mg.Dropout(p=0.25, rng=0)
    x = np.ones((2000, 50))
    y = d(x)
    kept = y != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)  # same mask, same scale
    d.eval()
    np.testing.assert_array_equal(d(x), x)
    np.testing.assert_array_equal(d.backward(x), x)
    assert not mg.Dropout(p=1.0)(x).any()
    with pytest.raises(ValueError, match="probability"):
        mg.Dropout(p=1.5)


def test_flatten_roundtrip():
    f = mg.Flatten()
    x = np.arange(24.0).reshape(2, 3, 4)
    assert f(x).shape == (2, 12)
    assert f.backward(np.ones((2, 12))).shape == (2, 3, 4)
    assert mg.Flatten(0)(x).shape == (24,)


def test_softmax_rows_sum_to_one_and_identity_passes_through():
    s = mg.Softmax()(np.array([[1000.0, 0.0], [-5.0, 5.0]]))
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    assert s[0, 0] == 1.0
    x = np.ones((2, 2))
    ident = mg.Identity()
    assert ident(x) is x and ident.backward(x) is x


def test_relu_family_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(mg.ReLU()(x), [[0, 0, 3]])
    np.testing.assert_allclose(mg.LeakyReLU(0.1)(x), [[-0.2, 0, 3]])
    np.testing.assert_allclose(mg.Tanh()(x), np.tanh(x))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_keeps_the_dtype(dtype):
    z = np.array([[-3.0, 0.0, 2.5]], dtype=dtype)
    s = mg.Sigmoid()
    a = s(z)
    assert a.dtype == dtype
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-z.astype(np.float64))), rtol=2e-3 if dtype == np.float16 else 1e-6)
    g = s.backward(np.ones_like(z))
    assert g.dtype == dtype


def test_linear_shape_errors_name_the_culprit():
    lin = mg.Linear(3, 2, dtype="float64")
    with pytest.raises(mg.ShapeError, match=r"Linear\(3 -> 2\): expected input \(N, 3\), got shape \(4, 5\)"):
        lin(np.ones((4, 5)))
    with pytest.raises(mg.ShapeError, match=r"expected input \(N, 3\), got shape \(3,\)"):
        lin(np.ones(3))
    lin.weight.data = np.ones((2, 4))  # rebound to the wrong shape: the input is fine, the weight is not
    with pytest.raises(mg.ShapeError, match=r"its weight has shape \(2, 4\), expected \(2, 3\)"):
        lin(np.ones((4, 3)))


def test_flatten_and_softmax_on_images_and_their_errors():
    f = mg.Flatten()
    x = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    assert f(x).shape == (2, 60) and f.output_shape((3, 4, 5)) == (60,)
    assert mg.Flatten(2).output_shape((3, 4, 5)) == (3, 20)
    np.testing.assert_array_equal(f.backward(f(x)), x)
    with pytest.raises(mg.ShapeError, match=r"Flatten\(start_dim=5, end_dim=-1\): start_dim 5 is out of range"):
        mg.Flatten(5)(x)  # % would have wrapped it onto axis 1
    with pytest.raises(mg.ShapeError, match=r"end_dim -6 is out of range for an input \(N, 3, 4, 5\)"):
        mg.Flatten(1, -6).output_shape((3, 4, 5))
    s = mg.Softmax(1)
    np.testing.assert_allclose(s(x).sum(axis=1), 1.0)
    with pytest.raises(
        mg.ShapeError, match=r"Softmax\(dim=4\): dim 4 is out of range for an input of shape \(2, 3, 4, 5\)"
    ):
        mg.Softmax(4)(x)
    with pytest.raises(mg.GraphError, match=r"dim 3 is out of range for an input \(N, 7, 2\)"):
        mg.Softmax(3)(mg.Input((7, 2)))
