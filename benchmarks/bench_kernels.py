"""What each kept speed trick is worth: every kernel of ``minigrad/kernels.py`` beside the plain
expression its docstring names, timed on the arrays of the seed's network ([784, 30, 10]).

    python benchmarks/bench_kernels.py                  # float32, batches 10 and 128
    python benchmarks/bench_kernels.py --batch 10 --batch 1024 --dtype float64

Each line: microseconds per call of the plain form and of the kernel (best of ``--repeat`` timings
of ``--number`` calls), the saving per call, and the saving per training step (times the calls a
step of [784, 30, 10] makes), which is what docs/performance.md weighs against the step's time.
A trick that saves less than the machine's noise on a step (a few per cent) should go.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import numpy as np

import minigrad as mg
from minigrad import kernels


class _Grad:
    """A stand-in for a Parameter just after ``zero_grad()`` (what ``add_matmul`` sees)."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self._buffer = np.empty(shape, dtype)
        self._grad = None


def _cases(n: int, dtype: np.dtype) -> list[tuple[str, int, Callable[[], object], Callable[[], object]]]:
    """(name, calls per step, plain, kernel) for one batch size."""
    rng = np.random.default_rng(0)
    z30 = rng.standard_normal((n, 30)).astype(dtype)
    z10 = rng.standard_normal((n, 10)).astype(dtype)
    x = rng.random((n, 784), dtype=np.float64).astype(dtype)
    g30 = rng.standard_normal((n, 30)).astype(dtype)
    labels = rng.integers(0, 10, n)
    rows = np.arange(n)
    p = _Grad((30, 784), dtype)
    b = _Grad((30,), dtype)
    buf, half = np.empty_like(z30), kernels.constant(0.5, dtype)

    def matmul_plain():
        grad = np.zeros((30, 784), dtype)  # the textbook: zeros after zero_grad, then +=
        grad += g30.T @ x

    def matmul_kernel():
        p._grad = None
        kernels.add_matmul(p, g30.T, x)

    def bias_plain():
        grad = np.zeros(30, dtype)
        grad += g30.sum(axis=0)

    def bias_kernel():
        b._grad = None
        kernels.add_batch_sum(b, g30)

    def sce_plain():
        m = z10.max(axis=1, keepdims=True)
        e = np.exp(z10 - m)
        s = e.sum(axis=1, keepdims=True)
        return -(z10[rows, labels] - m[:, 0] - np.log(s[:, 0])).sum(), e / s

    return [
        (
            "0-d scalar: a *= c (c 0-d) vs a *= 0.5",
            4,
            lambda: np.multiply(z30, 0.5, out=buf),
            lambda: np.multiply(z30, half, out=buf),
        ),
        (
            "sigmoid: tanh form vs 1 / (1 + exp(-z))",
            1,
            lambda: 1.0 / (1.0 + np.exp(-z30)),
            lambda: kernels.sigmoid(z30),
        ),
        (
            "row max: at the argmax vs z.max(axis=1)",
            1,
            lambda: z10.max(axis=1),
            lambda: z10.ravel()[np.arange(0, n * 10, 10) + z10.argmax(axis=1)],
        ),
        (
            "softmax cross-entropy: fused vs log-sum-exp",
            1,
            sce_plain,
            lambda: kernels.softmax_cross_entropy(z10, labels),
        ),
        (
            "label range: unsigned argmax vs (y >= 0) & (y < C)",
            1,
            lambda: bool(((labels >= 0) & (labels < 10)).all()),
            lambda: kernels.labels_in_range(labels, 10),
        ),
        ("weight grad: matmul out= vs zeros then +=", 1, matmul_plain, matmul_kernel),
        ("bias grad: add.reduce out= vs zeros then += sum", 2, bias_plain, bias_kernel),
    ]


def _fused_sgd(dtype: np.dtype) -> tuple[Callable[[], object], Callable[[], object]]:
    """One SGD step of [784, 30, 10], per parameter (fused=False) and on the flat storage (fused=True)."""
    steps = []
    for fused in (False, True):
        net = mg.Sequential(mg.Linear(784, 30, rng=0, dtype=dtype), mg.Sigmoid(), mg.Linear(30, 10, rng=1, dtype=dtype))
        opt = mg.SGD(net.parameters(), lr=1e-9, fused=fused)
        loss = mg.SoftmaxCrossEntropy()
        loss(net(np.ones((10, 784), dtype)), np.zeros(10, dtype=np.int64))
        net.backward(loss.backward())  # gradients written by a real backward, as in a step
        steps.append(opt.step)
    return steps[0], steps[1]


def _time(f: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(f, number=number, repeat=repeat)) / number * 1e6


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, action="append", help="repeatable (default: 10 and 128)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--number", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)
    print(f"| batch | trick ({args.dtype}) | plain (us) | kernel (us) | saved per step (us) |")
    print("|---|---|---|---|---|")
    for n in args.batch or [10, 128]:
        cases = _cases(n, dtype)
        cases.append(("SGD step: fused=True vs per parameter", 1, *_fused_sgd(dtype)))
        for name, calls, plain, fast in cases:
            t_plain, t_fast = _time(plain, args.number, args.repeat), _time(fast, args.number, args.repeat)
            print(f"| {n} | {name} | {t_plain:.2f} | {t_fast:.2f} | {calls * (t_plain - t_fast):+.2f} |")


if __name__ == "__main__":
    main()
