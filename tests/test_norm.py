"""BatchNorm1d, BatchNorm2d, LayerNorm: the backward by finite differences and node by node, against PyTorch,
their buffers through state_dict, save/load, .to and the optimizers, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.layers.norm import normalize_backward, normalize_backward_steps, normalize_forward_steps

fast = settings(max_examples=25, deadline=None)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def randomise_affine(module: mg.Module, rng: np.random.Generator) -> mg.Module:
    """gamma and beta away from their initial 1 and 0, so a forgotten factor shows."""
    for p in module.parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1.0, 1.0], p.shape)
    return module


def bn_input(kind: str, n: int, c: int, s: int, rng: np.random.Generator) -> tuple[mg.Module, np.ndarray]:
    shape = {"1d": (n, c), "1d3": (n, c, s), "2d": (n, c, s, s + 1)}[kind]
    cls = mg.BatchNorm2d if kind == "2d" else mg.BatchNorm1d
    return cls, rng.standard_normal(shape) * 2 + 0.5


# -- the closed-form backward against the graph node by node ------------------------------------
@fast
@given(
    shape=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    which=st.integers(0, 2),
    seed=seeds,
)
def test_closed_form_backward_equals_the_steps(shape, which, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    nd = len(shape)
    axes = [(0, *range(2, nd)), tuple(range(1, nd)), (nd - 1,)][which]  # BatchNorm's, LayerNorm's, one axis
    xhat, cache = normalize_forward_steps(x, 1e-5, axes)
    dxhat = rng.standard_normal(shape)
    steps = normalize_backward_steps(dxhat, cache)
    np.testing.assert_allclose(normalize_backward(dxhat, xhat, cache[2], axes), steps, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(xhat.mean(axis=axes), 0, atol=1e-12)


def test_the_steps_are_the_gradient():
    """The reference itself against finite differences of sum(xhat * R)."""
    rng = np.random.default_rng(0)
    x, r, axes = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2)), (0, 2)
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        num[i] = ((normalize_forward_steps(up, 1e-5, axes)[0] - normalize_forward_steps(down, 1e-5, axes)[0]) * r).sum()
    np.testing.assert_allclose(
        normalize_backward_steps(r, normalize_forward_steps(x, 1e-5, axes)[1]), num / 2e-6, atol=1e-7
    )


# -- gradcheck: train and eval mode, every option ------------------------------------------------
@fast
@given(
    kind=st.sampled_from(["1d", "1d3", "2d"]),
    n=st.integers(2, 4),
    c=st.integers(1, 3),
    s=st.integers(1, 3),
    affine=st.booleans(),
    bias=st.booleans(),
    track=st.booleans(),
    momentum=st.sampled_from([0.1, None, 1.0]),
    train=st.booleans(),
    seed=seeds,
)
def test_batchnorm_gradcheck(kind, n, c, s, affine, bias, track, momentum, train, seed):
    rng = np.random.default_rng(seed)
    cls, x = bn_input(kind, n, c, s, rng)
    bn = randomise_affine(cls(c, momentum=momentum, affine=affine, track_running_stats=track, bias=bias), rng)
    for _ in range(3):  # running statistics away from 0 and 1
        bn(rng.standard_normal(x.shape) * 3 + 1)
    bn.train(train)
    assert mg.gradcheck(bn, x).ok


@fast
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    norm=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    bias=st.booleans(),
    seed=seeds,
)
def test_layernorm_gradcheck(lead, norm, affine, bias, seed):
    rng = np.random.default_rng(seed)
    if int(np.prod(norm)) == 1:
        norm = [*norm[:-1], 2]  # one value normalised is 0 whatever it is: nothing to check
    ln = randomise_affine(mg.LayerNorm(tuple(norm), elementwise_affine=affine, bias=bias), rng)
    assert mg.gradcheck(ln, rng.standard_normal((*lead, *norm)) * 2 + 1).ok


def test_inside_a_network_with_a_loss():
    rng = np.random.default_rng(3)
    net = mg.Sequential(mg.Linear(5, 6, rng=0), mg.BatchNorm1d(6), mg.ReLU(), mg.LayerNorm(6), mg.Linear(6, 3, rng=1))
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    assert mg.gradcheck(net, x, y, loss=mg.SoftmaxCrossEntropy()).ok
    net.eval()
    assert mg.gradcheck(net, x, y, loss=mg.SoftmaxCrossEntropy()).ok


# -- against PyTorch (float64, 1e-6) -------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,options",
    [
        ("2d", {}),
        ("2d", {"momentum": None}),
        ("2d", {"affine": False}),
        ("2d", {"track_running_stats": False}),
        ("1d", {"momentum": 0.3}),
        ("1d3", {"bias": False}),
    ],
)
def test_batchnorm_against_torch(kind, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    cls, x = bn_input(kind, 5, 3, 4, rng)
    ours = randomise_affine(cls(3, dtype="float64", **options), rng)
    theirs = getattr(torch.nn, cls.__name__)(3, **options).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    for step in range(4):  # several steps: the running statistics and the accumulated gradients
        x = rng.standard_normal(x.shape) * (step + 1) + step
        g = rng.standard_normal(x.shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        ty.backward(torch.from_numpy(g))
        np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, name).grad.numpy(), rtol=1e-6, atol=1e-6)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-6, atol=1e-6)
    ours.eval(), theirs.eval()
    x = rng.standard_normal(x.shape) + 2
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    g = rng.standard_normal(x.shape)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "shape,options", [((4, 6), {}), ((2, 3, 4, 5), {"elementwise_affine": False}), ((3, 2, 5), {"bias": False})]
)
def test_layernorm_against_torch(shape, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    normalized = shape[-1] if len(shape) == 2 else shape[-2:]
    ours = randomise_affine(mg.LayerNorm(normalized, dtype="float64", **options), rng)
    theirs = torch.nn.LayerNorm(normalized, **options).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, g = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, name).grad.numpy(), rtol=1e-6, atol=1e-6)
    assert repr(ours) == repr(theirs)


def test_a_torch_batchnorm2d_state_dict_loads_unchanged():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
        theirs.bias.uniform_(-1.0, 1.0)
    for _ in range(3):
        theirs(torch.randn(6, 4, 5, 5) * 2 + 1)
    state = theirs.state_dict()
    assert state["num_batches_tracked"].dtype == torch.int64
    ours = mg.BatchNorm2d(4)  # float32, as torch's default
    ours.load_state_dict(state)  # the tensors themselves, unchanged
    assert int(ours.num_batches_tracked) == 3 and ours.num_batches_tracked.dtype == np.int64
    np.testing.assert_array_equal(ours.running_var, state["running_var"].numpy())
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype(np.float32)
    theirs.eval(), ours.eval()
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


# -- buffers: what they are, where they go --------------------------------------------------------
def test_buffers_are_state_not_parameters():
    net = mg.Sequential(mg.Linear(4, 3, rng=0), mg.BatchNorm1d(3), mg.ReLU(), mg.Linear(3, 2, rng=1))
    assert [n for n, _ in net.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
    assert list(net.state_dict()) == [
        "0.weight", "0.bias",
        "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
        "3.weight", "3.bias",
    ]  # fmt: skip
    assert mg.BatchNorm1d(3, track_running_stats=False).buffers() == []
    assert list(mg.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_optimizers_never_see_buffers():
    rng = np.random.default_rng(0)
    net = mg.Sequential(mg.Linear(4, 3, rng=0, dtype="float64"), mg.BatchNorm1d(3, dtype="float64"))
    buffer_ids = {id(b) for b in net.buffers()}
    for opt in (mg.SGD(net.parameters(), lr=0.1, momentum=0.9), mg.Adam(net.parameters())):
        assert not buffer_ids & {id(p.data) for g in opt.param_groups for p in g["params"]}
        net(rng.standard_normal((5, 4)))
        before = [b.copy() for b in net.buffers()]
        net.backward(rng.standard_normal((5, 3)))
        opt.step()
        for b, old in zip(net.buffers(), before):
            np.testing.assert_array_equal(b, old)  # only forward moves the running statistics
    with pytest.raises(mg.MinigradError, match="Parameter"):
        mg.SGD([net[1].running_mean], lr=0.1)


def test_to_moves_floating_buffers_and_keeps_the_counter_int64():
    bn = mg.BatchNorm2d(3, dtype="float64")
    bn(np.ones((2, 3, 2, 2)))
    bn.to("float32")
    assert [b.dtype for b in bn.buffers()] == [np.float32, np.float32, np.int64]
    assert bn.weight.dtype == np.float32 and int(bn.num_batches_tracked) == 1
    y = bn(np.random.default_rng(0).standard_normal((2, 3, 2, 2)))  # float64 in, float32 out
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32
    assert bn.get_config()["dtype"] == "float32"


@pytest.mark.parametrize("make", [lambda: mg.BatchNorm2d(3), lambda: mg.LayerNorm((3, 4, 4))])
def test_float32_runs_in_float32(make):
    m = make()
    x = np.random.default_rng(0).standard_normal((4, 3, 4, 4)).astype(np.float32)
    y = m(x)
    dx = m.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())
    assert all(b.dtype in (np.float32, np.int64) for b in m.buffers())
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3) if isinstance(m, mg.BatchNorm2d) else (1, 2, 3)), 0, atol=1e-5)


def test_save_and_load_keep_the_buffers(tmp_path):
    rng = np.random.default_rng(0)
    net = mg.Sequential(mg.BatchNorm2d(2), mg.Flatten(), mg.Linear(18, 3, rng=0), mg.BatchNorm1d(3, momentum=None))
    for _ in range(3):
        net(rng.standard_normal((4, 2, 3, 3)))
    path = mg.save(net, tmp_path / "bn.npz")
    back = mg.load(path)
    for (k, a), (k2, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert int(back[3].num_batches_tracked) == 3 and back[3].momentum is None
    x = rng.standard_normal((2, 2, 3, 3))
    np.testing.assert_array_equal(back.eval()(x), net.eval()(x))
    with np.load(path, allow_pickle=False) as npz:
        entries = {k: npz[k] for k in npz.files}
    assert {"model/0.running_mean", "model/3.num_batches_tracked"} <= set(entries)
    entries["model/0.running_var"] = np.ones(5, np.float32)
    np.savez(tmp_path / "bad.npz", **entries)
    with pytest.raises(mg.CheckpointError, match=r"0.running_var.*\(2,\).*\(5,\)"):
        mg.load(tmp_path / "bad.npz")
    entries["model/0.running_var"] = np.ones(2, np.float32)
    entries["model/3.num_batches_tracked"] = np.array(3.0)
    np.savez(tmp_path / "dtype.npz", **entries)
    with pytest.raises(mg.CheckpointError, match=r"3.num_batches_tracked' expected dtype int64, got float64"):
        mg.load(tmp_path / "dtype.npz")
    del entries["model/3.num_batches_tracked"]
    np.savez(tmp_path / "missing.npz", **entries)
    with pytest.raises(mg.CheckpointError, match=r"missing keys \['3.num_batches_tracked'\]"):
        mg.load(tmp_path / "missing.npz")


def test_summary_counts_buffers():
    table = mg.summary(mg.Sequential(mg.BatchNorm2d(3), mg.Flatten(), mg.Linear(48, 2)), (3, 4, 4))
    assert "(N, 3, 4, 4)" in table and "(N, 48)" in table
    assert "Total params: 104 " in table  # 6 + 48 * 2 + 2
    assert "Buffers: 7 " in table  # running mean and variance (3 each) and the counter


# -- modes, values, errors ------------------------------------------------------------------------
def test_running_statistics_and_modes():
    rng = np.random.default_rng(0)
    bn = mg.BatchNorm1d(2, momentum=None, dtype="float64")
    batches = [rng.standard_normal((10, 2)) * 3 + 5 for _ in range(4)]
    for b in batches:
        y = bn(b)
        np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(y.var(0), 1, rtol=1e-5)  # eps
    np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(0) for b in batches], axis=0))  # cumulative
    np.testing.assert_allclose(bn.running_var, np.mean([b.var(0, ddof=1) for b in batches], axis=0))
    bn.eval()
    before = bn.running_mean.copy()
    y = bn(batches[0])
    np.testing.assert_allclose(y, (batches[0] - bn.running_mean) / np.sqrt(bn.running_var + 1e-5))
    np.testing.assert_array_equal(bn.running_mean, before)  # eval never moves them
    assert int(bn.num_batches_tracked) == 4
    one = bn(np.ones((1, 2)))  # one example is fine in eval mode
    assert one.shape == (1, 2)


def test_stable_at_large_and_constant_inputs():
    for x in (np.full((4, 3, 2, 2), 1e4), np.random.default_rng(0).uniform(-1e4, 1e4, (4, 3, 2, 2))):
        for m in (mg.BatchNorm2d(3), mg.LayerNorm(4)):
            y = m(x.reshape(4, 3, 4) if isinstance(m, mg.LayerNorm) else x.astype(np.float32))
            dx = m.backward(np.ones_like(y))
            assert np.isfinite(y).all() and np.isfinite(dx).all()


def test_errors_name_the_module_the_expected_shape_and_what_came():
    with pytest.raises(
        mg.ShapeError, match=r"BatchNorm2d\(3, .*expected input \(N, 3, H, W\), got shape \(2, 4, 5, 5\)"
    ):
        mg.BatchNorm2d(3)(np.ones((2, 4, 5, 5)))
    with pytest.raises(mg.ShapeError, match=r"expected input \(N, 3, H, W\), got shape \(2, 3\)"):
        mg.BatchNorm2d(3)(np.ones((2, 3)))
    with pytest.raises(mg.ShapeError, match=r"BatchNorm1d\(3, .*expected input \(N, 3\) or \(N, 3, L\)"):
        mg.BatchNorm1d(3)(np.ones((2, 3, 4, 4)))
    with pytest.raises(mg.ShapeError, match="more than 1 value per channel"):
        mg.BatchNorm1d(3)(np.ones((1, 3)))
    with pytest.raises(
        mg.ShapeError, match=r"LayerNorm\(\(4, 5\), .*expected input \(N, \.\.\., 4, 5\), got shape \(2, 5, 4\)"
    ):
        mg.LayerNorm((4, 5))(np.ones((2, 5, 4)))
    with pytest.raises(mg.ShapeError, match=r"expected input \(N, 3, H, W\), got \(N, 4, 8, 8\)"):
        mg.BatchNorm2d(3).output_shape((4, 8, 8))
    with pytest.raises(mg.GraphError, match=r"LayerNorm.*\(N, \.\.\., 7\)"):
        mg.LayerNorm(7)(mg.Input((3, 4, 4)))
    for bad in [{"momentum": 1.5}, {"momentum": "0.1"}, {"eps": 0}, {"eps": float("nan")}]:
        with pytest.raises(mg.HyperParameterError):
            mg.BatchNorm1d(3, **bad)
    with pytest.raises(mg.ShapeError, match="num_features"):
        mg.BatchNorm2d(0)
    with pytest.raises(mg.ShapeError, match="normalized_shape"):
        mg.LayerNorm((3, 0))


@pytest.mark.parametrize("make", [lambda: mg.BatchNorm2d(3), lambda: mg.LayerNorm(4)])
def test_backward_checks_the_gradient_against_the_last_forward(make):
    m = make()
    with pytest.raises(mg.StateError, match="backward called before forward"):
        m.backward(np.ones((2, 3, 4, 4)))
    m(np.ones((2, 3, 4, 4)))
    with pytest.raises(mg.ShapeError, match=r"backward expected grad_output of shape \(2, 3, 4, 4\)"):
        m.backward(np.ones((2, 3, 4, 1)))


def test_shapes_infer_through_a_graph_of_images():
    x = mg.Input((3, 8, 8))
    a = mg.BatchNorm2d(3)(x)
    h = mg.Concat(axis=1)(mg.ReLU()(a), mg.Dropout(0.1)(a), mg.LayerNorm((8, 8))(x))
    out = mg.Linear(9 * 64, 2, rng=0)(mg.Flatten()(h))
    assert (a.shape, h.shape, out.shape) == ((3, 8, 8), (9, 8, 8), (2,))
    g = mg.Graph(x, out)
    assert g(np.random.default_rng(0).standard_normal((4, 3, 8, 8))).shape == (4, 2)
    assert [n for n, _ in g.named_buffers()][:2] == ["batchnorm2d_1.running_mean", "batchnorm2d_1.running_var"]


def test_config_roundtrip_and_repr():
    for m in [
        mg.BatchNorm1d(5, eps=1e-3, momentum=None, affine=False),
        mg.BatchNorm2d(2, track_running_stats=False, affine=False, dtype="float64"),
        mg.BatchNorm2d(2, bias=False),
        mg.LayerNorm([2, 3], elementwise_affine=False),
        mg.LayerNorm(4, bias=False, dtype="float64"),
    ]:
        back = mg.module.build_module(m.to_config())
        assert repr(back) == repr(m) and back.get_config() == m.get_config()
        assert list(back.state_dict()) == list(m.state_dict())


def test_a_first_batchnorm_without_parameters_in_a_network():
    """affine=False: no parameters, so a network's backward need not run it (its input is the data)."""
    rng = np.random.default_rng(0)
    net = mg.Sequential(mg.BatchNorm1d(4, affine=False), mg.Linear(4, 2, rng=0, dtype="float64"))
    x = rng.standard_normal((6, 4)) * 3 + 2
    net(x)
    assert net.backward(np.ones((6, 2))) is None
    np.testing.assert_allclose(net[1].weight.grad, np.ones((2, 6)) @ net[0](x))  # Linear saw normalised input
    assert mg.gradcheck(net, x).ok
