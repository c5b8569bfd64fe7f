"""A checkpoint is untrusted input: its JSON is checked here before anything is built from it.

``check_model_spec`` walks the architecture (``Module.to_config()`` output) and works out,
for every built-in module, the shapes of the parameters and buffers its constructor would
allocate; they must equal the arrays stored in the file, so a module declaring
``in_features=10**6`` is refused before a single weight is allocated, and loading never
allocates more than the file holds. Types, keys and constructor keywords are checked too, the
nesting depth and the number of modules are bounded. ``check_history`` and
``check_optimizer_spec`` do the same for the other two JSON entries.

Every problem is a :class:`~minigrad.errors.CheckpointError` saying where in the file it is;
``minigrad.io`` adds the file's name.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .errors import CheckpointError
from .losses import Loss
from .module import MODULE_TYPES, Module

MAX_DEPTH = 64  # nested containers (5,000 levels would exhaust Python's stack)
MAX_MODULES = 100_000
FLOAT_DTYPES = ("float16", "float32", "float64")

Shapes = dict[str, tuple[int, ...]]


def _int(where: str, config: dict[str, Any], key: str, default: Any = None) -> int:
    v = config.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise CheckpointError(f"{where}: {key} must be a positive int, got {v!r}")
    return v


def _ints(where: str, config: dict[str, Any], key: str, n: int | None = None) -> tuple[int, ...]:
    """An int, or a list of ints (of length ``n`` when given), as a tuple."""
    v = config.get(key)
    values = v if isinstance(v, list) and v and (n is None or len(v) == n) else [v] * (n or 1)
    return tuple(_int(where, {key: d}, key) for d in values)


def _flag(where: str, config: dict[str, Any], key: str, default: bool = True) -> bool:
    v = config.get(key, default)
    if not isinstance(v, bool):
        raise CheckpointError(f"{where}: {key} must be true or false, got {v!r}")
    return v


def _linear(where: str, c: dict[str, Any]) -> Shapes:
    n_in, n_out = _int(where, c, "in_features"), _int(where, c, "out_features")
    return {"weight": (n_out, n_in), **({"bias": (n_out,)} if _flag(where, c, "bias") else {})}


def _conv2d(where: str, c: dict[str, Any]) -> Shapes:
    n_in, n_out, groups = _int(where, c, "in_channels"), _int(where, c, "out_channels"), _int(where, c, "groups", 1)
    kh, kw = _ints(where, c, "kernel_size", 2)
    shapes = {"weight": (n_out, n_in // groups, kh, kw)}
    return {**shapes, **({"bias": (n_out,)} if _flag(where, c, "bias") else {})}


def _batch_norm(where: str, c: dict[str, Any]) -> Shapes:
    n, affine = _int(where, c, "num_features"), _flag(where, c, "affine")
    shapes: Shapes = {"weight": (n,)} if affine else {}
    if affine and _flag(where, c, "bias"):
        shapes["bias"] = (n,)
    if _flag(where, c, "track_running_stats"):
        shapes |= {"running_mean": (n,), "running_var": (n,), "num_batches_tracked": ()}
    return shapes


def _layer_norm(where: str, c: dict[str, Any]) -> Shapes:
    shape = _ints(where, c, "normalized_shape")
    if not _flag(where, c, "elementwise_affine"):
        return {}
    return {"weight": shape, **({"bias": shape} if _flag(where, c, "bias") else {})}


# The arrays each built-in module with state allocates; every other built-in allocates none.
# tests/test_validate.py saves and loads every public built-in module, so this table cannot drift.
STATE_SHAPES = {
    "Linear": _linear,
    "Conv2d": _conv2d,
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "LayerNorm": _layer_norm,
}


def _builtin(cls: type) -> bool:
    return cls.__module__.startswith("minigrad.")


def _module_class(spec: Any, where: str) -> type[Module]:
    if not isinstance(spec, dict):
        raise CheckpointError(f"{where}: a module must be a JSON object {{type, config}}, got {type(spec).__name__}")
    name = spec.get("type")
    cls = MODULE_TYPES.get(name) if isinstance(name, str) else None
    if cls is None or (_builtin(cls) and name.startswith("_")):
        raise CheckpointError(
            f"{where}: unknown module type {name!r}: if it is your own Module subclass, import the module that "
            "defines it (and give it get_config) before loading"
        )
    return cls


def _check_keywords(cls: type, config: Any, where: str) -> None:
    """``config`` must be a JSON object whose keys the constructor of ``cls`` takes."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}: config must be a JSON object, got {type(config).__name__}")
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(config) - set(params) - {"self"})
    if unknown:
        raise CheckpointError(f"{where}: {cls.__name__} takes no argument(s) {unknown}")
    dtype = config.get("dtype")
    if "dtype" in config and dtype is not None and dtype not in FLOAT_DTYPES:
        raise CheckpointError(f"{where}: dtype must be one of {list(FLOAT_DTYPES)} or null, got {dtype!r}")


