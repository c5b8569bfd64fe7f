"""Learning-rate schedulers against torch.optim.lr_scheduler over many steps, per-group rates, state dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import HyperParameterError
from minigrad.optim import lr_scheduler as ls

SCHEDULES = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7}),
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.01}),  # past T_max it goes back up, as torch
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e)}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 30}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 3, "steps_per_epoch": 10, "anneal_strategy": "linear"}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30, "three_phase": True, "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30, "cycle_momentum": False, "div_factor": 10}),
]


def _groups(lib, make_param):
    a, b = make_param(), make_param()
    return [{"params": [a]}, {"params": [b], "lr": 0.3}]


def _both(opt_name, opt_kwargs, name, kwargs):
    torch = pytest.importorskip("torch")
    ours_opt = getattr(mg, opt_name)(_groups(mg, lambda: mg.Parameter(np.ones(2))), **opt_kwargs)
    theirs_opt = getattr(torch.optim, opt_name)(_groups(torch, lambda: torch.ones(2, requires_grad=True)), **opt_kwargs)
    return ours_opt, theirs_opt, getattr(ls, name)(ours_opt, **kwargs), getattr(torch.optim.lr_scheduler, name)(
        theirs_opt, **kwargs
    )


def _assert_same(opt, topt, sched, tsched):
    np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
    for g, tg in zip(opt.param_groups, topt.param_groups):
        assert g["lr"] == pytest.approx(tg["lr"], rel=1e-12)
        if "momentum" in g:
            assert g["momentum"] == pytest.approx(tg["momentum"], rel=1e-12)
        if "betas" in g:
            assert g["betas"][0] == pytest.approx(tg["betas"][0], rel=1e-12)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES, ids=[f"{n}{k}" for n, k in SCHEDULES])
def test_against_pytorch_over_many_steps(opt_name, name, kwargs):
    opt_kwargs = {"lr": 0.1, "momentum": 0.9} if opt_name == "SGD" else {"lr": 0.1}
    opt, topt, sched, tsched = _both(opt_name, opt_kwargs, name, kwargs)
    _assert_same(opt, topt, sched, tsched)
    steps = 30 if name == "OneCycleLR" else 25
    for _ in range(steps - 1 if name == "OneCycleLR" else steps):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        _assert_same(opt, topt, sched, tsched)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 2, "cooldown": 1},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "min_lr": [0.01, 0.05]},
        {"patience": 0, "factor": 0.5, "eps": 0.02},
    ],
)
def test_reduce_on_plateau_against_pytorch(kwargs):
    opt, topt, sched, tsched = _both("SGD", {"lr": 0.1}, "ReduceLROnPlateau", kwargs)
    metrics = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.85, 0.86, 0.86, 0.87] * 3 + list(np.linspace(1, 2, 15))
    for m in metrics:
        sched.step(m)
        tsched.step(m)
        _assert_same(opt, topt, sched, tsched)
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == (
            tsched.best,
            tsched.num_bad_epochs,
            tsched.cooldown_counter,
        )


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES + [("ReduceLROnPlateau", {"patience": 1})])
def test_state_dict_is_json_and_resumes_identically(name, kwargs):
    def make():
        opt = mg.SGD(_groups(mg, lambda: mg.Parameter(np.ones(2))), lr=0.1, momentum=0.9)
        return opt, getattr(ls, name)(opt, **kwargs)

    def step(o, s, k):
        o.step()
        s.step(1.0 / (1 + k % 3)) if name == "ReduceLROnPlateau" else s.step()

    opt, sched = make()
    for k in range(6):
        step(opt, sched, k)
    saved_opt, saved = opt.state_dict(), json.loads(json.dumps(sched.state_dict()))
    assert "lr_lambdas" not in saved and "optimizer" not in saved
    opt2, sched2 = make()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    for k in range(6, 20):
        step(opt, sched, k)
        step(opt2, sched2, k)
        assert sched.get_last_lr() == sched2.get_last_lr()


def test_errors():
    opt = mg.SGD([mg.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(HyperParameterError, match="step_size"):
        ls.StepLR(opt, step_size=0)
    with pytest.raises(HyperParameterError, match="milestones"):
        ls.MultiStepLR(opt, milestones=[1.5])
    with pytest.raises(HyperParameterError, match="total_steps"):
        ls.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(HyperParameterError, match="factor"):
        ls.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(HyperParameterError, match="lr_lambda"):
        ls.LambdaLR(opt, lr_lambda=[lambda e: 1, lambda e: 2])
    with pytest.raises(HyperParameterError, match="momentum or betas"):
        ls.OneCycleLR(mg.Adagrad([mg.Parameter(np.ones(1))]), max_lr=0.1, total_steps=5)
    one = ls.OneCycleLR(mg.SGD([mg.Parameter(np.ones(1))], lr=0.1), max_lr=0.1, total_steps=2)
    one.step()
    one.step()
    with pytest.raises(HyperParameterError, match="total_steps is 2"):
        one.step()
