"""``gradcheck``: prove a module's backward against central finite differences in float64.

The scalar being differentiated is ``L = loss(module(x), target)`` when a loss
is given (or the module is a loss), else ``L = sum(module(x) * R)`` for a fixed
random ``R``, whose gradient with respect to the output is ``R`` itself.

For every element ``e`` of every input and parameter, the numeric gradient is
``(L(e + h) - L(e - h)) / 2h``. The analytic one is what ``backward`` added to
``.grad`` on top of a random value put there first, so a backward that
overwrites ``.grad`` instead of adding to it fails, as does one off by any
factor or one that skips a parameter.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import GradcheckError
from .losses import Loss
from .module import Module


@dataclass
class TensorCheck:
    """The comparison for one tensor: worst absolute and relative error, and the verdict."""

    name: str
    shape: tuple[int, ...]
    checked: int
    max_abs_err: float
    max_rel_err: float
    ok: bool


@dataclass
class GradcheckReport:
    """The result of :func:`gradcheck`; ``ok`` is true when every tensor passed."""

    module: str
    checks: list[TensorCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.checks)

    def __str__(self) -> str:
        lines = [f"gradcheck of {self.module}: {'ok' if self.ok else 'FAILED'}"]
        lines.append(f"  {'tensor':<24} {'shape':<14} {'checked':>8} {'max abs err':>12} {'max rel err':>12}")
        for c in self.checks:
            mark = "" if c.ok else "  <-- over tolerance"
            lines.append(
                f"  {c.name:<24} {str(c.shape):<14} {c.checked:>8} {c.max_abs_err:>12.3e} {c.max_rel_err:>12.3e}{mark}"
            )
        lines.extend(f"  problem: {p}" for p in self.problems)
        return "\n".join(lines)


def _rng_states(module: Module) -> list[tuple[np.random.Generator, dict]]:
    """Every Generator a module holds, with its state, so stochastic layers replay the same draws."""
    found = []
    for m in module.modules():
        for v in vars(m).values():
            if isinstance(v, np.random.Generator):
                found.append((v, copy.deepcopy(v.bit_generator.state)))
    return found


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class _Problem:
    """The scalar ``L`` of a module (and loss) at fixed inputs, with random draws replayed each time."""

    def __init__(self, module: Module, x: Any, target: Any, loss: Loss | None, rng: np.random.Generator) -> None:
        self.mod = copy.deepcopy(module).to(np.float64)
        self.loss = copy.deepcopy(loss).to(np.float64) if loss is not None else None
        self.target = target
        self.inputs = [np.array(a, dtype=np.float64) for a in _as_tuple(x)]
        self.replay = _rng_states(self.mod) + (_rng_states(self.loss) if self.loss is not None else [])
        self.params = list(self.mod.named_parameters())
        self.projections: list[np.ndarray] = []
        if not isinstance(self.mod, Loss) and self.loss is None:
            outs = _as_tuple(self.value_and_output()[1])
            self.projections = [rng.standard_normal(np.shape(o)) for o in outs]

    def value_and_output(self) -> tuple[float, Any]:
        for gen, state in self.replay:
            gen.bit_generator.state = copy.deepcopy(state)
        mod = self.mod
        if isinstance(mod, Loss):
            return mod.forward(*self.inputs, self.target), None
        out = mod.forward(*self.inputs)
        if self.loss is not None:
            return self.loss.forward(out, self.target), out
        return sum(float(np.vdot(o, r)) for o, r in zip(_as_tuple(out), self.projections)), out

    def analytic(self, prefill: dict[str, np.ndarray], needs_input_grad: bool, problems: list[str]) -> dict[str, Any]:
        """One forward and backward on top of ``prefill`` in ``.grad``; the gradients backward produced."""
        mod = self.mod
        for name, p in self.params:
            p.grad[...] = prefill[name]
        self.value_and_output()
        mod.needs_input_grad = needs_input_grad
        if isinstance(mod, Loss):
            grads_in = _as_tuple(mod.backward())
        elif self.loss is not None:
            grads_in = _as_tuple(mod.backward(self.loss.backward()))
        else:
            sent = [r.copy() for r in self.projections]
            grads_in = _as_tuple(mod.backward(*sent))
            if any(not np.array_equal(s, r) for s, r in zip(sent, self.projections)):
                problems.append("backward modified the grad_output it was given, in place")
        out: dict[str, Any] = {name: p.grad - prefill[name] for name, p in self.params}
        if needs_input_grad:
            if len(grads_in) != len(self.inputs):
                problems.append(f"backward returned {len(grads_in)} input gradients for {len(self.inputs)} inputs")
            names = [f"input{i}" if len(self.inputs) > 1 else "input" for i in range(len(self.inputs))]
            out.update(zip(names, grads_in))
        return out

    def numeric(self, arr: np.ndarray, idx: np.ndarray, eps: float) -> np.ndarray:
        """Central differences ``(L(e + h) - L(e - h)) / 2h`` at the elements ``idx`` of ``arr``."""
        flat = arr.reshape(-1)
        out = np.empty(idx.size)
        for k, i in enumerate(idx):
            orig = flat[i]
            flat[i] = orig + eps
            plus, _ = self.value_and_output()
            flat[i] = orig - eps
            minus, _ = self.value_and_output()
            flat[i] = orig
            out[k] = (plus - minus) / (2 * eps)
        return out


def _compare(name: str, grad: Any, arr: np.ndarray, numeric: np.ndarray, idx: np.ndarray, atol: float, rtol: float):
    ana = np.asarray(grad, dtype=np.float64).reshape(-1)[idx]
    abs_err = np.abs(ana - numeric)
    rel_err = abs_err / np.maximum(np.maximum(np.abs(ana), np.abs(numeric)), 1e-12)
    return TensorCheck(
        name=name,
        shape=arr.shape,
        checked=int(idx.size),
        max_abs_err=float(abs_err.max(initial=0.0)),
        max_rel_err=float(rel_err.max(initial=0.0)),
        ok=bool(np.all(abs_err <= atol + rtol * np.abs(numeric))),
    )


def _same_without_input_grad(problem: _Problem, with_input: dict[str, Any], prefill: dict, problems: list) -> None:
    """The parameter gradients must not depend on whether the input gradient was asked for."""
    without = problem.analytic(prefill, needs_input_grad=False, problems=problems)
    for name, _ in problem.params:
        if not np.allclose(without[name], with_input[name], rtol=1e-10, atol=1e-12):
            problems.append(f"{name}: its gradient differs when needs_input_grad is False")


def gradcheck(
    module: Module,
    x: Any,
    target: Any = None,
    *,
    loss: Loss | None = None,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    max_checks: int | None = None,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> GradcheckReport:
    """Compare every analytic gradient of ``module`` with central differences.

    ``x``: the input array, or a tuple of arrays for a module with several inputs.
    ``target`` is passed to the loss (``module`` itself when it is a ``Loss``, or
    ``loss``). The check runs on a float64 deep copy; the module given is not touched.
    The input gradient is checked with ``needs_input_grad = True``; the parameter
    gradients are checked with it, and must come out the same with it ``False``.
    An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
    ``max_checks`` limits the elements checked per tensor (a random sample).
    Returns a :class:`GradcheckReport`; raises :class:`GradcheckError` carrying it
    when a check fails, unless ``raise_on_failure=False``.
    """
    rng = np.random.default_rng(seed)
    problem = _Problem(module, x, target, loss, rng)
    text = repr(module)
    report = GradcheckReport(module=text if "\n" not in text else f"{type(module).__name__}(...)")
    # Analytic pass on top of a random gradient already in .grad: catches `=` instead of `+=`.
    prefill = {name: rng.standard_normal(p.data.shape) for name, p in problem.params}
    analytic = problem.analytic(prefill, needs_input_grad=True, problems=report.problems)
    _same_without_input_grad(problem, analytic, prefill, report.problems)
    names = [k for k in analytic if k.startswith("input")]
    targets = list(zip(names, problem.inputs)) + [(name, p.data) for name, p in problem.params]
    for name, arr in targets:
        grad = analytic[name]
        if np.shape(grad) != arr.shape:
            report.problems.append(f"{name}: gradient shape {np.shape(grad)} differs from the tensor's {arr.shape}")
            continue
        idx = np.arange(arr.size)
        if max_checks is not None and arr.size > max_checks:
            idx = rng.choice(arr.size, size=max_checks, replace=False)
        report.checks.append(_compare(name, grad, arr, problem.numeric(arr, idx, eps), idx, atol, rtol))
    if raise_on_failure and not report.ok:
        raise GradcheckError(str(report), report)
    return report
