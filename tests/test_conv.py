"""Conv2d: gradients against finite differences and PyTorch, every option, errors, saving, a torch state_dict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.errors import ConfigError

seeds = st.integers(min_value=0, max_value=2**31 - 1)
fast = settings(max_examples=25, deadline=None)


@st.composite
def conv_options(draw):
    """A small Conv2d configuration and an input shape it fits: every constructor option in play."""
    groups = draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["same", "valid", 0, 1, (0, 2)]))
    stride = 1 if padding == "same" else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    span = [d * (kk - 1) + 1 for d, kk in zip(dilation, k)]
    h, w = (draw(st.integers(s, s + 2)) for s in span)
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "bias": draw(st.booleans())}
    return (cin, cout, k), kwargs, (draw(st.integers(1, 2)), cin, h, w)


@fast
@given(options=conv_options(), seed=seeds)
def test_gradcheck_over_every_option(options, seed):
    (cin, cout, k), kwargs, shape = options
    conv = mg.Conv2d(cin, cout, k, rng=seed, **kwargs)
    x = np.random.default_rng(seed).standard_normal(shape)
    assert mg.gradcheck(conv, x).ok  # input and parameters, needs_input_grad True and False


def torch_twin(conv: mg.Conv2d, kwargs: dict):
    torch = pytest.importorskip("torch")
    t = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, **kwargs).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(conv.weight.data))
        if conv.bias is not None:
            t.bias.copy_(torch.from_numpy(conv.bias.data))
    return t


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=15, deadline=None)
@given(options=conv_options(), seed=seeds)
def test_against_pytorch_in_float64(options, seed):
    torch = pytest.importorskip("torch")
    (cin, cout, k), kwargs, shape = options
    conv = mg.Conv2d(cin, cout, k, rng=seed, dtype="float64", **kwargs)
    t = torch_twin(conv, kwargs)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    y = conv(x)
    xt = torch.from_numpy(x).requires_grad_()
    yt = t(xt)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(conv.backward(g), xt.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(conv.weight.grad, t.weight.grad.numpy(), atol=1e-6)
    if conv.bias is not None:
        np.testing.assert_allclose(conv.bias.grad, t.bias.grad.numpy(), atol=1e-6)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k,d", [((2, 4), (1, 1)), ((4, 3), (1, 2)), (2, 3)])
def test_same_padding_of_even_kernels_is_asymmetric_as_pytorch(k, d):
    torch = pytest.importorskip("torch")
    conv = mg.Conv2d(2, 3, k, padding="same", dilation=d, rng=0, dtype="float64")
    x = np.random.default_rng(1).standard_normal((2, 2, 7, 6))
    y = conv(x)
    assert y.shape == (2, 3, 7, 6)
    np.testing.assert_allclose(y, torch_twin(conv, {"padding": "same", "dilation": d})(torch.from_numpy(x)).detach())


def test_first_layer_skips_the_input_gradient_and_gives_the_same_parameter_gradients():
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 4, 3, 3))
    a = mg.Conv2d(2, 4, 3, stride=2, padding=1, rng=0, dtype="float64")
    b = mg.Conv2d(2, 4, 3, stride=2, padding=1, rng=0, dtype="float64")
    a(x)
    assert a.backward(g).shape == x.shape
    b(x)
    b.needs_input_grad = False
    assert b.backward(g) is None
    np.testing.assert_array_equal(a.weight.grad, b.weight.grad)
    np.testing.assert_array_equal(a.bias.grad, b.bias.grad)


def test_reusing_the_columns_of_the_last_forward_changes_no_number():
    """Conv2d writes its im2col columns into the last forward's: outputs kept from before stay, gradients are the
    last forward's, and a batch of another size gets new columns."""
    rng = np.random.default_rng(1)
    a = mg.Conv2d(2, 3, 3, padding=1, rng=0, dtype="float64")
    fresh = mg.Conv2d(2, 3, 3, padding=1, rng=0, dtype="float64")
    x1, x2, x3 = rng.standard_normal((4, 2, 5, 5)), rng.standard_normal((4, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    y1 = a(x1)
    kept = y1.copy()
    for x in (x2, x3, x2):  # same size (the columns reused), another size, the first size again
        y = a(x)
        np.testing.assert_array_equal(y1, kept)  # an output kept by the user is its own array
        np.testing.assert_array_equal(y, fresh(x))
        g = rng.standard_normal(y.shape)
        a.zero_grad()
        fresh.zero_grad()
        np.testing.assert_array_equal(a.backward(g), fresh.backward(g))
        np.testing.assert_array_equal(a.weight.grad, fresh.weight.grad)
        fresh = mg.Conv2d(2, 3, 3, padding=1, rng=0, dtype="float64")  # no columns to reuse next time


def test_float32_stays_float32_and_agrees_with_float64():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8))
    c32 = mg.Conv2d(3, 5, 3, padding=1, rng=0)
    c64 = mg.Conv2d(3, 5, 3, padding=1, rng=0, dtype="float64")
    y = c32(x.astype(np.float32))
    assert y.dtype == np.float32 and c32.weight.dtype == np.float32
    np.testing.assert_allclose(y, c64(x), rtol=1e-4, atol=1e-5)
    g = c32.backward(np.ones_like(y))
    assert g.dtype == np.float32 and c32.weight.grad.dtype == np.float32


