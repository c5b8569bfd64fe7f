"""minigrad train's run folder: checkpoints per epoch, resume bit for bit, refusal to overwrite, Ctrl-C, --help."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import minigrad as mg
import minigrad.cli_train as cli_train
from minigrad.cli import main, make_parser

from .idx_files import write_dataset


@pytest.fixture
def data_dir(tmp_path):
    write_dataset(tmp_path / "data", n_train=150, n_test=30)
    return tmp_path / "data"


def _train(data_dir, out, *extra):
    base = ["train", "--data-dir", str(data_dir), "--arch", "784,8,10", "--out", str(out), "--no-progress"]
    return main(base + ["--limit", "60", "--batch-size", "7", *extra])


def _weights(path):
    return mg.load_checkpoint(path).model.state_dict()


OPTIONS = [
    ["--momentum", "0.5", "--scheduler", "step:1:0.5", "--l2", "1"],
    ["--optimizer", "adamw", "--scheduler", "onecycle:0.01", "--clip", "0.5"],
    ["--optimizer", "rmsprop", "--momentum", "0.3", "--scheduler", "plateau:0:0.5"],
    ["--optimizer", "adagrad", "--scheduler", "cosine", "--seed", "3"],
]


def _interrupt_after_epoch(monkeypatch, epoch):
    """Ctrl-C in the test-accuracy callback of ``epoch`` (cli_train.evaluate is called there)."""
    calls, real = [], cli_train.evaluate

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == epoch:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_train, "evaluate", evaluate)
    return real


@pytest.mark.parametrize("options", OPTIONS, ids=[o[1] + o[3] for o in OPTIONS])
def test_two_epochs_then_resume_to_four_equals_four_bit_for_bit(tmp_path, data_dir, options, capsys, monkeypatch):
    assert _train(data_dir, tmp_path / "whole", "--epochs", "4", *options) == 0
    if "onecycle" in " ".join(options) or "cosine" in options:  # planned over --epochs: stop a 4-epoch run instead
        real = _interrupt_after_epoch(monkeypatch, 2)
        assert _train(data_dir, tmp_path / "split", "--epochs", "4", *options) == 130
        monkeypatch.setattr(cli_train, "evaluate", real)
    else:
        assert _train(data_dir, tmp_path / "split", "--epochs", "2", *options) == 0
    assert mg.load_checkpoint(tmp_path / "split" / "last.npz").history.epochs == 2
    assert main(["train", "--resume", str(tmp_path / "split"), "--epochs", "4", "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out
    for name in ("model.npz", "last.npz"):
        a, b = _weights(tmp_path / "whole" / name), _weights(tmp_path / "split" / name)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    ha, hb = (mg.load_checkpoint(tmp_path / d / "model.npz").history for d in ("whole", "split"))
    for key in ("loss", "val_loss", "lr", "test_accuracy"):
        assert ha[key] == hb[key]


def test_onecycle_cannot_be_resumed_past_its_plan(tmp_path, data_dir, capsys):
    assert _train(data_dir, tmp_path / "run", "--epochs", "1", "--scheduler", "onecycle") == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "2"]) == 2
    assert "planned for 1 epoch(s)" in capsys.readouterr().err


def test_best_and_last_hold_their_epochs_and_ctrl_c_says_so(tmp_path, data_dir, capsys, monkeypatch):
    real = _interrupt_after_epoch(monkeypatch, 2)
    out = tmp_path / "run"
    assert _train(data_dir, out, "--epochs", "5") == 130
    text = capsys.readouterr().out
    assert f"{out / 'last.npz'} holds epoch 2" in text and "--resume" in text
    assert not (out / "model.npz").exists()
    hist = mg.load_checkpoint(out / "last.npz").history
    assert hist.epochs == 2
    best = mg.load_checkpoint(out / "best.npz").history
    assert best.epochs == hist.best("val_accuracy")[0]
    monkeypatch.setattr(cli_train, "evaluate", real)
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0  # up to the run's own 5 epochs
    assert mg.load_checkpoint(out / "model.npz").history.epochs == 5


def test_a_new_run_never_overwrites_an_old_one(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert _train(data_dir, out, "--epochs", "1") == 0
    capsys.readouterr()
    assert _train(data_dir, out, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--force" in err
    assert _train(data_dir, out, "--epochs", "2", "--force") == 0
    assert mg.load_checkpoint(out / "model.npz").history.epochs == 2


def test_resume_refuses_changed_options_and_a_finished_total(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert _train(data_dir, out, "--epochs", "2") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--epochs", "3", "--arch", "784,9,10"]) == 2
    assert "--arch cannot change when resuming" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "3", "--optim=adam"]) == 2  # argparse's prefixes too
    assert "--optimizer cannot change when resuming" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 2
    assert "already holds 2 epoch(s)" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_early_stopping_on_the_command_line(tmp_path, data_dir, capsys):
    assert _train(data_dir, tmp_path / "run", "--epochs", "30", "--early-stopping", "1", "--lr", "0") == 0
    assert "Early stopping after epoch 2." in capsys.readouterr().out  # lr 0: nothing ever improves


def test_eval_uses_the_dataset_the_model_was_trained_on(tmp_path, data_dir, capsys, monkeypatch):
    assert _train(data_dir, tmp_path / "run", "--epochs", "1", "--dataset", "fashion-mnist") == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run" / "model.npz")]) == 0
    assert "fashion-mnist test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option,message",
    [("--scheduler=step", "cannot read 'step'"), ("--scheduler=cosine:x", "not a number"), ("--clip=-1", "--clip")],
)
def test_bad_new_options(option, message, capsys):
    assert main(["train", option]) == 2
    assert message in capsys.readouterr().err


def test_help_shows_every_default():
    parser = make_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("train", "eval", "draw"):
        for action in commands[command]._actions:
            if action.option_strings and action.dest not in ("help", "output"):
                assert "default" in (action.help or ""), (command, action.dest)
    assert "step:STEP_SIZE" in commands["train"].format_help()
