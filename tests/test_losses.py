"""Loss values against direct formulas, the delta = a - y gradients, stability and bad targets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.kernels import sigmoid

Z = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
LABELS = np.array([0, 2])
ONEHOT = np.eye(3)[LABELS]


def test_softmax_ce_value_and_delta():
    loss = mg.SoftmaxCrossEntropy()
    p = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[[0, 1], LABELS]))
    assert loss(Z, LABELS) == pytest.approx(expected)
    np.testing.assert_allclose(loss.probs, p)
    np.testing.assert_allclose(loss.backward(), (p - ONEHOT) / 2)  # delta = a - y, over N
    assert loss(Z, ONEHOT) == pytest.approx(expected)
    np.testing.assert_allclose(loss.backward(), (p - ONEHOT) / 2)
    assert mg.SoftmaxCrossEntropy("sum")(Z, LABELS) == pytest.approx(2 * expected)


@pytest.mark.parametrize("grad_output", [2.0, 2, np.float32(2.0), np.array(2.0)])
def test_loss_backward_scales_by_grad_output_of_any_scalar_kind(grad_output):
    # The scale becomes a cached read-only 0-d array (functional.scalar): a 0-d ndarray (unhashable)
    # must work as well as a float, and the cached constant must not be written into.
    loss = mg.SoftmaxCrossEntropy()
    loss(Z.astype(np.float32), LABELS)
    base = loss.backward()
    np.testing.assert_allclose(loss.backward(grad_output), 2 * base, rtol=1e-6)
    assert loss.backward(grad_output).dtype == np.float32
    np.testing.assert_array_equal(loss.backward(), base)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    c=st.integers(2, 12),
    spread=st.sampled_from([0.1, 3.0, 30.0, 1e4]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_softmax_ce_value_matches_log_sum_exp_on_both_paths(n, c, spread, dtype, seed):
    # Class labels take -log(prod p_y) while that product is a normal float, else log-sum-exp:
    # both must give the float64 log-sum-exp value (large batches and wide spreads take the second).
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, c)) * spread).astype(dtype)
    y = rng.integers(0, c, n)
    z64 = z.astype(np.float64)
    m = z64.max(axis=1)
    expected = np.mean(m + np.log(np.exp(z64 - m[:, None]).sum(axis=1)) - z64[np.arange(n), y])
    ce = mg.SoftmaxCrossEntropy()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert ce(z, y) == pytest.approx(expected, rel=tol, abs=tol)
    assert ce(z, np.eye(c, dtype=dtype)[y]) == pytest.approx(expected, rel=tol, abs=tol)
    g = ce.backward()
    assert ce(z, y) == pytest.approx(expected, rel=tol, abs=tol)
    np.testing.assert_allclose(ce.backward(), g, rtol=tol, atol=tol)  # labels and one-hot rows: the same delta


def test_sigmoid_bce_value_delta_and_relation_to_pytorch_mean():
    loss = mg.SigmoidBCE()
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    a = 1 / (1 + np.exp(-Z))
    per_example = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    assert loss(Z, y) == pytest.approx(per_example.mean())
    np.testing.assert_allclose(loss.backward(), (a - y) / 2)
    # BCEWithLogitsLoss(mean) averages over all N*C entries: ours / C.
    bce_mean_over_all = -(y * np.log(a) + (1 - y) * np.log(1 - a)).mean()
    assert loss(Z, y) / 3 == pytest.approx(bce_mean_over_all)
    assert loss(Z, LABELS) == pytest.approx(mg.SigmoidBCE()(Z, ONEHOT))


def test_quadratic_cost_value_and_gradient():
    loss = mg.QuadraticCost()
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert loss(Z, y) == pytest.approx(0.5 * ((Z - y) ** 2).sum() / 2)
    np.testing.assert_allclose(loss.backward(), (Z - y) / 2)
    np.testing.assert_allclose(loss.backward(2.0), (Z - y))
    assert loss(Z, np.array([0, 1])) == pytest.approx(0.5 * ((Z - y) ** 2).sum() / 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_at_huge_logits_without_warnings(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ce = mg.SoftmaxCrossEntropy()
        value = ce(z, np.array([1, 0]))
        assert np.isfinite(value) and value == pytest.approx((2e4 + 2e4 + np.log(2)) / 2, rel=1e-5)
        g = ce.backward()
        assert np.isfinite(g).all() and g.dtype == dtype
        bce = mg.SigmoidBCE()
        value = bce(z, np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
        assert value == pytest.approx((1e4 + 1e4 + np.log(2) + 1e4 + 1e4 + 1e4) / 2, rel=1e-5)
        gb = bce.backward()
        np.testing.assert_allclose(gb, [[0.5, -0.5, -0.25], [-0.5, 0.5, 0.5]])
        for x in (np.array([[-1e4, -800.0, -100.0, 0.0, 100.0, 800.0, 1e4]], dtype=dtype),):
            s = mg.Sigmoid()(x)
            assert np.isfinite(s).all() and s.dtype == dtype
            assert s[0, 0] == 0.0 and s[0, -1] == 1.0 and s[0, 3] == 0.5


def test_sigmoid_matches_direct_formula_in_its_safe_range():
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "loss,z,target,match",
    [
        (mg.SoftmaxCrossEntropy(), Z, np.array([0, 3]), r"class labels must be in \[0, 3\), got \[3\]"),
        (mg.SoftmaxCrossEntropy(), Z, np.array([-1, 0]), r"got \[-1\]"),
        (mg.SoftmaxCrossEntropy(), Z, np.array([0.0, 1.0]), "must be integers"),
        (mg.SoftmaxCrossEntropy(), Z, np.array([0, 1, 2]), "expected 2 labels"),
        (mg.SoftmaxCrossEntropy(), Z, np.ones((2, 4)), r"expected targets \(2, 3\)"),
        (mg.SigmoidBCE(), Z, np.full((2, 3), 1.5), r"in \[0, 1\], got values in \[1.5, 1.5\]"),
        (mg.SigmoidBCE(), Z, np.full((2, 3), np.nan), "NaN or inf"),
        (mg.QuadraticCost(), Z, np.full((2, 3), np.inf), "NaN or inf"),
    ],
)
def test_bad_targets(loss, z, target, match):
    with pytest.raises(mg.TargetError, match=match) as info:
        loss(z, target)
    assert type(loss).__name__ in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("loss", [mg.SoftmaxCrossEntropy(), mg.SigmoidBCE(), mg.QuadraticCost()])
def test_nan_input_is_a_clear_error(loss):
    z = Z.copy()
    z[1, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(mg.NonFiniteError, match="NaN.*learning rate"):
            loss(z, LABELS)


def test_bad_input_shape():
    expected = r"SoftmaxCrossEntropy\(\): expected input \(N, C\) with C >= 1, got shape \(3,\)"
    with pytest.raises(mg.ShapeError, match=expected):
        mg.SoftmaxCrossEntropy()(np.ones(3), LABELS)
    with pytest.raises(mg.ShapeError, match="numeric array"):
        mg.SoftmaxCrossEntropy()(np.array([["a"]]), LABELS)
    with pytest.raises(ValueError, match="reduction"):
        mg.SigmoidBCE(reduction="avg")


@pytest.mark.parametrize("loss", [mg.SoftmaxCrossEntropy(), mg.SigmoidBCE(), mg.QuadraticCost()])
def test_empty_batch_is_a_clear_error(loss):
    # The mean over zero examples has no value: say so, instead of dividing by zero deep inside.
    with pytest.raises(mg.ShapeError, match=rf"{type(loss).__name__}\(\): got an empty batch"):
        loss(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 100),
    dtype=st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.uint64]),
    bad=st.sampled_from([None, -1, 3, 200]),
    seed=st.integers(0, 2**16),
)
def test_label_range_checked_for_small_and_large_batches(n, dtype, bad, seed):
    # Small batches are checked in Python, larger ones with one NumPy max over an unsigned view:
    # both must catch a label below 0 or at/above C, in every integer dtype.
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype(dtype)
    if bad is not None and not (bad < 0 and np.dtype(dtype).kind == "u"):
        labels[rng.integers(n)] = np.array(bad).astype(dtype)
        with pytest.raises(mg.TargetError, match=r"class labels must be in \[0, 3\)"):
            mg.SoftmaxCrossEntropy()(np.zeros((n, 3)), labels)
    else:
        assert mg.SoftmaxCrossEntropy()(np.zeros((n, 3)), labels) == pytest.approx(np.log(3))


def test_label_check_follows_the_number_of_classes_of_each_call():
    # The small-batch check keeps the set {0, ..., C-1} of the last C: a new C must not reuse it.
    loss = mg.SoftmaxCrossEntropy()
    assert loss(np.zeros((4, 10)), np.array([9, 0, 5, 1])) == pytest.approx(np.log(10))
    with pytest.raises(mg.TargetError, match=r"class labels must be in \[0, 3\), got \[9\]"):
        loss(np.zeros((4, 3)), np.array([9, 0, 2, 1]))
    assert loss(np.zeros((2, 3)), np.array([2, 0])) == pytest.approx(np.log(3))
    with pytest.raises(mg.TargetError, match=r"got \[3\]"):
        loss(np.zeros((2, 3)), np.array([3, 0]))
