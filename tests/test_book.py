"""benchmarks/book.py trains with Nielsen's network2 rule: checked against his update written in NumPy."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import book  # noqa: E402


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def network2_epochs(x, y, settings, seed):
    """Nielsen's network2.SGD with CrossEntropyCost and L2, the batches in the order fit draws them."""
    net = book.nielsen_network(settings["hidden"], settings["init"], seed)
    ws = [m.weight.data.astype(np.float64) for m in net if isinstance(m, mg.Linear)]
    bs = [m.bias.data.astype(np.float64) for m in net if isinstance(m, mg.Linear)]
    eta, lmbda, n = settings["eta"], settings["lmbda"], len(x)
    rng = np.random.default_rng(seed)
    for _ in range(settings["epochs"]):
        for xb, yb in mg.batches(x, y, 10, rng=rng):
            acts = [xb.astype(np.float64)]
            for w, b in zip(ws, bs):
                acts.append(sigmoid(acts[-1] @ w.T + b))
            delta = acts[-1] - np.eye(10)[yb]  # cross-entropy on sigmoid outputs: a - y
            for layer in range(len(ws) - 1, -1, -1):
                grad_w, grad_b = delta.T @ acts[layer], delta.sum(axis=0)
                if layer:
                    delta = (delta @ ws[layer]) * acts[layer] * (1 - acts[layer])
                ws[layer] = (1 - eta * lmbda / n) * ws[layer] - eta / len(xb) * grad_w
                bs[layer] = bs[layer] - eta / len(xb) * grad_b
    return ws


@pytest.mark.parametrize("lmbda", [0.0, 5.0])
def test_book_run_is_nielsens_network2(lmbda, monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    settings = dict(n=40, epochs=2, eta=0.5, lmbda=lmbda, hidden=[6], init="normal")
    trained = {}
    real_fit = mg.fit

    def keep(net, *args, **kwargs):
        trained["net"] = net
        return real_fit(net, *args, **kwargs)

    monkeypatch.setattr(book.mg, "fit", keep)
    results = book.run(settings, ((x, y), None, (x[:10], y[:10])), seed=3)
    assert len(results["training_cost"]) == 2 and 0 <= results["test_accuracy"][-1] <= 100
    ours = [m.weight.data for m in trained["net"] if isinstance(m, mg.Linear)]
    for a, b in zip(ours, network2_epochs(x, y, settings, 3)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)  # float32 against float64


def network2_gradient_norms(x, y, settings, seed):
    """His generate_gradient.py: before each epoch, ||dC/db^l|| of every hidden layer, C averaged over all of x;
    then one epoch of network2.SGD with a single mini-batch of all of x."""
    net = book.nielsen_network(settings["hidden"], settings["init"], seed)
    ws = [m.weight.data.astype(np.float64) for m in net if isinstance(m, mg.Linear)]
    bs = [m.bias.data.astype(np.float64) for m in net if isinstance(m, mg.Linear)]
    eta, lmbda, n = settings["eta"], settings["lmbda"], len(x)
    norms, initial = [], None
    for _ in range(settings["epochs"]):
        acts = [x.astype(np.float64)]
        for w, b in zip(ws, bs):
            acts.append(sigmoid(acts[-1] @ w.T + b))
        delta = acts[-1] - np.eye(10)[y]
        grads_w, grads_b = [None] * len(ws), [None] * len(ws)
        for layer in range(len(ws) - 1, -1, -1):
            grads_w[layer], grads_b[layer] = delta.T @ acts[layer], delta.sum(axis=0)
            if layer:
                delta = (delta @ ws[layer]) * acts[layer] * (1 - acts[layer])
        average = [g / n for g in grads_b[:-1]]  # the hidden layers' average bias gradient
        initial = average if initial is None else initial
        norms.append([np.linalg.norm(g) for g in average])
        ws = [(1 - eta * lmbda / n) * w - eta / n * g for w, g in zip(ws, grads_w)]
        bs = [b - eta / n * g for b, g in zip(bs, grads_b)]
    return np.array(norms), initial


def test_speed_of_learning_is_his_generate_gradient():
    rng = np.random.default_rng(1)
    x, y = rng.random((30, 784)).astype(np.float32), rng.integers(0, 10, 30)
    settings = dict(n=30, epochs=4, eta=0.1, lmbda=5.0, hidden=[6, 5], init="scaled_normal", batch=30)
    result = book.speed_of_learning(settings, ((x, y), None, None), seed=2)
    assert result["names"] == ["0.bias", "2.bias"]  # the hidden layers only, as his [:-1]
    ours = np.array([result["gradient_norms"][name] for name in result["names"]]).T
    his, initial = network2_gradient_norms(x, y, settings, 2)
    np.testing.assert_allclose(ours, his, rtol=1e-4)  # float32 against float64
    for a, b in zip(result["initial_gradient"], initial):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    assert len(result["loss"]) == 4


def test_deep_measures_his_validation_accuracy(monkeypatch):
    runs = book.EXPERIMENTS["deep"]["runs"]
    assert [s["hidden"] for s in runs.values()] == [[30], [30, 30], [30, 30, 30], [30, 30, 30, 30]]
    assert all(s["validation"] and (s["eta"], s["lmbda"], s["epochs"]) == (0.1, 5.0, 30) for s in runs.values())
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    trained = {}
    real_fit = mg.fit

    def keep(net, *args, **kwargs):
        trained["net"] = net
        return real_fit(net, *args, **kwargs)

    monkeypatch.setattr(book.mg, "fit", keep)
    settings = dict(n=20, epochs=2, eta=0.5, lmbda=5.0, hidden=[6, 6], init="scaled_normal", validation=True)
    results = book.run(settings, ((x[:20], y[:20]), (x[20:30], y[20:30]), (x[30:], y[30:])), seed=0)
    for key, (xe, ye) in (("validation_accuracy", (x[20:30], y[20:30])), ("test_accuracy", (x[30:], y[30:]))):
        assert len(results[key]) == 2
        assert results[key][-1] == pytest.approx(100 * mg.evaluate(trained["net"], mg.SigmoidBCE(), xe, ye)["accuracy"])


def test_speed_of_learning_figures_are_drawn_and_redrawn(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 784)).astype(np.float32), rng.integers(0, 10, 12)
    settings = dict(n=12, epochs=3, eta=0.1, lmbda=5.0, init="scaled_normal", batch=12)
    results = {
        f"{k} hidden layers": book.speed_of_learning({**settings, "hidden": [6] * k}, ((x, y), None, None), 0)
        for k in (2, 3)
    }
    (tmp_path / "book-speed-of-learning.json").write_text(json.dumps({"results": results}))
    assert book.main(["speed-of-learning", "--replot", "--out", str(tmp_path)]) == 0
    names = ["book-speed-of-learning-2.png", "book-speed-of-learning-3.png", "book-speed-of-learning-initial.png"]
    for name in names:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
