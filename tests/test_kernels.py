"""Every kernel of minigrad/kernels.py against the plain expression its docstring names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import kernels

sizes = st.integers(min_value=1, max_value=7)
seeds = st.integers(min_value=0, max_value=2**31 - 1)
dtypes = st.sampled_from([np.float32, np.float64])
fast = settings(max_examples=40, deadline=None)


def tol(dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}


@fast
@given(n=sizes, f=sizes, seed=seeds, dtype=dtypes)
def test_sigmoid_equals_the_plain_form_and_keeps_the_dtype(n, f, seed, dtype):
    z = (np.random.default_rng(seed).standard_normal((n, f)) * 8).astype(dtype)
    a = kernels.sigmoid(z)
    assert a.dtype == dtype and a is not z
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-z)), **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_and_softmax_never_overflow(dtype):
    z = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = kernels.sigmoid(z)
        s = kernels.softmax(z)
    np.testing.assert_array_equal(a[0, [0, 2, 4]], [0.0, 0.5, 1.0])
    assert np.isfinite(s).all() and s[0, -1] == 1.0


@fast
@given(n=sizes, c=sizes, seed=seeds, dtype=dtypes)
def test_softmax_equals_the_plain_form(n, c, seed, dtype):
    z = np.random.default_rng(seed).standard_normal((n, c)).astype(dtype) * 5
    plain = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(kernels.softmax(z), plain, **tol(dtype))


@fast
@given(n=sizes, c=sizes, seed=seeds, dtype=dtypes, scale=st.sampled_from([1.0, 30.0, 1e4]))
def test_softmax_cross_entropy_equals_minus_log_softmax_at_the_labels(n, c, seed, dtype, scale):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, n)
    z64 = z.astype(np.float64)
    log_softmax = z64 - z64.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    total, probs, targets = kernels.softmax_cross_entropy(z, labels)
    assert probs.dtype == dtype
    expected = -log_softmax[np.arange(n), labels].sum()
    np.testing.assert_allclose(total, expected, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-3)
    np.testing.assert_allclose(probs, np.exp(log_softmax), **tol(dtype))
    one_hot = np.zeros((n, c))
    one_hot[np.arange(n), labels] = 1.0
    grad = kernels.softmax_cross_entropy_backward(probs, targets, 0.25)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, 0.25 * (probs - one_hot), **tol(dtype))


def test_softmax_cross_entropy_of_non_contiguous_logits_equals_a_contiguous_copy():
    rng = np.random.default_rng(3)
    for z in (
        np.asfortranarray(rng.standard_normal((7, 5))),
        rng.standard_normal((5, 7)).T,
        rng.standard_normal((7, 10))[:, ::2],
    ):
        labels = rng.integers(0, 5, 7)
        total, probs, targets = kernels.softmax_cross_entropy(z, labels)
        total_c, probs_c, targets_c = kernels.softmax_cross_entropy(np.ascontiguousarray(z), labels)
        assert total == total_c
        np.testing.assert_array_equal(probs, probs_c)
        np.testing.assert_array_equal(targets, targets_c)


def test_row_starts_is_a_shared_read_only_arange():
    rows = kernels.row_starts(4, 10)
    np.testing.assert_array_equal(rows, np.arange(0, 40, 10))
    assert kernels.row_starts(4, 10) is rows
    with pytest.raises(ValueError, match="read-only"):
        rows += 1


def test_constant_is_a_read_only_0d_array_of_the_dtype():
    c = kernels.constant(0.5, np.float32)
    assert c.shape == () and c.dtype == np.float32 and float(c) == 0.5
    with pytest.raises(ValueError, match="read-only"):
        c += 1
    x = np.ones(3, np.float32)
    assert (x * c).dtype == np.float32


@fast
@given(
    labels=st.lists(st.integers(-(2**31), 2**31 - 1), max_size=20),
    c=st.integers(1, 12),
    dtype=st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.uint32, np.uint64]),
)
def test_labels_in_range_equals_the_two_comparisons(labels, c, dtype):
    info = np.iinfo(dtype)
    t = np.array([v for v in labels if info.min <= v <= info.max], dtype=dtype)
    assert kernels.labels_in_range(t, c) == bool(((t >= 0) & (t < c)).all())


@fast
@given(n=sizes, a_rows=sizes, b_cols=sizes, seed=seeds, written=st.booleans())
def test_add_matmul_and_add_batch_sum_equal_plus_equals(n, a_rows, b_cols, seed, written):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((a_rows, n)), rng.standard_normal((n, b_cols))
    p, q = mg.Parameter(np.zeros((a_rows, b_cols))), mg.Parameter(np.zeros((a_rows, b_cols)))
    g = rng.standard_normal((n, b_cols))
    r, s = mg.Parameter(np.zeros(b_cols)), mg.Parameter(np.zeros(b_cols))
    if written:  # something already added since zero_grad: the kernels must add, not overwrite
        for prm in (p, q, r, s):
            prm.grad += 1.5
    kernels.add_matmul(p, a, b)
    q.grad += a @ b
    kernels.add_batch_sum(r, g)
    s.grad += g.sum(axis=0)
    np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
    np.testing.assert_allclose(r.grad, s.grad, rtol=1e-12)
    assert p.has_grad and r.has_grad


def test_add_matmul_refuses_a_product_of_another_shape_and_writes_nothing():
    p = mg.Parameter(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        kernels.add_matmul(p, np.ones((2, 4)), np.ones((4, 2)))
    assert not p.has_grad
    p.grad += 1.0
    with pytest.raises(ValueError, match="does not fit"):
        kernels.add_matmul(p, np.ones((1, 4)), np.ones((4, 3)))  # (1, 3) would broadcast under +=
    np.testing.assert_array_equal(p.grad, np.ones((2, 3)))


# -- convolution and pooling kernels against nested loops ------------------------------------------------
@st.composite
def window_geometry(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h, w = (draw(st.integers(dd * (kk - 1) + 1, dd * (kk - 1) + 5)) for dd, kk in zip(d, k))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), k, s, d


def loop_windows(xp, k, s, d):
    n, c, h, w = xp.shape
    oh, ow = kernels.conv_output_size(h, k[0], s[0], d[0]), kernels.conv_output_size(w, k[1], s[1], d[1])
    v = np.zeros((n, c, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            for p in range(oh):
                for q in range(ow):
                    v[:, :, i, j, p, q] = xp[:, :, p * s[0] + i * d[0], q * s[1] + j * d[1]]
    return v


@fast
@given(geometry=window_geometry(), seed=seeds)
def test_windows_im2col_and_pool_windows_equal_the_nested_loops(geometry, seed):
    shape, k, s, d = geometry
    xp = np.random.default_rng(seed).standard_normal(shape)
    v = loop_windows(xp, k, s, d)
    np.testing.assert_array_equal(kernels.windows(xp, k, s, d), v)
    win = kernels.pool_windows(xp, k, s, d)
    np.testing.assert_array_equal(win, v.transpose(0, 1, 4, 5, 2, 3).reshape(*win.shape))


@fast
@given(geometry=window_geometry(), seed=seeds, tile=st.booleans())
def test_col2im_and_pool_windows_backward_equal_np_add_at(geometry, seed, tile):
    shape, k, s, d = geometry
    if tile:  # the reshape path: windows tiling a divisible input
        s, d = k, (1, 1)
        shape = (*shape[:2], 2 * k[0], 3 * k[1])
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    oh, ow = kernels.conv_output_size(h, k[0], s[0], d[0]), kernels.conv_output_size(w, k[1], s[1], d[1])
    blocks = rng.standard_normal((n, c, k[0], k[1], oh, ow))
    plain = np.zeros(shape)
    nn, cc, i, j, p, q = np.indices(blocks.shape)
    np.add.at(plain, (nn, cc, p * s[0] + i * d[0], q * s[1] + j * d[1]), blocks)
    np.testing.assert_allclose(kernels.windows_adjoint(blocks, shape, s, d), plain, rtol=1e-12, atol=1e-14)
    dwin = blocks.transpose(0, 1, 4, 5, 2, 3).reshape(n, c, oh, ow, -1)
    np.testing.assert_allclose(kernels.pool_windows_backward(dwin, shape, k, s, d), plain, rtol=1e-12, atol=1e-14)


@fast
@given(geometry=window_geometry(), seed=seeds, groups=st.sampled_from([1, 2]))
def test_conv2d_by_im2col_equals_the_direct_nested_loop_convolution(geometry, seed, groups):
    (n, c, h, w), k, s, d = geometry
    c *= groups
    o = 2 * groups
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    conv = mg.Conv2d(c, o, k, stride=s, dilation=d, groups=groups, rng=seed, dtype="float64")
    weight, bias, cg = conv.weight.data, conv.bias.data, c // groups
    y = conv(x)
    direct = np.zeros(y.shape)
    for oc in range(o):
        first = oc // (o // groups) * cg
        for p in range(y.shape[2]):
            for q in range(y.shape[3]):
                direct[:, oc, p, q] = bias[oc]
                for ci in range(cg):
                    for i in range(k[0]):
                        for j in range(k[1]):
                            px = x[:, first + ci, p * s[0] + i * d[0], q * s[1] + j * d[1]]
                            direct[:, oc, p, q] += weight[oc, ci, i, j] * px
    np.testing.assert_allclose(y, direct, rtol=1e-12, atol=1e-12)


@fast
@given(geometry=window_geometry(), seed=seeds, pads=st.tuples(*[st.integers(0, 2)] * 4))
def test_im2col_and_col2im_equal_the_padded_loops_and_np_add_at(geometry, seed, pads):
    shape, k, s, d = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    cols = kernels.im2col(x, k, s, d, pads)
    assert cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, loop_windows(xp, k, s, d).transpose(1, 2, 3, 4, 5, 0))
    # out=: the same columns written into a flat buffer of the size (a view of it is returned) ...
    buffer = np.full(cols.size, np.nan)
    again = kernels.im2col(x, k, s, d, pads, out=buffer)
    assert np.shares_memory(again, buffer)
    np.testing.assert_array_equal(again, cols)
    # ... and a buffer of another size or dtype, read-only or not contiguous is left alone: a new array
    read_only = np.zeros(cols.size)
    read_only.flags.writeable = False
    others = [np.zeros(cols.size + 1), np.zeros(cols.size, np.float32), read_only]
    if cols.size > 1:  # (an array of one element is contiguous whatever its stride)
        others.append(np.zeros(2 * cols.size)[::2])
    for other in others:
        fresh = kernels.im2col(x, k, s, d, pads, out=other)
        assert not np.shares_memory(fresh, other) and not other.any()
        np.testing.assert_array_equal(fresh, cols)
    dcols = rng.standard_normal(cols.shape)
    plain = np.zeros(xp.shape)
    cc, i, j, p, q, nn = np.indices(dcols.shape)
    np.add.at(plain, (nn, cc, p * s[0] + i * d[0], q * s[1] + j * d[1]), dcols)
    plain = plain[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]
    np.testing.assert_allclose(kernels.col2im(dcols, x.shape, s, d, pads), plain, rtol=1e-12, atol=1e-14)


@fast
@given(
    n=st.integers(1, 2), c=st.integers(1, 3), oh=st.integers(1, 4), ow=st.integers(1, 4),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=seeds, nan=st.booleans(),
    x_batch_last=st.booleans(), g_batch_last=st.booleans(),
)  # fmt: skip
def test_max_pool_tiled_equals_argmax_with_ties(n, c, oh, ow, k, seed, nan, x_batch_last, g_batch_last):
    """In either memory order of the input (a Conv2d's batch-last view or C order) and of the gradient."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, (n, c, oh * k[0], ow * k[1])).astype(np.float64)  # many ties
    if nan:
        x.ravel()[rng.integers(0, x.size)] = np.nan
    if x_batch_last:
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    win = kernels.pool_windows(x, k, k, (1, 1))
    y, arg = kernels.max_pool_tiled(x, k)
    np.testing.assert_array_equal(arg, win.argmax(axis=-1))
    np.testing.assert_array_equal(y, np.take_along_axis(win, arg[..., None].astype(np.intp), -1)[..., 0])
    g = rng.standard_normal(y.shape)
    if g_batch_last:
        g = np.ascontiguousarray(g.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    dwin = np.zeros(win.shape)
    np.put_along_axis(dwin, arg[..., None].astype(np.intp), g[..., None], -1)
    expected = kernels.pool_windows_backward(dwin, x.shape, k, k, (1, 1))
    np.testing.assert_array_equal(kernels.max_pool_tiled_backward(g, arg, k), expected)


def test_memory_order_and_copy_like():
    c_order = np.zeros((2, 3, 4, 5))
    batch_last = np.zeros((3, 4, 5, 2)).transpose(3, 0, 1, 2)
    assert kernels.memory_order(c_order) == (0, 1, 2, 3)
    assert kernels.memory_order(batch_last) == (1, 2, 3, 0)
    a = np.arange(120.0).reshape(2, 3, 4, 5)
    copied = kernels.copy_like(batch_last, a)
    np.testing.assert_array_equal(copied, a)  # the same values: np.empty_like(layout)[...] = a
    assert kernels.memory_order(copied) == (1, 2, 3, 0) and not np.shares_memory(copied, a)


@fast
@given(g=st.integers(1, 3), m=sizes, k=sizes, p=sizes, seed=seeds, written=st.booleans())
def test_group_matmul_and_add_group_matmul_equal_np_matmul(g, m, k, p, seed, written):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((g, m, k)), rng.standard_normal((g, k, p))
    np.testing.assert_allclose(kernels.group_matmul(a, b), np.matmul(a, b), rtol=1e-12)
    prm = mg.Parameter(np.zeros((g * m, p)))
    if written:
        prm.grad += 1.5
    kernels.add_group_matmul(prm, a, b)
    np.testing.assert_allclose(prm.grad, np.matmul(a, b).reshape(g * m, p) + (1.5 if written else 0.0), rtol=1e-12)
