"""The seed's training example: Nielsen's ``Network([784, 30, 10])`` on MNIST by mini-batch SGD.

    python examples/mnist_nielsen.py            # 30 epochs (the time varies 3-4x between machines)
    python examples/mnist_nielsen.py --quick    # 1 epoch on 5,000 images

Sigmoid hidden layer, softmax + cross-entropy output (so the output error is
``delta = a - y``), batch 10, learning rate 0.5, N(0, 1/n_in) weights.
"""

from __future__ import annotations

import argparse

import minigrad as mg


def main(epochs: int = 30, limit: int | None = None, progress: bool = True) -> dict:
    (x, y), (x_val, y_val), (x_test, y_test) = mg.datasets.mnist(validation=True)
    x, y = x[:limit], y[:limit]

    mg.manual_seed(0)
    net = mg.Sequential(
        mg.Linear(784, 30, init="scaled_normal"),
        mg.Sigmoid(),
        mg.Linear(30, 10, init="scaled_normal"),
    )
    loss = mg.SoftmaxCrossEntropy()
    optimizer = mg.SGD(net.parameters(), lr=0.5)
    mg.fit(
        net, loss, optimizer, x, y, epochs=epochs, batch_size=10, validation=(x_val, y_val), progress=progress, rng=0
    )

    result = mg.evaluate(net, loss, x_test, y_test)
    print(f"test accuracy: {result['correct']} / {result['total']} ({result['accuracy']:.2%})")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 5,000 images")
    args = parser.parse_args()
    main(1 if args.quick else args.epochs, 5000 if args.quick else None)
