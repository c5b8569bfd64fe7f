"""Nielsen's chapter-3 and chapter-5 experiments with his exact settings, each written as a PNG with his figure's axes.

    python benchmarks/book.py overfitting [--out docs/img] [--seed 0]
    python benchmarks/book.py --list

His network2.py: sigmoid layers, cross-entropy on the sigmoid outputs (``SigmoidBCE``), plain
mini-batch SGD (``w -> (1 - eta lmbda / n) w - eta/m sum grad``: SGD with weight_decay lmbda / n on
the weights only), the training data shuffled every epoch. ``large`` initialisation is his
``large_weight_initializer`` (weights and biases N(0, 1): ``init="normal"``), ``default`` his
``default_weight_initializer`` (weights N(0, 1/n_in), biases N(0, 1): ``init="scaled_normal"``).
After each epoch he measures the total cost on the training data (with the L2 term
``0.5 lmbda / n sum ||w||^2``) and the accuracy on the 10,000 test images; so does this script.

Chapter 5 (his ``generate_gradient.py``): ``speed-of-learning`` trains by batch gradient descent on
1,000 images and records, before each epoch's step, the norm of the gradient of the cost with
respect to each hidden layer's biases, ``||delta^l||`` (``mg.GradientNormRecorder``); it also
draws those gradients at initialisation. ``deep`` is his table of 1 to 4 hidden layers, whose
accuracies are on the 10,000 validation images (his ``evaluation_data=validation_data``).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import minigrad as mg

# name: (what the book shows, settings). Epoch ranges are the x-axes of his figures.
EXPERIMENTS = {
    "overfitting": {
        "caption": "Overfitting: [784, 30, 10] on the first 1,000 training images, 400 epochs, eta 0.5, batch 10",
        "runs": {"lambda 0": dict(n=1000, epochs=400, eta=0.5, lmbda=0.0, hidden=[30], init="normal")},
        "panels": [
            ("training_cost", "cost on the training data", 200),
            ("test_accuracy", "accuracy on the test data (%)", 200),
        ],
    },
    "regularisation": {
        "caption": "L2 regularisation, lambda 0.1: the same 1,000 images, 400 epochs, eta 0.5, batch 10",
        "runs": {"lambda 0.1": dict(n=1000, epochs=400, eta=0.5, lmbda=0.1, hidden=[30], init="normal")},
        "panels": [
            ("training_cost", "cost on the training data", 0),
            ("test_accuracy", "accuracy on the test data (%)", 0),
        ],
    },
    "regularisation-full": {
        "caption": "L2 regularisation on all 50,000 images: lambda 5.0, 30 epochs, eta 0.5, batch 10",
        "runs": {"lambda 5.0": dict(n=50000, epochs=30, eta=0.5, lmbda=5.0, hidden=[30], init="normal")},
        "panels": [
            ("test_accuracy", "accuracy on the test data (%)", 0),
            ("training_accuracy", "accuracy on the training data (%)", 0),
        ],
    },
    "initialisation": {
        "caption": "Weight initialisation: N(0, 1) against N(0, 1/n_in), 30 epochs, eta 0.1, lambda 5.0, batch 10",
        "runs": {
            f"[784, {h}, 10], {label}": dict(n=50000, epochs=30, eta=0.1, lmbda=5.0, hidden=[h], init=init)
            for h in (30, 100)
            for label, init in (("old: N(0, 1)", "normal"), ("new: N(0, 1/n_in)", "scaled_normal"))
        },
        "panels": [("test_accuracy", "accuracy on the test data (%)", 0)],
    },
    "learning-rates": {
        "caption": "Learning rates 0.025, 0.25, 2.5: [784, 30, 10], 30 epochs on all 50,000 images, lambda 5.0",
        "runs": {
            f"eta = {eta}": dict(n=50000, epochs=30, eta=eta, lmbda=5.0, hidden=[30], init="scaled_normal")
            for eta in (0.025, 0.25, 2.5)
        },
        "panels": [("training_cost", "cost on the training data", 0)],
    },
    "deep": {
        "caption": "Chapter 5: 1 to 4 hidden layers of 30, 30 epochs, eta 0.1, lambda 5.0, batch 10, N(0, 1/n_in)",
        "runs": {
            str([784, *[30] * k, 10]): dict(
                n=50000, epochs=30, eta=0.1, lmbda=5.0, hidden=[30] * k, init="scaled_normal", validation=True
            )
            for k in (1, 2, 3, 4)
        },
        "panels": [
            ("validation_accuracy", "accuracy on the validation data (%)", 2),  # the deepest starts at 26 %
            ("test_accuracy", "accuracy on the test data (%)", 2),
        ],
    },
    "speed-of-learning": {
        "caption": "Chapter 5, speed of learning: ||delta^l|| of each hidden layer, the first 1,000 training "
        "images, full batch, eta 0.1, lambda 5.0, 500 epochs, N(0, 1/n_in)",
        "kind": "gradients",
        "runs": {
            f"{k} hidden layers": dict(
                n=1000, epochs=500, eta=0.1, lmbda=5.0, hidden=[30] * k, init="scaled_normal", batch=1000
            )
            for k in (2, 3, 4)
        },
    },
}

# ||delta^l|| of each hidden layer at initialisation, as chapter 5 quotes them.
BOOK_INITIAL_NORMS = {2: [0.07, 0.31], 3: [0.012, 0.060, 0.283], 4: [0.003, 0.017, 0.070, 0.285]}


def nielsen_network(hidden: list[int], init: str, seed: int) -> mg.Sequential:
    rng = np.random.default_rng(seed)
    sizes = [784, *hidden, 10]
    layers: list[mg.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(mg.Linear(a, b, init=init, rng=rng))
        if i < len(sizes) - 2:
            layers.append(mg.Sigmoid())
    return mg.Sequential(*layers)  # the output sigmoid is inside SigmoidBCE


def nielsen_sgd(net: mg.Module, eta: float, lmbda: float, n: int) -> mg.SGD:
    """His update: ``w -> (1 - eta lmbda / n) w - eta grad``, biases without decay."""
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
    return mg.SGD([{"params": weights, "weight_decay": lmbda / n}, {"params": biases}], lr=eta)


def run(settings: dict, data, seed: int) -> dict[str, list[float]]:
    """Train one network with ``settings``; his per-epoch measurements as lists."""
    (x, y), val, (xt, yt) = data
    n, lmbda = settings["n"], settings["lmbda"]
    x, y = x[:n], y[:n]
    net = nielsen_network(settings["hidden"], settings["init"], seed)
    loss = mg.SigmoidBCE()
    opt = nielsen_sgd(net, settings["eta"], lmbda, n)
    weights = opt.param_groups[0]["params"]

    def measure(epoch: int, history: mg.History, model: mg.Module) -> None:
        train = mg.evaluate(model, loss, x, y)
        l2 = 0.5 * lmbda / n * sum(float(np.sum(w.data.astype(np.float64) ** 2)) for w in weights)
        history.record(
            training_cost=train["loss"] + l2,
            training_accuracy=100 * train["accuracy"],
            test_accuracy=100 * mg.evaluate(model, loss, xt, yt)["accuracy"],
        )
        if settings.get("validation"):  # chapter 5 reports the accuracy on the 10,000 validation images
            history.record(validation_accuracy=100 * mg.evaluate(model, loss, *val)["accuracy"])

    hist = mg.fit(
        net, loss, opt, x, y, epochs=settings["epochs"], batch_size=10, metrics=(), progress=False,
        verbose=False, rng=seed, callbacks=[measure],
    )  # fmt: skip
    keys = ("training_cost", "training_accuracy", "test_accuracy", "validation_accuracy")
    return {k: hist[k] for k in keys if k in hist.history}


def hidden_biases(net: mg.Module) -> list[str]:
    """The names of the hidden layers' biases ("0.bias", "2.bias", ...): every Linear's but the last."""
    return [name for name, _ in net.named_parameters() if name.endswith("bias")][:-1]


def bias_gradients(net: mg.Module, loss: mg.Loss, x: np.ndarray, y: np.ndarray, names: list[str]) -> list[list]:
    """``dC/db^l`` of the named biases, C the cost averaged over all of ``(x, y)`` (his ``get_average_gradient``)."""
    params = dict(net.named_parameters())
    net.zero_grad()
    loss(net(x), y)
    net.backward(loss.backward())
    grads = [params[name].grad.astype(np.float64).tolist() for name in names]
    net.zero_grad()
    return grads


def speed_of_learning(settings: dict, data, seed: int) -> dict:
    """Batch gradient descent on ``settings["n"]`` images, recording every hidden layer's ``||delta^l||``.

    With one full batch per epoch, the norm the recorder takes after each backward is his: the
    gradient of the whole batch's mean cost, measured at the weights the epoch starts from.
    """
    (x, y), _, _ = data
    n = settings["n"]
    x, y = x[:n], y[:n]
    net = nielsen_network(settings["hidden"], settings["init"], seed)
    loss = mg.SigmoidBCE()
    names = hidden_biases(net)
    initial = bias_gradients(net, loss, x, y, names)
    hist = mg.fit(
        net, loss, nielsen_sgd(net, settings["eta"], settings["lmbda"], n), x, y, epochs=settings["epochs"],
        batch_size=settings["batch"], metrics=(), progress=False, verbose=False, rng=seed,
        callbacks=[mg.GradientNormRecorder(names)],
    )  # fmt: skip
    norms = {name: hist.gradient_norms[name] for name in names}
    return {"names": names, "gradient_norms": norms, "initial_gradient": initial, "loss": hist["loss"]}


def plot_speed(name: str, results: dict[str, dict], out: Path) -> list[Path]:
    """His three figures (one per network, drawn by ``History.plot_gradient_norms``), and the initial gradients."""
    paths = []
    for values in results.values():
        k = len(values["names"])
        labels = {n: f"Hidden layer {i + 1}" for i, n in enumerate(values["names"])}
        hist = mg.History(gradient_norms=values["gradient_norms"])
        title = f"Speed of learning: {k} hidden layers"
        paths.append(hist.plot_gradient_norms(out / f"book-{name}-{k}.png", labels=labels, title=title))
    paths.append(plot_initial(results, out / f"book-{name}-initial.png"))
    return paths


def plot_initial(results: dict[str, dict], path: Path) -> Path:
    """Left, his picture: dC/db of the top six neurons of both hidden layers of [784, 30, 30, 10] at the
    start; right, ||delta^l|| of every hidden layer at the start, beside the values the book quotes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.4, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    first = next(iter(results.values()))
    for layer, grad in enumerate(first["initial_gradient"]):
        rows = np.arange(6) + 0.4 * layer
        left.barh(rows, grad[:6], height=0.38, label=f"Hidden layer {layer + 1}")
    left.set_yticks(np.arange(6) + 0.2, [f"neuron {j + 1}" for j in range(6)])
    left.invert_yaxis()
    left.set_xlabel("dC/db at initialisation")
    left.set_title(f"[784, {', '.join(['30'] * len(first['names']))}, 10]: the top six neurons", fontsize=9)
    left.legend(fontsize=8)
    width = 0.8 / len(results)
    for i, values in enumerate(results.values()):
        k = len(values["names"])
        ours = [float(np.linalg.norm(g)) for g in values["initial_gradient"]]
        xs = np.arange(1, k + 1) + (i - (len(results) - 1) / 2) * width
        right.bar(xs, ours, width=width * 0.95, label=f"{k} hidden layers")
        book = BOOK_INITIAL_NORMS.get(k)
        if book:
            right.plot(xs, book, "k_", markersize=12, label="the book" if i == 0 else None)
    right.set_yscale("log")
    right.set_ylim(top=8 * right.get_ylim()[1])  # room for the legend above the bars
    right.set_xticks(range(1, 5))
    right.set_xlabel("hidden layer l")
    right.set_ylabel("||delta^l|| at initialisation")
    right.grid(alpha=0.3, axis="y")
    right.legend(fontsize=8, ncols=2, loc="upper center")
    fig.suptitle("Chapter 5: the gradient at initialisation, 1,000 training images", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def draw(name: str, results: dict[str, dict], out: Path) -> list[Path]:
    if EXPERIMENTS[name].get("kind") == "gradients":
        return plot_speed(name, results, out)
    return [plot(name, results, out / f"book-{name}.png")]


def report(results: dict[str, dict]) -> None:
    """The final accuracies, or the speeds of learning at the start and the end."""
    for label, values in results.items():
        for key in ("validation_accuracy", "test_accuracy"):
            if key in values:
                acc, what = values[key], key.split("_")[0]
                at = int(np.argmax(acc))
                print(f"{label}: final {what} accuracy {acc[-1]:.2f} %, best {max(acc):.2f} % at epoch {at}")
        if "gradient_norms" in values:
            norms = list(values["gradient_norms"].values())
            start, end = ([f"{v[i]:.4f}" for v in norms] for i in (0, -1))
            print(f"{label}: ||delta^l|| at the start {start}, after training {end}")


def plot(name: str, results: dict[str, dict[str, list[float]]], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = EXPERIMENTS[name]
    panels = spec["panels"]
    fig = Figure(figsize=(5.2 * len(panels), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    for i, (key, label, first) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for run_name, values in results.items():
            series = values[key]
            epochs = np.arange(len(series))  # Nielsen counts epochs from 0
            ax.plot(epochs[first:], series[first:], label=run_name, linewidth=1.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if len(results) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(textwrap.fill(spec["caption"], 70 * len(panels)), fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", choices=sorted(EXPERIMENTS))
    parser.add_argument(
        "--out", default="docs/img", help="folder for book-NAME*.png and book-NAME.json (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the experiments")
    parser.add_argument("--replot", action="store_true", help="redraw the PNGs from book-NAME.json, no training")
    args = parser.parse_args(argv)
    if args.list or not args.name:
        for name, spec in EXPERIMENTS.items():
            print(f"{name:20s} {spec['caption']}")
        return 0
    out = Path(args.out)
    if args.replot:
        saved = json.loads((out / f"book-{args.name}.json").read_text())
        for path in draw(args.name, saved["results"], out):
            print(f"Wrote {path}")
        return 0
    data = mg.datasets.mnist(validation=True)
    spec = EXPERIMENTS[args.name]
    runner = speed_of_learning if spec.get("kind") == "gradients" else run
    start = time.perf_counter()
    results = {label: runner(settings, data, args.seed) for label, settings in spec["runs"].items()}
    seconds = time.perf_counter() - start
    paths = draw(args.name, results, out)
    summary = {"experiment": args.name, "seed": args.seed, "seconds": round(seconds, 1), "results": results}
    (out / f"book-{args.name}.json").write_text(json.dumps(summary))
    report(results)
    print(f"Wrote {', '.join(map(str, paths))} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
