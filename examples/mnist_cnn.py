"""Nielsen's chapter-6 convolutional network on MNIST: 99 % test accuracy in a few minutes on 2 cores.

    python examples/mnist_cnn.py             # 6 epochs, about 3-4 minutes of training on 2 cores
    python examples/mnist_cnn.py --quick     # 1 epoch on 2,000 images (a smoke run)

The network is his (chapter 6, "Using rectified linear units"): two 5x5 convolutions with 20 and 40
filters, each followed by ReLU and 2x2 max pooling, a fully connected layer of 100 ReLU units and a
softmax output, trained with the cross-entropy of the logits. He trains it for 60 epochs of plain SGD
(mini-batch 10, eta 0.03, L2 lambda 0.1) to 99.23 %; here a one-cycle schedule of SGD with momentum
gets past 99 % in 6 epochs. The same network, his way: ``minigrad train --model cnn --batch-size 10``.
"""

from __future__ import annotations

import argparse
import time

import minigrad as mg


def main(epochs: int = 6, limit: int | None = None, progress: bool = True, seed: int = 0) -> dict:
    (x, y), (x_val, y_val), (x_test, y_test) = mg.datasets.mnist(validation=True, shape="image")
    x, y = x[:limit], y[:limit]

    mg.manual_seed(seed)
    net = mg.Sequential(
        mg.Conv2d(1, 20, kernel_size=5),  # (N, 1, 28, 28) -> (N, 20, 24, 24)
        mg.ReLU(),
        mg.MaxPool2d(2),  # -> (N, 20, 12, 12)
        mg.Conv2d(20, 40, kernel_size=5),  # -> (N, 40, 8, 8)
        mg.ReLU(),
        mg.MaxPool2d(2),  # -> (N, 40, 4, 4)
        mg.Flatten(),  # -> (N, 640)
        mg.Linear(640, 100),
        mg.ReLU(),
        mg.Linear(100, 10),  # logits
    )
    loss = mg.SoftmaxCrossEntropy()
    batch_size = 50
    optimizer = mg.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = -(-len(x) // batch_size)  # batches per epoch, the last one partial
    scheduler = mg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs, steps_per_epoch=steps)

    start = time.perf_counter()
    mg.fit(
        net, loss, optimizer, x, y, epochs=epochs, batch_size=batch_size, validation=(x_val, y_val),
        scheduler=scheduler, progress=progress, rng=seed,
    )  # fmt: skip
    seconds = time.perf_counter() - start

    result = mg.evaluate(net, loss, x_test, y_test)
    print(f"test accuracy: {result['correct']} / {result['total']} ({result['accuracy']:.2%}), {seconds:.0f} s")
    return result | {"seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 2,000 images")
    args = parser.parse_args()
    main(1 if args.quick else args.epochs, 2000 if args.quick else None, seed=args.seed)
