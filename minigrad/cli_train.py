"""``minigrad train``: build the network, optimizer and schedule from the options, train with a
checkpoint per epoch, resume a run from its folder (``--resume RUN_DIR``)."""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets
from .callbacks import EarlyStopping
from .containers import Sequential
from .errors import MinigradError
from .history import History
from .init import INITIALISERS, manual_seed
from .io import load_checkpoint, save
from .layers import Conv2d, ReLU, Sigmoid, Tanh
from .losses import Loss, QuadraticCost, SigmoidBCE, SoftmaxCrossEntropy
from .models import nielsen_cnn, nielsen_mlp
from .module import Module
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .optim import lr_scheduler as ls
from .runs import EpochCheckpoints, existing_run, restore_random_state
from .training import evaluate, fit
from .viz import draw

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}
LOSSES = {"softmax-ce": SoftmaxCrossEntropy, "sigmoid-bce": SigmoidBCE, "quadratic": QuadraticCost}
DATASETS = {"mnist": datasets.mnist, "fashion-mnist": datasets.fashion_mnist}
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
DEFAULT_LR = {"sgd": 0.5, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-2, "adagrad": 1e-2}
SCHEDULER_HELP = (
    "learning-rate schedule, stepped after each epoch: none; step:STEP_SIZE[:GAMMA] (StepLR, gamma 0.1); "
    "multistep:E1,E2,...[:GAMMA] (MultiStepLR); exp:GAMMA (ExponentialLR); cosine[:ETA_MIN] "
    "(CosineAnnealingLR over --epochs at the start); plateau[:PATIENCE[:FACTOR]] (ReduceLROnPlateau on the "
    "validation loss, 10 and 0.1); onecycle[:MAX_LR] (OneCycleLR over every batch of --epochs at the start, which "
    "a resume cannot extend; MAX_LR default --lr)"
)
# What --resume lets you give again with a new value; everything else is the run's own.
RESUMABLE = {"epochs", "no_progress", "data_dir", "early_stopping", "resume", "force", "out"}


class UsageError(Exception):
    """A bad command-line argument: reported in one line, exit status 2."""


def build_model(arch: list[int], activation: str, loss: str, init: str, seed: int, kind: str = "mlp") -> Sequential:
    """Linear layers of sizes ``arch`` with ``activation`` between them (``kind="cnn"``: Nielsen's chapter-6
    network, ``arch`` unused); a Sigmoid on top for the quadratic cost."""
    rng = np.random.default_rng(seed)
    build = nielsen_cnn if kind == "cnn" else functools.partial(nielsen_mlp, arch)
    net = build(activation=activation, init=init, rng=rng)
    # Nielsen chapter 1: sigmoid outputs, cost on the activations
    return net.append(Sigmoid()) if loss == "quadratic" else net


def input_shape(model: Module) -> tuple[int, ...]:
    """The shape of one MNIST example for ``model``: (1, 28, 28) images for a convolutional network, else (784,)."""
    conv = next((m for m in model.modules() if isinstance(m, Conv2d)), None)
    return (784,) if conv is None else (conv.in_channels, 28, 28)


def data_shape(model: Module) -> str:
    """The ``shape=`` of ``mg.datasets.mnist`` that ``model`` takes."""
    return "flat" if len(input_shape(model)) == 1 else "image"


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


def parse_scheduler(text: str) -> tuple[str, list[str]]:
    """``"step:10:0.5"`` -> ``("step", ["10", "0.5"])``, the numbers checked; UsageError when malformed."""
    kind, *parts = text.split(":")
    arity = {"none": (0, 0), "step": (1, 2), "multistep": (1, 2), "exp": (1, 1), "cosine": (0, 1)}
    arity |= {"plateau": (0, 2), "onecycle": (0, 1)}
    if kind not in arity or not arity[kind][0] <= len(parts) <= arity[kind][1]:
        raise UsageError(f"--scheduler: cannot read {text!r}; e.g. step:10:0.5, cosine, plateau, onecycle")
    try:
        numbers = [float(v) for p in parts for v in p.split(",")]
    except ValueError:
        raise UsageError(f"--scheduler: {text!r} has a part that is not a number") from None
    if any(not math.isfinite(v) or v < 0 for v in numbers):
        raise UsageError(f"--scheduler: the numbers of {text!r} must be finite and >= 0")
    return kind, parts


