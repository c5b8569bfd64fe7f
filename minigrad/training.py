"""``fit`` and ``evaluate``: the mini-batch training loop, with progress, history and safe stopping."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .callbacks import BestModel, Callback, call
from .data import batches
from .errors import ConfigError, HyperParameterError, NonFiniteError
from .history import History
from .init import get_rng
from .losses import Loss, SoftmaxCrossEntropy
from .module import Module
from .optim import Optimizer, clip_grad_norm_
from .optim.lr_scheduler import LRScheduler, OneCycleLR, ReduceLROnPlateau


def count_correct(probs: np.ndarray, target: np.ndarray, loss: Loss) -> tuple[int, int]:
    """``(correct, total)`` for one batch.

    Class-index targets (N,), and probability rows under ``SoftmaxCrossEntropy``:
    the arg-max class must match (total = N). Multi-label targets (N, C) under
    ``SigmoidBCE`` or ``QuadraticCost``: each output thresholded at 0.5 must match
    (total = N * C).
    """
    if target.ndim == 1:
        return int(np.count_nonzero(probs.argmax(axis=1) == target)), len(target)
    if isinstance(loss, SoftmaxCrossEntropy):
        return int(np.count_nonzero(probs.argmax(axis=1) == target.argmax(axis=1))), len(target)
    return int(np.count_nonzero((probs > 0.5) == (target > 0.5))), target.size


def evaluate(model: Module, loss: Loss, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``(x, y)`` in eval mode (dropout off); the mode is restored.

    Returns ``{"loss", "accuracy", "correct", "total"}``.
    """
    was_training = model.training
    model.eval()
    total_loss, correct, total = 0.0, 0, 0
    try:
        for xb, yb in batches(x, y, batch_size, shuffle=False):
            value = loss.forward(model.forward(xb), yb)
            total_loss += value * len(xb) if loss.reduction == "mean" else value
            c, t = count_correct(loss.probs, np.asarray(yb), loss)
            correct += c
            total += t
    finally:
        model.train(was_training)
    return {"loss": total_loss / len(x), "accuracy": correct / max(total, 1), "correct": correct, "total": total}


