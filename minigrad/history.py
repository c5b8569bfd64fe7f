"""``History``: the per-epoch record of a training run; saved as JSON, plotted as learning curves."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError
from .files import atomic_write
from .validate import check_history


@dataclass
class History:
    """Metrics per epoch: ``history["loss"][e]`` is the training loss of epoch ``e + 1``.

    Keys: ``loss``, ``accuracy`` (training, running over the epoch), ``val_loss``,
    ``val_accuracy`` (when validation data was given), ``seconds`` (epoch wall time),
    ``lr`` (the first parameter group's learning rate during the epoch).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    interrupted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

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
        return {"history": self.history, "interrupted": self.interrupted, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(
            history={k: list(v) for k, v in d["history"].items()},
            interrupted=d.get("interrupted", False),
            meta=dict(d.get("meta", {})),
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
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'minigrad[plot]'") from None
        panels = [k for k in ("loss", "accuracy") if k in self.history or f"val_{k}" in self.history]
        fig = Figure(figsize=(5 * max(len(panels), 1), 3.6), layout="constrained")
        FigureCanvasAgg(fig)
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
        if title:
            fig.suptitle(title)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        return path
