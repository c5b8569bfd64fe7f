"""Random number generators, the default dtype and the named weight initialisers.

An initialiser takes ``(rng, out_features, in_features, dtype)`` and returns the
pair ``(weight, bias)``: weight of shape ``(out, in)`` and bias of shape ``(out,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ArgumentTypeError, ConfigError

_global_rng: np.random.Generator = np.random.default_rng()
_default_dtype: np.dtype = np.dtype(np.float32)


def manual_seed(seed: int) -> None:
    """Seed the generator used by every module created without its own ``rng``."""
    global _global_rng
    _global_rng = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """Turn ``None`` (the global generator), an int seed or a Generator into a Generator."""
    if rng is None:
        return _global_rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise ArgumentTypeError(f"rng: expected None, an int seed or numpy.random.Generator, got {type(rng).__name__}")


def as_float_dtype(dtype: object = None) -> np.dtype:
    """Resolve ``dtype`` (``None`` = the default) to a NumPy floating dtype."""
    if dtype is None:
        return _default_dtype
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ConfigError(f"dtype: {dtype!r} is not a NumPy dtype") from exc
    if resolved.kind != "f":
        raise ConfigError(f"dtype: expected a floating dtype (float32, float64), got {resolved}")
    return resolved


def set_default_dtype(dtype: object) -> None:
    """Set the dtype of parameters created from now on (``float32`` unless changed)."""
    global _default_dtype
    _default_dtype = as_float_dtype(dtype)


def get_default_dtype() -> np.dtype:
    """The dtype new parameters get when no ``dtype`` is given."""
    return _default_dtype


Initialiser = Callable[[np.random.Generator, int, int, np.dtype], "tuple[np.ndarray, np.ndarray]"]


def _normal(rng, out_f, in_f, dtype):
    # Nielsen chapter 1 and the seed: every weight and bias from N(0, 1).
    return rng.standard_normal((out_f, in_f)), rng.standard_normal(out_f)


def _scaled_normal(rng, out_f, in_f, dtype):
    # Nielsen chapter 3: weights N(0, 1/n_in) so z does not saturate the sigmoid; biases N(0, 1).
    return rng.standard_normal((out_f, in_f)) / np.sqrt(in_f), rng.standard_normal(out_f)


def _pytorch(rng, out_f, in_f, dtype):
    # PyTorch's nn.Linear default: weight and bias both U(-1/sqrt(in), 1/sqrt(in)).
    bound = 1.0 / np.sqrt(in_f)
    return rng.uniform(-bound, bound, (out_f, in_f)), rng.uniform(-bound, bound, out_f)


def _xavier_uniform(rng, out_f, in_f, dtype):
    bound = np.sqrt(6.0 / (in_f + out_f))
    return rng.uniform(-bound, bound, (out_f, in_f)), np.zeros(out_f)


def _xavier_normal(rng, out_f, in_f, dtype):
    return rng.standard_normal((out_f, in_f)) * np.sqrt(2.0 / (in_f + out_f)), np.zeros(out_f)


def _he_uniform(rng, out_f, in_f, dtype):
    bound = np.sqrt(6.0 / in_f)
    return rng.uniform(-bound, bound, (out_f, in_f)), np.zeros(out_f)


def _he_normal(rng, out_f, in_f, dtype):
    return rng.standard_normal((out_f, in_f)) * np.sqrt(2.0 / in_f), np.zeros(out_f)


INITIALISERS: dict[str, Initialiser] = {
    "normal": _normal,
    "scaled_normal": _scaled_normal,
    "pytorch": _pytorch,
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
}


def initialise(name: str, rng: np.random.Generator, out_f: int, in_f: int, dtype: np.dtype):
    """Draw ``(weight, bias)`` with the initialiser called ``name``, cast to ``dtype``."""
    try:
        fn = INITIALISERS[name]
    except KeyError:
        raise ConfigError(f"init: unknown initialiser {name!r}; choose one of {sorted(INITIALISERS)}") from None
    w, b = fn(rng, out_f, in_f, dtype)
    return np.ascontiguousarray(w, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)
