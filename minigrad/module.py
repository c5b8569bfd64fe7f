"""``Module``: the contract every layer, loss and container follows.

The contract is Torch7 ``nn``'s, with PyTorch's names:

* ``forward(x)`` computes the output and keeps what ``backward`` needs;
* ``backward(grad_output)`` ADDS the gradients of the parameters into their
  ``.grad`` and returns the gradient with respect to the input;
* ``zero_grad()`` clears the accumulated gradients between steps.

Arrays are batch-first: ``x`` has shape ``(N, features)``. ``Parameter`` lives in
``minigrad/parameter.py`` (imported here, so ``minigrad.module.Parameter`` still works).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .errors import ArgumentTypeError, ConfigError, ShapeError, StateDictError, StateError, describe
from .parameter import Parameter


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

    State that is not trained (BatchNorm's running statistics) is a *buffer*:
    ``self.register_buffer("running_mean", np.zeros(C))``. A buffer is an ordinary
    attribute afterwards; it is in ``state_dict()``, saved by ``mg.save``, cast by
    ``.to(dtype)``, and never yielded by ``parameters()``, so no optimizer sees it.
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

    def register_buffer(self, name: str, array: Any) -> None:
        """Register ``array`` (an ndarray, or ``None`` for "no buffer") as the buffer ``name``.

        As ``torch.nn.Module.register_buffer``: afterwards ``self.<name>`` is the array, and
        whatever is assigned to that attribute later (a new array, or ``None``) is the buffer.
        """
        where = f"{type(self).__name__}.register_buffer"
        if not isinstance(name, str) or not name or "." in name:
            raise ConfigError(f"{where}: the name must be a non-empty string without '.', got {name!r}")
        names = self.__dict__.setdefault("_buffer_names", [])
        if name not in names and name in self.__dict__:
            raise ConfigError(f"{where}: attribute {name!r} already exists and is not a buffer")
        if array is not None and type(array) is not np.ndarray:
            raise ArgumentTypeError(f"{where}: {name!r} must be a NumPy array or None, got {type(array).__name__}")
        if name not in names:
            names.append(name)
        setattr(self, name, array)

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
            try:
                grad_output = np.asarray(grad_output)
            except (TypeError, ValueError) as exc:  # a ragged list
                raise ShapeError(f"{self!r}: backward expected an array as grad_output ({exc})") from None
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

    def _own_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """This module's buffers (not its children's) that are not ``None``, in registration order."""
        for name in self.__dict__.get("_buffer_names", ()):
            value = self.__dict__.get(name)
            if value is not None:
                yield name, value

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """``(name, array)`` of every buffer of the tree (``"1.running_mean"``); a shared array appears once."""
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, b in mod._own_buffers():
                if id(b) not in seen:
                    seen.add(id(b))
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self) -> list[np.ndarray]:
        """All buffers of the tree (arrays that are state but not trained), in ``named_buffers`` order."""
        return [b for _, b in self.named_buffers()]

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
        """Cast every parameter (and its gradient) and every floating buffer to the floating ``dtype``; returns self.

        The parameters get new arrays: an array taken from ``p.data`` before keeps the old
        dtype and is no longer the parameter's storage (build optimizers after ``.to``).
        Integer buffers (a counter like ``num_batches_tracked``) stay as they are, as in PyTorch.
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
        cast: dict[int, np.ndarray] = {}  # a buffer shared by two modules stays shared
        for m in self.modules():
            for name, b in list(m._own_buffers()):
                if b.dtype.kind == "f" and b.dtype != dt:
                    setattr(m, name, cast.setdefault(id(b), b.astype(dt)))
        return self

    # -- state --------------------------------------------------------------------
    def _state_items(self) -> Iterator[tuple[str, Parameter | np.ndarray]]:
        """PyTorch's state_dict order: module by module, its parameters, then its buffers."""
        seen: set[int] = set()
        for mod_name, mod in self.named_modules():
            for name, v in (*mod._parameters.items(), *mod._own_buffers()):
                if id(v) not in seen:
                    seen.add(id(v))
                    yield (f"{mod_name}.{name}" if mod_name else name), v

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter's data and every buffer, under PyTorch's keys and order.

        ``"0.weight"``, ``"0.bias"``, then a module's buffers (``"1.running_mean"``,
        ``"1.num_batches_tracked"``) after its parameters, as ``torch.nn.Module.state_dict``.
        """
        return OrderedDict((k, (v.data if isinstance(v, Parameter) else v).copy()) for k, v in self._state_items())

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays from ``state`` into the parameters and buffers, in place.

        Every key, shape and dtype is checked before anything is written, so a
        mismatch leaves the module unchanged.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise ArgumentTypeError(f"{where}: expected a mapping name -> array (a dict), got {type(state).__name__}")
        own = {k: (v.data if isinstance(v, Parameter) else v) for k, v in self._state_items()}
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")
        updates = []
        for key, target in own.items():
            if key not in state:
                continue
            try:
                arr = np.asarray(state[key])
            except (TypeError, ValueError, RuntimeError) as exc:
                raise StateDictError(f"{where}: {key!r} is not an array ({exc})") from None
            if arr.shape != target.shape:
                raise StateDictError(f"{where}: {key!r} expected shape {target.shape}, got {arr.shape}")
            if arr.dtype != target.dtype:
                raise StateDictError(
                    f"{where}: {key!r} expected dtype {target.dtype}, got {arr.dtype}"
                    " (cast the model with .to(dtype) first)"
                )
            updates.append((target, arr))
        for target, arr in updates:
            target[...] = arr

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
