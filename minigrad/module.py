"""``Parameter`` and ``Module``: the contract every layer, loss and container follows.

The contract is Torch7 ``nn``'s, with PyTorch's names:

* ``forward(x)`` computes the output and keeps what ``backward`` needs;
* ``backward(grad_output)`` ADDS the gradients of the parameters into their
  ``.grad`` and returns the gradient with respect to the input;
* ``zero_grad()`` clears the accumulated gradients between steps.

Arrays are batch-first: ``x`` has shape ``(N, features)``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import ArgumentTypeError, ConfigError, ShapeError, StateDictError, StateError, describe
from .init import get_default_dtype


class Parameter:
    """A trainable array: ``.data`` and its gradient ``.grad`` (same shape and dtype).

    ``.grad`` holds the sum of every gradient added since the last ``zero_grad()`` (the
    Torch7 contract: backward ADDS). ``has_grad`` tells whether anything was added since
    then (PyTorch: ``p.grad is not None`` after ``zero_grad(set_to_none=True)``); every
    optimizer leaves a parameter with ``has_grad == False`` alone.

    ``zero_grad()`` only marks the gradient as zero; reading ``.grad`` then gives real
    zeros (so ``p.grad += ...`` in a user's module is always right), and the kernels of
    ``minigrad.kernels`` write the first gradient straight into the buffer ``_buffer``
    (``_grad`` is ``None`` while the gradient is zero, else it is ``_buffer``).
    """

    __slots__ = ("data", "_grad", "_buffer")

    def __init__(self, data: Any, dtype: Any = None) -> None:
        # Like torch.nn.Parameter, a float array is wrapped, not copied.
        arr = np.asarray(data, dtype=None if dtype is None else np.dtype(dtype))
        if arr.dtype.kind != "f":
            arr = arr.astype(get_default_dtype())
        self.data: np.ndarray = arr
        self._buffer: np.ndarray = np.zeros_like(arr)  # the gradient's memory, reused across steps
        self._grad: np.ndarray | None = None  # None means "zero": nothing added since zero_grad

    @property
    def grad(self) -> np.ndarray:
        """The accumulated gradient; zeros (counted as written) when nothing was added since ``zero_grad``."""
        g = self._grad
        if g is None:
            g = self._buffer
            g.fill(0)
            self._grad = g
        return g

    @grad.setter
    def grad(self, value: Any) -> None:
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ShapeError(f"Parameter.grad: expected shape {self.data.shape}, got {describe(value)}")
        self._buffer = self._grad = value

    @property
    def has_grad(self) -> bool:
        """True once a gradient was added (or ``.grad`` read) since the last ``zero_grad()``."""
        return self._grad is not None

    def zero_grad(self) -> None:
        self._grad = None

    def accumulate(self, value: Any) -> None:
        """``grad += value``, where ``value`` must have the parameter's shape (never broadcast)."""
        value = np.asarray(value)
        # += would broadcast a (1, n) or scalar value over the whole gradient: a silent wrong answer.
        if value.shape != self.data.shape:
            raise ShapeError(f"Parameter{self.data.shape}: a gradient of {describe(value)} does not fit")
        if self._grad is None:
            np.copyto(self._buffer, value)
            self._grad = self._buffer
        else:
            self._grad += value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Symbolic:
    """Marker base class of symbolic graph nodes: calling a module on one builds a graph."""

    __slots__ = ()


MODULE_TYPES: dict[str, type] = {}


def type_name(cls: type) -> str:
    """Built-in modules are saved by class name, user modules by ``module.QualName``."""
    if cls.__module__.startswith("minigrad."):
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


class Module:
    """Base class of every layer, loss and container: the contract.

    * ``forward(x)`` computes the output and keeps what ``backward`` needs.
    * ``backward(grad_output)`` ADDS the gradient of each parameter into its ``.grad``
      (Torch7's ``accGradParameters``) and returns ``dL/dinput`` (``updateGradInput``),
      the same shape as the input of the last forward. One signature for every module.
    * ``needs_input_grad`` says whether the caller wants that return value. A module may
      read it and return ``None`` instead of computing ``dL/dinput`` (``Linear`` does: for
      a first layer ``g @ W`` is the largest matmul of the step); a module that ignores it
      and always returns the gradient is still correct. A container sets it on each child
      before calling the child's backward. When you call ``backward`` yourself, a layer
      returns ``dL/dinput`` (default ``True``) and a network (``Sequential``, ``Graph``)
      does not (default ``False``): its input is the data, whose gradient no training step
      needs, as PyTorch computes ``x.grad`` only for an ``x`` that requires it. To ask:
      ``net.needs_input_grad = True``.
    * ``zero_grad()`` clears the accumulated gradients between steps.

    Subclasses call ``super().__init__()`` (harmless to forget), then assign ``Parameter``
    and ``Module`` attributes: every attribute holding one counts, in assignment order,
    so no registration calls are needed (as in PyTorch). Arrays are batch-first.
    """

    training: bool = True
    needs_input_grad: bool = True
    # Containers keep the gradient that flows into each child only after retain_grad() (for draw).
    retains_grad: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        MODULE_TYPES[type_name(cls)] = cls

    def __init__(self) -> None:
        """Nothing to set up: parameters and children are found in the instance's attributes."""

    # -- registration: any attribute holding a Parameter or a Module counts, in assignment order.
    # Scanning __dict__ (rather than overriding __setattr__ as PyTorch does) keeps attribute
    # writes, which forward does on every call to keep its cache, at plain-Python speed.
    @property
    def _parameters(self) -> dict[str, Parameter]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, Parameter)}

    @property
    def _modules(self) -> dict[str, Module]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, Module)}

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` as a child under ``name`` (containers use names like ``"0"``)."""
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"{type(self).__name__}.add_module: expected a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # -- the contract -------------------------------------------------------------
    def forward(self, *inputs: Any) -> Any:
        """Compute the output from ``inputs`` and keep what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, *grad_outputs: Any) -> Any:
        """Add parameter gradients into ``.grad``; return ``dL/dinput`` (or ``None`` when not ``needs_input_grad``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *inputs: Any) -> Any:
        if inputs and isinstance(inputs[0], Symbolic):
            return inputs[0].apply(self, inputs)
        return self.forward(*inputs)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output shape for an input of ``input_shape`` (batch dimension excluded).

        The default suits shape-preserving modules (activations); others override it.
        """
        return tuple(input_shape)

    def _has_parameters(self) -> bool:
        """Whether backward can add to a parameter here (conservative: any child module counts)."""
        return any(isinstance(v, (Parameter, Module)) for v in vars(self).values())

    def _not_run(self, what: str = "forward") -> StateError:
        return StateError(f"{self!r}: backward called before {what}; call forward first")

    def _check_grad(self, grad_output: Any, shape: tuple[int, ...] | None) -> np.ndarray:
        """``grad_output`` as an array of ``shape``, the last forward's output shape (``None``: no forward yet)."""
        if shape is None:
            raise self._not_run()
        if type(grad_output) is not np.ndarray:
            if grad_output is None:
                raise StateError(
                    f"{self!r}: backward got grad_output None: the module after it returned no input gradient "
                    "(set its needs_input_grad = True; a network, Sequential or Graph, returns one only when asked)"
                )
            grad_output = np.asarray(grad_output)
            if grad_output.dtype.kind not in "fiu":
                raise ShapeError(f"{self!r}: backward expected a numeric grad_output, got {describe(grad_output)}")
        if grad_output.shape != shape:
            raise ShapeError(
                f"{self!r}: backward expected grad_output of shape {shape} to match the last forward, "
                f"got {describe(grad_output)}"
            )
        return grad_output

    # -- traversal --------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module of the tree, this one first (name ``""``), without duplicates."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            kids = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(name, Parameter)`` in a stable order; a shared Parameter appears once."""
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        """All parameters of the tree, in a stable order, without duplicates."""
        return [p for _, p in self.named_parameters()]

    # -- gradients and modes ------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to zero (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.zero_grad()
        for m in self.modules():
            if m.retains_grad:  # the retained backward is stale now
                m.grad_flow = m.grad_outputs = None

    def retain_grad(self, mode: bool = True) -> Module:
        """Keep, after every backward, the gradient flowing into each child, for ``draw(gradients=True)``.

        Off by default, so a training step allocates nothing for pictures. Returns self.
        """
        for m in self.modules():
            m.retains_grad = bool(mode)
            if not mode:
                m.__dict__.pop("grad_flow", None)
                m.__dict__.pop("grad_outputs", None)
        return self

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, dtype: Any) -> Module:
        """Cast every parameter (and its gradient) to the floating ``dtype``; returns self.

        The parameters get new arrays: an array taken from ``p.data`` before keeps the old
        dtype and is no longer the parameter's storage (build optimizers after ``.to``).
        """
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise ConfigError(f"{type(self).__name__}.to: {dtype!r} is not a NumPy dtype") from None
        if dt.kind != "f":
            raise ConfigError(f"{type(self).__name__}.to: expected a floating dtype (float32, float64), got {dt}")
        for p in self.parameters():
            if p.data.dtype != dt:
                before = p._grad  # None: zero since zero_grad
                p.data = p.data.astype(dt)
                p._buffer, p._grad = np.zeros_like(p.data), None
                if before is not None:
                    p.accumulate(before)
        return self

    # -- state --------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter's data under PyTorch-style keys (``"0.weight"``)."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays from ``state`` into the parameters, in place.

        Every key, shape and dtype is checked before anything is written, so a
        mismatch leaves the module unchanged.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        updates = []
        for key, p in own.items():
            if key not in state:
                continue
            arr = np.asarray(state[key])
            if arr.shape != p.data.shape:
                raise StateDictError(
                    f"{type(self).__name__}.load_state_dict: {key!r} expected shape {p.data.shape}, got {arr.shape}"
                )
            if arr.dtype != p.data.dtype:
                raise StateDictError(
                    f"{type(self).__name__}.load_state_dict: {key!r} expected dtype {p.data.dtype}, got {arr.dtype}"
                    " (cast the model with .to(dtype) first)"
                )
            updates.append((p, arr))
        for p, arr in updates:
            p.data[...] = arr

    # -- architecture as data (for checkpoints) --------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module (JSON-serialisable).

        Modules whose constructor takes arguments override this; ``to_config`` /
        ``from_config`` use it to save an architecture without pickle.
        """
        return {}

    def to_config(self) -> dict[str, Any]:
        return {"type": type_name(type(self)), "config": self.get_config()}

    @classmethod
    def from_config(cls, spec: dict[str, Any]) -> Module:
        return cls(**spec.get("config", {}))

    # -- display (text) ------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


def build_module(spec: dict[str, Any]) -> Module:
    """Rebuild a module from ``to_config()`` output; user classes must be imported first."""
    name = spec.get("type")
    cls = MODULE_TYPES.get(name)
    if cls is None:
        raise StateDictError(
            f"unknown module type {name!r}: if it is your own Module subclass, import the module that defines it "
            "(and give it get_config) before loading"
        )
    return cls.from_config(spec)