def test_default_init_is_pytorchs_bound():
    conv = mg.Conv2d(6, 40, 5, groups=2, rng=0)
    bound = 1 / np.sqrt(3 * 25)  # fan_in = in/groups * kH * kW
    assert conv.weight.shape == (40, 3, 5, 5) and conv.bias.shape == (40,)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.9 * bound
    assert np.abs(conv.bias.data).max() <= bound
    assert conv.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)


def test_torch_state_dict_loads_unchanged_and_gives_torchs_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 3)
    ).double()
    net = mg.Sequential(mg.Conv2d(1, 4, 3), mg.ReLU(), mg.MaxPool2d(2), mg.Flatten(), mg.Linear(36, 3)).to("float64")
    net.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    np.testing.assert_allclose(net(x), t(torch.from_numpy(x)).detach().numpy(), atol=1e-12)


def test_save_load_round_trip_of_a_cnn(tmp_path):
    net = mg.Sequential(
        mg.Conv2d(2, 4, (3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1), rng=0),
        mg.ReLU(),
        mg.MaxPool2d(2),
        mg.Conv2d(4, 4, 3, padding="same", groups=2, bias=False, rng=1),
        mg.AvgPool2d(3, stride=1, padding=1),
        mg.AdaptiveAvgPool2d(1),
        mg.Flatten(),
    )
    mg.save(net, tmp_path / "cnn.npz")
    back = mg.load(tmp_path / "cnn.npz")
    assert repr(back) == repr(net)
    x = np.random.default_rng(0).standard_normal((2, 2, 10, 8)).astype(np.float32)
    np.testing.assert_array_equal(back(x), net(x))
    assert net.output_shape((2, 10, 8)) == (4,)


def test_output_shape_and_repr():
    conv = mg.Conv2d(1, 20, 5)
    assert repr(conv) == "Conv2d(1 -> 20, kernel_size=(5, 5), stride=(1, 1))"
    assert conv.output_shape((1, 28, 28)) == (20, 24, 24)
    assert mg.Conv2d(3, 8, 3, stride=2, padding=1).output_shape((3, 9, 9)) == (8, 5, 5)
    assert mg.Conv2d(3, 8, 4, padding="same", dilation=2).output_shape((3, 9, 7)) == (8, 9, 7)
    r = repr(mg.Conv2d(4, 8, 3, padding="same", dilation=2, groups=2, bias=False))
    assert r == (
        "Conv2d(4 -> 8, kernel_size=(3, 3), stride=(1, 1), padding='same', dilation=(2, 2), groups=2, bias=False)"
    )
    with pytest.raises(mg.ShapeError, match=r"Conv2d\(1 -> 20.*expected input \(N, 1, H, W\), got \(N, 3, 28, 28\)"):
        conv.output_shape((3, 28, 28))


