"""A training run's folder: a checkpoint after every epoch (``last.npz``, ``best.npz``) and what resuming needs.

``last.npz`` holds the end of the latest complete epoch: model, optimizer, loss and the
History, whose ``meta["resume"]`` keeps the scheduler's state and both random generators'
states (the shuffling one and the global one), so that continuing from it gives the same
numbers as never stopping. ``best.npz`` is the same at the epoch with the best validation
accuracy. Both are written atomically: a Ctrl-C or a crash leaves the previous file whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import init as _init
from .callbacks import Callback
from .history import History
from .io import save
from .module import Module
from .optim import Optimizer
from .optim.scheduler import LRScheduler

RUN_FILES = ("last.npz", "best.npz", "model.npz", "history.json")


def existing_run(out: Path) -> list[str]:
    """The run files already in ``out`` (empty when it is free for a new run)."""
    return [name for name in RUN_FILES if (out / name).exists()]


def resume_state(scheduler: LRScheduler | None, shuffle_rng: np.random.Generator) -> dict[str, Any]:
    """JSON-able state a resumed run needs beside the model and the optimizer."""
    return {
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "shuffle_rng": shuffle_rng.bit_generator.state,
        "global_rng": _init._global_rng.bit_generator.state,
    }


def restore_random_state(state: dict[str, Any]) -> np.random.Generator:
    """Put the global generator back as saved; returns the shuffling generator as saved."""
    shuffle = np.random.default_rng()
    shuffle.bit_generator.state = state["shuffle_rng"]
    _init._global_rng = np.random.default_rng()
    _init._global_rng.bit_generator.state = state["global_rng"]
    return shuffle


class EpochCheckpoints(Callback):
    """After each epoch: ``last.npz``, and ``best.npz`` when the epoch has the best ``monitor`` so far.

    ``last_epoch`` and ``best_epoch`` say which epoch each file holds (0: not written yet).
    Put it after callbacks that record metrics, so the saved History has the whole epoch.
    """

    def __init__(
        self,
        out: Path,
        optimizer: Optimizer,
        loss: Module,
        scheduler: LRScheduler | None,
        shuffle_rng: np.random.Generator,
        monitor: str = "val_accuracy",
    ) -> None:
        self.out, self.optimizer, self.loss, self.scheduler = Path(out), optimizer, loss, scheduler
        self.shuffle_rng, self.monitor = shuffle_rng, monitor
        self.last_epoch = self.best_epoch = 0

    def on_train_begin(self, history: History, model: Module) -> None:
        self.last_epoch = history.epochs
        if history.epochs and self.monitor in history.history:
            self.best_epoch = history.best(self.monitor)[0]

    def on_epoch_end(self, epoch: int, history: History, model: Module) -> None:
        history.meta["resume"] = resume_state(self.scheduler, self.shuffle_rng)
        save(model, self.out / "last.npz", optimizer=self.optimizer, history=history, loss=self.loss)
        self.last_epoch = epoch
        if self.monitor not in history.history or history.best(self.monitor)[0] == epoch:
            save(model, self.out / "best.npz", optimizer=self.optimizer, history=history, loss=self.loss)
            self.best_epoch = epoch

    def describe(self) -> str:
        if not self.last_epoch:
            return "no epoch completed: no checkpoint written"
        return (
            f"{self.out / 'last.npz'} holds epoch {self.last_epoch}, "
            f"{self.out / 'best.npz'} epoch {self.best_epoch} (best {self.monitor})"
        )