def add_train_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("--dataset", choices=sorted(DATASETS), default="mnist", help="(default: %(default)s)")
    t.add_argument("--data-dir", help="folder with the four idx files (default: MINIGRAD_DATA, then packages)")
    t.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="mlp: Linear layers of --arch; cnn: "
                   "Nielsen's chapter-6 network on 28x28 images, Conv2d(1, 20, 5) -> pool -> Conv2d(20, 40, 5) -> "
                   "pool -> Linear(640, 100) -> Linear(100, 10) (default: %(default)s)")  # fmt: skip
    t.add_argument("--arch", default="784,30,10", help="layer sizes of the mlp (default: %(default)s, Nielsen's "
                   "network)")  # fmt: skip
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), help="(default: sigmoid for the mlp, relu for the "
                   "cnn)")  # fmt: skip
    t.add_argument("--loss", choices=sorted(LOSSES), default="softmax-ce", help="(default: %(default)s)")
    t.add_argument(
        "--init",
        choices=sorted(INITIALISERS),
        help="weight initialiser (default: scaled_normal, N(0, 1/n_in), Nielsen chapter 3, for the mlp; pytorch, "
        "U(+-1/sqrt(n_in)), for the cnn; normal = N(0, 1), chapter 1)",
    )
    t.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd", help="(default: %(default)s)")
    t.add_argument("--lr", type=float, help="learning rate (default: 0.5 for sgd (0.03 with --model cnn, "
                   "Nielsen's), 0.001 for adam and adamw, 0.01 for rmsprop and adagrad)")  # fmt: skip
    t.add_argument("--momentum", type=float, default=0.0, help="sgd and rmsprop only (default: %(default)s)")
    t.add_argument("--weight-decay", type=float, help="PyTorch-style decay of every parameter (default: the "
                   "optimizer's own: 0.01 for adamw, else 0)")  # fmt: skip
    t.add_argument("--l2", type=float, default=0.0, help="Nielsen's lambda: weights (not biases) decay by "
                   "lambda/n (default: %(default)s)")  # fmt: skip
    t.add_argument("--scheduler", default="none", help=SCHEDULER_HELP + " (default: %(default)s)")
    t.add_argument("--clip", type=float, metavar="MAX_NORM", help="clip the gradients' total 2-norm to MAX_NORM "
                   "before each step (default: no clipping)")  # fmt: skip
    t.add_argument("--early-stopping", type=int, metavar="PATIENCE", help="stop after PATIENCE epochs without a "
                   "better validation accuracy (default: off)")  # fmt: skip
    t.add_argument("--epochs", type=int, default=30, help="total epochs, counting those of a resumed run "
                   "(default: %(default)s)")  # fmt: skip
    t.add_argument("--batch-size", type=int, default=10, help="(default: %(default)s)")
    t.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    t.add_argument("--out", default="runs/train", help="run folder: last.npz and best.npz after every epoch, then "
                   "model.npz, history.json, curves.png, graph.svg (default: %(default)s)")  # fmt: skip
    t.add_argument("--force", action="store_true", help="start a new run in --out even if it holds one "
                   "(default: refuse)")  # fmt: skip
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.npz up to "
                   "--epochs in total; only --epochs, --early-stopping, --data-dir and --no-progress may be given "
                   "anew, every other option is the run's own (default: a new run)")  # fmt: skip
    t.add_argument("--limit", type=int, help="train on the first LIMIT training images only (default: all)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars, summary lines only "
                   "(default: bars)")  # fmt: skip


def _check_train_options(args: argparse.Namespace) -> float:
    """Reject impossible options before any data is read; returns the learning rate to use."""
    for name in ("epochs", "batch_size", "limit"):
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    cnn = args.model == "cnn"
    args.activation = args.activation or ("relu" if cnn else "sigmoid")
    args.init = args.init or ("pytorch" if cnn else "scaled_normal")
    lr = args.lr if args.lr is not None else (0.03 if cnn and args.optimizer == "sgd" else DEFAULT_LR[args.optimizer])
    options = {"--lr": lr, "--momentum": args.momentum, "--weight-decay": args.weight_decay or 0, "--l2": args.l2}
    options |= {"--clip": args.clip or 0, "--early-stopping": args.early_stopping or 0}
    for name, value in options.items():
        if value < 0:
            raise UsageError(f"{name} must be >= 0, got {value}")
    parse_scheduler(args.scheduler)
    return lr


def _make_optimizer(args: argparse.Namespace, model: Module, lr: float, n_train: int) -> tuple[Optimizer, float]:
    """The optimizer; Nielsen's L2 (``lambda / n``) decays the weights only, so biases get their own group."""
    cls = OPTIMIZERS[args.optimizer]
    wd = args.weight_decay if args.weight_decay is not None else (0.01 if args.optimizer == "adamw" else 0.0)
    decay = wd + args.l2 / n_train
    if decay == wd:
        groups = [{"params": model.parameters(), "weight_decay": decay}]
    else:
        weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in model.named_parameters() if not name.endswith("weight")]
        groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": wd}]
    kwargs = {"momentum": args.momentum} if args.optimizer in ("sgd", "rmsprop") else {}
    return cls(groups, lr=lr, **kwargs), decay