def test_bad_inputs_name_conv2d_what_it_expected_and_what_came():
    conv = mg.Conv2d(3, 4, 3)
    with pytest.raises(mg.ShapeError, match=r"Conv2d\(3 -> 4.*expected input \(N, 3, H, W\), got shape \(2, 3, 5\)"):
        conv(np.ones((2, 3, 5)))
    with pytest.raises(mg.ShapeError, match=r"expected input \(N, 3, H, W\), got shape \(2, 1, 5, 5\)"):
        conv(np.ones((2, 1, 5, 5)))
    with pytest.raises(mg.ShapeError, match=r"Conv2d\(3 -> 4.*smaller than the 3 x 3 window"):
        conv(np.ones((2, 3, 2, 5)))
    with pytest.raises(mg.StateError, match="before forward"):
        mg.Conv2d(3, 4, 3).backward(np.ones((2, 4, 3, 3)))
    conv(np.ones((2, 3, 5, 5)))
    with pytest.raises(mg.ShapeError, match=r"grad_output of shape \(2, 4, 3, 3\)"):
        conv.backward(np.ones((2, 4, 3, 4)))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"in_channels": 0}, mg.HyperParameterError, "in_channels must be a positive int"),
        ({"kernel_size": 0}, mg.HyperParameterError, "kernel_size must be an int >= 1"),
        ({"kernel_size": (3, 3, 3)}, mg.HyperParameterError, "kernel_size must be an int >= 1 or a pair"),
        ({"stride": 0}, mg.HyperParameterError, "stride"),
        ({"padding": -1}, mg.HyperParameterError, "padding must be an int >= 0"),
        ({"padding": "full"}, ConfigError, "padding must be an int, a pair, 'same' or 'valid'"),
        ({"padding": "same", "stride": 2}, mg.HyperParameterError, "padding='same' needs stride 1"),
        ({"dilation": 1.5}, mg.HyperParameterError, "dilation"),
        ({"groups": 3}, mg.HyperParameterError, "groups=3 must divide in_channels=4"),
        ({"init": "gaussian"}, ConfigError, "unknown initialiser"),
        ({"dtype": "int32"}, ConfigError, "expected a floating dtype"),
    ],
)
def test_bad_hyper_parameters_raise_the_projects_errors_naming_conv2d(kwargs, error, match):
    args = {"in_channels": 4, "out_channels": 6, "kernel_size": 3, **kwargs}
    with pytest.raises(error, match=match) as info:
        mg.Conv2d(**args)
    assert str(info.value).startswith("Conv2d: ")


def test_gradcheck_of_a_small_cnn_through_pooling_and_a_loss():
    rng = np.random.default_rng(0)
    net = mg.Sequential(
        mg.Conv2d(2, 3, 3, padding="same", rng=1),
        mg.Tanh(),
        mg.MaxPool2d(2),
        mg.Conv2d(3, 4, 2, rng=2),
        mg.AvgPool2d(2, stride=1),
        mg.AdaptiveAvgPool2d(1),
        mg.Flatten(),
        mg.Linear(4, 3, rng=3),
    )
    report = mg.gradcheck(net, rng.standard_normal((2, 2, 6, 6)), np.array([0, 2]), loss=mg.SoftmaxCrossEntropy())
    assert report.ok and [c.name for c in report.checks][:3] == ["input", "0.weight", "0.bias"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: mg.ReLU(),
        lambda: mg.MaxPool2d(2),
        lambda: mg.MaxPool2d(3, stride=2, padding=1),
        lambda: mg.AvgPool2d(2),
        lambda: mg.BatchNorm2d(4),
        lambda: mg.Flatten(),
        lambda: mg.Conv2d(4, 3, 3, padding=1, rng=0, dtype=np.float64),
    ],
    ids=["relu", "maxpool-tiled", "maxpool-window", "avgpool", "batchnorm", "flatten", "conv"],
)
def test_batch_last_memory_changes_no_number(make):
    # Conv2d returns (N, C, H, W) indices over (C, H, W, N) memory (no transposing copy); every layer
    # after it must compute what it computes on a C-contiguous copy of the same values (to rounding:
    # BatchNorm2d's float32 sums run in memory order).
    rng = np.random.default_rng(0)
    y = mg.Conv2d(2, 4, 3, rng=0, dtype=np.float64)(rng.standard_normal((5, 2, 10, 10)))
    assert y.shape == (5, 4, 8, 8) and not y.flags.c_contiguous and y.transpose(1, 2, 3, 0).flags.c_contiguous
    a, b = make(), make()
    out_a, out_b = a(y), b(np.ascontiguousarray(y))
    tol = {"rtol": 1e-5, "atol": 1e-5} if isinstance(a, mg.BatchNorm2d) else {"rtol": 1e-13, "atol": 1e-13}
    np.testing.assert_allclose(out_a, out_b, **tol)
    g = rng.standard_normal(out_a.shape)
    np.testing.assert_allclose(a.backward(g), b.backward(g.copy()), **tol)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.grad, pb.grad, **tol)
