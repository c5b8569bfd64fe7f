"""The minigrad command: train on small generated data, eval, summary, draw, and one-line errors."""

from __future__ import annotations

import json

import pytest

from minigrad.cli import main

from .idx_files import write_dataset


@pytest.fixture
def data_dir(tmp_path):
    write_dataset(tmp_path / "data", n_train=240, n_test=60)
    return tmp_path / "data"


def test_train_writes_all_artifacts_then_eval_summary_draw(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--data-dir",
            str(data_dir),
            "--epochs",
            "3",
            "--arch",
            "784,16,10",
            "--out",
            str(out),
            "--no-progress",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    for name in ("model.npz", "history.json", "curves.png", "last.npz", "best.npz"):
        assert (out / name).is_file() and str(out / name) in text
    assert (out / "graph.svg").is_file() or (out / "graph.gv").is_file()
    assert "Epoch 3: loss" in text and "Test accuracy of the final model (epoch 3, model.npz):" in text
    hist = json.loads((out / "history.json").read_text())["history"]
    assert len(hist["test_accuracy"]) == 3 and hist["val_accuracy"][-1] > 0.5

    assert main(["eval", str(out / "model.npz"), "--data-dir", str(data_dir)]) == 0
    assert "mnist test accuracy" in capsys.readouterr().out
    assert main(["summary", str(out / "model.npz")]) == 0
    assert "Linear   (N, 16)" in capsys.readouterr().out
    assert main(["draw", str(out / "model.npz"), "-o", str(tmp_path / "g.gv")]) == 0
    assert "digraph" in (tmp_path / "g.gv").read_text()
    assert (
        main(
            [
                "draw",
                str(out / "model.npz"),
                "-o",
                str(tmp_path / "back.gv"),
                "--gradients",
                "--data-dir",
                str(data_dir),
            ]
        )
        == 0
    )
    assert "|g| " in (tmp_path / "back.gv").read_text()


@pytest.mark.parametrize("loss,opt", [("quadratic", "sgd"), ("sigmoid-bce", "adam")])
def test_train_other_losses_and_optimizers(tmp_path, data_dir, loss, opt, capsys):
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(data_dir),
                "--epochs",
                "1",
                "--loss",
                loss,
                "--optimizer",
                opt,
                "--activation",
                "relu",
                "--l2",
                "5",
                "--momentum",
                "0.5",
                "--out",
                str(tmp_path / loss),
                "--no-progress",
                "--limit",
                "100",
            ]
        )
        == 0
    )
    assert "100 training" in capsys.readouterr().out


def test_train_cnn_then_eval_summary_draw_on_images(tmp_path, data_dir, capsys):
    out = tmp_path / "cnn"
    args = ["train", "--model", "cnn", "--data-dir", str(data_dir), "--epochs", "2", "--batch-size", "16"]
    assert main(args + ["--out", str(out), "--no-progress", "--limit", "128", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "128 training" in text and "Epoch 2: loss" in text
    meta = json.loads((out / "history.json").read_text())["meta"]
    assert (meta["args"]["model"], meta["args"]["activation"], meta["args"]["init"]) == ("cnn", "relu", "pytorch")
    assert meta["lr"] == 0.03
    model = str(out / "model.npz")
    assert main(["eval", model, "--data-dir", str(data_dir)]) == 0  # the images come as (N, 1, 28, 28)
    assert "mnist test accuracy" in capsys.readouterr().out
    assert main(["summary", model]) == 0
    assert "Conv2d     (N, 20, 24, 24)" in capsys.readouterr().out
    assert main(["draw", model, "-o", str(tmp_path / "b.gv"), "--gradients", "--data-dir", str(data_dir)]) == 0
    picture = (tmp_path / "b.gv").read_text()
    assert "input (N, 1, 28, 28)" in picture and "kernel_size=(5, 5)" in picture and "|g| " in picture


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["train", "--arch", "785,30,10"], "must start at 784"),
        (["train", "--arch", "784,30,9"], "must end at 10"),
        (["train", "--arch", "784,x"], "comma-separated"),
        (["train", "--lr", "-1"], "--lr must be >= 0"),
        (["train", "--epochs", "0"], "--epochs must be >= 1"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_one_line_and_nonzero(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("minigrad: error:")


def test_missing_files_are_errors_not_tracebacks(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope.npz")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--data-dir", str(tmp_path), "--epochs", "1"]) == 1
    assert "does not hold the four idx files" in capsys.readouterr().err