class _Walk:
    """One pass over an architecture: the state each module would allocate, and the prefixes of user modules."""

    def __init__(self) -> None:
        self.expected: Shapes = {}
        self.opaque: list[str] = []  # prefixes of user modules: their state is checked once they are built
        self.count = 0

    def module(self, spec: Any, prefix: str, depth: int) -> None:
        where = f"module {prefix[:-1]!r}" if prefix else "the model"
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_MODULES:
            raise CheckpointError(f"{where}: the architecture nests deeper than {MAX_DEPTH} or has too many modules")
        cls = _module_class(spec, where)
        name = spec["type"]
        if name == "Sequential" and _builtin(cls):
            self._keys(spec, {"type", "children"}, where)
            children = spec.get("children")
            if not isinstance(children, list):
                raise CheckpointError(f"{where}: Sequential children must be a list, got {type(children).__name__}")
            for i, child in enumerate(children):
                self.module(child, f"{prefix}{i}.", depth + 1)
        elif name == "Graph" and _builtin(cls):
            self.graph(spec, prefix, depth, where)
        else:
            self._keys(spec, {"type", "config"}, where)
            config = spec.get("config", {})
            _check_keywords(cls, config, where)
            if not _builtin(cls):
                self.opaque.append(prefix)
            elif name in STATE_SHAPES:
                self.expected |= {prefix + k: s for k, s in STATE_SHAPES[name](where, config).items()}

    @staticmethod
    def _keys(spec: dict[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(spec) - allowed)
        if extra:
            raise CheckpointError(f"{where}: unexpected key(s) {extra} (expected {sorted(allowed)})")

    def graph(self, spec: dict[str, Any], prefix: str, depth: int, where: str) -> None:
        self._keys(spec, {"type", "inputs", "nodes", "outputs"}, where)
        names: set[str] = set()
        inputs, nodes, outputs = spec.get("inputs"), spec.get("nodes"), spec.get("outputs")
        if not (isinstance(inputs, list) and inputs and isinstance(nodes, list) and isinstance(outputs, list)):
            raise CheckpointError(f"{where}: a Graph needs lists 'inputs' (not empty), 'nodes' and 'outputs'")
        for item in inputs:
            if not (isinstance(item, dict) and set(item) == {"name", "shape"}):
                raise CheckpointError(f"{where}: each Graph input must be an object {{name, shape}}, got {item!r:.80}")
            _ints(where, item, "shape")
            self._name(item["name"], names, where)
        for item in nodes:
            if not (isinstance(item, dict) and set(item) == {"name", "module", "parents"}):
                raise CheckpointError(f"{where}: each Graph node must be an object {{name, module, parents}}")
            parents = item["parents"]
            if not isinstance(parents, list) or not all(isinstance(p, str) and p in names for p in parents):
                raise CheckpointError(f"{where}: node {item['name']!r:.40}: parents must name earlier nodes")
            self._name(item["name"], names, where)
            self.module(item["module"], f"{prefix}{item['name']}.", depth + 1)
        if not outputs or not all(isinstance(o, str) and o in names for o in outputs):
            raise CheckpointError(f"{where}: Graph outputs must name its nodes, got {outputs!r:.80}")

    @staticmethod
    def _name(name: Any, names: set[str], where: str) -> None:
        if not isinstance(name, str) or not name or "." in name or name in names:
            raise CheckpointError(f"{where}: a Graph node name must be a new non-empty string without '.'")
        names.add(name)


def check_model_spec(spec: Any, arrays: dict[str, np.ndarray]) -> list[str]:
    """Check an architecture against the stored ``arrays`` (state key -> array) before building it.

    Returns the prefixes of user-defined modules, whose own arrays can only be checked once built.
    """
    walk = _Walk()
    walk.module(spec, "", 0)
    missing = [k for k in walk.expected if k not in arrays]
    if missing:
        raise CheckpointError(f"weights do not match the architecture: missing keys {missing[:5]} in the file")
    for key, shape in walk.expected.items():
        if arrays[key].shape != shape:
            got = arrays[key].shape
            raise CheckpointError(f"weights do not match the architecture: {key!r} is {shape} there, {got} in the file")
    stray = [k for k in arrays if k not in walk.expected and not any(k.startswith(p) for p in walk.opaque)]
    if stray:
        raise CheckpointError(f"weights do not match the architecture: no module of it has {stray[:5]}")
    return walk.opaque


def check_loss_spec(spec: Any) -> None:
    """A saved loss: a known Loss type with constructor keywords only (losses hold no arrays)."""
    cls = _module_class(spec, "the loss")
    if not issubclass(cls, Loss):
        raise CheckpointError(f"the loss: {spec['type']!r} is not a Loss")
    _check_keywords(cls, spec.get("config", {}), "the loss")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_history(d: Any) -> None:
    """A saved History: ``{"history": {metric: [numbers]}, "interrupted": bool, "meta": {...}}``, and
    optionally ``gradient_norms`` and ``step_gradient_norms`` ({parameter name: [numbers]})."""
    keys = {"history", "interrupted", "meta", "gradient_norms", "step_gradient_norms"}
    if not isinstance(d, dict) or not set(d) <= keys or "history" not in d:
        raise CheckpointError("the history must be an object {history, interrupted, meta[, gradient_norms, ...]}")
    for key in ("history", "gradient_norms", "step_gradient_norms"):
        h = d.get(key, {})
        if not isinstance(h, dict) or not all(isinstance(v, list) and all(map(_number, v)) for v in h.values()):
            raise CheckpointError(f"the history's {key!r} must map names to lists of numbers")
    if not isinstance(d.get("interrupted", False), bool) or not isinstance(d.get("meta", {}), dict):
        raise CheckpointError("the history's 'interrupted' must be true or false and its 'meta' an object")


def _option(v: Any) -> bool:
    """A hyper-parameter as JSON may hold it: a number, a bool, null, or a short list of numbers (betas)."""
    if isinstance(v, list):
        return len(v) <= 4 and all(map(_number, v))
    return v is None or isinstance(v, (bool, int, float))


def _options(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}


def check_optimizer_spec(meta: Any, known: dict[str, type], params: dict[str, Any]) -> tuple[type, dict, list, dict]:
    """A saved optimizer ``{type, defaults, groups, scalars}`` over the model's ``params`` (name -> Parameter).

    Returns the class, the constructor keywords, the groups (parameter names and options, lists
    as tuples) and the per-parameter scalar state; the values themselves are checked by the
    optimizer's constructor and ``load_state_dict``.
    """
    if not isinstance(meta, dict) or set(meta) != {"type", "defaults", "groups", "scalars"}:
        raise CheckpointError("the optimizer must be an object {type, defaults, groups, scalars}")
    cls = known.get(meta["type"]) if isinstance(meta["type"], str) else None
    if cls is None:
        raise CheckpointError(f"unknown optimizer type {meta['type']!r:.60}; known: {sorted(known)}")
    defaults, groups, scalars = meta["defaults"], meta["groups"], meta["scalars"]
    takes = set(inspect.signature(cls.__init__).parameters) - {"self", "params"}
    if not isinstance(defaults, dict) or not set(defaults) <= takes or not all(map(_option, defaults.values())):
        raise CheckpointError(f"the optimizer's defaults must be {cls.__name__}'s options {sorted(takes)} (numbers)")
    if not isinstance(groups, list) or not groups:
        raise CheckpointError("the optimizer's groups must be a non-empty list")
    out = []
    for i, g in enumerate(groups):
        names = g.get("params") if isinstance(g, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) and n in params for n in names):
            raise CheckpointError(f"optimizer group {i}: 'params' must list parameter names of the model")
        if not all(_option(v) for k, v in g.items() if k != "params"):
            raise CheckpointError(f"optimizer group {i}: options must be numbers, true/false or null")
        out.append({**_options(g), "params": names})
    ok = isinstance(scalars, dict) and all(
        n in params and isinstance(d, dict) and all(map(_number, d.values())) for n, d in scalars.items()
    )
    if not ok:
        raise CheckpointError("the optimizer's scalars must map parameter names to objects of numbers")
    return cls, _options(defaults), out, scalars
