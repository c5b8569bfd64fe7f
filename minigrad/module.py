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

from .errors import StateDictError, StateError
from .init import get_default_dtype


class Parameter:
    """A trainable array: ``.data`` and its gradient ``.grad`` (same shape and dtype).

    ``.grad`` reads as zeros until a backward pass, then holds the sum of every
    gradient added since the last ``zero_grad()`` (the Torch7 contract).

    ``zero_grad()`` costs nothing: it only marks the gradient as zero, and the next
    ``accumulate*`` call writes into the gradient buffer instead of adding to it
    (no zero fill, no extra add). Reading ``.grad`` in between materialises real
    zeros, so code that does ``p.grad += ...`` always sees the true value.
    """

    __slots__ = ("data", "_grad", "_buffer", "_pack")

    def __init__(self, data: Any, dtype: Any = None) -> None:
        # Like torch.nn.Parameter, a float array is wrapped, not copied.
        arr = np.asarray(data, dtype=None if dtype is None else np.dtype(dtype))
        if arr.dtype.kind != "f":
            arr = arr.astype(get_default_dtype())
        self.data: np.ndarray = arr
        self._buffer: np.ndarray = np.zeros_like(arr)  # the gradient's memory, reused across steps
        self._grad: np.ndarray | None = None  # None means "zero" (not yet written since zero_grad)
        self._pack: Pack | None = None  # set by pack_parameters

    @property
    def grad(self) -> np.ndarray:
        g = self._grad
        if g is None:
            g = self._buffer
            g.fill(0)
            self._grad = g
        return g

    @grad.setter
    def grad(self, value: np.ndarray) -> None:
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"Parameter.grad: expected shape {self.data.shape}, got {value.shape}")
        self._buffer = self._grad = value

    def zero_grad(self) -> None:
        self._grad = None

    def accumulate(self, value: np.ndarray) -> None:
        """``grad += value``; ``value`` must have the parameter's shape (ValueError otherwise, never a broadcast)."""
        self._add(np.asarray(value))

    def accumulate_matmul(self, a: np.ndarray, b: np.ndarray) -> None:
        """``grad += a @ b``, computed straight into the gradient buffer after ``zero_grad``.

        NumPy raises ValueError if ``a @ b`` does not have the parameter's shape (``out=`` must fit).
        """
        if self._grad is None:
            self._grad = np.matmul(a, b, self._buffer)  # out= given by position: a little cheaper per call
        else:
            self._add(a @ b)

    def accumulate_sum(self, g: np.ndarray) -> None:
        """``grad += g.sum(axis=0)`` (the bias gradient: a sum over the batch); ValueError on a shape mismatch."""
        # np.add.reduce is np.sum without its Python-level wrapper (a few microseconds per call).
        if self._grad is None:
            self._grad = np.add.reduce(g, 0, None, self._buffer)  # (axis=0, dtype=None, out=buffer)
        else:
            self._add(np.add.reduce(g, axis=0))

    def _add(self, value: np.ndarray) -> None:
        # += would broadcast a (1, n) or scalar value over the whole gradient: a silent wrong answer.
        if value.shape != self.data.shape:
            raise ValueError(f"Parameter{self.data.shape}: a gradient of shape {value.shape} does not fit")
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


class Pack:
    """Parameters whose data, and whose gradients, lie contiguously in one array each.

    An optimizer then updates all of them with one NumPy call (``data -= lr * grad``)
    instead of one per parameter: for a ``Linear``, weight and bias together.
    """

    __slots__ = ("data", "grad", "members", "scratch", "_views")

    def __init__(self, data: np.ndarray, grad: np.ndarray, members: tuple[Parameter, ...]) -> None:
        self.data, self.grad, self.members = data, grad, members
        # Room for an optimizer's intermediate (lr * grad): allocating it on every step costs more than the update.
        self.scratch = np.empty_like(data)
        self._views: tuple[tuple[Parameter, np.ndarray, np.ndarray], ...] = ()

    def intact(self) -> bool:
        """True while every member still uses its view of the pack and holds a gradient written since zero_grad.

        Rebinding ``p.data`` or ``p.grad`` (a user's assignment) breaks the pack for good; the
        optimizer then updates the members one by one, which is always correct. (``Module.to``
        makes a new pack.)
        """
        for p, data, grad in self._views:  # noqa: SIM110 (a plain loop: all() with a generator is slower here)
            if p.data is not data or p._grad is not grad:
                return False
        return True


