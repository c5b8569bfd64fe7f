"""AdamW, RMSprop, Adagrad and gradient clipping: every option against torch, number for number in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import HyperParameterError, StateDictError

CONFIGS = [
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.03, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
]
IDS = [f"{n}{k}" for n, k in CONFIGS]


def _pair(name, kwargs, torch, rng):
    shapes = [(3,), (2, 2), (1,)]
    ps = [mg.Parameter(rng.standard_normal(s)) for s in shapes]
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    return ps, tps, getattr(mg, name)(ps, **kwargs), getattr(torch.optim, name)(tps, **kwargs)


def _step_both(ps, tps, opt, topt, rng, torch, who="abc"):
    opt.zero_grad()
    for key, p, tp in zip("abc", ps, tps):
        g = rng.standard_normal(p.shape)
        if key in who:
            p.accumulate(g)
        tp.grad = torch.from_numpy(g.copy()) if key in who else None
    opt.step()
    topt.step()


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_against_pytorch_with_unwritten_gradients(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    ps, tps, opt, topt = _pair(name, kwargs, torch, rng)
    for who in ["ab", "a", "ab", "b", "a", "ab", "ab", "a"]:  # "c" never gets a gradient
        _step_both(ps, tps, opt, topt, rng, torch, who)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
        for p, tp in zip(ps[:2], tps[:2]):
            theirs = topt.state.get(tp, {})
            for key, value in opt.state.get(id(p), {}).items():
                t = float(theirs[key]) if key == "step" else theirs[key].numpy()
                np.testing.assert_allclose(value, t, rtol=1e-10, atol=1e-12)
    assert id(ps[2]) not in opt.state
    np.testing.assert_array_equal(ps[2].data, tps[2].detach().numpy())


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_state_dict_round_trip_and_checkpoint_rebuild(name, kwargs, tmp_path):
    rng = np.random.default_rng(4)
    net = mg.Sequential(mg.Linear(3, 2, rng=0, dtype="float64"))
    opt = getattr(mg, name)(net.parameters(), **kwargs)
    grads = [[rng.standard_normal(p.shape) for p in net.parameters()] for _ in range(6)]

    def run(o, model, gs):
        for step in gs:
            o.zero_grad()
            for p, g in zip(model.parameters(), step):
                p.accumulate(g)
            o.step()

    run(opt, net, grads[:3])
    ckpt = mg.load_checkpoint(mg.save(net, tmp_path / "c.npz", optimizer=opt))
    assert type(ckpt.optimizer) is type(opt)
    twin = mg.Sequential(mg.Linear(3, 2, rng=0, dtype="float64"))
    twin.load_state_dict(net.state_dict())
    opt2 = getattr(mg, name)(twin.parameters(), **kwargs)
    opt2.load_state_dict(opt.state_dict())
    run(opt, net, grads[3:])
    run(opt2, twin, grads[3:])
    run(ckpt.optimizer, ckpt.model, grads[3:])
    for a, b, c in zip(net.parameters(), twin.parameters(), ckpt.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.data, c.data)


def test_rmsprop_state_keys_follow_the_options():
    p = mg.Parameter(np.ones(2))
    opt = mg.RMSprop([p], momentum=0.9, centered=True)
    p.accumulate(np.ones(2))
    opt.step()
    assert set(opt.state[id(p)]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    sd = opt.state_dict()
    del sd["state"][0]["grad_avg"]
    with pytest.raises(StateDictError, match="grad_avg"):
        mg.RMSprop([mg.Parameter(np.ones(2))], momentum=0.9, centered=True).load_state_dict(sd)


@pytest.mark.parametrize(
    ("name", "option", "value"),
    [
        ("AdamW", "lr", -1.0),
        ("AdamW", "weight_decay", float("nan")),
        ("AdamW", "betas", (0.9, 1.0)),
        ("RMSprop", "alpha", 1.5),
        ("RMSprop", "eps", 0.0),
        ("RMSprop", "momentum", -0.1),
        ("RMSprop", "centered", 1),
        ("RMSprop", "lr", "0.1"),
        ("Adagrad", "lr_decay", -1),
        ("Adagrad", "initial_accumulator_value", float("inf")),
        ("Adagrad", "eps", True),
        ("Adagrad", "weight_decay", -0.5),
    ],
)
def test_bad_hyperparameters(name, option, value):
    with pytest.raises(HyperParameterError, match=option):
        getattr(mg, name)([mg.Parameter(np.ones(2))], **{option: value})


def test_defaults_are_pytorchs():
    torch = pytest.importorskip("torch")
    for name in ("AdamW", "RMSprop", "Adagrad"):
        ours = getattr(mg, name)([mg.Parameter(np.ones(1))]).defaults
        theirs = getattr(torch.optim, name)([torch.ones(1, requires_grad=True)]).defaults
        assert {k: theirs[k] for k in ours} == ours


# -- gradient clipping ------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_against_pytorch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    ps = [mg.Parameter(np.zeros(s)) for s in [(3, 4), (4,), (2,)]]
    tps = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in ps]
    for p, tp in zip(ps[:2], tps[:2]):  # the last one has no gradient
        g = rng.standard_normal(p.shape)
        p.accumulate(g)
        tp.grad = torch.from_numpy(g.copy())
    total = mg.clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, tp in zip(ps[:2], tps[:2]):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    assert not ps[2].has_grad


def test_clip_grad_value_against_pytorch_and_errors():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(6).standard_normal((5, 3))
    p, tp = mg.Parameter(np.zeros((5, 3))), torch.zeros((5, 3), dtype=torch.float64, requires_grad=True)
    p.accumulate(g)
    tp.grad = torch.from_numpy(g.copy())
    mg.clip_grad_value_(p, 0.3)
    torch.nn.utils.clip_grad_value_([tp], 0.3)
    np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    with pytest.raises(HyperParameterError, match="clip_value"):
        mg.clip_grad_value_([p], -1)
    with pytest.raises(HyperParameterError, match="max_norm"):
        mg.clip_grad_norm_([p], float("nan"))
    with pytest.raises(HyperParameterError, match="norm_type"):
        mg.clip_grad_norm_([p], 1.0, norm_type=0)
    assert mg.clip_grad_norm_([mg.Parameter(np.ones(2))], 1.0) == 0.0  # no gradient written: norm 0
