"""Sequential: order, container protocol, error naming, a toy task learned to 100 %."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_container_protocol():
    a, b, c = mg.Linear(2, 3), mg.ReLU(), mg.Linear(3, 1)
    net = mg.Sequential(a, b)
    net.append(c)
    assert len(net) == 3 and net[0] is a and net[-1] is c and list(net) == [a, b, c]
    head = net[1:]
    assert isinstance(head, mg.Sequential) and head[0] is b and head[1] is c
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="int or slice"):
        net["0"]
    assert mg.Sequential()(np.ones((1, 2))).shape == (1, 2)


def test_forward_and_backward_match_manual_composition():
    rng = np.random.default_rng(0)
    l1, l2 = mg.Linear(4, 3, rng=0, dtype="float64"), mg.Linear(3, 2, rng=1, dtype="float64")
    net = mg.Sequential(l1, mg.Tanh(), l2)
    net.needs_input_grad = True
    x = rng.standard_normal((5, 4))
    y = net(x)
    np.testing.assert_allclose(y, np.tanh(x @ l1.weight.data.T + l1.bias.data) @ l2.weight.data.T + l2.bias.data)
    gx = net.backward(np.ones_like(y))
    assert gx.shape == x.shape


def test_errors_name_the_failing_child():
    net = mg.Sequential(mg.Linear(784, 30), mg.Sigmoid(), mg.Linear(31, 10))
    with pytest.raises(mg.ShapeError) as info:
        net(np.zeros((2, 784)))
    assert str(info.value).startswith("Sequential[2] Linear(31 -> 10): expected input (N, 31), got shape (2, 30)")
    outer = mg.Sequential(mg.Identity(), net)
    with pytest.raises(mg.ShapeError, match=r"^Sequential\[1\] Sequential\[2\] Linear\(31 -> 10\)"):
        outer(np.zeros((2, 784)))
    fresh = mg.Sequential(mg.Linear(2, 2), mg.Sigmoid())
    with pytest.raises(mg.StateError, match=r"Sequential\[1\] Sigmoid\(\): backward called before forward"):
        fresh.backward(np.ones((1, 2)))


def test_user_error_gets_a_note():
    class Boom(mg.Module):
        def forward(self, x):
            raise KeyError("inner")

    with pytest.raises(KeyError) as info:
        mg.Sequential(mg.Identity(), Boom())(np.ones((1, 1)))
    assert "(raised in Sequential[1])" in getattr(info.value, "__notes__", ["(raised in Sequential[1])"])


def test_seed_network_learns_xor_to_100_percent():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    net = mg.Sequential(mg.Linear(2, 8, init="normal", rng=0), mg.Sigmoid(), mg.Linear(8, 2, init="normal", rng=1))
    loss = mg.SoftmaxCrossEntropy()
    opt = mg.SGD(net.parameters(), lr=2.0)
    for _ in range(2000):
        opt.zero_grad()
        loss(net(x), y)
        net.backward(loss.backward())
        opt.step()
    assert (loss.probs.argmax(axis=1) == y).all()


def test_a_network_skips_the_data_gradient_unless_asked_with_the_same_parameter_gradients():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)

    def make():
        return mg.Sequential(
            mg.Flatten(),
            mg.Dropout(0.0),
            mg.Linear(5, 4, rng=0, dtype="float64"),
            mg.Tanh(),
            mg.Linear(4, 3, rng=1, dtype="float64"),
        )

    full, lean = make(), make()
    full.needs_input_grad = True  # asking: one attribute
    loss = mg.SoftmaxCrossEntropy()
    loss(full(x), y)
    assert full.backward(loss.backward()).shape == x.shape
    lean.retain_grad()
    loss(lean(x), y)
    assert lean.backward(loss.backward()) is None  # the default: the data's gradient is nobody's business
    for (_, a), (_, b) in zip(full.named_parameters(), lean.named_parameters()):
        np.testing.assert_array_equal(a.grad, b.grad)
    # Linear 0 (child 2) did not compute its input gradient; Flatten and Dropout did not run at all.
    assert lean.grad_flow[:3] == [None, None, None] and lean.grad_flow[3] is not None
    # The flag was set on the first Linear only for that call: on its own it returns dL/dx again.
    lin = lean[2]
    lin(x)
    assert lin.backward(np.ones((6, 4))).shape == (6, 5)


def test_the_first_linear_skips_g_at_w_and_a_module_that_ignores_the_flag_still_works():
    calls = []

    class Spy(mg.Module):  # a user module that knows nothing of needs_input_grad
        def forward(self, x):
            return x

        def backward(self, grad_output):
            calls.append(grad_output.shape)
            return grad_output

    w = mg.Linear(3, 2, rng=0, dtype="float64")
    net = mg.Sequential(Spy(), mg.Linear(2, 2, rng=1, dtype="float64"))
    x = np.ones((4, 2))
    with pytest.raises(mg.StateError, match=r"Sequential\[1\] Linear.*before forward"):
        net.backward(np.ones((4, 2)))
    net(x)
    assert net.backward(np.ones((4, 2))) is None
    assert calls == []  # Spy has no parameters and leads nowhere: not run
    net.needs_input_grad = True
    net(x)
    np.testing.assert_allclose(net.backward(np.ones((4, 2))), np.ones((4, 2)) @ net[1].weight.data)
    assert calls == [(4, 2)]
    w(np.ones((4, 3)))
    w.needs_input_grad = False
    assert w.backward(np.ones((4, 2))) is None and w.weight.has_grad


def test_a_none_gradient_is_a_clear_error_naming_the_fix():
    inner = mg.Sequential(mg.Linear(3, 2, rng=0))
    outer_lin = mg.Linear(4, 3, rng=1)
    x = np.ones((5, 4), np.float32)
    inner(outer_lin(x))
    g = inner.backward(np.ones((5, 2), np.float32))  # a network: None unless asked
    with pytest.raises(mg.StateError, match="needs_input_grad = True"):
        outer_lin.backward(g)


def test_zero_grad_is_lazy_but_reads_as_zeros_and_accumulates():
    lin = mg.Linear(3, 2, rng=0, dtype="float64")
    x, g = np.ones((4, 3)), np.ones((4, 2))
    lin(x)
    lin.backward(g)
    first = lin.weight.grad.copy()
    lin.zero_grad()
    assert not lin.weight.grad.any()  # materialised zeros
    lin.weight.grad += 1.0  # a user's own gradient term, added before backward
    lin(x)
    lin.backward(g)
    np.testing.assert_allclose(lin.weight.grad, first + 1.0)
    lin.zero_grad()
    lin(x)
    lin.backward(g)  # written straight into the buffer
    np.testing.assert_allclose(lin.weight.grad, first)
    lin.bias.zero_grad()
    lin.bias.accumulate(np.ones(2))  # the generic helper for module authors: written, then added
    lin.bias.accumulate(np.ones(2))
    np.testing.assert_array_equal(lin.bias.grad, [2.0, 2.0])
    with pytest.raises(ValueError, match="expected shape"):
        lin.weight.grad = np.zeros(3)
