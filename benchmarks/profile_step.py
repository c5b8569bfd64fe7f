"""Where the time of one training step goes, part by part, for minigrad, beside the plain-NumPy floor.

The step is the README's loop, as the benchmark's minigrad peer runs it: ``opt.zero_grad()``,
``loss(model(x), y)``, ``model.backward(loss.backward())``, ``opt.step()``.

    python benchmarks/profile_step.py [--batch 10] [--arch 784,30,10] [--dtype float32]

Each part is timed alone with timeit (best of 7 repeats) on the same batch; parts that write
gradients run right after ``zero_grad()`` (as in a real step), whose own time is subtracted.
Alone, a part runs faster than inside a real loop (caches and branch predictors stay warm), so
the step itself, and the floor's, are also timed as whole loops over fresh batches.

Then the same step with one layer of minigrad's plumbing taken out by hand (the loss's wrapper,
``Sequential``, ``SGD.step``), interleaved in one process: what each layer costs inside a real loop.

It also counts the Python bytecodes a step executes (``sys.settrace`` with opcode events): a
deterministic measure of the framework's Python overhead, free of the machine's timing noise.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_train  # noqa: E402 (the benchmark's peers: the same loops)


def best(stmt, number: int = 3000) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=7)) / number * 1e6


def loop_time(train, batches, rounds: int = 15) -> float:
    """Best microseconds per step of ``train`` over ``batches`` (whole loops, fresh batches)."""
    train(batches[:20])
    out = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        train(batches)
        out = min(out, (time.perf_counter() - start) / len(batches) * 1e6)
    return out


def opcodes_per_step(train, batches, steps: int = 20) -> tuple[float, collections.Counter]:
    """Python bytecodes executed per step of ``train``, in total and per function."""
    counts: collections.Counter = collections.Counter()

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            counts[f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"] += 1
        return tracer

    train(batches[:5])
    sys.settrace(tracer)
    try:
        train(batches[5 : 5 + steps])
    finally:
        sys.settrace(None)
    return sum(counts.values()) / steps, counts


def plumbing_variants(arch, dtype, params) -> dict:
    """The benchmark's minigrad peer (the README's loop) and the same step with one layer of minigrad's
    plumbing taken out by hand.

    ``no loss wrapper`` calls the fused-loss kernels directly (no input or label checks), ``no
    Sequential`` calls the layers' forward and backward in turn, ``no SGD.step`` applies the fused
    flat update without the optimizer's walk over its groups. Each returns ``(train, weights)``;
    every variant computes the same parameters (tests/test_benchmarks.py). What each saves is the
    cost of that plumbing inside a real loop.
    """
    from minigrad.kernels import softmax_cross_entropy, softmax_cross_entropy_backward

    def build():
        net, loss, opt = bench_train.minigrad_model(dtype, params)
        return net, loss, opt, lambda: [p.data for p in net.parameters()]

    def no_loss_wrapper():
        net, _, opt, weights = build()

        def train(batches):
            for xb, yb in batches:
                opt.zero_grad()
                _, probs, targets = softmax_cross_entropy(net(xb), yb)
                net.backward(softmax_cross_entropy_backward(probs, targets, 1.0 / len(xb)))
                opt.step()

        return train, weights

    def no_sequential():
        net, loss, opt, weights = build()
        layers = list(net)
        layers[0].needs_input_grad = False

        def train(batches):
            for xb, yb in batches:
                opt.zero_grad()
                a = xb
                for m in layers:
                    a = m.forward(a)
                loss(a, yb)
                g = loss.backward()
                for m in reversed(layers):
                    g = m.backward(g)
                opt.step()

        return train, weights

    def no_sgd_step():
        net, loss, opt, weights = build()
        flat = opt._flat[id(opt.param_groups[0])]  # the fused storage SGD made
        lr = opt.param_groups[0]["lr"]

        def train(batches):
            for xb, yb in batches:
                opt.zero_grad()
                loss(net(xb), yb)
                net.backward(loss.backward())
                flat.step(lr)

        return train, weights

    return {
        "README loop": bench_train.minigrad_peer(arch, dtype, params),
        "no loss wrapper": no_loss_wrapper(),
        "no Sequential": no_sequential(),
        "no SGD.step": no_sgd_step(),
    }


def interleaved(trains: dict, batches, rounds: int = 15) -> dict:
    """Median microseconds per step of each loop, the loops run in turn within each round."""
    times: dict = {name: [] for name in trains}
    for _ in range(rounds):
        for name, train in trains.items():
            train(batches[:50])
            start = time.perf_counter()
            train(batches)
            times[name].append((time.perf_counter() - start) / len(batches) * 1e6)
    return {name: float(np.median(t)) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--arch", default="784,30,10")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    arch = [int(a) for a in args.arch.split(",")]
    dtype = np.dtype(args.dtype).type
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, arch[0])).astype(dtype)
    y = rng.integers(0, arch[-1], args.batch)
    params = bench_train.init_params(arch, dtype)
    net, loss, opt = bench_train.minigrad_model(dtype, params)
    out = net(x)
    loss(out, y)
    g = loss.backward()
    net.backward(g)

    zero = best(opt.zero_grad)
    parts = {
        "optimizer.zero_grad()": zero,
        "model(x)": best(lambda: net(x)),
        "loss(out, y)  (value, probabilities, label check)": best(lambda: loss(out, y)),
        "loss.backward()  (delta = (a - y) / N)": best(loss.backward),
        "model.backward(g)": best(lambda: (opt.zero_grad(), net.backward(g))) - zero,
        "optimizer.step()": best(opt.step),
    }
    print(f"minigrad, {arch}, batch {args.batch}, {args.dtype} (microseconds per call, each part alone):")
    for name, t in parts.items():
        print(f"  {name:<52} {t:7.1f}")
    print(f"  {'sum':<52} {sum(parts.values()):7.1f}")

    x_all, y_all = bench_train.synthetic_data(5000)
    batches = bench_train.make_batches(x_all.astype(dtype), y_all, args.batch)
    peers = {name: bench_train.PEERS[name](arch, dtype, params)[0] for name in ("minigrad", "numpy_floor")}
    print("whole steps in the benchmark's loop (best of 15 passes, microseconds per step):")
    for name, train in peers.items():
        print(f"  {name:<52} {loop_time(train, batches):7.1f}")
    trains = {name: train for name, (train, _) in plumbing_variants(arch, dtype, params).items()}
    trains["numpy_floor"] = peers["numpy_floor"]
    print("the same step with one layer of plumbing taken out (median of 15 interleaved rounds, us per step):")
    for name, t in interleaved(trains, batches).items():
        print(f"  {name:<52} {t:7.1f}")
    print("Python bytecodes per step:")
    for name, train in peers.items():
        total, counts = opcodes_per_step(train, batches)
        top = ", ".join(f"{k} {v / 20:.0f}" for k, v in counts.most_common(6))
        print(f"  {name:<12} {total:6.0f}   ({top})")


if __name__ == "__main__":
    main()
