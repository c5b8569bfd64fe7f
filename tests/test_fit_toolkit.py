"""fit with a scheduler, gradient clipping, early stopping and the best weights kept."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ConfigError, HyperParameterError
from minigrad.optim import lr_scheduler as ls


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def _net(seed=0):
    return mg.Sequential(
        mg.Linear(8, 6, rng=seed, dtype="float64"), mg.Tanh(), mg.Linear(6, 3, rng=seed + 1, dtype="float64")
    )


def _fit(net, opt, **kw):
    x, y = _data()
    kw.setdefault("validation", _data(60, 1))
    return mg.fit(net, mg.SoftmaxCrossEntropy(), opt, x, y, batch_size=16, progress=False, verbose=False, rng=0, **kw)


def test_scheduler_is_stepped_per_epoch_and_the_lr_recorded():
    net = _net()
    opt = mg.SGD(net.parameters(), lr=0.4)
    hist = _fit(net, opt, epochs=5, scheduler=ls.StepLR(opt, step_size=2, gamma=0.5))
    assert hist["lr"] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_plateau_gets_the_validation_loss_and_onecycle_is_stepped_per_batch():
    net = _net()
    opt = mg.SGD(net.parameters(), lr=0.1, momentum=0.9)
    plateau = ls.ReduceLROnPlateau(opt, patience=0, threshold=10.0, threshold_mode="abs")  # only epoch 1 improves
    hist = _fit(net, opt, epochs=3, scheduler=plateau)
    assert plateau.best == hist["val_loss"][0] and hist["lr"] == pytest.approx([0.1, 0.1, 0.01])
    net = _net()
    opt = mg.SGD(net.parameters(), lr=0.1, momentum=0.9)
    one = ls.OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=8)  # 120 / 16 -> 8 batches
    hist = _fit(net, opt, epochs=3, scheduler=one)
    assert one.last_epoch == 24 and hist["lr"][0] == pytest.approx(0.5 / 25)  # warm-up starts at max_lr / 25


def test_clipping_equals_clip_grad_norm_in_the_loop():
    x, y = _data()
    runs = []
    for clip in (True, False):
        net = _net()
        opt = mg.SGD(net.parameters(), lr=0.5)
        if clip:
            _fit(net, opt, epochs=2, clip_grad_norm=0.1, validation=None)
        else:  # the same loop by hand
            loss, rng = mg.SoftmaxCrossEntropy(), np.random.default_rng(0)
            for _ in range(2):
                for xb, yb in mg.batches(x, y, 16, rng=rng):
                    opt.zero_grad()
                    loss(net(xb), yb)
                    net.backward(loss.backward())
                    mg.clip_grad_norm_(net.parameters(), 0.1)
                    opt.step()
        runs.append(net.state_dict())
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    with pytest.raises(HyperParameterError, match="max_norm"):
        _fit(_net(), mg.SGD(_net().parameters(), lr=0.1), epochs=1, clip_grad_norm=-1.0)


def test_early_stopping_patience_min_delta_and_modes():
    net = _net()
    stopper = mg.EarlyStopping(monitor="val_loss", patience=2, min_delta=1e9)  # nothing counts as better
    hist = _fit(net, mg.SGD(net.parameters(), lr=0.1), epochs=20, callbacks=[stopper])
    assert hist.epochs == 3 and stopper.stopped_epoch == 3 and hist.meta["stopped_early"] == 3
    assert mg.EarlyStopping("val_accuracy").mode == "max" and mg.EarlyStopping("loss").mode == "min"
    with pytest.raises(HyperParameterError, match="patience"):
        mg.EarlyStopping(patience=-1)
    with pytest.raises(ConfigError, match="no metric 'val_los'"):
        _fit(_net(), mg.SGD(_net().parameters(), lr=0.1), epochs=1, callbacks=[mg.EarlyStopping("val_los")])


def test_early_stopping_matches_keras_counting():
    stopper, hist = mg.EarlyStopping("m", patience=2, mode="min"), mg.History()
    stops = []
    for epoch, v in enumerate([5, 4, 4.5, 3, 3.5, 3.2, 1], start=1):
        hist.record(m=v)
        stopper.on_epoch_end(epoch, hist, None)
        stops.append(stopper.stop_training)
    assert stops == [False, False, False, False, False, True, True]


def test_restore_best_and_plain_callbacks_still_work():
    net = _net()
    seen = []
    keeper = mg.BestModel("val_accuracy", restore=False)
    hist = _fit(
        net, mg.SGD(net.parameters(), lr=3.0), epochs=8, restore_best=True,
        callbacks=[lambda e, h, m: seen.append(e), keeper],
    )  # fmt: skip
    assert seen == list(range(1, 9))
    best_epoch = int(np.argmin(hist["val_loss"])) + 1
    assert hist.meta["restored_best_epoch"] == best_epoch
    result = mg.evaluate(net, mg.SoftmaxCrossEntropy(), *_data(60, 1))
    assert result["loss"] == pytest.approx(hist["val_loss"][best_epoch - 1], rel=1e-12)
    assert keeper.best_epoch == hist.best("val_accuracy")[0] and keeper.best_state is not None


def test_callbacks_pick_up_an_extended_history():
    net = _net()
    opt = mg.SGD(net.parameters(), lr=0.1)
    hist = _fit(net, opt, epochs=2)
    stopper = mg.EarlyStopping("val_loss", patience=1, min_delta=1e9)
    _fit(net, opt, epochs=5, history=hist, callbacks=[stopper])
    assert stopper.best_epoch == 1 and hist.epochs == 3  # epoch 2 already did not improve
