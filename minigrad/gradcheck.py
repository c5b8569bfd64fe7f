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
    An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
    ``max_checks`` limits the elements checked per tensor (a random sample).
    Returns a :class:`GradcheckReport`; raises :class:`GradcheckError` carrying it
    when a check fails, unless ``raise_on_failure=False``.
    """
    rng = np.random.default_rng(seed)
    mod = copy.deepcopy(module).to(np.float64)
    lossmod = copy.deepcopy(loss).to(np.float64) if loss is not None else None
    inputs = [np.array(a, dtype=np.float64) for a in _as_tuple(x)]
    replay = _rng_states(mod) + (_rng_states(lossmod) if lossmod is not None else [])
    params = list(mod.named_parameters())
    text = repr(module)
    report = GradcheckReport(module=text if "\n" not in text else f"{type(module).__name__}(...)")

    def evaluate() -> tuple[float, Any]:
        for gen, state in replay:
            gen.bit_generator.state = copy.deepcopy(state)
        if isinstance(mod, Loss):
            return mod.forward(*inputs, target), None
        out = mod.forward(*inputs)
        if lossmod is not None:
            return lossmod.forward(out, target), out
        outs = _as_tuple(out)
        return sum(float(np.vdot(o, r)) for o, r in zip(outs, projections)), out

    projections: list[np.ndarray] = []
    if not isinstance(mod, Loss) and lossmod is None:
        outs = _as_tuple(mod.forward(*inputs))
        projections = [rng.standard_normal(np.shape(o)) for o in outs]

    # Analytic pass, on top of a random gradient already in .grad.
    prefill = {name: rng.standard_normal(p.data.shape) for name, p in params}
    for name, p in params:
        p.grad[...] = prefill[name]
    _, out = evaluate()
    if isinstance(mod, Loss):
        grads_in = _as_tuple(mod.backward())
    elif lossmod is not None:
        grads_in = _as_tuple(mod.backward(lossmod.backward()))
    else:
        sent = [r.copy() for r in projections]
        grads_in = _as_tuple(mod.backward(*sent))
        if any(not np.array_equal(s, r) for s, r in zip(sent, projections)):
            report.problems.append("backward modified the grad_output it was given, in place")
    analytic = {f"input{i}" if len(inputs) > 1 else "input": g for i, g in enumerate(grads_in)}
    if len(grads_in) != len(inputs):
        report.problems.append(f"backward returned {len(grads_in)} input gradients for {len(inputs)} inputs")
    for name, p in params:
        analytic[name] = p.grad - prefill[name]

    targets = [(k, a) for k, a in zip(analytic, inputs)] + [(name, p.data) for name, p in params]
    for name, arr in targets:
        grad = np.asarray(analytic[name], dtype=np.float64)
        if grad.shape != arr.shape:
            report.problems.append(f"{name}: gradient shape {grad.shape} differs from the tensor's {arr.shape}")
            continue
        flat = arr.reshape(-1)
        idx = np.arange(flat.size)
        if max_checks is not None and flat.size > max_checks:
            idx = rng.choice(flat.size, size=max_checks, replace=False)
        numeric = np.empty(idx.size)
        for k, i in enumerate(idx):
            orig = flat[i]
            flat[i] = orig + eps
            plus, _ = evaluate()
            flat[i] = orig - eps
            minus, _ = evaluate()
            flat[i] = orig
            numeric[k] = (plus - minus) / (2 * eps)
        ana = grad.reshape(-1)[idx]
        abs_err = np.abs(ana - numeric)
        rel_err = abs_err / np.maximum(np.maximum(np.abs(ana), np.abs(numeric)), 1e-12)
        ok = bool(np.all(abs_err <= atol + rtol * np.abs(numeric)))
        report.checks.append(
            TensorCheck(
                name=name,
                shape=arr.shape,
                checked=int(idx.size),
                max_abs_err=float(abs_err.max(initial=0.0)),
                max_rel_err=float(rel_err.max(initial=0.0)),
                ok=ok,
            )
        )
    if raise_on_failure and not report.ok:
        raise GradcheckError(str(report), report)
    return report
