"""The Module contract: registration, traversal, state, modes, repr, shape inference."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ArgumentTypeError, ConfigError


def seed_net() -> mg.Sequential:
    return mg.Sequential(mg.Linear(784, 30, rng=0), mg.Sigmoid(), mg.Linear(30, 10, rng=1))


class Scale(mg.Module):
    """A user-written module: y = x * w elementwise, w of shape (features,)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.w = mg.Parameter(np.linspace(0.5, 1.5, n))

    def forward(self, x):
        self.x = x
        return x * self.w.data

    def backward(self, g):
        self.w.grad += (g * self.x).sum(axis=0)
        return g * self.w.data


def test_parameter_wraps_array_with_zero_grad():
    a = np.ones((2, 3))
    p = mg.Parameter(a)
    assert p.data is a
    assert p.grad.shape == (2, 3) and not p.grad.any()
    assert p.shape == (2, 3) and p.size == 6 and p.dtype == np.float64
    assert "shape=(2, 3)" in repr(p)
    assert mg.Parameter([1, 2]).dtype == mg.get_default_dtype()


def test_assignment_registers_parameters_and_modules():
    net = seed_net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [type(c).__name__ for c in net.children()] == ["Linear", "Sigmoid", "Linear"]
    s = Scale(3)
    assert [n for n, _ in s.named_parameters()] == ["w"]
    s.w = None  # re-assigning a plain value unregisters
    assert s.parameters() == []


def test_shared_parameters_and_modules_appear_once():
    lin = mg.Linear(3, 3, rng=0)
    net = mg.Sequential(lin, mg.Tanh(), lin)
    assert len(net.parameters()) == 2
    assert len(list(net.modules())) == 3  # Sequential, Linear, Tanh


def test_registration_needs_no_super_init_and_follows_assignment_order():
    class Plain(mg.Module):
        def __init__(self):  # no super().__init__(): attributes are found by scanning
            self.b = mg.Parameter(np.zeros(2))
            self.inner = mg.Linear(2, 2)
            self.a = mg.Parameter(np.ones(3))
            self.cache = np.ones(4)  # plain arrays are not parameters

    m = Plain()
    assert [n for n, _ in m.named_parameters()] == ["b", "a", "inner.weight", "inner.bias"]
    assert m.training
    del m.inner
    assert [n for n, _ in m.named_parameters()] == ["b", "a"]


def test_zero_grad_and_accumulation():
    lin = mg.Linear(4, 2, rng=0, dtype="float64")
    x = np.ones((3, 4))
    lin.forward(x)
    lin.backward(np.ones((3, 2)))
    once = lin.weight.grad.copy()
    lin.forward(x)
    lin.backward(np.ones((3, 2)))
    np.testing.assert_allclose(lin.weight.grad, 2 * once)  # accumulates (Torch7 contract)
    lin.zero_grad()
    assert not lin.weight.grad.any() and not lin.bias.grad.any()


