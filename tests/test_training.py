"""batches, fit, evaluate, History: on small generated data."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

import minigrad as mg

from .idx_files import write_dataset


@pytest.fixture
def data(tmp_path):
    write_dataset(tmp_path, n_train=300, n_test=100)
    return mg.datasets.mnist(tmp_path)


def small_net(seed=0):
    return mg.Sequential(mg.Linear(784, 16, rng=seed), mg.Sigmoid(), mg.Linear(16, 10, rng=seed + 1))


def test_batches_cover_everything_once():
    x, y = np.arange(23)[:, None], np.arange(23)
    seen = np.concatenate([yb for _, yb in mg.batches(x, y, 5, rng=0)])
    assert sorted(seen) == list(range(23)) and not np.array_equal(seen, np.arange(23))
    sizes = [len(xb) for xb, _ in mg.batches(x, y, 5, shuffle=False)]
    assert sizes == [5, 5, 5, 5, 3]
    assert [len(xb) for xb, _ in mg.batches(x, y, 5, drop_last=True)] == [5] * 4
    assert all(yb is None for _, yb in mg.batches(x, None, 10))
    with pytest.raises(mg.ShapeError, match="23 examples but y has 3"):
        next(mg.batches(x, y[:3], 5))
    with pytest.raises(ValueError, match="batch_size"):
        next(mg.batches(x, y, 0))


def test_fit_learns_and_records_history(data, capsys):
    (x, y), (xt, yt) = data
    net = small_net()
    history = mg.fit(
        net,
        mg.SoftmaxCrossEntropy(),
        mg.SGD(net.parameters(), lr=0.5),
        x,
        y,
        epochs=5,
        batch_size=10,
        validation=(xt, yt),
        rng=0,
    )
    assert history.epochs == 5
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds", "lr"}
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    out = capsys.readouterr().out
    assert "Epoch 5: loss" in out and "val accuracy" in out and "/ 100 (" in out
    result = mg.evaluate(net, mg.SoftmaxCrossEntropy(), xt, yt, batch_size=7)
    assert result["total"] == 100 and result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert net.training


def test_fit_is_reproducible_and_callbacks_run(data):
    (x, y), (xt, yt) = data
    runs = []
    for _ in range(2):
        net = small_net()
        seen = []
        mg.fit(
            net,
            mg.SoftmaxCrossEntropy(),
            mg.SGD(net.parameters(), lr=0.5),
            x,
            y,
            epochs=2,
            batch_size=32,
            progress=False,
            verbose=False,
            rng=3,
            callbacks=[lambda e, h, m, seen=seen: seen.append(e)],
        )
        runs.append(net.state_dict())
        assert seen == [1, 2]
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


def test_multilabel_accuracy_counts_each_label(data):
    (x, y), _ = data
    targets = np.stack([y % 2 == 0, y > 4, np.isin(y, [2, 3, 5, 7])], axis=1).astype(np.float32)
    net = mg.Sequential(mg.Linear(784, 16, rng=0), mg.Sigmoid(), mg.Linear(16, 3, rng=1))
    history = mg.fit(
        net,
        mg.SigmoidBCE(),
        mg.SGD(net.parameters(), lr=0.5),
        x,
        targets,
        epochs=8,
        batch_size=10,
        validation=(x, targets),
        progress=False,
        verbose=False,
        rng=0,
    )
    result = mg.evaluate(net, mg.SigmoidBCE(), x, targets)
    assert result["total"] == 3 * len(x)
    assert result["accuracy"] > 0.9 and history["val_accuracy"][-1] == pytest.approx(result["accuracy"])


def test_divergence_stops_with_a_clear_message(data):
    (x, y), _ = data
    net = small_net()
    with np.errstate(all="ignore"), pytest.raises(mg.NonFiniteError) as info:
        mg.fit(
            net,
            mg.QuadraticCost(),
            mg.SGD(net.parameters(), lr=1e30),
            x,
            y,
            epochs=3,
            batch_size=10,
            progress=False,
            verbose=False,
        )
    msg = str(info.value)
    assert msg.startswith("Epoch 1, batch ") and "lr=1e+30" in msg and "learning rate" in msg
    assert info.value.history.epochs == 0


class InterruptAt(mg.Module):
    """Identity that sends this process SIGINT (Ctrl-C) on its ``at``-th forward call."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return x

    def backward(self, g):
        return g


def test_ctrl_c_mid_epoch_stops_after_the_current_batch_and_keeps_history(data, capsys):
    (x, y), _ = data  # 300 examples: 30 batches of 10 per epoch
    net = mg.Sequential(InterruptAt(45), small_net())
    opt = mg.SGD(net.parameters(), lr=0.5)
    history = mg.fit(net, mg.SoftmaxCrossEntropy(), opt, x, y, epochs=5, batch_size=10, progress=False)
    assert history.interrupted and history.epochs == 1
    assert net[0].calls == 45  # the batch that was running finished; no further batch started
    assert "Interrupted in epoch 2 after 150 of 300 examples" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_between_epochs(data, capsys):
    (x, y), _ = data
    net = small_net()

    def interrupt(epoch, history, model):
        os.kill(os.getpid(), signal.SIGINT)

    history = mg.fit(
        net,
        mg.SoftmaxCrossEntropy(),
        mg.SGD(net.parameters(), lr=0.5),
        x,
        y,
        epochs=5,
        batch_size=10,
        progress=False,
        callbacks=[interrupt],
    )
    assert history.interrupted and history.epochs == 1
    assert "Interrupted after epoch 1" in capsys.readouterr().out


def test_history_json_and_plot(tmp_path):
    h = mg.History()
    for e in range(3):
        h.record(loss=1.0 / (e + 1), accuracy=0.5 + e / 10, val_accuracy=0.6 + e / 20)
    h.save(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text())["history"]["loss"][0] == 1.0
    back = mg.History.load(tmp_path / "h.json")
    assert back.history == h.history and back.best() == (3, pytest.approx(0.7))
    assert back.best("loss") == (3, pytest.approx(1 / 3))
    pytest.importorskip("matplotlib")
    png = h.plot(tmp_path / "curves.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_argument_errors(data):
    (x, y), _ = data
    net = small_net()
    opt = mg.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown metric"):
        mg.fit(net, mg.SoftmaxCrossEntropy(), opt, x, y, epochs=1, batch_size=10, metrics=("f1",))
    with pytest.raises(ValueError, match="epochs"):
        mg.fit(net, mg.SoftmaxCrossEntropy(), opt, x, y, epochs=-1, batch_size=10)
