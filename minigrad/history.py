"""``History``: the per-epoch record of a training run; saved as JSON, plotted as learning curves."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError, ConfigError, StateError
from .files import atomic_write
from .validate import check_history


@dataclass
class History:
    """Metrics per epoch: ``history["loss"][e]`` is the training loss of epoch ``e + 1``.

    Keys: ``loss``, ``accuracy`` (training, running over the epoch), ``val_loss``,
    ``val_accuracy`` (when validation data was given), ``seconds`` (epoch wall time),
    ``lr`` (the first parameter group's learning rate during the epoch).

    With a :class:`~minigrad.callbacks.GradientNormRecorder` among ``fit``'s callbacks,
    ``gradient_norms["0.bias"][e]`` is the norm of that parameter's gradient in epoch ``e + 1``
    (the mean over the epoch's steps), and ``step_gradient_norms`` holds one value per step
    when the recorder was asked for them. Both are saved and loaded with the rest.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    interrupted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    gradient_norms: dict[str, list[float]] = field(default_factory=dict)
    step_gradient_norms: dict[str, list[float]] = field(default_factory=dict)

    def record(self, **values: float) -> None:
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    @property
    def epochs(self) -> int:
        return max((len(v) for v in self.history.values()), default=0)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def best(self, metric: str = "val_accuracy") -> tuple[int, float]:
        """``(epoch, value)`` of the best epoch (1-based): highest accuracy, lowest loss."""
        values = self.history[metric]
        pick = min if "loss" in metric else max
        value = pick(values)
        return values.index(value) + 1, value

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "interrupted": self.interrupted,
            "meta": self.meta,
            "gradient_norms": self.gradient_norms,
            "step_gradient_norms": self.step_gradient_norms,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """The inverse of ``to_dict``; a dict saved before gradient norms were recorded loads too."""
        return cls(
            history={k: list(v) for k, v in d["history"].items()},
            interrupted=d.get("interrupted", False),
            meta=dict(d.get("meta", {})),
            gradient_norms={k: list(v) for k, v in d.get("gradient_norms", {}).items()},
            step_gradient_norms={k: list(v) for k, v in d.get("step_gradient_norms", {}).items()},
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the history as JSON (atomically)."""
        text = json.dumps(self.to_dict(), indent=1)
        return atomic_write(path, lambda f: f.write(text.encode()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """The History saved at ``path`` by :meth:`save`; CheckpointError for a file that is not one."""
        try:
            d = json.loads(Path(path).read_text())
            check_history(d)
        except (OSError, ValueError, RecursionError) as exc:  # CheckpointError and JSONDecodeError are ValueErrors
            raise CheckpointError(f"{path}: not a minigrad History JSON file ({exc})") from None
        return cls.from_dict(d)

    def plot(self, path: str | os.PathLike, title: str | None = None) -> Path:
        """Learning curves (loss, and accuracy when recorded) written to an image, e.g. PNG.

        Needs matplotlib: ``pip install minigrad[plot]``.
        """
        panels = [k for k in ("loss", "accuracy") if k in self.history or f"val_{k}" in self.history]
        fig = _figure("History.plot", (5 * max(len(panels), 1), 3.6))
        for i, name in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            for key, label in ((name, "training"), (f"val_{name}", "validation")):
                if key in self.history:
                    values = self.history[key]
                    ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend()
        return _save(fig, path, title)

    def plot_gradient_norms(
        self,
        path: str | os.PathLike,
        names: list[str] | None = None,
        labels: dict[str, str] | None = None,
        title: str | None = None,
        per_step: bool = False,
    ) -> Path:
        """The recorded gradient norms, one line per parameter, on a log scale, written to an image.

        ``names`` picks the parameters (default: every one recorded, in recording order),
        ``labels`` maps a name to its legend entry (e.g. ``{"0.bias": "Hidden layer 1"}``).
        The x-axis is the epoch (1-based, as :meth:`plot`), or the step with ``per_step=True``
        (``step_gradient_norms``). Nielsen's chapter-5 figures are this plot of the hidden
        layers' biases. Needs matplotlib: ``pip install minigrad[plot]``.
        """
        where = "History.plot_gradient_norms"
        series = self.step_gradient_norms if per_step else self.gradient_norms
        if not series:
            kind = "per-step gradient norms (GradientNormRecorder(per_step=True))" if per_step else "gradient norms"
            raise StateError(f"{where}: no {kind} recorded; train with fit(..., callbacks=[GradientNormRecorder()])")
        names = list(series) if names is None else list(names)
        unknown = [n for n in names if n not in series]
        if unknown:
            raise ConfigError(f"{where}: no gradient norms recorded for {unknown}; recorded: {list(series)}")
        labels = labels or {}
        fig = _figure(where, (6, 4))
        ax = fig.add_subplot(1, 1, 1)
        for name in names:
            values = series[name]
            ax.plot(range(1, len(values) + 1), values, label=labels.get(name, name), linewidth=1.2)
        ax.set_yscale("log")
        ax.set_xlabel("step" if per_step else "epoch")
        ax.set_ylabel("gradient norm")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        return _save(fig, path, title)


def _figure(where: str, size: tuple[float, float]):
    """A matplotlib Figure drawn off-screen (no GUI backend needed)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"{where} needs matplotlib: pip install 'minigrad[plot]'") from None
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike, title: str | None) -> Path:
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
