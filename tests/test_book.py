"""benchmarks/book.py trains with Nielsen's network2 rule: checked against his update written in NumPy."""

from __future__ import annotations

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