def test_state_dict_roundtrip_and_checks():
    a, b = seed_net(), mg.Sequential(mg.Linear(784, 30, rng=5), mg.Sigmoid(), mg.Linear(30, 10, rng=6))
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    sd["0.bias"][0] = 123.0  # a copy: the model is not changed through it
    assert a[0].bias.data[0] != 123.0
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    bad = a.state_dict()
    bad["2.weight"] = np.zeros((10, 31), dtype=np.float32)
    before = b[0].weight.data.copy()
    with pytest.raises(mg.StateDictError, match="2.weight.*\\(10, 30\\).*\\(10, 31\\)"):
        b.load_state_dict(bad)
    np.testing.assert_array_equal(b[0].weight.data, before)  # nothing half-loaded
    bad = a.state_dict()
    bad["0.bias"] = bad["0.bias"].astype(np.float64)
    with pytest.raises(mg.StateDictError, match="dtype"):
        b.load_state_dict(bad)
    with pytest.raises(mg.StateDictError, match="missing keys \\['2.bias'\\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "2.bias"})
    b.load_state_dict({"0.bias": a.state_dict()["0.bias"]}, strict=False)


def test_train_eval_recurse():
    net = mg.Sequential(mg.Linear(2, 2), mg.Sequential(mg.Dropout(0.5)))
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_repr_tree():
    net = mg.Sequential(mg.Linear(784, 30), mg.Sigmoid(), mg.Sequential(mg.Linear(30, 10, bias=False)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(784 -> 30)\n"
        "  (1): Sigmoid()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(30 -> 10, bias=False)\n"
        "  )\n"
        ")"
    )


def test_output_shape_without_data():
    assert seed_net().output_shape((784,)) == (10,)
    assert mg.Flatten().output_shape((28, 28)) == (784,)
    with pytest.raises(mg.ShapeError, match="Sequential\\[2\\] Linear\\(30 -> 10\\)"):
        mg.Sequential(mg.Linear(784, 31), mg.Sigmoid(), mg.Linear(30, 10)).output_shape((784,))


def test_backward_before_forward_is_clear():
    for m in [mg.Linear(2, 2), mg.Sigmoid(), mg.Softmax(), mg.Flatten(), mg.Dropout(), mg.SoftmaxCrossEntropy()]:
        with pytest.raises(mg.StateError, match="backward called before forward"):
            m.backward(np.zeros((1, 2))) if not isinstance(m, mg.Loss) else m.backward()


def test_grad_output_from_a_different_forward_is_refused():
    lin, sig = mg.Linear(3, 2), mg.Sigmoid()
    lin.forward(np.ones((4, 3)))
    sig.forward(np.ones((4, 2)))
    with pytest.raises(mg.ShapeError, match="match the last forward"):
        lin.backward(np.ones((5, 2)))
    with pytest.raises(mg.ShapeError, match="match the last forward"):
        sig.backward(np.ones((5, 2)))


@pytest.mark.parametrize("accumulating", [False, True])
@pytest.mark.parametrize(
    "bad", [np.ones((4, 1)), np.ones((4, 3)), np.ones(4), np.ones((1, 4, 2)), [[1.0]] * 4, 1.0]
)
def test_linear_backward_refuses_every_wrong_grad_output(bad, accumulating):
    # Linear.backward checks grad_output against the last forward before writing anything: on the
    # accumulating path += would otherwise broadcast a (4, 1) gradient without a word.
    lin = mg.Linear(3, 2, rng=0, dtype="float64")
    x = np.ones((4, 3))
    lin(x)
    if accumulating:
        lin.backward(np.ones((4, 2)))
    before = lin.weight.grad.copy(), lin.bias.grad.copy()
    with pytest.raises(mg.ShapeError, match=r"Linear\(3 -> 2\): backward expected grad_output of shape \(4, 2\)"):
        lin.backward(bad)
    np.testing.assert_array_equal(lin.weight.grad, before[0])  # nothing written
    np.testing.assert_array_equal(lin.bias.grad, before[1])


def test_parameter_accumulate_never_broadcasts():
    p = mg.Parameter(np.zeros((2, 3)))
    for value in (np.ones((1, 3)), 1.0):
        with pytest.raises(ValueError, match=r"gradient of shape .* does not fit"):
            p.accumulate(value)
    p.accumulate(np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        p.accumulate(np.ones(3))
    np.testing.assert_array_equal(p.grad, np.ones((2, 3)))


def test_user_module_works_everywhere():
    net = mg.Sequential(mg.Linear(3, 4, rng=0, dtype="float64"), Scale(4), mg.Tanh())
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.w"]
    mg.gradcheck(net, np.random.default_rng(0).standard_normal((5, 3)))
    opt = mg.SGD(net.parameters(), lr=0.1)
    y = net(np.ones((2, 3)))
    net.backward(np.ones_like(y))
    w0 = net[1].w.data.copy()
    opt.step()
    assert not np.allclose(net[1].w.data, w0)
    net.load_state_dict(net.state_dict())


def test_default_dtype_and_dtype_argument():
    assert mg.Linear(2, 2).weight.dtype == np.float32
    assert mg.Linear(2, 2, dtype="float64").weight.dtype == np.float64
    assert mg.Linear(2, 2, dtype=np.float64).bias.dtype == np.float64
    old = mg.get_default_dtype()
    try:
        mg.set_default_dtype("float64")
        assert mg.Linear(2, 2).weight.dtype == np.float64
    finally:
        mg.set_default_dtype(old)
    with pytest.raises(mg.MinigradError, match="floating"):
        mg.Linear(2, 2, dtype="int32")


def test_input_converted_once_without_copy_when_right():
    lin = mg.Linear(3, 2, dtype="float32")
    x32 = np.ones((2, 3), dtype=np.float32)
    lin.forward(x32)
    assert lin._x is x32
    out = lin.forward(np.ones((2, 3), dtype=np.float64))
    assert out.dtype == np.float32
    assert lin.forward([[1, 2, 3]]).shape == (1, 2)


class Counter(mg.Module):
    """A user module with a buffer: counts the examples it has seen (state, not trained)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = mg.Parameter(np.ones(2))
        self.register_buffer("seen", np.array(0, np.int64))
        self.register_buffer("total", np.zeros(2))
        self.register_buffer("unused", None)

    def forward(self, x):
        self.seen += len(x)
        self.total += x.sum(axis=0)
        return x * self.scale.data


def test_register_buffer_and_traversal():
    net = mg.Sequential(mg.Linear(2, 2, rng=0), Counter())
    assert [n for n, _ in net.named_buffers()] == ["1.seen", "1.total"]  # None is no buffer (PyTorch)
    assert [n for n, _ in net.named_buffers(prefix="net")] == ["net.1.seen", "net.1.total"]
    assert [b.dtype for b in net.buffers()] == [np.int64, np.float64]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.scale", "1.seen", "1.total"]
    assert len(net.parameters()) == 3  # buffers are never parameters
    net[1].unused = np.ones(3)  # assigning to a registered name sets the buffer
    assert [n for n, _ in net.named_buffers()][-1] == "1.unused"
    c = Counter()
    c.other = c.total  # one array registered once: appears once
    c.register_buffer("alias", c.total)
    assert [n for n, _ in c.named_buffers()] == ["seen", "total"]
    with pytest.raises(ConfigError, match="already exists"):
        c.register_buffer("scale", np.zeros(2))
    with pytest.raises(ConfigError, match="without '.'"):
        c.register_buffer("a.b", np.zeros(2))
    with pytest.raises(ArgumentTypeError, match="NumPy array"):
        c.register_buffer("lst", [1.0, 2.0])


def test_buffers_load_copy_and_cast():
    a, b = Counter(), Counter()
    a(np.ones((3, 2)))
    sd = a.state_dict()
    sd["total"][0] = 99.0  # a copy
    assert a.total[0] == 3.0
    total = b.total
    b.load_state_dict(a.state_dict())
    assert int(b.seen) == 3 and b.total is total and total[0] == 3.0  # in place
    for key, bad, match in [
        ("total", np.zeros(3), r"'total' expected shape \(2,\), got \(3,\)"),
        ("seen", np.array(1.0), "'seen' expected dtype int64, got float64"),
    ]:
        state = a.state_dict()
        state[key] = bad
        with pytest.raises(mg.StateDictError, match=match):
            b.load_state_dict(state)
    with pytest.raises(mg.StateDictError, match=r"missing keys \['seen'\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "seen"})
    b.to("float32")
    assert b.total.dtype == np.float32 and b.seen.dtype == np.int64 and b.scale.dtype == np.float32
    import copy

    c = copy.deepcopy(b)
    assert [n for n, _ in c.named_buffers()] == ["seen", "total"] and c.total is not b.total
