"""The ``minigrad`` command: ``train``, ``eval``, ``summary``, ``draw``.

minigrad train                      # Nielsen's Network([784, 30, 10]) on MNIST, the seed's settings
minigrad eval runs/train/model.npz
minigrad summary runs/train/model.npz
minigrad draw runs/train/model.npz -o net.svg
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets
from .containers import Sequential
from .errors import MinigradError
from .history import History
from .init import INITIALISERS, manual_seed
from .io import load_checkpoint, save
from .layers import Linear, ReLU, Sigmoid, Tanh
from .losses import Loss, QuadraticCost, SigmoidBCE, SoftmaxCrossEntropy
from .module import Module
from .optim import SGD, Adam, Optimizer
from .training import evaluate, fit
from .viz import draw

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}
LOSSES = {"softmax-ce": SoftmaxCrossEntropy, "sigmoid-bce": SigmoidBCE, "quadratic": QuadraticCost}
DATASETS = {"mnist": datasets.mnist, "fashion-mnist": datasets.fashion_mnist}


class UsageError(Exception):
    """A bad command-line argument: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_model(arch: list[int], activation: str, loss: str, init: str, seed: int) -> Sequential:
    """Linear layers of sizes ``arch`` with ``activation`` between them; a Sigmoid on top for the quadratic cost."""
    rng = np.random.default_rng(seed)
    layers: list[Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(arch[:-1], arch[1:])):
        layers.append(Linear(fan_in, fan_out, init=init, rng=rng))
        if i < len(arch) - 2:
            layers.append(ACTIVATIONS[activation]())
    if loss == "quadratic":  # Nielsen chapter 1: sigmoid outputs, cost on the activations
        layers.append(Sigmoid())
    return Sequential(*layers)


def parse_arch(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise UsageError(f"--arch must be comma-separated layer sizes like 784,30,10, got {text!r}") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise UsageError(f"--arch needs at least two positive sizes, got {text!r}")
    if sizes[0] != 784:
        raise UsageError(f"--arch must start at 784 (28x28 images), got {sizes[0]}")
    if sizes[-1] != 10:
        raise UsageError(f"--arch must end at 10 (ten classes), got {sizes[-1]}")
    return sizes


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minigrad", description="Train, evaluate and draw minigrad networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a network on MNIST or Fashion-MNIST")
    t.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    t.add_argument("--data-dir", help="folder with the four idx files (default: MINIGRAD_DATA, then packages)")
    t.add_argument("--arch", default="784,30,10", help="layer sizes (default: 784,30,10, Nielsen's network)")
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid")
    t.add_argument("--loss", choices=sorted(LOSSES), default="softmax-ce")
    t.add_argument(
        "--init",
        choices=sorted(INITIALISERS),
        default="scaled_normal",
        help="weight initialiser (default: scaled_normal, N(0, 1/n_in), Nielsen chapter 3; "
        "normal = N(0, 1), chapter 1)",
    )
    t.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    t.add_argument("--lr", type=float, help="learning rate (default: 0.5 for sgd, 0.001 for adam)")
    t.add_argument("--momentum", type=float, default=0.0)
    t.add_argument("--weight-decay", type=float, default=0.0, help="PyTorch-style decay of every parameter")
    t.add_argument("--l2", type=float, default=0.0, help="Nielsen's lambda: weights (not biases) decay by lambda/n")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=10)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/train", help="folder for model.npz, history.json, curves.png, graph.svg")
    t.add_argument("--limit", type=int, help="train on the first LIMIT training images only (quick runs)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars (summary lines only)")

    e = sub.add_parser("eval", help="accuracy of a saved model on a test set")
    e.add_argument("model")
    e.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    e.add_argument("--data-dir")

    s = sub.add_parser("summary", help="print a saved model's layers, shapes and parameter counts")
    s.add_argument("model")

    d = sub.add_parser("draw", help="draw a saved model's graph (svg, png, pdf, or gv for DOT source)")
    d.add_argument("model")
    d.add_argument("-o", "--output", required=True, help="output file; its extension picks the format")
    d.add_argument("--direction", choices=["TB", "LR"], default="TB")
    d.add_argument("--gradients", action="store_true", help="draw the backward pass of one batch of --dataset")
    d.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    d.add_argument("--data-dir")
    return parser


def render(dot: Any, output: Path) -> Path:
    """Write a graphviz Digraph to ``output`` (format from the extension; ``.gv``/``.dot`` = DOT source)."""
    import graphviz

    fmt = output.suffix.lstrip(".").lower() or "svg"
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("gv", "dot"):
        output.write_text(dot.source)
        return output
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise MinigradError(f"{exc}; write a .gv file to get the DOT source instead") from None
    output.write_bytes(data)
    return output


def _check_train_options(args: argparse.Namespace) -> float:
    """Reject impossible options before any data is read; returns the learning rate to use."""
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    lr = args.lr if args.lr is not None else (0.5 if args.optimizer == "sgd" else 1e-3)
    options = {"--lr": lr, "--momentum": args.momentum, "--weight-decay": args.weight_decay, "--l2": args.l2}
    for name, value in options.items():
        if value < 0:
            raise UsageError(f"{name} must be >= 0, got {value}")
    return lr


