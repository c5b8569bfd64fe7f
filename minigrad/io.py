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
from .errors import ArgumentTypeError, CheckpointError, MinigradError, describe
from .files import atomic_write, remove_stale_temporaries
from .history import History
from .module import Module, build_module
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .validate import check_history, check_loss_spec, check_model_spec, check_optimizer_spec

FORMAT = "minigrad-checkpoint"
VERSION = 1
OPTIMIZERS: dict[str, type[Optimizer]] = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}
MAX_EXPANSION = 100  # an archive may unpack to at most 100 times its size (np.savez stores: about 1)
MAX_JSON_CHARS = 2**24  # __meta__ and __history__: a Graph of 10,000 nodes takes about 2 MB


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
    for name, value, kind in (("model", model, Module), ("optimizer", optimizer, Optimizer),
                              ("history", history, History), ("loss", loss, Module)):  # fmt: skip
        if value is not None and not isinstance(value, kind) or (name == "model" and value is None):
            raise ArgumentTypeError(f"save: {name} must be a {kind.__name__}, got {type(value).__name__}")
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


def _kind(head: bytes) -> str:
    """What a file that is not a zip archive looks like, from its first bytes (for the error)."""
    if head.startswith(b"PK"):
        return "a zip archive without its end (truncated?)"
    if head.startswith(b"\x93NUMPY"):
        return "a single NumPy array (.npy)"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\x80"):
        return "a Python pickle (never loaded)"
    try:
        text = head.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        return "binary data"
    return "JSON text" if text[:1] in ("{", "[") else "text" if text else "empty"


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member; its header is read first, so nothing larger than the member is allocated."""
    fmt = np.lib.format
    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = header(f)
    if dtype.hasobject:
        raise CheckpointError(f"entry {info.filename!r} holds Python objects (pickle), which minigrad never loads")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize > info.file_size:
        raise ValueError(f"entry {info.filename!r} declares {shape} {dtype}, more than its {info.file_size} bytes")
    with zf.open(info) as f:
        return fmt.read_array(f, allow_pickle=False)


def _open(path: Path) -> dict[str, np.ndarray]:
    """The arrays of the archive at ``path``, by name; CheckpointError for anything that is not one."""
    if path.is_dir() or not path.is_file():
        raise CheckpointError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    remove_stale_temporaries(path)
    with open(path, "rb") as f:
        head = f.read(16)
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path}: not a minigrad checkpoint (mg.save writes a .npz zip archive; this file is {_kind(head)}); "
            "if it was one, it is truncated or corrupt"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > MAX_EXPANSION * path.stat().st_size + 2**20:
                raise CheckpointError("the archive unpacks to far more than its size (a zip bomb?)")
            if not all(i.filename.endswith(".npy") for i in infos):
                raise CheckpointError("not a minigrad checkpoint (it holds files that are not arrays)")
            return {i.filename[: -len(".npy")]: _read_entry(zf, i) for i in infos}
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, NotImplementedError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable minigrad checkpoint; it is truncated or corrupt ({exc})"
        ) from None


def _json_entry(entries: dict[str, np.ndarray], key: str) -> Any:
    """The JSON text held by the 0-d unicode entry ``key``, decoded; CheckpointError (no path) otherwise."""
    value = entries[key]
    if value.dtype.kind != "U" or value.shape != () or value.dtype.itemsize > 4 * MAX_JSON_CHARS:
        raise CheckpointError(f"{key} must be one JSON text (a 0-d unicode array), got {describe(value)}")
    try:
        return json.loads(str(value))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so is a 5,000-digit int
        raise CheckpointError(f"{key} is not valid JSON ({type(exc).__name__}: {str(exc)[:100]})") from None


def _read_meta(path: Path, entries: dict[str, np.ndarray]) -> dict[str, Any]:
    if "__meta__" not in entries:
        raise CheckpointError(f"{path}: not a minigrad checkpoint (no __meta__ entry)")
    try:
        meta = _json_entry(entries, "__meta__")
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: not a minigrad checkpoint ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: not a minigrad checkpoint (format {got!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('version')!r}, this minigrad reads version {VERSION}"
        )
    if "model" not in meta or not set(meta) <= {"format", "version", "model", "optimizer", "loss"}:
        raise CheckpointError(f"{path}: __meta__ needs 'model' and has only format, version, model, optimizer, loss")
    return meta


def _build(spec: dict[str, Any]) -> Module:
    """Build a checked spec; a constructor refusing a saved value becomes a CheckpointError."""
    # Rebuilding draws initial weights that are overwritten at once; keep the global stream untouched.
    saved_rng = _init._global_rng
    _init._global_rng = np.random.default_rng(0)
    try:
        return build_module(spec)
    except (MinigradError, TypeError, ValueError, OverflowError) as exc:
        raise CheckpointError(f"the architecture cannot be built: {exc}") from None
    finally:
        _init._global_rng = saved_rng


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Rebuild the model saved at ``path`` (no user code needed for built-in modules), its optimizer and history.

    The file is untrusted input: every entry is checked before anything is built from it
    (``minigrad.validate``), and any problem is one :class:`CheckpointError` naming the file.
    """
    path = Path(path)
    entries = _open(path)
    meta = _read_meta(path, entries)
    weights = {k[len("model/") :]: v for k, v in entries.items() if k.startswith("model/")}
    try:
        check_model_spec(meta["model"], weights)
        model = _build(meta["model"])
        try:
            model.load_state_dict(weights)
        except MinigradError as exc:
            raise CheckpointError(f"weights do not match the saved architecture: {exc}") from None
        optimizer = _rebuild_optimizer(model, meta["optimizer"], entries) if meta.get("optimizer") else None
        history = None
        if "__history__" in entries:
            raw = _json_entry(entries, "__history__")
            check_history(raw)
            history = History.from_dict(raw)
        loss = None
        if meta.get("loss"):
            check_loss_spec(meta["loss"])
            loss = _build(meta["loss"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return Checkpoint(model, optimizer, history, loss)


def load(path: str | os.PathLike) -> Module:
    """The model saved at ``path``, rebuilt and with its weights (see :func:`load_checkpoint` for the rest)."""
    return load_checkpoint(path).model


def _rebuild_optimizer(model: Module, meta: Any, entries: dict[str, np.ndarray]) -> Optimizer:
    """The saved optimizer over ``model``'s parameters; its state goes through ``Optimizer.load_state_dict``."""
    params = dict(model.named_parameters())
    cls, defaults, groups, scalars = check_optimizer_spec(meta, OPTIMIZERS, params)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for key, value in entries.items():
        if key.startswith("optimizer/"):
            name, _, state_key = key[len("optimizer/") :].rpartition("/")
            if name not in params:
                raise CheckpointError(f"optimizer state {key!r} is for no parameter of the model")
            arrays.setdefault(name, {})[state_key] = value
    try:
        optimizer = cls([{**g, "params": [params[n] for n in g["params"]]} for g in groups], **defaults)
        index = {name: i for i, name in enumerate(n for g in groups for n in g["params"])}
        state = {}
        for name in set(scalars) | set(arrays):
            if name not in index:
                raise CheckpointError(f"optimizer state for {name!r}, which no parameter group lists")
            state[index[name]] = {**scalars.get(name, {}), **arrays.get(name, {})}
        optimizer.load_state_dict({**optimizer.state_dict(), "state": state})
    except MinigradError as exc:
        raise CheckpointError(f"the optimizer cannot be rebuilt: {exc}") from None
    return optimizer
