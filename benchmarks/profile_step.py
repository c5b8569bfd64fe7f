"""Where the time of one training step goes, part by part, for minigrad and the plain-NumPy floor.

    python benchmarks/profile_step.py [--batch 10] [--arch 784,30,10]

Each part is timed alone with timeit (best of 7 repeats) on the same batch, float32, so the
parts add up to roughly one step of the benchmark's loop.
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

import minigrad as mg


def best(stmt, number: int = 3000) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=7)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--arch", default="784,30,10")
    args = parser.parse_args()
    arch = [int(a) for a in args.arch.split(",")]
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, arch[0]), dtype=np.float32)
    y = rng.integers(0, arch[-1], args.batch)
    layers: list[mg.Module] = []
    for i, (a, b) in enumerate(zip(arch[:-1], arch[1:])):
        layers.append(mg.Linear(a, b))
        if i < len(arch) - 2:
            layers.append(mg.Sigmoid())
    net = mg.Sequential(*layers)
    loss = mg.SoftmaxCrossEntropy()
    opt = mg.SGD(net.parameters(), lr=0.01)
    out = net(x)
    loss(out, y)
    g = loss.backward()
    net.backward(g, input_grad=False)

    parts = {
        "optimizer.zero_grad()": lambda: opt.zero_grad(),
        "model.forward(x)": lambda: net.forward(x),
        "loss.forward(out, y)  (value + probabilities)": lambda: loss.forward(out, y),
        "loss.backward()  (delta = (a - y) / N)": lambda: loss.backward(),
        "model.backward(g, input_grad=False)": lambda: net.backward(g, input_grad=False),
        "optimizer.step()": lambda: opt.step(),
    }
    print(f"minigrad, {arch}, batch {args.batch}, float32 (microseconds per call):")
    total = 0.0
    for name, fn in parts.items():
        t = best(fn)
        total += t
        print(f"  {name:<48} {t:7.1f}")
    print(f"  {'sum':<48} {total:7.1f}")
    for i, m in enumerate(net):
        a = net[:i](x) if i else x
        m.forward(a)
        gout = np.ones_like(m.forward(a))
        fwd, bwd = best(lambda m=m, a=a: m.forward(a)), best(lambda m=m, gout=gout: m.backward(gout))
        print(f"    layer {i} {m!r:<28} forward {fwd:6.1f}  backward (with dL/dinput) {bwd:6.1f}")


if __name__ == "__main__":
    main()
