"""Multi-label classification with ``SigmoidBCE``: each MNIST image gets four yes/no attributes of its digit.

    python examples/multilabel_mnist.py [--quick]

The attributes (even, greater than 4, prime, multiple of 3) are not exclusive, so
softmax is wrong here: each output is its own sigmoid with binary cross-entropy,
whose gradient is again ``delta = sigmoid(z) - y``.
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg

ATTRIBUTES = {
    "even": [0, 2, 4, 6, 8],
    "greater than 4": [5, 6, 7, 8, 9],
    "prime": [2, 3, 5, 7],
    "multiple of 3": [0, 3, 6, 9],
}


def attributes(digits: np.ndarray) -> np.ndarray:
    """(N,) digits -> (N, 4) float targets in {0, 1}."""
    return np.stack([np.isin(digits, members) for members in ATTRIBUTES.values()], axis=1).astype(np.float32)


def main(epochs: int = 10, limit: int | None = None, progress: bool = True) -> dict:
    (x, y), (x_val, y_val), (x_test, y_test) = mg.datasets.mnist(validation=True)
    x, t = x[:limit], attributes(y[:limit])

    mg.manual_seed(0)
    net = mg.Sequential(mg.Linear(784, 64, init="he_normal"), mg.ReLU(), mg.Linear(64, len(ATTRIBUTES)))
    loss = mg.SigmoidBCE()
    mg.fit(
        net,
        loss,
        mg.SGD(net.parameters(), lr=0.1, momentum=0.9),
        x,
        t,
        epochs=epochs,
        batch_size=32,
        validation=(x_val, attributes(y_val)),
        progress=progress,
        rng=0,
    )

    net.eval()
    predicted = net(x_test) > 0  # sigmoid(z) > 0.5  <=>  z > 0
    truth = attributes(y_test) > 0.5
    per_attribute = (predicted == truth).mean(axis=0)
    for name, acc in zip(ATTRIBUTES, per_attribute):
        print(f"{name:>15}: {acc:.2%}")
    exact = float((predicted == truth).all(axis=1).mean())
    print(f"all four right: {exact:.2%}")
    return {"per_attribute": dict(zip(ATTRIBUTES, per_attribute.tolist())), "exact_match": exact}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 5,000 images")
    args = parser.parse_args()
    main(1 if args.quick else args.epochs, 5000 if args.quick else None)
