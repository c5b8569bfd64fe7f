"""The ``minigrad`` command: ``train``, ``eval``, ``summary``, ``draw``, ``export``.

minigrad train                      # Nielsen's Network([784, 30, 10]) on MNIST, the seed's settings
minigrad train --resume runs/train --epochs 40   # continue a run up to 40 epochs in total
minigrad eval runs/train/model.npz
minigrad summary runs/train/model.npz
minigrad draw runs/train/model.npz -o net.svg
minigrad export runs/train/model.npz -o model.onnx   # eval, summary and draw also read .onnx files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_train import DATASETS, UsageError, add_train_arguments, cmd_train, data_shape, input_shape, render
from .errors import CheckpointError, MinigradError
from .io import Checkpoint, load_checkpoint
from .losses import Loss, SoftmaxCrossEntropy
from .module import Module
from .training import evaluate
from .viz import draw

__all__ = ["main", "make_parser", "render", "UsageError"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minigrad", description="Train, evaluate and draw minigrad networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a network on MNIST or Fashion-MNIST")
    add_train_arguments(t)

    e = sub.add_parser("eval", help="accuracy of a saved model on a test set")
    e.add_argument("model")
    e.add_argument(
        "--dataset", choices=sorted(DATASETS), help="test set (default: the one the model was trained on, else mnist)"
    )
    e.add_argument("--data-dir", help="folder with the idx files (default: the training run's, else the packages')")

    s = sub.add_parser("summary", help="print a saved model's layers, shapes and parameter counts")
    s.add_argument("model")

    d = sub.add_parser("draw", help="draw a saved model's graph (svg, png, pdf, or gv for DOT source)")
    d.add_argument("model")
    d.add_argument("-o", "--output", required=True, help="output file; its extension picks the format")
    d.add_argument("--direction", choices=["TB", "LR"], default="TB", help="top-bottom or left-right (default: TB)")
    d.add_argument("--gradients", action="store_true", help="draw the backward pass of one batch of --dataset "
                   "(default: the forward graph)")  # fmt: skip
    d.add_argument("--dataset", choices=sorted(DATASETS), default="mnist", help="for --gradients (default: mnist)")
    d.add_argument("--data-dir", help="folder with the idx files (default: MINIGRAD_DATA, then packages)")

    x = sub.add_parser("export", help="write a saved model as an ONNX file (to serve with onnxruntime)")
    x.add_argument("model")
    x.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    return parser


def _open(path: str) -> Checkpoint:
    """A saved model: an ``.onnx`` file (``mg.onnx.load``, no loss, optimizer or history) or a checkpoint."""
    if Path(path).suffix.lower() == ".onnx":
        from .onnx import load

        return Checkpoint(load(path).eval(), None, None)
    return load_checkpoint(path)


def _shape(model: Module) -> tuple[int, ...]:
    """The model's own input shape (a Graph's, a loaded ONNX file's), else MNIST's for it."""
    return getattr(model, "input_shape", None) or input_shape(model)


def cmd_eval(args: argparse.Namespace) -> int:
    ckpt = _open(args.model)
    loss = ckpt.loss if isinstance(ckpt.loss, Loss) else SoftmaxCrossEntropy()
    trained = ckpt.history.meta.get("args") if ckpt.history else None
    trained = trained if isinstance(trained, dict) else {}  # the file's own word: untrusted, like the rest of it
    dataset = args.dataset or trained.get("dataset") or "mnist"
    if dataset not in DATASETS:
        raise CheckpointError(f"{args.model}: its history names the dataset {dataset!r:.40}; give --dataset")
    data_dir = args.data_dir if args.data_dir or args.dataset else trained.get("data_dir")
    data_dir = data_dir if isinstance(data_dir, str) else None
    _, (xt, yt) = DATASETS[dataset](data_dir, shape=data_shape(ckpt.model))
    res = evaluate(ckpt.model, loss, xt, yt)
    print(
        f"{args.model}: {dataset} test accuracy {res['correct']} / {res['total']} ({res['accuracy']:.2%}), "
        f"loss {res['loss']:.4f} ({type(loss).__name__})"
    )
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    model = _open(args.model).model
    print(model.summary(_shape(model)))
    return 0


def cmd_draw(args: argparse.Namespace) -> int:

    ckpt = _open(args.model)
    model, loss = ckpt.model, ckpt.loss if isinstance(ckpt.loss, Loss) else None
    if args.gradients:
        loss = loss or SoftmaxCrossEntropy()
        (x, y), _ = DATASETS[args.dataset](args.data_dir, shape=data_shape(model))
        model.retain_grad()  # record the gradient crossing each edge of this one backward, for the picture
        model.zero_grad()
        loss(model(x[:100]), y[:100])
        model.backward(loss.backward())
    dot = draw(model, _shape(model), loss=loss, direction=args.direction, gradients=args.gradients)
    path = render(dot, Path(args.output))
    print(f"Wrote {path}")
    return 0


def _given(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The ``dest`` of every train option written on the command line (``--resume`` keeps the rest)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    flags = {s: a.dest for a in sub._actions for s in a.option_strings}
    given = set()
    for token in (t.split("=")[0] for t in argv if t.startswith("--")):
        matches = [f for f in flags if f == token] or [f for f in flags if f.startswith(token)]  # argparse's prefixes
        if len(matches) == 1:
            given.add(flags[matches[0]])
    return given


def cmd_export(args: argparse.Namespace) -> int:
    from .onnx import export

    model = _open(args.model).model
    shape = input_shape(model) if data_shape(model) == "image" else None  # None: the first Linear's in_features
    path = export(model.eval(), args.output, getattr(model, "input_shape", None) or shape)
    print(f"Wrote {path} (ONNX opset 17, batch dimension dynamic)")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "summary": cmd_summary, "draw": cmd_draw, "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    try:
        parser = make_parser()
        args = parser.parse_args(argv)
        if args.command == "train":
            return cmd_train(args, _given(parser, sys.argv[1:] if argv is None else argv))
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
