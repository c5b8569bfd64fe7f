"""Nielsen's chapter-6 table, rerun: his five convolutional networks with his settings, in minigrad.

    python benchmarks/chapter6.py two-conv --epochs 60 --seed 0     # one row, his 60 epochs
    python benchmarks/chapter6.py --all --epochs 3 --seeds 0,1      # every row, a shorter run
    python benchmarks/chapter6.py --list

Each row is his ``network3.py`` call: mini-batch 10, plain SGD, eta 0.1 (sigmoid) or 0.03 (ReLU), the
50,000 training images (250,000 with ``expanded``), and the figure he reports: the test accuracy at
the epoch of the best validation accuracy. His L2 term is ``0.5 lmbda / num_training_batches
sum ||w||^2`` added to the batch's mean cost, so SGD's ``weight_decay`` on the weights (not the biases)
is ``lmbda * mini_batch_size / n``. His initialisation is kept too: weights N(0, 1/n_out) with
``n_out = filters * kH * kW / pool area`` for a conv-pool layer and the layer width for a fully
connected one, biases N(0, 1), the softmax layer all zeros. The per-epoch log and the final figures go
to stdout and, with ``--json``, to a file of JSON lines (one per run).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import minigrad as mg

# name: (his figure, settings of nielsen_cnn and of the training). His epochs: 60 (40 for dropout).
ROWS = {
    "one-conv": (98.78, dict(channels=(20,), hidden=(100,), activation="sigmoid", eta=0.1, lmbda=0.0)),
    "two-conv": (99.06, dict(channels=(20, 40), hidden=(100,), activation="sigmoid", eta=0.1, lmbda=0.0)),
    "relu-l2": (99.23, dict(channels=(20, 40), hidden=(100,), activation="relu", eta=0.03, lmbda=0.1)),
    "expanded": (99.37, dict(channels=(20, 40), hidden=(100,), activation="relu", eta=0.03, lmbda=0.1,
                             expanded=True)),  # fmt: skip
    "dropout": (99.60, dict(channels=(20, 40), hidden=(1000, 1000), activation="relu", eta=0.03, lmbda=0.1,
                            expanded=True, dropout=0.5)),  # fmt: skip
}
MINI_BATCH = 10


def his_init(net: mg.Sequential, rng: np.random.Generator) -> None:
    """``network3.py``'s initialisation, in place (see the module docstring)."""
    layers = [m for m in net if isinstance(m, (mg.Conv2d, mg.Linear))]
    for i, layer in enumerate(layers):
        w, b = layer.weight.data, layer.bias.data
        if i == len(layers) - 1:  # his SoftmaxLayer starts at zero
            w[...], b[...] = 0.0, 0.0
            continue
        n_out = w.shape[0] * (w.shape[2] * w.shape[3] // 4 if w.ndim == 4 else 1)
        w[...] = rng.normal(0.0, np.sqrt(1.0 / n_out), w.shape)
        b[...] = rng.normal(0.0, 1.0, b.shape)


def his_sgd(net: mg.Module, eta: float, lmbda: float, n: int) -> mg.SGD:
    """Plain SGD; his L2 term ``0.5 lmbda / (n / MINI_BATCH) sum ||w||^2`` as weight decay on the weights."""
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
    return mg.SGD([{"params": weights, "weight_decay": lmbda * MINI_BATCH / n}, {"params": biases}], lr=eta)


def run(name: str, epochs: int, seed: int, data, limit: int | None = None, progress: bool = False) -> dict:
    """Train row ``name`` for ``epochs``; the test accuracy at the best validation epoch, and the log."""
    _, settings = ROWS[name]
    (x, y), (xv, yv), (xt, yt) = data
    x, y = x[:limit], y[:limit]
    if settings.get("expanded"):
        x, y = mg.datasets.expand_shifted(x, y)
    rng = np.random.default_rng(seed)
    net = mg.models.nielsen_cnn(
        settings["activation"], settings["channels"], settings["hidden"], settings.get("dropout", 0.0), rng=rng
    )
    his_init(net, rng)
    opt = his_sgd(net, settings["eta"], settings["lmbda"], len(x))
    loss = mg.SoftmaxCrossEntropy()

    def measure(epoch: int, history: mg.History, model: mg.Module) -> None:
        history.record(test_accuracy=mg.evaluate(model, loss, xt, yt)["accuracy"])

    start = time.perf_counter()
    hist = mg.fit(
        net, loss, opt, x, y, epochs=epochs, batch_size=MINI_BATCH, validation=(xv, yv), progress=progress,
        rng=seed, callbacks=[measure],
    )  # fmt: skip
    best, val = hist.best("val_accuracy")
    return {
        "row": name, "seed": seed, "epochs": epochs, "n_train": len(x), "best_epoch": best,
        "val_accuracy": val, "test_accuracy": hist["test_accuracy"][best - 1], "nielsen": ROWS[name][0],
        "seconds": round(time.perf_counter() - start, 1), "test_per_epoch": hist["test_accuracy"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rows", nargs="*", help=f"rows of his table: {', '.join(ROWS)}")
    parser.add_argument("--all", action="store_true", help="every row, in his order")
    parser.add_argument("--epochs", type=int, default=60, help="(default: %(default)s, his; 40 for dropout)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="train on the first LIMIT images (a smoke run)")
    parser.add_argument("--json", type=Path, help="append one JSON line per run to this file")
    parser.add_argument("--list", action="store_true", help="the rows and his figures")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    args = parser.parse_args(argv)
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {unknown}; choose from {list(ROWS)}")
    if args.list or not (args.rows or args.all):
        for name, (figure, settings) in ROWS.items():
            print(f"{name:9s} Nielsen {figure:.2f} %  {settings}")
        return 0
    data = mg.datasets.mnist(validation=True, shape="image")
    for name in list(ROWS) if args.all else args.rows:
        for seed in [int(s) for s in args.seeds.split(",")]:
            result = run(name, args.epochs, seed, data, args.limit, args.progress)
            print(
                f"{name}: seed {seed}, {args.epochs} epochs: test {result['test_accuracy']:.2%} at the best "
                f"validation epoch {result['best_epoch']} (Nielsen {result['nielsen']:.2f} %), {result['seconds']} s"
            )
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
