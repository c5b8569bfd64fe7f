"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d: gradients against finite differences and PyTorch, ties, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg

seeds = st.integers(min_value=0, max_value=2**31 - 1)
fast = settings(max_examples=25, deadline=None)


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values 0.05 apart in random order: no ties inside the finite-difference stencil."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.05 - 1.0


@st.composite
def pool_options(draw, dilation: bool = True):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, 1, 2, (1, 2)]))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    h, w = (draw(st.integers(dd * (kk - 1) + 1, dd * (kk - 1) + 4)) for dd, kk in zip(d, k))
    kwargs = {"stride": stride, "padding": padding} | ({"dilation": d} if dilation else {})
    return k, kwargs, (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)


@fast
@given(options=pool_options(), seed=seeds)
def test_max_pool_gradcheck(options, seed):
    k, kwargs, shape = options
    assert mg.gradcheck(mg.MaxPool2d(k, **kwargs), distinct(np.random.default_rng(seed), shape)).ok


@fast
@given(options=pool_options(dilation=False), seed=seeds)
def test_avg_pool_gradcheck(options, seed):
    k, kwargs, shape = options
    assert mg.gradcheck(mg.AvgPool2d(k, **kwargs), np.random.default_rng(seed).standard_normal(shape)).ok


@fast
@given(oh=st.sampled_from([1, 2, 3, None]), ow=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(3, 7), seed=seeds)
def test_adaptive_avg_pool_gradcheck(oh, ow, h, w, seed):
    assert mg.gradcheck(mg.AdaptiveAvgPool2d((oh, ow)), np.random.default_rng(seed).standard_normal((2, 2, h, w))).ok


def torch_pool(module):
    nn = pytest.importorskip("torch").nn
    if isinstance(module, mg.AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool2d(module.output_size)
    if isinstance(module, mg.MaxPool2d):
        return nn.MaxPool2d(module.kernel_size, module.stride, module.padding, module.dilation)
    return nn.AvgPool2d(module.kernel_size, module.stride, module.padding)


def against_torch(module, x, seed=0):
    torch = pytest.importorskip("torch")
    y = module(x)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch_pool(module)(xt)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(module.backward(g), xt.grad.numpy(), atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(options=pool_options(), seed=seeds, which=st.sampled_from(["max", "avg"]))
def test_against_pytorch_in_float64_with_ties(options, seed, which):
    k, kwargs, shape = options
    # rounded values: many ties, which PyTorch breaks by the first maximum in the window, as we do
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)
    if which == "avg":
        kwargs.pop("dilation")
    against_torch((mg.MaxPool2d if which == "max" else mg.AvgPool2d)(k, **kwargs), x, seed)


@pytest.mark.parametrize("size", [1, 2, 3, (2, 5), (None, 3)])
def test_adaptive_avg_pool_against_pytorch(size):
    against_torch(mg.AdaptiveAvgPool2d(size), np.random.default_rng(0).standard_normal((2, 3, 7, 9)))


def test_tiling_reshape_and_general_path_agree():
    # kernel == stride on a divisible input takes the reshape; padding 0 vs a 1-pixel crop takes the strided view
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 6))
    tiled = mg.MaxPool2d(2)
    general = mg.MaxPool2d(2, stride=2, padding=1)
    y = tiled(x)
    assert y.shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(y, x.reshape(2, 3, 4, 2, 3, 2).max(axis=(3, 5)))
    g = np.ones_like(y)
    dx = tiled.backward(g)
    assert dx.sum() == y.size and ((dx == 1) == (x == np.repeat(np.repeat(y, 2, 2), 2, 3))).all()
    assert general(x).shape == (2, 3, 5, 4)


def test_float32_and_max_padding_is_never_the_max():
    x = -np.ones((1, 1, 3, 3), np.float32) * 5
    y = mg.MaxPool2d(3, stride=1, padding=1)(x)
    assert y.dtype == np.float32 and (y == -5).all()
    assert mg.AvgPool2d(2)(np.ones((1, 2, 4, 4), np.float32)).dtype == np.float32
    assert mg.AdaptiveAvgPool2d(1)(np.ones((1, 2, 4, 4), np.float32)).dtype == np.float32
    np.testing.assert_allclose(mg.AvgPool2d(3, 1, 1)(np.ones((1, 1, 3, 3)))[0, 0, 0, 0], 4 / 9)  # pad counted


def test_shapes_repr_config_and_errors():
    pool = mg.MaxPool2d(2)
    assert repr(pool) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))"
    assert pool.output_shape((20, 24, 24)) == (20, 12, 12)
    assert mg.AvgPool2d(3, 2, 1).output_shape((4, 7, 7)) == (4, 4, 4)
    assert mg.AdaptiveAvgPool2d(1).output_shape((40, 4, 4)) == (40, 1, 1)
    assert repr(mg.AdaptiveAvgPool2d((2, None))) == "AdaptiveAvgPool2d(output_size=(2, None))"
    assert mg.AvgPool2d(3, 2, 1).get_config() == {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}
    with pytest.raises(mg.ShapeError, match=r"MaxPool2d\(kernel_size=\(2, 2\).*expected input \(N, C, H, W\), got"):
        pool(np.ones((2, 4, 4)))
    with pytest.raises(mg.ShapeError, match=r"AvgPool2d.*smaller than the 3 x 3 window"):
        mg.AvgPool2d(3)(np.ones((1, 1, 2, 4)))
    with pytest.raises(mg.ShapeError, match=r"AdaptiveAvgPool2d.*expected input \(N, C, H, W\)"):
        mg.AdaptiveAvgPool2d(1).output_shape((4, 4))
    with pytest.raises(mg.HyperParameterError, match=r"MaxPool2d: padding \(2, 2\) must be at most half"):
        mg.MaxPool2d(3, padding=2)
    with pytest.raises(mg.HyperParameterError, match="AvgPool2d: kernel_size must be an int >= 1"):
        mg.AvgPool2d(0)
    with pytest.raises(mg.HyperParameterError, match="AdaptiveAvgPool2d: output_size"):
        mg.AdaptiveAvgPool2d(0)
    with pytest.raises(mg.StateError, match="before forward"):
        mg.MaxPool2d(2).backward(np.ones((1, 1, 2, 2)))
    pool(np.ones((1, 1, 4, 4)))
    with pytest.raises(mg.ShapeError, match=r"grad_output of shape \(1, 1, 2, 2\)"):
        pool.backward(np.ones((1, 1, 2, 3)))
