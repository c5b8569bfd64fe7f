"""``Sequential``: modules applied one after another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

import numpy as np

from .errors import ArgumentTypeError, MinigradError
from .module import Module, build_module


def annotate(exc: BaseException, where: str) -> None:
    """Prefix a minigrad error's message with ``where``; add a note to any other exception."""
    if isinstance(exc, MinigradError) and exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{where} {exc.args[0]}", *exc.args[1:])
    elif hasattr(exc, "add_note"):
        exc.add_note(f"(raised in {where})")


class Sequential(Module):
    """Apply ``modules`` in order; backward runs them in reverse.

    ``len``, indexing, slicing (a new Sequential sharing the modules), iteration
    and ``append`` work as on ``torch.nn.Sequential``. Child ``i`` is named
    ``"i"``, so parameters are keyed ``"0.weight"``, ``"2.bias"``.

    Backward returns ``dL/dinput`` only when ``needs_input_grad`` is set (default
    ``False``: the input of a network is its data). Then the leading children without
    parameters are not run at all, and the first one with parameters is told it need
    not compute its own input gradient.
    """

    needs_input_grad = False

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        # The children in order (also attributes "0", "1", ...): a tuple, so forward/backward loop without a dict scan.
        self._layers: tuple[Module, ...] = ()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._layers)), module)
        self._layers = (*self._layers, module)
        return self

    def forward(self, x: Any) -> Any:
        """Apply the children in order."""
        if self.retains_grad:
            self.grad_flow = None  # no backward for this forward yet
        i = 0
        try:
            for i, m in enumerate(self._layers):  # noqa: B007 (i names the failing child below)
                x = m.forward(x)
        except Exception as exc:
            annotate(exc, f"Sequential[{i}]")
            raise
        return x

    def backward(self, grad_output: Any) -> Any:
        """Run the children's backward in reverse; return dL/dinput, or None unless ``needs_input_grad``."""
        layers = self._layers
        wanted = self.needs_input_grad
        first = 0  # the last child whose backward runs: with no input gradient wanted, the first with parameters
        if not wanted:
            while first < len(layers) and not layers[first]._has_parameters():
                first += 1
        # flow[i] = dL/d(input of child i); flow[n] = the grad_output given (kept for draw after retain_grad()).
        flow: list[Any] | None = [None] * len(layers) + [grad_output] if self.retains_grad else None
        i = len(layers) - 1
        try:
            while i > first or (wanted and i >= 0):  # children whose input gradient someone needs
                layer = layers[i]
                layer.needs_input_grad = True
                grad_output = layer.backward(grad_output)
                if flow is not None:
                    flow[i] = grad_output
                i -= 1
            if not wanted and i == first:  # the first child with parameters: its parameters' gradients only
                layer = layers[i]
                layer.needs_input_grad = False
                try:
                    layer.backward(grad_output)
                finally:
                    del layer.needs_input_grad  # only for this call: on its own, the child keeps its default
        except Exception as exc:
            annotate(exc, f"Sequential[{i}]")
            raise
        if flow is not None:
            self.grad_flow = flow
        return grad_output if wanted else None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        for i, m in enumerate(self._layers):
            try:
                shape = m.output_shape(shape)
            except Exception as exc:
                annotate(exc, f"Sequential[{i}]")
                raise
        return shape

    def to_config(self) -> dict[str, Any]:
        return {"type": "Sequential", "children": [m.to_config() for m in self._layers]}

    @classmethod
    def from_config(cls, spec: dict[str, Any]) -> Sequential:
        return cls(*(build_module(child) for child in spec["children"]))

    def __len__(self) -> int:
        return len(self._layers)

    @overload
    def __getitem__(self, idx: int) -> Module: ...
    @overload
    def __getitem__(self, idx: slice) -> Sequential: ...
    def __getitem__(self, idx: int | slice) -> Module | Sequential:
        layers = list(self._layers)
        if isinstance(idx, slice):
            return Sequential(*layers[idx])
        if isinstance(idx, (int, np.integer)):
            return layers[idx]
        raise ArgumentTypeError(f"Sequential indices must be int or slice, got {type(idx).__name__}")

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)