def _make_optimizer(args: argparse.Namespace, model: Module, lr: float, n_train: int) -> tuple[Optimizer, float]:
    """SGD or Adam; Nielsen's L2 (``lambda / n``) decays the weights only, so biases get their own group."""
    decay = args.weight_decay + args.l2 / n_train
    if decay == args.weight_decay:
        groups = [{"params": model.parameters(), "weight_decay": decay}]
    else:
        weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in model.named_parameters() if not name.endswith("weight")]
        groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": args.weight_decay}]
    optimizer = SGD(groups, lr=lr, momentum=args.momentum) if args.optimizer == "sgd" else Adam(groups, lr=lr)
    return optimizer, decay


def _write_run(args: argparse.Namespace, model: Module, loss: Loss, optimizer: Optimizer, history: History) -> list:
    """The checkpoint, the history, the curves (when matplotlib is there) and the graph picture."""
    out = Path(args.out)
    written = [
        save(model, out / "model.npz", optimizer=optimizer, history=history, loss=loss),
        history.save(out / "history.json"),
    ]
    if history.epochs:
        try:
            written.append(history.plot(out / "curves.png", title=f"{args.arch} on {args.dataset}"))
        except ImportError as exc:
            print(f"note: {exc}; curves.png not written")
    try:
        written.append(render(draw(model, (784,), loss=loss), out / "graph.svg"))
    except MinigradError as exc:  # no graphviz binary: the DOT source still says everything
        written.append(render(draw(model, (784,), loss=loss), out / "graph.gv"))
        print(f"note: {exc}")
    return written


def cmd_train(args: argparse.Namespace) -> int:
    lr = _check_train_options(args)
    arch = parse_arch(args.arch)
    (x, y), (xv, yv), (xt, yt) = DATASETS[args.dataset](args.data_dir, validation=True)
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    manual_seed(args.seed)
    model = build_model(arch, args.activation, args.loss, args.init, args.seed)
    loss: Loss = LOSSES[args.loss]()
    optimizer, decay = _make_optimizer(args, model, lr, len(x))
    print(f"minigrad train: {args.dataset}, {len(x)} training / {len(xv)} validation / {len(xt)} test images")
    print(model.summary((784,)))
    print(
        f"loss {loss!r}, optimizer {type(optimizer).__name__} lr={lr} momentum={args.momentum} "
        f"weight decay={decay:g} (weights) / {args.weight_decay:g} (biases), batch {args.batch_size}, "
        f"{args.epochs} epochs, seed {args.seed}"
    )

    def test_each_epoch(epoch: int, history: History, m: Module) -> None:
        history.record(test_accuracy=evaluate(m, loss, xt, yt)["accuracy"])

    history = History(meta={"command": " ".join(sys.argv), "args": vars(args), "lr": lr})
    start = time.perf_counter()
    fit(
        model, loss, optimizer, x, y, epochs=args.epochs, batch_size=args.batch_size, validation=(xv, yv),
        progress=not args.no_progress, rng=args.seed, history=history, callbacks=[test_each_epoch],
    )  # fmt: skip
    seconds = time.perf_counter() - start
    history.meta["train_seconds"] = seconds
    test = evaluate(model, loss, xt, yt)
    written = _write_run(args, model, loss, optimizer, history)
    if history.epochs:
        epoch, best = history.best("val_accuracy")
        print(
            f"Best validation accuracy {best:.2%} at epoch {epoch}; "
            f"test accuracy then {history['test_accuracy'][epoch - 1]:.2%}"
        )
    print(f"Test accuracy: {test['correct']} / {test['total']} ({test['accuracy']:.2%}); training took {seconds:.1f} s")
    print("Wrote:\n" + "\n".join(f"  {p}" for p in written))
    return 130 if history.interrupted else 0


def cmd_eval(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.model)
    loss = ckpt.loss if isinstance(ckpt.loss, Loss) else SoftmaxCrossEntropy()
    _, (xt, yt) = DATASETS[args.dataset](args.data_dir)
    res = evaluate(ckpt.model, loss, xt, yt)
    print(
        f"{args.model}: test accuracy {res['correct']} / {res['total']} ({res['accuracy']:.2%}), "
        f"loss {res['loss']:.4f} ({type(loss).__name__})"
    )
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    print(load_checkpoint(args.model).model.summary())
    return 0


def cmd_draw(args: argparse.Namespace) -> int:

    ckpt = load_checkpoint(args.model)
    model, loss = ckpt.model, ckpt.loss if isinstance(ckpt.loss, Loss) else None
    if args.gradients:
        loss = loss or SoftmaxCrossEntropy()
        (x, y), _ = DATASETS[args.dataset](args.data_dir)
        model.retain_grad()  # record the gradient crossing each edge of this one backward, for the picture
        model.zero_grad()
        loss(model(x[:100]), y[:100])
        model.backward(loss.backward())
    path = render(draw(model, loss=loss, direction=args.direction, gradients=args.gradients), Path(args.output))
    print(f"Wrote {path}")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "summary": cmd_summary, "draw": cmd_draw}


def main(argv: list[str] | None = None) -> int:
    try:
        args = make_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"minigrad: error: {exc}", file=sys.stderr)
        return 2
    except MinigradError as exc:
        print(f"minigrad: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minigrad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
