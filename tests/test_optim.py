"""Optimizers: PyTorch's update rules, parameter groups, state dicts; number for number against torch."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.errors import HyperParameterError


def param(values) -> mg.Parameter:
    return mg.Parameter(np.array(values, dtype=np.float64))


def test_plain_sgd_step_and_zero_grad():
    p = param([1.0, 2.0])
    p.grad[...] = [0.5, -1.0]
    opt = mg.SGD([p], lr=0.1)
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, 2.1])
    opt.zero_grad()
    assert not p.has_grad and not p.grad.any()


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
    assert not lin.weight.grad.any() and not lin.bias.grad.any()  # reading gives zeros, counted as written
    opt.step()  # only decay moves the weights
    np.testing.assert_allclose(lin.weight.data, w0 * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(lin.bias.data, b0)


# -- 1. a parameter without a gradient is left alone, as PyTorch's p.grad is None ----------------

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.01}),
]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=[f"{n}{k}" for n, k in CONFIGS])
def test_parameters_without_gradient_are_left_alone_as_in_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    shapes = [(3,), (2, 2), (1,)]
    written = ["ab", "a", "ab", "b", "a", "ab"]  # per step; "c" never gets a gradient
    ps = [mg.Parameter(rng.standard_normal(s)) for s in shapes]
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    opt, topt = getattr(mg, name)(ps, **kwargs), getattr(torch.optim, name)(tps, **kwargs)
    for who in written:
        opt.zero_grad()
        for key, p, tp in zip("abc", ps, tps):
            g = rng.standard_normal(p.shape)
            if key in who:
                p.accumulate(g)
            tp.grad = torch.from_numpy(g.copy()) if key in who else None
        opt.step()
        topt.step()
        assert [p.has_grad for p in ps] == [key in who for key in "abc"]  # no gradient materialised either
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-12)
            ours, theirs = opt.state.get(id(p), {}), topt.state.get(tp, {})
            assert set(ours) == set(theirs)
            for key, value in theirs.items():
                np.testing.assert_allclose(ours[key], value.numpy() if key != "step" else float(value), atol=1e-12)
    assert id(ps[2]) not in opt.state
    np.testing.assert_array_equal(ps[2].data, tps[2].detach().numpy())


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
        (lambda ps: mg.SGD(ps, lr=0.5), lambda ps: torch.optim.SGD(ps, lr=0.5)),  # the fused step
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


# -- 2. hyper-parameters and the params argument ------------------------------------------------

NAN = float("nan")
BAD = [
    ("SGD", "lr", NAN),
    ("SGD", "lr", float("inf")),
    ("SGD", "lr", -1),
    ("SGD", "lr", "0.1"),
    ("SGD", "lr", True),
    ("SGD", "lr", None),
    ("SGD", "lr", np.array([0.1])),
    ("SGD", "lr", 10**400),
    ("SGD", "momentum", NAN),
    ("SGD", "momentum", -0.5),
    ("SGD", "momentum", "0.9"),
    ("SGD", "dampening", NAN),
    ("SGD", "dampening", 1.5),
    ("SGD", "dampening", None),
    ("SGD", "weight_decay", NAN),
    ("SGD", "weight_decay", -1e-4),
    ("SGD", "weight_decay", False),
    ("SGD", "nesterov", "yes"),
    ("SGD", "nesterov", 1),
    ("SGD", "fused", None),
    ("Adam", "lr", NAN),
    ("Adam", "lr", "1e-3"),
    ("Adam", "eps", -1),
    ("Adam", "eps", 0),
    ("Adam", "eps", NAN),
    ("Adam", "eps", None),
    ("Adam", "weight_decay", -1),
    ("Adam", "betas", (0.9, 1.0)),
    ("Adam", "betas", (-0.1, 0.999)),
    ("Adam", "betas", (NAN, 0.999)),
    ("Adam", "betas", (0.9, "0.999")),
    ("Adam", "betas", (0.9,)),
    ("Adam", "betas", 0.9),
    ("Adam", "betas", None),
]


@pytest.mark.parametrize(("name", "option", "value"), BAD, ids=[f"{n}-{o}-{v!r}" for n, o, v in BAD])
def test_bad_hyperparameter_names_the_optimizer_option_and_value(name, option, value):
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {}
    makes = [lambda: getattr(mg, name)([param([1.0])], **{**kwargs, option: value})]
    if option != "fused":  # every other option is also a parameter group's
        makes.append(lambda: getattr(mg, name)([{"params": [param([1.0])], option: value}], **kwargs))
    for make in makes:
        with pytest.raises(HyperParameterError) as info:
            make()
        message = str(info.value)
        assert isinstance(info.value, ValueError) and message.startswith(name)
        assert option in message and repr(value)[:12] in message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.1, "nesterov": True}, "nesterov=True needs momentum > 0"),
        ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "dampening == 0"),
    ],
)
def test_nesterov_needs_momentum_and_no_dampening(kwargs, match):
    with pytest.raises(HyperParameterError, match=match):
        mg.SGD([param([1.0])], **kwargs)


def test_good_hyperparameters_of_every_numeric_type_are_accepted_and_changed_later():
    p = param([1.0])
    mg.SGD([p], lr=np.float32(0.5), momentum=np.array(0.9), nesterov=np.bool_(True))
    opt = mg.Adam([p], lr=1, betas=[0.5, np.float64(0.9)], eps=1e-12)
    assert opt.param_groups[0]["betas"] == (0.5, 0.9)  # a list is accepted and kept as a tuple
    opt.param_groups[0]["lr"] = 0.0  # a schedule may change it later: not checked again
    p.grad[...] = 1.0
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0])


P = param([1.0])
BAD_PARAMS = [
    ([], "empty parameter list"),
    (P, "must be a list of Parameters"),
    (None, "must be a list of Parameters"),
    (3, "must be a list of Parameters"),
    ({"params": [P]}, "must be a list of Parameters"),
    ([np.zeros(2)], "expected Parameters, got ndarray"),
    ([P, P], "appears twice"),
    ([{"params": [P]}, {"params": [P]}], "appears twice"),
    ([P, {"params": [param([2.0])]}], "mixes parameter groups"),
    ([{"lr": 0.1}], "'params' must be a list"),
    ([{"params": {P}}], "'params' must be a list"),
    ([{"params": [P], "lr_": 1}], "unknown option"),
]


@pytest.mark.parametrize(("params", "match"), BAD_PARAMS, ids=[m for _, m in BAD_PARAMS])
def test_bad_params_argument_is_a_clear_error(params, match):
    for make in (lambda: mg.SGD(params, lr=0.1), lambda: mg.Adam(params)):
        with pytest.raises(HyperParameterError, match=re.escape(match)):
            make()


def test_a_lone_parameter_in_a_group_is_accepted_as_in_pytorch():
    p = param([1.0])
    opt = mg.SGD([{"params": p}], lr=0.1)
    assert opt.param_groups[0]["params"] == [p]


# -- 4. state_dict / load_state_dict ------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda ps: mg.SGD(ps, lr=0.1, momentum=0.9), lambda ps: mg.Adam(ps, lr=0.01)])
def test_state_dict_resumes_identically(make):
    def run(steps, opt, ps):
        for k in range(steps):
            opt.zero_grad()
            ps[0].grad[...] = np.sin(np.arange(3) + k)
            if k % 2:  # the second parameter steps only now and then
                ps[1].grad[...] = np.cos(np.arange(2) + k)
            opt.step()

    p1 = [param([1.0, 2.0, 3.0]), param([4.0, 5.0])]
    o1 = make(p1)
    run(1, o1, p1)
    assert set(o1.state_dict()["state"]) == {0}  # the second one has no state yet
    run(2, o1, p1)
    p2 = [param(p.data.copy()) for p in p1]
    o2 = make(p2)
    o2.load_state_dict(o1.state_dict())
    run(3, o1, p1)
    run(3, o2, p2)
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a.data, b.data)
    assert "lr=" in repr(o1)


def _edit(path, value):
    """A function that sets ``sd[path[0]][path[1]]... = value`` (or deletes it when value is ``...``)."""

    def edit(sd):
        *head, last = path
        for key in head:
            sd = sd[key]
        if value is ...:
            del sd[last]
        else:
            sd[last] = value

    return edit


LOAD_ERRORS = [
    ("not a dict", lambda sd: "nope", mg.StateDictError),
    ("no state", _edit(["state"], ...), mg.StateDictError),
    ("groups not a list", _edit(["param_groups"], {}), mg.StateDictError),
    ("a group too many", lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), mg.StateDictError),
    ("a parameter too few", _edit(["param_groups", 0, "params"], [0]), mg.StateDictError),
    ("params not a list", _edit(["param_groups", 0, "params"], None), mg.StateDictError),
    ("index not an int", _edit(["param_groups", 0, "params"], ["a", 1]), mg.StateDictError),
    ("index twice", _edit(["param_groups", 0, "params"], [0, 0]), mg.StateDictError),
    ("unknown option", _edit(["param_groups", 0, "lr_"], 0.1), mg.StateDictError),
    ("state of no parameter", _edit(["state", 7], {}), mg.StateDictError),
    ("state not a dict", _edit(["state", 0], [1, 2]), mg.StateDictError),
    ("state key missing", lambda sd: sd["state"][0].popitem(), mg.StateDictError),
    ("state key unknown", _edit(["state", 0, "extra"], np.zeros(3)), mg.StateDictError),
    ("bad lr", _edit(["param_groups", 0, "lr"], NAN), HyperParameterError),
    ("lr a string", _edit(["param_groups", 0, "lr"], "0.1"), HyperParameterError),
    ("bad weight decay", _edit(["param_groups", 0, "weight_decay"], -1), HyperParameterError),
]
SGD_ERRORS = [
    ("buffer shape", _edit(["state", 0, "momentum_buffer"], np.zeros(4)), mg.StateDictError),
    ("buffer a list", _edit(["state", 0, "momentum_buffer"], [0.0, 0.0, 0.0]), mg.StateDictError),
    ("buffer of strings", _edit(["state", 0, "momentum_buffer"], np.array(["a", "b", "c"])), mg.StateDictError),
    ("nesterov rule", _edit(["param_groups", 0, "dampening"], 0.5), HyperParameterError),
]
ADAM_ERRORS = [
    ("step a string", _edit(["state", 0, "step"], "3"), mg.StateDictError),
    ("step negative", _edit(["state", 0, "step"], -1), mg.StateDictError),
    ("step fractional", _edit(["state", 0, "step"], 1.5), mg.StateDictError),
    ("step infinite", _edit(["state", 0, "step"], float("inf")), mg.StateDictError),
    ("exp_avg shape", _edit(["state", 1, "exp_avg"], np.zeros((2, 1))), mg.StateDictError),
    ("betas", _edit(["param_groups", 0, "betas"], (0.9, 1.0)), HyperParameterError),
    ("eps", _edit(["param_groups", 0, "eps"], -1.0), HyperParameterError),
]


def _stepped(name):
    ps = [param([1.0, 2.0, 3.0]), param([4.0, 5.0])]
    opt = mg.SGD(ps, lr=0.1, momentum=0.9, nesterov=True) if name == "SGD" else mg.Adam(ps, lr=0.01)
    for k in range(2):
        for p in ps:
            p.grad[...] = np.sin(np.arange(p.size) + k)
        opt.step()
    return opt


@pytest.mark.parametrize(
    ("name", "case", "edit", "error"),
    [("SGD", *c) for c in LOAD_ERRORS + SGD_ERRORS] + [("Adam", *c) for c in LOAD_ERRORS + ADAM_ERRORS],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_load_state_dict_rejects_what_does_not_fit_and_changes_nothing(name, case, edit, error):
    opt = _stepped(name)
    before = opt.state_dict()
    sd = copy.deepcopy(before)
    sd = edit(sd) or sd
    with pytest.raises(error, match=f"{name}.load_state_dict"):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, entry in before["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after["state"][i][key], value)


def test_load_state_dict_of_another_optimizer_type_is_a_state_dict_error():
    with pytest.raises(mg.StateDictError, match="unknown option"):
        _stepped("SGD").load_state_dict(_stepped("Adam").state_dict())
    with pytest.raises(mg.StateDictError, match="unknown option"):
        _stepped("Adam").load_state_dict(_stepped("SGD").state_dict())


# -- 3. the fused (flat) plain-SGD step ---------------------------------------------------------


def _flat_of(opt, i=0):
    return opt._flat[id(opt.param_groups[i])]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), lr=st.floats(0, 10))
def test_fused_step_equals_the_plain_per_parameter_loop(seed, n, lr):
    rng = np.random.default_rng(seed)
    shapes = [tuple(rng.integers(0, 4, rng.integers(0, 3))) for _ in range(n)]  # includes 0-d and empty
    dtypes = [np.float32 if b else np.float64 for b in rng.integers(0, 2, n)]
    ps = [mg.Parameter(rng.standard_normal(s).astype(d)) for s, d in zip(shapes, dtypes)]
    groups = [(range(0, n, 2), lr), (range(1, n, 2), lr / 3)]  # (members, lr); the second may be empty
    opt = mg.SGD([{"params": [ps[i] for i in idx], "lr": glr} for idx, glr in groups], lr=lr)
    for _ in range(2):
        for p in ps:
            p.accumulate(rng.standard_normal(p.shape).astype(p.dtype) * 100)
        expected = [p.data.copy() for p in ps]
        for idx, glr in groups:  # the plain expression: for p in params: p.data -= lr * p.grad
            for i in idx:
                expected[i] -= glr * ps[i].grad
        grads = [p.grad.copy() for p in ps]
        assert all(_flat_of(opt, i).covers(g["params"]) for i, g in enumerate(opt.param_groups))
        opt.step()
        for p, e, g in zip(ps, expected, grads):
            np.testing.assert_array_equal(p.data, e)  # bit for bit
            np.testing.assert_array_equal(p.grad, g)  # the gradient is untouched (scratch buffer)
            assert p.data.dtype == p.grad.dtype == e.dtype


def test_fused_sgd_moves_each_group_into_flat_storage_per_dtype_and_keeps_gradients():
    a, b, c = param([[1.0, 2.0]]), mg.Parameter(np.ones(3, np.float32)), param(5.0)
    a.accumulate([[0.5, 0.25]])  # a gradient accumulated before the optimizer is built survives
    opt = mg.SGD([a, b, c], lr=1.0)
    data64, grad64, _ = _flat_of(opt).flats[0]
    assert a.data.base is data64 and c.data.base is data64 and b.data.base is _flat_of(opt).flats[1][0]
    assert a._grad is a._buffer and a._buffer.base is grad64 and not c.has_grad
    np.testing.assert_array_equal(a.grad, [[0.5, 0.25]])
    np.testing.assert_array_equal(data64, [1.0, 2.0, 5.0])
    assert not mg.SGD([param([1.0])], lr=0.1, fused=False)._flat
    assert not mg.SGD([param([1.0])], lr=0.1, momentum=0.9)._flat  # only plain SGD groups are flattened


def _rebind_data(net, opt, step):
    if step == 1:
        net[0].weight.data = net[0].weight.data.copy()


def _assign_grad(net, opt, step):
    if step == 1:
        net[2].bias.grad = net[2].bias.grad.copy()


def _unwritten(net, opt, step):
    if step == 1:
        net[0].bias.zero_grad()  # left alone this step; written again (into its view) the next


def _to_float32(net, opt, step):
    if step == 1:
        net.to("float32")


def _schedule(net, opt, step):
    opt.param_groups[0]["lr"] = 0.1 / (1 + step)


def _append(net, opt, step):
    if step == 1:
        opt.param_groups[0]["params"].extend(net[4].parameters())


def _reorder(net, opt, step):
    if step == 1:
        opt.param_groups[0]["params"] = opt.param_groups[0]["params"][::-1]


def _replace_one(net, opt, step):
    if step == 1:
        opt.param_groups[0]["params"][0] = net[4].weight


FALLBACKS = [
    (None, [True] * 4),
    (_schedule, [True] * 4),
    (_unwritten, [True, False, True, True]),
    (_rebind_data, [True, False, False, False]),
    (_assign_grad, [True, False, False, False]),
    (_to_float32, [True, False, False, False]),
    (_append, [True, False, False, False]),
    (_reorder, [True, False, False, False]),
    (_replace_one, [True, False, False, False]),
]


@pytest.mark.parametrize(("mutate", "fused_path"), FALLBACKS, ids=lambda v: getattr(v, "__name__", ""))
def test_fused_sgd_falls_back_per_parameter_and_stays_exact(mutate, fused_path):
    # The optimizer starts with the first two Linears; _append adds the third later.
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 2, 8)

    def run(fused):
        net = mg.Sequential(
            *(mg.Linear(5, 4, rng=1), mg.Tanh(), mg.Linear(4, 3, rng=2), mg.Tanh(), mg.Linear(3, 2, rng=3))
        ).to("float64")
        opt, loss, path, history = mg.SGD(net.parameters()[:4], lr=0.1, fused=fused), mg.SoftmaxCrossEntropy(), [], []
        for step in range(4):
            opt.zero_grad()
            loss(net(x.astype(net[0].weight.dtype)), y)
            net.backward(loss.backward())
            before = [p.data.copy() for p in net.parameters()]
            (mutate or (lambda *a: None))(net, opt, step)
            if fused:
                path.append(_flat_of(opt).covers(opt.param_groups[0]["params"]))
            opt.step()
            history.append([p.data.copy() for p in net.parameters()])
            if mutate is _unwritten and step == 1:
                np.testing.assert_array_equal(net[0].bias.data, before[1])  # no gradient: not moved
                assert not net[0].bias.has_grad  # nor given zeros
        return path, history

    path, fused = run(True)
    assert path == fused_path
    _, plain = run(False)
    for f, p in zip(fused, plain):
        for a, b in zip(f, p):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_fused_step_takes_any_scalar_learning_rate():
    for lr in (np.float32(0.5), np.array(0.5), 1):
        lin = mg.Linear(3, 2, rng=0, dtype="float32")
        opt = mg.SGD(lin.parameters(), lr=lr)
        lin(np.ones((2, 3), dtype=np.float32))
        lin.backward(np.ones((2, 2), dtype=np.float32))
        w0, gw = lin.weight.data.copy(), lin.weight.grad.copy()
        opt.step()
        np.testing.assert_array_equal(lin.weight.data, w0 - float(lr) * gw)
        assert lin.weight.data.dtype == np.float32


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