class _StopOnInterrupt:
    """While active, the first Ctrl-C asks the loop to stop after the current batch; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopOnInterrupt:
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self._old = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def fit(
    model: Module,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    metrics: Sequence[str] = ("accuracy",),
    progress: bool = True,
    verbose: bool = True,
    rng: np.random.Generator | int | None = None,
    history: History | None = None,
    callbacks: Sequence[Callback | Callable[[int, History, Module], None]] = (),
    scheduler: LRScheduler | None = None,
    clip_grad_norm: float | None = None,
    restore_best: bool | str = False,
) -> History:
    """Train ``model`` by mini-batch gradient descent for ``epochs`` passes over ``(x, y)``.

    Each step is the README's loop: ``zero_grad``, ``loss(model(xb), yb)``,
    ``model.backward(loss.backward())``, (``clip_grad_norm_`` when ``clip_grad_norm``),
    ``optimizer.step()``. Shows a tqdm progress bar per epoch when ``progress`` and prints one
    summary line per epoch when ``verbose``; returns the :class:`History` (``history`` is
    extended when given: ``epochs`` more are run). The learning rate of the first parameter
    group during each epoch is recorded as ``lr``. A NaN or inf loss stops training with a
    :class:`NonFiniteError` that names the epoch and batch (the history so far is on
    ``.history``). Ctrl-C stops cleanly after the current batch and returns the history.

    ``callbacks``: plain functions ``cb(epoch, history, model)`` or :class:`~minigrad.callbacks.Callback`
    objects (e.g. ``EarlyStopping``), run in order after each epoch is recorded; a Callback's
    ``on_after_backward`` runs every step, between backward and clipping
    (``GradientNormRecorder`` records gradient norms there).
    ``scheduler`` is stepped after each epoch is recorded, before the callbacks;
    ``ReduceLROnPlateau`` is given ``val_loss`` (``loss`` without validation data), and
    ``OneCycleLR`` is stepped after every batch instead, as it is meant to be.
    ``restore_best=True`` keeps the weights of the epoch with the lowest ``val_loss`` in memory
    and puts them back at the end (a metric name instead of True picks another).
    """
    unknown = set(metrics) - {"accuracy"}
    if unknown:
        raise ConfigError(f"fit: unknown metric(s) {sorted(unknown)}; available: ['accuracy']")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise HyperParameterError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    run = _Run(model, loss, optimizer, "accuracy" in metrics, _Log(progress, verbose))
    run.set_step_options(scheduler, clip_grad_norm)
    hist = history if history is not None else History()
    callbacks = list(callbacks) + _best_keeper(restore_best, validation)
    for cb in callbacks:
        call(cb, "on_train_begin", 0, hist, model)
    run.set_after_backward(hist, callbacks)
    with _StopOnInterrupt() as stop:
        _epochs(run, hist, x, y, epochs, batch_size, validation, get_rng(rng), callbacks, stop)
    for cb in callbacks:
        call(cb, "on_train_end", 0, hist, model)
    return hist


def _best_keeper(restore_best: bool | str, validation: Any) -> list[Callback]:
    if restore_best is False:
        return []
    monitor = restore_best if isinstance(restore_best, str) else ("val_loss" if validation is not None else "loss")
    return [BestModel(monitor, restore=True)]


def _epochs(run: _Run, hist: History, x, y, epochs, batch_size, validation, shuffle_rng, callbacks, stop) -> None:
    """The epoch loop of :func:`fit`."""
    start, n = hist.epochs, len(x)
    for epoch in range(start + 1, start + epochs + 1):
        t0 = time.perf_counter()
        lr = run.optimizer.param_groups[0]["lr"]
        data = batches(x, y, batch_size, shuffle=True, rng=shuffle_rng)
        seen, row = run.epoch(epoch, f"Epoch {epoch}/{start + epochs}", data, n, stop, hist)
        if seen == 0:
            break
        val = run.validate(row, validation)
        row["seconds"], row["lr"] = time.perf_counter() - t0, lr
        asked_stop = False
        if seen == n:
            hist.record(**row)
            run.epoch_scheduler_step(hist)  # before the callbacks: a checkpoint then holds the stepped state
            asked_stop = any([call(cb, "on_epoch_end", epoch, hist, run.model) for cb in callbacks])
            run.log.epoch(epoch, row, val if run.track else None)
        if stop.requested:
            hist.interrupted = True
            where = f"after epoch {epoch}" if seen == n else f"in epoch {epoch} after {seen} of {n} examples"
            run.log.line(f"Interrupted {where}; the history of {hist.epochs} complete epoch(s) is kept.")
            break
        if asked_stop:
            hist.meta["stopped_early"] = epoch
            run.log.line(f"Early stopping after epoch {epoch}.")
            break


class _Run:
    """One training run's parts; ``epoch`` runs the steps of one pass and sums its loss and accuracy."""

    def __init__(self, model: Module, loss: Loss, optimizer: Optimizer, track: bool, log: _Log) -> None:
        self.model, self.loss, self.optimizer, self.track, self.log = model, loss, optimizer, track, log
        self.scheduler: LRScheduler | None = None
        self.batch_scheduler = False
        self.clip: float | None = None
        self.history: History | None = None
        self.after_backward: list[Callback] = []

    def set_after_backward(self, hist: History, callbacks: Sequence[Any]) -> None:
        """The callbacks whose ``on_after_backward`` does something: only they are called every step."""
        base = Callback.on_after_backward
        self.history = hist
        self.after_backward = [
            cb for cb in callbacks if isinstance(cb, Callback) and type(cb).on_after_backward is not base
        ]

    def set_step_options(self, scheduler: LRScheduler | None, clip: float | None) -> None:
        if scheduler is not None and not isinstance(scheduler, LRScheduler):
            raise ConfigError(f"fit: scheduler must be an LRScheduler, got {type(scheduler).__name__}")
        if scheduler is not None and scheduler.optimizer is not self.optimizer:
            raise ConfigError("fit: the scheduler was made for another optimizer")
        self.scheduler, self.batch_scheduler = scheduler, isinstance(scheduler, OneCycleLR)
        if clip is not None:
            clip_grad_norm_([], clip)  # validates clip now, not at the first batch
        self.clip = clip

    def epoch_scheduler_step(self, hist: History) -> None:
        if self.scheduler is None or self.batch_scheduler:
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(hist["val_loss" if "val_loss" in hist.history else "loss"][-1])
        else:
            self.scheduler.step()

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        """One step of the README's loop; returns the batch's loss."""
        self.optimizer.zero_grad()
        value = self.loss(self.model(xb), yb)
        self.model.backward(self.loss.backward())
        for cb in self.after_backward:
            cb.on_after_backward(self.history, self.model)  # type: ignore[arg-type]
        if self.clip is not None:
            clip_grad_norm_(self.optimizer._params(), self.clip)
        self.optimizer.step()
        if self.batch_scheduler:
            self.scheduler.step()  # type: ignore[union-attr]
        return value

    def validate(self, row: dict[str, float], validation: Any) -> dict[str, float] | None:
        """Evaluate on ``validation`` (if any) into ``row``; returns the evaluation."""
        if validation is None:
            return None
        val = evaluate(self.model, self.loss, *validation)
        row["val_loss"] = val["loss"]
        if self.track:
            row["val_accuracy"] = val["accuracy"]
        return val

    def epoch(self, epoch: int, desc: str, data: Any, n: int, stop: _StopOnInterrupt, hist: History):
        """Train on every batch of ``data``; returns the examples seen and the epoch's loss (and accuracy)."""
        model, loss = self.model, self.loss
        model.train()
        bar = self.log.bar(n, desc)
        total_loss, correct, counted, seen = 0.0, 0, 0, 0
        for b, (xb, yb) in enumerate(data, start=1):
            try:
                value = self.step(xb, yb)
            except NonFiniteError as exc:
                lr = self.optimizer.param_groups[0].get("lr")
                err = NonFiniteError(
                    f"Epoch {epoch}, batch {b}: training diverged and was stopped. {exc}. "
                    f"The learning rate (lr={lr}) is the likely cause."
                )
                err.history = hist  # type: ignore[attr-defined]
                raise err from exc
            total_loss += value * len(xb) if loss.reduction == "mean" else value
            seen += len(xb)
            if self.track:
                c, t = count_correct(loss.probs, yb, loss)
                correct, counted = correct + c, counted + t
            if bar is not None and (b % 100 == 0 or seen == n):
                bar.update(seen - bar.n)
                postfix = f"loss {total_loss / seen:.4f}" + (f", acc {correct / counted:.4f}" if self.track else "")
                bar.set_postfix_str(postfix, refresh=False)
            if stop.requested:
                break
        if bar is not None:
            bar.close()
        row = {"loss": total_loss / seen} if seen else {}
        if self.track and counted:
            row["accuracy"] = correct / counted
        return seen, row


class _Log:
    """Progress bars (tqdm) when ``bars``, and the per-epoch summary lines when ``lines``."""

    def __init__(self, bars: bool, lines: bool) -> None:
        self.bars = bars
        self.enabled = lines

    def bar(self, total: int, desc: str):
        if not self.bars:
            return None
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (CI logs stay readable).
        return tqdm(total=total, desc=desc, unit="ex", leave=False, dynamic_ncols=True, mininterval=0.2, disable=None)

    def line(self, text: str) -> None:
        if self.enabled:
            print(text, flush=True)

    def epoch(self, epoch: int, row: dict[str, float], val: dict[str, float] | None) -> None:
        parts = [f"loss {row['loss']:.4f}"]
        if "accuracy" in row:
            parts.append(f"accuracy {row['accuracy']:.2%}")
        if "val_loss" in row:
            parts.append(f"val loss {row['val_loss']:.4f}")
        if val is not None:
            parts.append(f"val accuracy {val['correct']} / {val['total']} ({val['accuracy']:.2%})")
        parts.append(f"{row['seconds']:.1f} s")
        self.line(f"Epoch {epoch}: " + ", ".join(parts))