def _make_scheduler(args: argparse.Namespace, optimizer: Optimizer, steps_per_epoch: int) -> ls.LRScheduler | None:
    kind, parts = parse_scheduler(args.scheduler)
    num = [float(p) for p in parts if "," not in p]
    if kind == "step":
        return ls.StepLR(optimizer, step_size=max(int(num[0]), 1), gamma=num[1] if len(num) > 1 else 0.1)
    if kind == "multistep":
        gamma = float(parts[1]) if len(parts) > 1 else 0.1
        return ls.MultiStepLR(optimizer, milestones=[int(float(m)) for m in parts[0].split(",")], gamma=gamma)
    if kind == "exp":
        return ls.ExponentialLR(optimizer, gamma=num[0])
    if kind == "cosine":
        return ls.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=num[0] if num else 0.0)
    if kind == "plateau":
        patience, factor = (int(num[0]) if num else 10), (num[1] if len(num) > 1 else 0.1)
        return ls.ReduceLROnPlateau(optimizer, patience=patience, factor=factor)
    if kind == "onecycle":
        max_lr = num[0] if num else optimizer.param_groups[0]["lr"]
        return ls.OneCycleLR(optimizer, max_lr=max_lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch)
    return None


def render(dot: Any, output: Path) -> Path:
    """Write a graphviz Digraph to ``output`` (format from the extension; ``.gv``/``.dot`` = DOT source)."""
    import graphviz

    fmt = output.suffix.lstrip(".").lower() or "svg"
    if fmt not in ("gv", "dot") and fmt not in graphviz.FORMATS:
        raise UsageError(f"cannot draw to {output}: {fmt!r} is not a graphviz format; use .svg, .png, .pdf or .gv")
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


def _write_run(args, model: Module, loss: Loss, optimizer: Optimizer, history: History, final: bool) -> list:
    """The final model (unless interrupted), the history, the curves (with matplotlib) and the graph picture."""
    out = Path(args.out)
    written = [save(model, out / "model.npz", optimizer=optimizer, history=history, loss=loss)] if final else []
    written.append(history.save(out / "history.json"))
    if history.epochs:
        try:
            name = "Nielsen's CNN" if args.model == "cnn" else args.arch
            written.append(history.plot(out / "curves.png", title=f"{name} on {args.dataset}"))
        except ImportError as exc:
            print(f"note: {exc}; curves.png not written")
    try:
        written.append(render(draw(model, input_shape(model), loss=loss), out / "graph.svg"))
    except MinigradError as exc:  # no graphviz binary: the DOT source still says everything
        written.append(render(draw(model, input_shape(model), loss=loss), out / "graph.gv"))
        print(f"note: {exc}")
    return written


def _resumed_args(args: argparse.Namespace, given: set[str]) -> tuple[argparse.Namespace, Any]:
    """The run's own options, with the few that may change (RESUMABLE) taken from the command line."""
    run_dir = Path(args.resume)
    ckpt = load_checkpoint(run_dir / "last.npz")
    saved = dict((ckpt.history.meta if ckpt.history else {}).get("args", {}))
    if not saved or "resume" not in ckpt.history.meta:
        raise UsageError(f"--resume: {run_dir / 'last.npz'} was not written by `minigrad train`")
    for dest in sorted(given - RESUMABLE):
        if getattr(args, dest) != saved.get(dest):
            flag = "--" + dest.replace("_", "-")
            raise UsageError(f"{flag} cannot change when resuming (the run has {saved.get(dest)!r}); start a new run")
    # a run from before --model existed is an mlp
    merged = {"model": "mlp", **saved, **{k: getattr(args, k) for k in given & RESUMABLE}}
    merged |= {"out": str(run_dir), "resume": None, "force": False}
    new = argparse.Namespace(**merged)
    if new.epochs <= ckpt.history.epochs:
        raise UsageError(f"--epochs is the total: {run_dir} already holds {ckpt.history.epochs} epoch(s)")
    return new, ckpt


def _fresh_folder(args: argparse.Namespace) -> list[Path]:
    """Refuse a folder that holds a run unless --force; returns the old run's files (to delete once data is read)."""
    out = Path(args.out)
    found = existing_run(out)
    if found and not args.force:
        raise UsageError(
            f"{out} already holds a run ({', '.join(found)}); continue it with --resume {out}, "
            f"overwrite it with --force, or choose another --out"
        )
    return [out / name for name in found]


