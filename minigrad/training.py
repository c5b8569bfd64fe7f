"""``fit`` and ``evaluate``: the mini-batch training loop, with progress, history and safe stopping."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .callbacks import BestModel, Callback, call
from .data import batches
from .errors import ArgumentTypeError, ConfigError, HyperParameterError, NonFiniteError, ShapeError, describe
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


def as_data(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as arrays (Python lists are converted) with the same number of examples, at least one."""
    arrays = []
    for name, v in (("x", x), ("y", y)):
        if type(v) is not np.ndarray:
            try:
                v = np.asarray(v)
            except (TypeError, ValueError) as exc:  # a ragged list
                raise ShapeError(f"{where}: {name} must be an array (or a list convertible to one) ({exc})") from None
        if v.ndim == 0 or v.dtype.kind not in "fiub":
            raise ShapeError(f"{where}: {name} must be a numeric array of examples (N, ...), got {describe(v)}")
        arrays.append(v)
    x, y = arrays
    if len(x) != len(y):
        raise ShapeError(f"{where}: x has {len(x)} examples but y has {len(y)}")
    if not len(x):
        raise ShapeError(f"{where}: no examples (x has {describe(x)}): nothing to train on or to measure")
    return x, y


def evaluate(model: Module, loss: Loss, x: np.ndarray, y: np.ndarray, batch_size: int = 250) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``(x, y)`` in eval mode (dropout off); the mode is restored.

    Returns ``{"loss", "accuracy", "correct", "total"}``. ``x`` and ``y`` hold at least one example.
    ``batch_size`` bounds the memory: a layer keeps its batch's intermediates (Conv2d its im2col columns:
    32 MB for the chapter-6 network's second convolution at 250 images, float32).
    """
    x, y = as_data(x, y, "evaluate")
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


STUCK_EPOCHS = 3  # epochs without a lower training loss before stuck_warning speaks


def stuck_warning(hist: History, classes: int, lr: Any, uniform_loss: float | None = None) -> str | None:
    """A warning when training is not learning (a learning rate far too large or too small), else None.

    Three signs, read from the History after an epoch: the training accuracy is at chance
    (at most 1.2 / ``classes`` for a single-label task of ``classes`` >= 2 classes); the training
    loss is above twice ``uniform_loss``, the loss of predicting every class equally (``log C`` for
    the mean cross-entropy), so worse than knowing nothing; or the training loss has not gone
    below its value of ``STUCK_EPOCHS`` epochs ago for that many epochs.
    """
    losses, acc = hist.history.get("loss", []), hist.history.get("accuracy", [])
    epoch = len(losses)
    if uniform_loss is not None and losses and losses[-1] > 2 * uniform_loss:
        return (
            f"epoch {epoch}: the training loss {losses[-1]:.4g} is above 2 log({classes}) = {2 * uniform_loss:.2f}, "
            f"far worse than predicting every class equally (is lr={lr} far too large?)"
        )
    if classes >= 2 and acc and acc[-1] <= 1.2 / classes:
        return (
            f"epoch {epoch}: training accuracy {acc[-1]:.2%} is chance level for {classes} classes; "
            f"the network is not learning (is lr={lr} far too large or too small?)"
        )
    k = STUCK_EPOCHS
    if len(losses) > k and min(losses[-k:]) >= losses[-k - 1]:
        return (
            f"epoch {epoch}: the training loss has not fallen for {k} epochs ({losses[-k - 1]:.4f} -> "
            f"{losses[-1]:.4f}); is lr={lr} far too large or too small?"
        )
    return None


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


def _check_fit_arguments(metrics: Sequence[str], epochs: Any, x: Any, y: Any, validation: Any):
    """``fit``'s checks, before anything runs: ``(x, y, validation)`` as arrays."""
    unknown = set(metrics) - {"accuracy"}
    if unknown:
        raise ConfigError(f"fit: unknown metric(s) {sorted(unknown)}; available: ['accuracy']")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise HyperParameterError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    x, y = as_data(x, y, "fit")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ArgumentTypeError(f"fit: validation must be a pair (x_val, y_val), got {type(validation).__name__}")
        validation = as_data(*validation, "fit: validation")
    return x, y, validation


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
    x, y, validation = _check_fit_arguments(metrics, epochs, x, y, validation)
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
            run.warn_if_stuck(hist)
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
        self.classes = 0  # classes of a single-label task (0: multi-label or unknown)
        self.warned = False

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

    def warn_if_stuck(self, hist: History) -> None:
        """One warning line per fit (also kept in ``hist.meta["warnings"]``) when training does not learn."""
        mean_ce = isinstance(self.loss, SoftmaxCrossEntropy) and self.loss.reduction == "mean" and self.classes
        uniform = math.log(self.classes) if mean_ce else None
        text = stuck_warning(hist, self.classes, self.optimizer.param_groups[0].get("lr"), uniform)
        if text is not None and not self.warned:
            self.warned = True
            hist.meta.setdefault("warnings", []).append(text)
            self.log.line(f"warning: {text}")

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

    def _cause(self, xb: np.ndarray, exc: NonFiniteError) -> str:
        """Why a batch's loss is NaN or inf: non-finite input data, else a diverging run."""
        flat = np.asarray(xb).reshape(len(xb), -1)
        if flat.dtype.kind == "f" and not np.isfinite(flat).all():
            rows = np.flatnonzero(~np.isfinite(flat).all(axis=1))
            what = "NaN" if np.isnan(flat).any() else "inf"
            return (
                f"the input batch holds {what} ({len(rows)} of its {len(xb)} examples): the training data is "
                "not finite (check np.isfinite(x).all()); the learning rate is not the cause"
            )
        lr = self.optimizer.param_groups[0].get("lr")
        return f"training diverged and was stopped. {exc}. The learning rate (lr={lr}) is the likely cause."

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
                err = NonFiniteError(f"Epoch {epoch}, batch {b}: {self._cause(xb, exc)}")
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
        single_label = seen and (np.ndim(yb) == 1 or isinstance(loss, SoftmaxCrossEntropy))
        if self.track and single_label and loss.probs is not None:
            self.classes = loss.probs.shape[1]  # one class per example: chance is 1 / classes
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