def pack_parameters(*params: Parameter) -> Pack:
    """Move the parameters' data and gradients (copied) into one contiguous array each.

    Call it only while creating or recasting the parameters (``Linear`` does, for weight
    and bias; ``Module.to`` does again): arrays taken from ``p.data`` before the call are
    no longer the parameters' storage.
    """
    dtype = params[0].data.dtype
    sizes = [p.data.size for p in params]
    data = np.empty(sum(sizes), dtype=dtype)
    grad = np.zeros(sum(sizes), dtype=dtype)
    pack = Pack(data, grad, tuple(params))
    offset = 0
    for p, n in zip(params, sizes):
        if p.data.dtype != dtype:
            raise ValueError("pack_parameters: parameters of different dtypes cannot share storage")
        shape = p.data.shape
        data[offset : offset + n] = p.data.reshape(-1)
        p.data = data[offset : offset + n].reshape(shape)
        before = p._grad
        p._buffer, p._grad = grad[offset : offset + n].reshape(shape), None
        if before is not None:  # a gradient accumulated so far moves along
            p.accumulate(before)
        p._pack = pack
        offset += n
    pack._views = tuple((p, p.data, p._buffer) for p in params)
    return pack


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
    """Base class of every layer, loss and container.

    Subclasses call ``super().__init__()`` (harmless to forget), then assign ``Parameter``
    and ``Module`` attributes: every attribute holding one counts, in assignment order,
    so no registration calls are needed (as in PyTorch).
    """

    training: bool = True
    # True for modules whose backward accepts ``input_grad=False`` (skip dL/dinput, return None).
    can_skip_input_grad: bool = False

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
            raise TypeError(f"{type(self).__name__}.add_module: expected a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # -- the contract -------------------------------------------------------------
    def forward(self, *inputs: Any) -> Any:
        """Compute the output from ``inputs`` and keep what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, *grad_outputs: Any) -> Any:
        """Add parameter gradients into ``.grad``; return the gradient w.r.t. the input.

        Modules that set ``can_skip_input_grad = True`` also accept ``input_grad=False``
        and then return None without computing the input gradient.
        """
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

    def _trainable(self) -> bool:
        """Whether backward can change a parameter here (conservative: any container counts)."""
        return any(isinstance(v, (Parameter, Module)) for v in self.__dict__.values())

    def _not_run(self, what: str = "forward") -> StateError:
        return StateError(f"{self!r}: backward called before {what}; call forward first")

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
            if "_grad_flow" in m.__dict__:
                m.__dict__["_grad_flow"] = None  # the recorded backward is stale now

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, dtype: Any) -> Module:
        """Cast every parameter (and its gradient) to ``dtype``; returns self.

        The parameters get new arrays (an array taken from ``p.data`` before keeps the old
        dtype and is no longer the parameter's storage); a ``Linear``'s weight and bias are
        packed together again, so SGD keeps updating them in one call.
        """
        dt = np.dtype(dtype)
        packs: dict[int, Pack] = {}
        for p in self.parameters():
            if p.data.dtype != dt:
                before = p._grad  # None: zero since zero_grad
                p.data = p.data.astype(dt)
                p._buffer, p._grad = np.zeros_like(p.data), None
                if before is not None:
                    p.accumulate(before)
                if p._pack is not None:
                    packs[id(p._pack)] = p._pack
        for pack in packs.values():  # packed again in the new dtype: the optimizer keeps its one-call update
            if all(m.data.dtype == dt for m in pack.members):
                pack_parameters(*pack.members)
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

    # -- display ---------------------------------------------------------------------
    def summary(self, input_shape: tuple[int, ...] | int | None = None) -> str:
        """A Keras-style table of layers, output shapes and parameter counts (see ``minigrad.viz.summary``)."""
        from .viz import summary

        return summary(self, input_shape)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Jupyter shows a module as its graph picture, or as text when graphviz's ``dot`` is missing."""
        from .viz import draw

        try:
            return draw(self)._repr_mimebundle_(include, exclude)
        except Exception:  # no dot binary, or a module that cannot be traced: text is still useful
            return {"text/plain": repr(self)}

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
