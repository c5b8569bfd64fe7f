"""Optimizers: PyTorch's update rules, parameter groups, state dicts; number for number against torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def param(values) -> mg.Parameter:
    return mg.Parameter(np.array(values, dtype=np.float64))


def test_plain_sgd_step_and_zero_grad():
    p = param([1.0, 2.0])
    p.grad[...] = [0.5, -1.0]
    opt = mg.SGD([p], lr=0.1)
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, 2.1])
    opt.zero_grad()
    assert not p.grad.any()


def test_sgd_momentum_nesterov_dampening_weight_decay_by_hand():
    # Two steps of torch.optim.SGD's rule, written out.
    for nesterov, damp in [(False, 0.0), (True, 0.0), (False, 0.3)]:
        p = param([1.0])
        opt = mg.SGD([p], lr=0.1, momentum=0.9, dampening=damp, nesterov=nesterov, weight_decay=0.01)
        w, buf = 1.0, None
        for g in (0.5, -0.25):
            p.grad[...] = g
            opt.step()
            d = g + 0.01 * w
            buf = d if buf is None else 0.9 * buf + (1 - damp) * d
            w -= 0.1 * (d + 0.9 * buf if nesterov else buf)
            assert p.data[0] == pytest.approx(w, abs=1e-15)


def test_adam_by_hand():
    p = param([1.0, -1.0])
    opt = mg.Adam([p], lr=0.01)
    m = v = np.zeros(2)
    w = np.array([1.0, -1.0])
    for t, g in enumerate(([0.3, -2.0], [0.1, 0.5], [-0.2, 0.0]), start=1):
        g = np.array(g)
        p.grad[...] = g
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 / (1 - 0.9**t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999**t) + 1e-8)
        np.testing.assert_allclose(p.data, w, rtol=1e-12)


def test_parameter_groups_no_decay_on_biases():
    lin = mg.Linear(2, 2, dtype="float64")
    w0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    opt = mg.SGD([{"params": [lin.weight], "weight_decay": 0.5}, {"params": [lin.bias], "lr": 0.0}], lr=0.1)
    opt.step()  # zero gradients: only decay moves the weights
    np.testing.assert_allclose(lin.weight.data, w0 * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(lin.bias.data, b0)
    with pytest.raises(ValueError, match="unknown option"):
        mg.SGD([{"params": [lin.weight], "lr_": 1}], lr=0.1)
    with pytest.raises(ValueError, match="more than one group"):
        mg.SGD([{"params": [lin.weight]}, {"params": [lin.weight]}], lr=0.1)


def test_bad_hyperparameters():
    p = [param([1.0])]
    for kwargs, match in [
        ({"lr": -1}, "lr must be >= 0"),
        ({"lr": 0.1, "momentum": -0.5}, "momentum"),
        ({"lr": 0.1, "nesterov": True}, "nesterov"),
        ({"lr": 0.1, "weight_decay": -1}, "weight_decay"),
    ]:
        with pytest.raises(ValueError, match=match):
            mg.SGD(p, **kwargs)
    with pytest.raises(ValueError, match="betas"):
        mg.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty"):
        mg.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Parameters"):
        mg.SGD([np.zeros(2)], lr=0.1)


@pytest.mark.parametrize("make", [lambda ps: mg.SGD(ps, lr=0.1, momentum=0.9), lambda ps: mg.Adam(ps, lr=0.01)])
def test_state_dict_resumes_identically(make):
    def run(steps, opt, p):
        for k in range(steps):
            p.grad[...] = np.sin(np.arange(3) + k)
            opt.step()

    p1 = param([1.0, 2.0, 3.0])
    o1 = make([p1])
    run(3, o1, p1)
    p2 = param(p1.data.copy())
    o2 = make([p2])
    o2.load_state_dict(o1.state_dict())
    run(2, o1, p1)
    run(2, o2, p2)
    np.testing.assert_array_equal(p1.data, p2.data)
    assert "lr=" in repr(o1)


def test_training_against_pytorch_number_for_number():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    net = mg.Sequential(mg.Linear(6, 5, rng=1, dtype="float64"), mg.Sigmoid(), mg.Linear(5, 3, rng=2, dtype="float64"))
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 3)).double()
    with torch.no_grad():
        for (_, p), tp in zip(net.named_parameters(), tnet.parameters()):
            tp.copy_(torch.from_numpy(p.data))
    for make, tmake in [
        (
            lambda ps: mg.SGD(ps, lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-3),
            lambda ps: torch.optim.SGD(ps, lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-3),
        ),
        (
            lambda ps: mg.Adam(ps, lr=0.05, weight_decay=1e-3),
            lambda ps: torch.optim.Adam(ps, lr=0.05, weight_decay=1e-3),
        ),
    ]:
        opt, topt = make(net.parameters()), tmake(tnet.parameters())
        loss, tloss = mg.SoftmaxCrossEntropy(), torch.nn.CrossEntropyLoss()
        for _ in range(5):
            opt.zero_grad()
            value = loss(net(x), y)
            net.backward(loss.backward())
            opt.step()
            topt.zero_grad()
            tvalue = tloss(tnet(torch.from_numpy(x)), torch.from_numpy(y))
            tvalue.backward()
            topt.step()
            assert value == pytest.approx(tvalue.item(), abs=1e-10)
        for p, tp in zip(net.parameters(), tnet.parameters()):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), atol=1e-10)


def test_linear_packs_weight_and_bias_and_sgd_uses_the_pack_safely():
    """A Linear's weight and bias share storage; SGD updates them in one call while that is valid,
    and falls back to one update per parameter when a member was rebound or not written."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)

    def run(mutate):
        lin = mg.Linear(4, 3, rng=0, dtype="float64")
        assert lin.weight.data.base is lin.bias.data.base  # packed
        opt = mg.SGD(lin.parameters(), lr=0.1)
        loss = mg.SoftmaxCrossEntropy()
        for step in range(3):
            opt.zero_grad()
            loss(lin(x), y)
            lin.backward(loss.backward())
            mutate(lin, step)
            opt.step()
        return np.concatenate([lin.weight.data.ravel(), lin.bias.data.ravel()])

    reference = run(lambda lin, step: None)
    manual = mg.Linear(4, 3, rng=0, dtype="float64")
    w, b = manual.weight.data.copy(), manual.bias.data.copy()
    for _ in range(3):  # plain SGD by hand
        loss = mg.SoftmaxCrossEntropy()
        loss(x @ w.T + b, y)
        g = loss.backward()
        w, b = w - 0.1 * (g.T @ x), b - 0.1 * g.sum(axis=0)
    np.testing.assert_allclose(reference, np.concatenate([w.ravel(), b.ravel()]), rtol=1e-12)

    def rebind_grad(lin, step):  # a user's own gradient array: the pack no longer covers it
        lin.bias.grad = lin.bias.grad.copy()

    def rebind_data(lin, step):
        if step == 1:
            lin.weight.data = lin.weight.data.copy()

    np.testing.assert_allclose(run(rebind_grad), reference, rtol=1e-12)
    np.testing.assert_allclose(run(rebind_data), reference, rtol=1e-12)


