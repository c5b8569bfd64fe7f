"""benchmarks/chapter6.py builds Nielsen's network3 runs: his initialisation, his L2, his reported figure."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import chapter6  # noqa: E402


def test_his_initialisation():
    net = mg.models.nielsen_cnn("relu", (20, 40), (1000,), rng=0)
    chapter6.his_init(net, np.random.default_rng(0))
    conv1, conv2, fc, out = [m for m in net if isinstance(m, (mg.Conv2d, mg.Linear))]
    # n_out = filters * 5 * 5 / 4 for a conv-pool layer, the width for a fully connected one
    for layer, n_out in ((conv1, 20 * 25 / 4), (conv2, 40 * 25 / 4), (fc, 1000)):
        assert layer.weight.data.std() == pytest.approx(np.sqrt(1 / n_out), rel=0.1)
        assert abs(layer.weight.data.mean()) < 0.01
    assert conv2.bias.data.std() == pytest.approx(1.0, rel=0.3) and fc.bias.data.std() == pytest.approx(1, rel=0.1)
    assert not out.weight.data.any() and not out.bias.data.any()  # his softmax layer starts at zero


def test_his_l2_is_weight_decay_of_lmbda_over_the_number_of_batches():
    net = mg.Sequential(mg.Linear(3, 2, rng=0))
    w0, b0 = net[0].weight.data.copy(), net[0].bias.data.copy()
    opt = chapter6.his_sgd(net, eta=0.5, lmbda=0.1, n=1000)  # 100 mini-batches of 10
    net[0].weight.grad[...] = 1.0
    net[0].bias.grad[...] = 1.0
    opt.step()
    # his cost adds 0.5 * lmbda / 100 * sum w^2: its gradient lmbda / 100 * w on the weights, none on biases
    np.testing.assert_allclose(net[0].weight.data, w0 - 0.5 * (1.0 + 0.1 / 100 * w0), rtol=1e-6)
    np.testing.assert_allclose(net[0].bias.data, b0 - 0.5, rtol=1e-6)


def test_run_reports_the_test_accuracy_of_the_best_validation_epoch():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 60)
    x = (rng.random((60, 1, 28, 28)) * 0.2 + y[:, None, None, None] / 10).astype(np.float32)  # learnable
    data = ((x[:40], y[:40]), (x[40:50], y[40:50]), (x[50:], y[50:]))
    result = chapter6.run("relu-l2", epochs=3, seed=0, data=data)
    assert result["n_train"] == 40 and len(result["test_per_epoch"]) == 3 and 1 <= result["best_epoch"] <= 3
    assert result["test_accuracy"] == result["test_per_epoch"][result["best_epoch"] - 1]
    assert result["nielsen"] == 99.23
    expanded = chapter6.run("expanded", epochs=1, seed=0, data=data, limit=8)
    assert expanded["n_train"] == 40  # 8 images and their four one-pixel shifts


def test_unknown_row_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        chapter6.main(["three-conv"])
    assert "unknown row" in capsys.readouterr().err