def _prepare(args: argparse.Namespace, given: set[str]):
    """Options, data, model, loss, optimizer, scheduler, history and shuffling generator of the run."""
    ckpt, stale = None, []
    if args.resume:
        args, ckpt = _resumed_args(args, given)
    else:
        stale = _fresh_folder(args)
    lr = _check_train_options(args)
    arch = parse_arch(args.arch)
    shape = "image" if args.model == "cnn" else "flat"
    data = DATASETS[args.dataset](args.data_dir, validation=True, shape=shape)
    x, y = data[0]
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]
    steps = -(-len(x) // args.batch_size)
    for path in stale:  # --force: no file of the old run may pass for one of the new
        path.unlink()
    if ckpt is None:
        manual_seed(args.seed)
        model = build_model(arch, args.activation, args.loss, args.init, args.seed, args.model)
        loss: Loss = LOSSES[args.loss]()
        optimizer, decay = _make_optimizer(args, model, lr, len(x))
        scheduler = _make_scheduler(args, optimizer, steps)
        history = History(meta={"command": " ".join(sys.argv), "args": vars(args), "lr": lr, "decay": decay})
        shuffle = np.random.default_rng(args.seed)
    else:
        model, loss, optimizer, history = ckpt.model, ckpt.loss, ckpt.optimizer, ckpt.history
        saved = optimizer.state_dict()
        scheduler = _make_scheduler(args, optimizer, steps)  # construction moves the rates: put them back
        optimizer.load_state_dict(saved)
        if scheduler is not None:
            scheduler.load_state_dict(history.meta["resume"]["scheduler"])
        if isinstance(scheduler, ls.OneCycleLR) and scheduler.total_steps < args.epochs * steps:
            planned = scheduler.total_steps // steps
            raise UsageError(f"--scheduler onecycle was planned for {planned} epoch(s); it cannot go to {args.epochs}")
        shuffle = restore_random_state(history.meta["resume"])
        history.meta["args"]["epochs"] = args.epochs
        history.meta.setdefault("resumed_at", []).append(history.epochs)
        print(f"minigrad train: resuming {args.out} after epoch {history.epochs}, up to epoch {args.epochs}")
    return args, (x, y), data[1], data[2], model, loss, optimizer, scheduler, history, shuffle


def cmd_train(args: argparse.Namespace, given: set[str] = frozenset()) -> int:  # type: ignore[assignment]
    args, (x, y), (xv, yv), (xt, yt), model, loss, optimizer, scheduler, history, shuffle = _prepare(args, given)
    g = optimizer.param_groups
    print(f"minigrad train: {args.dataset}, {len(x)} training / {len(xv)} validation / {len(xt)} test images")
    print(model.summary(input_shape(model)))
    print(
        f"loss {loss!r}, optimizer {optimizer!r}, weight decay {g[0]['weight_decay']:g} (weights) / "
        f"{g[-1]['weight_decay']:g} (biases), scheduler {args.scheduler}, clip {args.clip}, batch "
        f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}"
    )

    def test_each_epoch(epoch: int, history: History, m: Module) -> None:
        history.record(test_accuracy=evaluate(m, loss, xt, yt)["accuracy"])

    ckpts = EpochCheckpoints(Path(args.out), optimizer, loss, scheduler, shuffle)
    stopper = [EarlyStopping("val_accuracy", patience=args.early_stopping)] if args.early_stopping else []
    start = time.perf_counter()
    fit(
        model, loss, optimizer, x, y, epochs=args.epochs - history.epochs, batch_size=args.batch_size,
        validation=(xv, yv), progress=not args.no_progress, rng=shuffle, history=history,
        callbacks=[test_each_epoch, *stopper, ckpts], scheduler=scheduler, clip_grad_norm=args.clip,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    history.meta["train_seconds"] = history.meta.get("train_seconds", 0.0) + seconds
    written = _write_run(args, model, loss, optimizer, history, final=not history.interrupted)
    written += [Path(args.out) / n for n in ("last.npz", "best.npz") if ckpts.last_epoch]
    _report(args, model, loss, history, ckpts, (xt, yt), seconds)
    print("Wrote:\n" + "\n".join(f"  {p}" for p in written))
    return 130 if history.interrupted else 0


def _report(args, model, loss, history: History, ckpts: EpochCheckpoints, test: tuple, seconds: float) -> None:
    if history.epochs:
        epoch, best = history.best("val_accuracy")
        print(
            f"Best validation accuracy {best:.2%} at epoch {epoch} (best.npz); "
            f"test accuracy then {history['test_accuracy'][epoch - 1]:.2%}"
        )
    if history.interrupted:
        print(f"Interrupted: {ckpts.describe()}; `minigrad train --resume {args.out}` continues.")
        return
    res = evaluate(model, loss, *test)
    print(
        f"Test accuracy of the final model (epoch {history.epochs}, model.npz): {res['correct']} / {res['total']} "
        f"({res['accuracy']:.2%}); training took {seconds:.1f} s"
    )
