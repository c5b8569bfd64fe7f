"""Nielsen's network shape on two toy tasks that a linear model cannot solve: XOR and concentric rings.

    python examples/xor_and_rings.py

Both reach 100 % training accuracy; this is the core API with no helpers:
forward, loss, backward, step.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg


def train(model: mg.Module, x: np.ndarray, y: np.ndarray, lr: float, epochs: int, batch_size: int) -> float:
    """Mini-batch SGD on (x, y); returns the final training accuracy."""
    loss = mg.SoftmaxCrossEntropy()
    opt = mg.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            loss(model(x[idx]), y[idx])
            model.backward(loss.backward())  # delta = (softmax(z) - y) / N flows back
            opt.step()
    return float((model(x).argmax(axis=1) == y).mean())


def rings(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings: class 0 inside (radius 1), class 1 outside (radius 2.5)."""
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 1.0, 2.5) + rng.normal(0, 0.15, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32), y


def main(epochs: int = 300) -> dict[str, float]:
    mg.manual_seed(0)
    x_xor = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y_xor = np.array([0, 1, 1, 0])
    xor_net = mg.Sequential(mg.Linear(2, 8, init="normal"), mg.Sigmoid(), mg.Linear(8, 2, init="normal"))
    xor_acc = train(xor_net, x_xor, y_xor, lr=2.0, epochs=epochs * 5, batch_size=4)

    x_ring, y_ring = rings(400, np.random.default_rng(1))
    ring_net = mg.Sequential(mg.Linear(2, 16), mg.Tanh(), mg.Linear(16, 2))
    ring_acc = train(ring_net, x_ring, y_ring, lr=0.5, epochs=epochs // 3, batch_size=10)

    print(f"XOR   training accuracy: {xor_acc:.0%}")
    print(f"rings training accuracy: {ring_acc:.0%}")
    return {"xor": xor_acc, "rings": ring_acc}


if __name__ == "__main__":
    main()
