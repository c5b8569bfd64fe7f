"""GradientNormRecorder: the norms it records are those of the gradients computed by hand; History keeps them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ConfigError, HyperParameterError, StateError


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tiny_net():
    """[3, 4, 2] with a sigmoid hidden layer, float64 (the loss is SigmoidBCE on the logits)."""
    return mg.Sequential(
        mg.Linear(3, 4, init="normal", rng=1, dtype=np.float64),
        mg.Sigmoid(),
        mg.Linear(4, 2, init="normal", rng=2, dtype=np.float64),
    )


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)), rng.integers(0, 2, n)


def hand_training(net, x, y, epochs, batch_size, lr, seed):
    """Plain SGD on SigmoidBCE written out in NumPy; each step's gradients' norms, keyed as the net names them."""
    w1, b1, w2, b2 = (p.data.copy() for _, p in net.named_parameters())
    rng = np.random.default_rng(seed)  # fit's shuffling generator for rng=seed
    steps = []
    for _ in range(epochs):
        for xb, yb in mg.batches(x, y, batch_size, rng=rng):
            a1 = sigmoid(xb @ w1.T + b1)
            delta2 = (sigmoid(a1 @ w2.T + b2) - np.eye(2)[yb]) / len(xb)  # dL/dz2 of the batch-mean loss
            delta1 = (delta2 @ w2) * a1 * (1 - a1)
            grads = {"0.weight": delta1.T @ xb, "0.bias": delta1.sum(0)}
            grads.update({"2.weight": delta2.T @ a1, "2.bias": delta2.sum(0)})
            steps.append({k: np.linalg.norm(g) for k, g in grads.items()})
            w1, b1 = w1 - lr * grads["0.weight"], b1 - lr * grads["0.bias"]
            w2, b2 = w2 - lr * grads["2.weight"], b2 - lr * grads["2.bias"]
    return steps


def train(recorder, epochs=3, batch_size=8, **kwargs):
    net = tiny_net()
    x, y = data()
    hist = mg.fit(
        net, mg.SigmoidBCE(), mg.SGD(net.parameters(), lr=0.5), x, y, epochs=epochs, batch_size=batch_size,
        callbacks=[recorder], progress=False, verbose=False, rng=5, **kwargs,
    )  # fmt: skip
    return hist, hand_training(tiny_net(), x, y, epochs, batch_size, 0.5, 5)


def test_full_batch_norms_are_the_hand_computed_gradients_norms():
    hist, steps = train(mg.GradientNormRecorder())
    assert list(hist.gradient_norms) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, values in hist.gradient_norms.items():
        assert len(values) == 3
        np.testing.assert_allclose(values, [s[name] for s in steps], rtol=1e-12)
    assert hist.step_gradient_norms == {}  # per_step is opt-in


def test_per_step_norms_and_the_epoch_mean():
    hist, steps = train(mg.GradientNormRecorder(["0.bias", "2.weight"], per_step=True), batch_size=3)
    assert len(steps) == 9  # 8 examples in batches of 3: 3 steps per epoch
    for name in ("0.bias", "2.weight"):
        per_step = hist.step_gradient_norms[name]
        np.testing.assert_allclose(per_step, [s[name] for s in steps], rtol=1e-12)
        np.testing.assert_allclose(hist.gradient_norms[name], np.mean(np.reshape(per_step, (3, 3)), axis=1))
    assert set(hist.gradient_norms) == {"0.bias", "2.weight"}


def test_the_norm_is_read_before_clipping():
    hist, steps = train(mg.GradientNormRecorder(["2.weight"]), clip_grad_norm=1e-3)
    assert hist.gradient_norms["2.weight"][0] == pytest.approx(steps[0]["2.weight"], rel=1e-12)
    assert hist.gradient_norms["2.weight"][0] > 1e-2  # the unclipped gradient


def test_infinity_and_one_norms():
    rec = mg.GradientNormRecorder(norm_type=float("inf"))
    g = np.array([[1.0, -3.0], [2.0, 0.5]])
    assert rec.norm(g) == 3.0
    assert mg.GradientNormRecorder(norm_type=1).norm(g) == pytest.approx(6.5)


def test_a_parameter_without_gradient_records_zero_and_stays_without():
    net = tiny_net()
    frozen = mg.Linear(2, 2, dtype=np.float64)  # in the model's parameters, never in its forward
    model = mg.Sequential(net)
    model.unused = frozen
    rec = mg.GradientNormRecorder(["unused.weight", "0.0.bias"])
    x, y = data()
    hist = mg.fit(
        model, mg.SigmoidBCE(), mg.SGD(net.parameters(), lr=0.1), x, y, epochs=2, batch_size=8, callbacks=[rec],
        progress=False, verbose=False,
    )  # fmt: skip
    assert hist.gradient_norms["unused.weight"] == [0.0, 0.0]
    assert not frozen.weight.has_grad and hist.gradient_norms["0.0.bias"][0] > 0


def test_bad_arguments_name_the_recorder():
    with pytest.raises(HyperParameterError, match="GradientNormRecorder: norm_type"):
        mg.GradientNormRecorder(norm_type=0)
    with pytest.raises(HyperParameterError, match="GradientNormRecorder: names"):
        mg.GradientNormRecorder("0.bias")
    with pytest.raises(ConfigError, match=r"no parameter \['1.bias'\].*'0.bias'"):
        train(mg.GradientNormRecorder(["1.bias"]))


def test_an_extended_history_keeps_epochs_aligned():
    net = tiny_net()
    x, y = data()
    opt = mg.SGD(net.parameters(), lr=0.1)
    kwargs = dict(batch_size=4, progress=False, verbose=False)
    hist = mg.fit(net, mg.SigmoidBCE(), opt, x, y, epochs=2, **kwargs)  # no recorder
    for epochs in (2, 1):
        rec = [mg.GradientNormRecorder()]
        hist = mg.fit(net, mg.SigmoidBCE(), opt, x, y, epochs=epochs, history=hist, callbacks=rec, **kwargs)
    values = hist.gradient_norms["0.bias"]
    assert len(values) == hist.epochs == 5
    assert all(math.isnan(v) for v in values[:2]) and all(v > 0 for v in values[2:])


def test_history_json_round_trip(tmp_path):
    hist, _ = train(mg.GradientNormRecorder(["0.bias", "2.bias"], per_step=True), batch_size=4)
    back = mg.History.load(hist.save(tmp_path / "h.json"))
    assert back == hist
    assert back.gradient_norms["0.bias"] == hist.gradient_norms["0.bias"]
    assert len(back.step_gradient_norms["2.bias"]) == 6  # 3 epochs of 2 steps
    old = {"history": {"loss": [1.0]}, "interrupted": False, "meta": {}}  # saved before the recorder existed
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert mg.History.load(tmp_path / "old.json").gradient_norms == {}


def test_a_checkpoint_keeps_the_gradient_norms(tmp_path):
    hist, _ = train(mg.GradientNormRecorder(["0.bias"]))
    mg.save(tiny_net(), tmp_path / "m.npz", history=hist)
    assert mg.load_checkpoint(tmp_path / "m.npz").history.gradient_norms == hist.gradient_norms


def test_plot_gradient_norms_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    hist, _ = train(mg.GradientNormRecorder(["0.bias", "2.bias"], per_step=True), batch_size=4)
    for per_step in (False, True):
        path = hist.plot_gradient_norms(
            tmp_path / f"norms-{per_step}.png", labels={"0.bias": "Hidden layer 1"}, title="t", per_step=per_step
        )
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    with pytest.raises(ConfigError, match=r"no gradient norms recorded for \['4.bias'\]"):
        hist.plot_gradient_norms(tmp_path / "x.png", names=["4.bias"])
    with pytest.raises(StateError, match="GradientNormRecorder"):
        mg.History().plot_gradient_norms(tmp_path / "y.png")