def test_pack_split_across_parameter_groups_updates_each_parameter():
    lin = mg.Linear(3, 2, rng=0, dtype="float64")
    w0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    opt = mg.SGD([{"params": [lin.weight]}, {"params": [lin.bias], "lr": 0.0}], lr=0.5)
    lin(np.ones((2, 3)))
    lin.backward(np.ones((2, 2)))
    opt.step()
    np.testing.assert_allclose(lin.weight.data, w0 - 0.5 * lin.weight.grad)
    np.testing.assert_array_equal(lin.bias.data, b0)


def test_parameters_added_to_a_group_later_are_updated():
    a, b = mg.Linear(3, 2, rng=0, dtype="float64"), mg.Linear(3, 2, rng=1, dtype="float64")
    opt = mg.SGD(a.parameters(), lr=0.5)
    opt.param_groups[0]["params"].extend(b.parameters())  # edited after the optimizer was built
    b0 = b.weight.data.copy()
    for m in (a, b):
        m(np.ones((2, 3)))
        m.backward(np.ones((2, 2)))
    opt.step()
    np.testing.assert_allclose(b.weight.data, b0 - 0.5 * b.weight.grad)


def test_packed_step_keeps_the_gradient_and_follows_lr_changes():
    # The packed update goes through a scratch buffer and a cached 0-d lr: the gradient a user
    # reads after step() is untouched, and a new lr (a schedule) is used from the next step on.
    lin = mg.Linear(3, 2, rng=0, dtype="float32")
    opt = mg.SGD(lin.parameters(), lr=0.5)
    for lr in (0.5, 0.25):
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        lin(np.ones((2, 3), dtype=np.float32))
        lin.backward(np.ones((2, 2), dtype=np.float32))
        w0, gw, gb = lin.weight.data.copy(), lin.weight.grad.copy(), lin.bias.grad.copy()
        opt.step()
        np.testing.assert_array_equal(lin.weight.grad, gw)
        np.testing.assert_array_equal(lin.bias.grad, gb)
        np.testing.assert_allclose(lin.weight.data, w0 - np.float32(lr) * gw, rtol=1e-6)
        assert lin.weight.data.dtype == np.float32


@pytest.mark.parametrize("lr", [np.float32(0.5), np.array(0.5), 1])
def test_packed_step_takes_any_scalar_learning_rate(lr):
    lin = mg.Linear(3, 2, rng=0, dtype="float32")
    opt = mg.SGD(lin.parameters(), lr=lr)
    lin(np.ones((2, 3), dtype=np.float32))
    lin.backward(np.ones((2, 2), dtype=np.float32))
    w0, gw = lin.weight.data.copy(), lin.weight.grad.copy()
    opt.step()
    np.testing.assert_allclose(lin.weight.data, w0 - np.float32(float(lr)) * gw, rtol=1e-6)


def test_to_dtype_packs_again_and_keeps_the_gradient():
    # Module.to rebinds every parameter; it packs a Linear's weight and bias again in the new
    # dtype (else every later SGD step would take the slower one-update-per-parameter path).
    lin = mg.Linear(4, 3, rng=0, dtype="float32")
    x = np.random.default_rng(0).standard_normal((5, 4))
    lin(x.astype(np.float32))
    lin.backward(np.ones((5, 3), dtype=np.float32))
    grads = lin.weight.grad.astype(np.float64), lin.bias.grad.astype(np.float64)
    lin.to("float64")
    w, b = lin.weight, lin.bias
    assert w.data.dtype == b.data.dtype == w.grad.dtype == np.float64
    assert w.data.base is b.data.base and w._buffer.base is b._buffer.base  # packed again
    np.testing.assert_array_equal(w.grad, grads[0])
    np.testing.assert_array_equal(b.grad, grads[1])
    opt = mg.SGD(lin.parameters(), lr=0.1)
    ((item, rate, _),) = opt._plan_of(opt.param_groups[0])
    assert item is w._pack and item.intact() and rate.dtype == np.float64
    w0 = w.data.copy()
    opt.step()
    np.testing.assert_allclose(w.data, w0 - 0.1 * grads[0])
    lin.zero_grad()
    lin(x)
    lin.backward(np.ones((5, 3)))
    np.testing.assert_allclose(w.grad, np.ones((3, 5)) @ x)
