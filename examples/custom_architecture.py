"""A residual, two-head network built with the functional API, trained on MNIST, and drawn.

    python examples/custom_architecture.py [--quick] [--out pictures/]

One trunk (Linear + ReLU and a residual block) feeds two heads: the digit
(softmax cross-entropy) and four attributes of it (sigmoid binary cross-entropy).
Backward takes one gradient per output; where the trunk fans out to both heads
the Graph sums their gradients. Writes ``forward.svg`` and ``backward.svg``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad.cli import render

try:
    from multilabel_mnist import attributes
except ImportError:  # imported from elsewhere (the test suite)
    from examples.multilabel_mnist import attributes


def build() -> mg.Graph:
    image = mg.Input(784, name="image")
    trunk = mg.ReLU()(mg.Linear(784, 64, init="he_normal")(image))
    block = mg.Linear(64, 64, init="he_normal")(mg.ReLU()(mg.Linear(64, 64, init="he_normal")(trunk)))
    features = mg.ReLU()(mg.Add()(trunk, block))  # the skip connection
    digit = mg.Linear(64, 10)(features)
    digit.name = "digit"
    attrs = mg.Linear(64, 4)(features)
    attrs.name = "attributes"
    return mg.Graph(image, [digit, attrs])


def save_picture(dot, path: Path) -> Path:
    """SVG when graphviz's dot is installed, else the DOT source beside it (.gv)."""
    try:
        return render(dot, path)
    except mg.MinigradError as exc:
        print(f"note: {exc}")
        return render(dot, path.with_suffix(".gv"))


def main(epochs: int = 5, limit: int | None = None, out: str = "pictures") -> dict:
    (x, y), (x_test, y_test) = mg.datasets.mnist()
    x, y = x[:limit], y[:limit]
    t = attributes(y)
    mg.manual_seed(0)
    model = build()
    ce, bce = mg.SoftmaxCrossEntropy(), mg.SigmoidBCE()
    opt = mg.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(1, epochs + 1):
        # Two targets per image: batch the indices, then pick both targets with them.
        for xb, idx in mg.batches(x, np.arange(len(x)), 32, rng=epoch):
            yb, tb = y[idx], t[idx]
            opt.zero_grad()
            digit, attrs = model(xb)
            ce(digit, yb)
            bce(attrs, tb)
            model.backward(ce.backward(), 0.5 * bce.backward())  # total loss = CE + 0.5 * BCE
            opt.step()
        model.eval()
        digit, attrs = model(x_test)
        model.train()
        acc = float((digit.argmax(axis=1) == y_test).mean())
        attr_acc = float(((attrs > 0) == (attributes(y_test) > 0.5)).mean())
        print(f"Epoch {epoch}: digit accuracy {acc:.2%}, attribute accuracy {attr_acc:.2%}")

    # Pictures: the layer graph, and the backward pass of one batch (gradient norms on the edges).
    folder = Path(out)
    written = [save_picture(mg.draw(model), folder / "forward.svg")]
    model.retain_grad()  # record the gradients of the next backward for draw (training above recorded none)
    opt.zero_grad()
    digit, attrs = model(x_test[:100])
    ce(digit, y_test[:100])
    bce(attrs, attributes(y_test[:100]))
    model.backward(ce.backward(), 0.5 * bce.backward())
    written.append(save_picture(mg.draw(model, gradients=True), folder / "backward.svg"))
    print("Wrote " + ", ".join(map(str, written)))
    return {"digit_accuracy": acc, "attribute_accuracy": attr_acc, "pictures": written}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 epoch on 5,000 images")
    parser.add_argument("--out", default="pictures")
    args = parser.parse_args()
    main(1 if args.quick else args.epochs, 5000 if args.quick else None, args.out)
