"""``save`` and ``load``: one ``.npz`` file holding the architecture (JSON), the weights,
optionally the optimizer state and the training history. No pickle anywhere.

Layout of the archive (every entry a plain array)::

    __meta__               0-d unicode array: JSON {format, version, model, optimizer}
    __history__            0-d unicode array: JSON of the History (optional)
    model/<param name>     the weights, e.g. model/0.weight
    model/<buffer name>    the buffers, e.g. model/1.running_mean, model/1.num_batches_tracked
    optimizer/<param name>/<state key>   e.g. optimizer/0.weight/momentum_buffer
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import init as _init
from .errors import CheckpointError, MinigradError
from .files import atomic_write
from .history import History
from .module import Module, build_module
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

FORMAT = "minigrad-checkpoint"
VERSION = 1
OPTIMIZERS: dict[str, type[Optimizer]] = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: the model, and the optimizer and history when saved."""

    model: Module
    optimizer: Optimizer | None
    history: History | None
    loss: Module | None = None


def _optimizer_entries(model: Module, optimizer: Optimizer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    names = {id(p): name for name, p in model.named_parameters()}
    arrays: dict[str, np.ndarray] = {}
    groups = []
    for g in optimizer.param_groups:
        missing = [p for p in g["params"] if id(p) not in names]
        if missing:
            raise CheckpointError("save: the optimizer updates parameters that are not in the model")
        groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": [names[id(p)] for p in g["params"]]})
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer/{names[pid]}/{key}"] = value
            else:
                scalars.setdefault(names[pid], {})[key] = value
    meta = {"type": type(optimizer).__name__, "defaults": optimizer.defaults, "groups": groups, "scalars": scalars}
    return meta, arrays


def save(
    model: Module,
    path: str | os.PathLike,
    optimizer: Optimizer | None = None,
    history: History | None = None,
    loss: Module | None = None,
) -> Path:
    """Write ``model`` (architecture and weights), and optionally ``optimizer``, ``history`` and ``loss``.

    The write is atomic: a crash half-way leaves any previous file at ``path`` intact.
    """
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.to_config(),
        "optimizer": None,
        "loss": loss.to_config() if loss is not None else None,
    }
    arrays = {f"model/{name}": p.data for name, p in model.named_parameters()}
    arrays.update((f"model/{name}", b) for name, b in model.named_buffers())  # checked on load as the weights
    if optimizer is not None:
        meta["optimizer"], opt_arrays = _optimizer_entries(model, optimizer)
        arrays.update(opt_arrays)
    arrays["__meta__"] = np.array(json.dumps(meta))
    if history is not None:
        arrays["__history__"] = np.array(json.dumps(history.to_dict()))
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def _open(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        # Our own file handle: np.load leaks its handle when the archive is corrupt.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"{path}: not a readable minigrad checkpoint; it is truncated or corrupt ({exc})"
        ) from None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Rebuild the model saved at ``path`` (no user code needed for built-in modules), its optimizer and history."""
    path = Path(path)
    entries = _open(path)
    try:
        meta = json.loads(str(entries["__meta__"]))
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a minigrad checkpoint (format {meta.get('format')!r})")
    except (KeyError, json.JSONDecodeError, AttributeError):
        raise CheckpointError(f"{path}: not a minigrad checkpoint (no readable __meta__ entry)") from None
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('version')}, this minigrad reads version {VERSION}"
        )
    # Rebuilding draws initial weights that are overwritten at once; keep the global stream untouched.
    saved_rng = _init._global_rng
    _init._global_rng = np.random.default_rng(0)
    try:
        model = build_module(meta["model"])
    except MinigradError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    finally:
        _init._global_rng = saved_rng
    weights = {k[len("model/") :]: v for k, v in entries.items() if k.startswith("model/")}
    try:
        model.load_state_dict(weights)
    except MinigradError as exc:
        raise CheckpointError(f"{path}: weights do not match the saved architecture: {exc}") from None
    optimizer = _rebuild_optimizer(path, model, meta["optimizer"], entries) if meta.get("optimizer") else None
    history = History.from_dict(json.loads(str(entries["__history__"]))) if "__history__" in entries else None
    loss = build_module(meta["loss"]) if meta.get("loss") else None
    return Checkpoint(model, optimizer, history, loss)


def load(path: str | os.PathLike) -> Module:
    """The model saved at ``path``, rebuilt and with its weights (see :func:`load_checkpoint` for the rest)."""
    return load_checkpoint(path).model


def _rebuild_optimizer(path: Path, model: Module, meta: dict[str, Any], entries: dict[str, np.ndarray]) -> Optimizer:
    cls = OPTIMIZERS.get(meta["type"])
    if cls is None:
        raise CheckpointError(f"{path}: unknown optimizer type {meta['type']!r}")
    params = dict(model.named_parameters())
    defaults = dict(meta["defaults"])
    if "betas" in defaults:
        defaults["betas"] = tuple(defaults["betas"])
    groups = []
    for g in meta["groups"]:
        group = {k: (tuple(v) if k == "betas" else v) for k, v in g.items() if k != "params"}
        groups.append({**group, "params": [params[name] for name in g["params"]]})
    optimizer = cls(groups, **defaults)
    for name, p in params.items():
        state = dict(meta["scalars"].get(name, {}))
        prefix = f"optimizer/{name}/"
        state.update({k[len(prefix) :]: v.copy() for k, v in entries.items() if k.startswith(prefix)})
        if state:
            optimizer.state[id(p)] = state
    return optimizer
