"""The error types minigrad raises: one policy.

Every error a user can act on is a subclass of :class:`MinigradError` that also
subclasses the built-in type Python users expect (``ValueError`` for bad values and
shapes, ``TypeError`` for wrong types, ``RuntimeError`` for calls out of order), so
``except ValueError`` keeps working. Messages name the module or function, what it
expected and what it got.
"""

from __future__ import annotations


class MinigradError(Exception):
    """Base class of every error minigrad raises on purpose."""


class ShapeError(MinigradError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class TargetError(MinigradError, ValueError):
    """Targets given to a loss do not fit it (shape, dtype, label range, values)."""


class NonFiniteError(MinigradError, ValueError):
    """NaN or infinity where a finite number was needed (usually a diverging run)."""


class StateError(MinigradError, RuntimeError):
    """A method was called out of order, e.g. ``backward`` before ``forward``."""


class StateDictError(MinigradError, ValueError):
    """A state dict does not match the module it is loaded into."""


class CheckpointError(MinigradError, ValueError):
    """A saved file is missing, truncated, corrupt or of an unknown format."""


class HyperParameterError(MinigradError, ValueError):
    """A hyper-parameter (learning rate, momentum, betas, eps, ...) is NaN, of the wrong type or out of range."""


class ConfigError(MinigradError, ValueError):
    """An argument names something that does not exist, or takes a value it cannot (an unknown
    initialiser, reduction or metric, a non-floating dtype)."""


class ArgumentTypeError(MinigradError, TypeError):
    """An argument of the wrong type (a list where a Module was expected, a string as a seed)."""


class GraphError(MinigradError, ValueError):
    """A compute graph cannot be built as described."""


class ConversionError(MinigradError, ValueError):
    """A model cannot be converted to or from another format (ONNX, PyTorch): an unsupported module or operator."""


class GradcheckError(MinigradError, AssertionError):
    """An analytic gradient disagrees with finite differences; ``.report`` has the details."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


def describe(x: object) -> str:
    """A short description of an array-like for error messages: shape and dtype."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return type(x).__name__
    return f"shape {tuple(shape)} {dtype}"


class DatasetError(MinigradError, ValueError):
    """A data file is missing, truncated or not in the expected format."""
