"""Training throughput of minigrad against PyTorch and JAX (CPU) and a plain-NumPy floor, interleaved in rounds.

    python benchmarks/bench_train.py            # full: 2 archs x 4 batch sizes x 2 dtypes, 9 rounds
    python benchmarks/bench_train.py --quick    # fewer samples, 3 rounds
    python benchmarks/bench_train.py --no-jax   # without the JAX peer (also skipped when jax is not importable)
    make bench                                  # the quick mode, after the set-up

Workload: Nielsen-style MLPs (sigmoid hidden layers, softmax cross-entropy, plain SGD, lr ``LR``) on
synthetic MNIST-shaped data (fixed seed). The peers train on the same batches from the same initial
weights, in the same dtype, and compute the same step (checked before timing, to ~1e-16 in float64):

- **minigrad**: the loop the README teaches, nothing added: ``opt.zero_grad()``, ``loss(model(xb), yb)``,
  ``model.backward(loss.backward())``, ``opt.step()``, on a model built from ``mg.Linear``, ``mg.Sigmoid``,
  ``mg.Sequential``, ``mg.SoftmaxCrossEntropy`` and ``mg.SGD(model.parameters(), lr=LR)``;
- **PyTorch** (when installed): the idiomatic loop (``zero_grad``, ``loss_fn(model(xb), yb).backward()``, ``step``);
- **JAX** (when importable, unless ``--no-jax``): the whole step under one ``jax.jit`` (forward, mean softmax
  cross-entropy from the logits by log-sum-exp, ``jax.value_and_grad``, the SGD update; it returns the new
  parameters and the loss, the old parameters donated), on the CPU; ``jax_enable_x64`` only for the float64
  configurations (scoped with ``jax.enable_x64``, so nothing else in a process is affected). Its compilation
  happens in the untimed warm-up; a segment ends with ``block_until_ready`` on the final parameters and loss;
- **numpy_floor**: the fastest straight-line NumPy we could write for the step (``numpy_floor_peer``).

Each peer trains for the same number of samples per measurement; peers run interleaved (A B C D A B C D ...)
for several rounds; we report the median and min..max samples/s of each peer, and the ratios minigrad / floor,
minigrad / PyTorch and minigrad / JAX: the median of the per-round ratios (the headline: each round's segments
ran back to back), and the ratio of the best segments (on a shared machine noise only slows a segment down, so
the best ones are the least disturbed). The JSON also has the ratio of the medians, every round, the spread of
the per-round ratios and each peer's first warm-up time (for JAX: mostly its compilation).

Worker processes (default ``--processes numpy-shared``): minigrad and the NumPy floor share one, PyTorch has its
own and JAX has its own, so OpenBLAS's, PyTorch's and XLA's thread pools never share a process (measured here,
PyTorch at batch 10 ran 33 % slower beside NumPy in one process; XLA's pool spins after its calls and slows a
neighbour in its process too), while the two NumPy peers, whose ratio the targets are about, run under the same
conditions: measured here, a process's memory layout and CPU placement move a NumPy loop's speed by several
percent for the life of the process, and with a process each that luck entered the minigrad / floor ratio
twice. The parent interleaves the segments and every worker sleeps briefly before a segment, so the other
workers' spinning threads have gone quiet. Every round starts fresh worker processes and runs every configuration
once, on a new random memory layout (``build_segments``; ``--fixed-layout`` turns that off), so neither a layout's
luck nor a disturbance of the machine sticks to one configuration. ``--processes per-peer`` gives every peer its
own worker; ``--processes one`` runs all in this process, JAX too, last in each configuration (a diagnostic
set-up: there XLA's threads share the process with the NumPy peers). The same-computation check runs in this
(the parent) process, before the rounds.

Writes a JSON of every measurement and a Markdown table (``--out``).
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import minigrad as mg

PAUSE = 0.15  # seconds of quiet before each measured segment (thread-pool contention, see above)
# Untimed steps right before each measured segment: 20, or fewer for large batches (at most 2,000 samples,
# at least 2 steps): 20 steps of batch 1024 took five times as long as the quick mode's measured segment.
WARMUP_BATCHES = 20
WARMUP_SAMPLES = 2_000
LR = 0.05


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None and importlib.util.find_spec("jaxlib") is not None


def import_jax():
    """jax and jax.numpy, on the CPU (no probing for accelerators). Only the process that runs JAX imports it."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp

    return jax, jnp


def jax_x64(dtype):
    """A context with ``jax_enable_x64`` on for float64, off otherwise: scoped, so it leaks into nothing else."""
    jax, _ = import_jax()
    return jax.enable_x64(np.dtype(dtype) == np.float64)


# -- the peers: each returns a function that trains on (x, y) batches, and one that returns the weights --
def init_params(arch: list[int], dtype, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        ((rng.standard_normal((o, i)) / np.sqrt(i)).astype(dtype), (rng.standard_normal(o) * 0.1).astype(dtype))
        for i, o in zip(arch[:-1], arch[1:])
    ]


def minigrad_model(dtype, params):
    """``(model, loss, opt)`` from public classes: Linear and Sigmoid layers holding ``params``, SGD at ``LR``."""
    layers: list[mg.Module] = []
    for k, (w, b) in enumerate(params):
        lin = mg.Linear(w.shape[1], w.shape[0], dtype=dtype)
        lin.weight.data[...] = w
        lin.bias.data[...] = b
        layers.append(lin)
        if k < len(params) - 1:
            layers.append(mg.Sigmoid())
    model = mg.Sequential(*layers)
    return model, mg.SoftmaxCrossEntropy(), mg.SGD(model.parameters(), lr=LR)


def minigrad_peer(arch, dtype, params):
    """The README's loop, exactly: ``minigrad_model``, the four lines of a step, nothing else."""
    model, loss, opt = minigrad_model(dtype, params)

    def train(batches):
        for xb, yb in batches:
            opt.zero_grad()
            loss(model(xb), yb)
            model.backward(loss.backward())
            opt.step()

    def weights():
        return [p.data for p in model.parameters()]

    return train, weights


def torch_peer(arch, dtype, params):
    import torch  # only in the worker that runs PyTorch

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    layers = []
    for k, (w, b) in enumerate(params):
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).to(tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if k < len(params) - 1:
            layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def train(batches):
        for xb, yb in batches:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()

    def weights():
        return [p.detach().numpy() for p in model.parameters()]

    return train, weights


@functools.cache  # one jitted function per process: its compilations are cached per shape, dtype and depth
def jax_train_step():
    """The whole step under one ``jax.jit``: forward (sigmoid hidden layers), mean softmax cross-entropy from the
    logits by log-sum-exp, ``jax.value_and_grad``, plain SGD; it returns the new parameters and the loss. The old
    parameters are donated (``donate_argnums``), so XLA may write the new ones into their buffers, as the other
    peers update in place."""
    jax, jnp = import_jax()

    def logits_of(params, x):
        a = x
        for k, (w, b) in enumerate(params):
            z = a @ w.T + b
            a = jax.nn.sigmoid(z) if k < len(params) - 1 else z
        return a

    def loss_of(params, x, y):
        z = logits_of(params, x)
        picked = jnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - picked)

    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_of)(params, x, y)
        return jax.tree.map(lambda w, g: w - LR * g, params, grads), loss

    return jax.jit(step, donate_argnums=0)


def jax_peer(arch, dtype, params):
    """``jax_train_step`` in a loop. Dispatch is asynchronous: a pass keeps every step's outputs (the next step
    consumes the parameters) and ends with ``block_until_ready`` on the final parameters and loss, so a timed pass
    covers all of its computation. The first call with a new shape compiles (one shape per configuration: every
    batch has the same size); ``Segment`` makes it in its untimed warm-up. Batches come as device arrays
    (``make_batches``). float64 is enabled only around this peer's own calls (``jax_x64``)."""
    jax, jnp = import_jax()
    step = jax_train_step()
    x64 = jax_x64(dtype)
    with x64:  # copies: donation must never write into the caller's arrays
        state = [[(jnp.array(w, copy=True), jnp.array(b, copy=True)) for w, b in params], None]

    def train(batches):
        with x64:
            p, loss = state
            for xb, yb in batches:
                p, loss = step(p, xb, yb)
            state[:] = jax.block_until_ready((p, loss))

    def weights():
        return [np.array(arr) for pair in state[0] for arr in pair]  # copies, not views of JAX's buffers

    return train, weights


def numpy_floor_peer(arch, dtype, params):
    """The fastest straight-line NumPy we could write for the same step: buffers preallocated and
    reused, everything in place, no input gradient for the first layer (nothing needs it), each
    layer's weight and bias in one flat buffer (one update call), scalar operands as 0-d arrays of
    the dtype (NumPy converts a Python float on every call). Like the other peers it computes the
    loss value (-log of the product of the target probabilities, or the mean of their logs when
    that product underflows); it checks nothing."""
    flat = [np.concatenate([w.ravel(), b]) for w, b in params]  # [W | b] per layer, and its gradient
    gflat = [np.zeros_like(f) for f in flat]
    ws = [f[: w.size].reshape(w.shape) for f, (w, _) in zip(flat, params)]
    bs = [f[w.size :] for f, (w, _) in zip(flat, params)]
    gws = [g[: w.size].reshape(w.shape) for g, (w, _) in zip(gflat, params)]
    gbs = [g[w.size :] for g, (w, _) in zip(gflat, params)]
    buffers: dict[int, tuple] = {}
    one, half, lr = (np.array(v, dtype) for v in (1.0, 0.5, LR))
    tiny = float(np.finfo(dtype).tiny)
    last_loss = [0.0]  # the loss value, as the other peers compute it (a real loop logs it)

    def bufs(n):
        if n not in buffers:
            acts = [np.empty((n, w.shape[0]), dtype) for w in ws]
            deltas = [np.empty((n, w.shape[0]), dtype) for w in ws]
            step = [np.empty_like(f) for f in flat]
            offsets = np.arange(0, n * arch[-1], arch[-1])
            buffers[n] = (acts, deltas, step, offsets, np.empty((n, 1), dtype), np.array(1.0 / n, dtype))
        return buffers[n]

    def train(batches):
        for xb, yb in batches:
            acts, deltas, step, offsets, col, inv_n = bufs(len(xb))
            a = xb
            for k, (w, b) in enumerate(zip(ws, bs)):
                z = acts[k]
                np.matmul(a, w.T, out=z)
                z += b
                if k < len(ws) - 1:  # sigmoid in place: (1 + tanh(z / 2)) / 2
                    z *= half
                    np.tanh(z, out=z)
                    z += one
                    z *= half
                a = z
            p = acts[-1]  # softmax in place, the loss value, then delta = (p - y) / n
            # The row max at the argmax, as minigrad's kernel does (max along 10 classes is 5-7x slower).
            p -= p.ravel()[offsets + p.argmax(axis=1)][:, None]
            np.exp(p, out=p)
            np.add.reduce(p, axis=1, keepdims=True, out=col)
            p /= col
            target = offsets + yb  # flat positions of the targets
            flat_p = p.ravel()
            picked = flat_p[target]
            prod = float(np.multiply.reduce(picked))  # loss = -log prod p_y while that is a normal float
            last_loss[0] = -math.log(prod) / len(xb) if prod >= tiny else float(-np.log(picked).mean())
            flat_p[target] -= one
            p *= inv_n
            delta = p
            for k in range(len(ws) - 1, -1, -1):
                a_prev = acts[k - 1] if k else xb
                np.matmul(delta.T, a_prev, out=gws[k])
                np.add.reduce(delta, axis=0, out=gbs[k])
                if k:
                    d_prev = deltas[k - 1]
                    np.matmul(delta, ws[k], out=d_prev)
                    d_prev *= a_prev  # sigma'(z) = a (1 - a)
                    np.subtract(one, a_prev, out=a_prev)
                    d_prev *= a_prev
                    delta = d_prev
                np.multiply(gflat[k], lr, out=step[k])
                flat[k] -= step[k]

    def weights():
        return [arr for pair in zip(ws, bs) for arr in pair]

    return train, weights


PEERS: dict[str, Callable] = {"minigrad": minigrad_peer, "numpy_floor": numpy_floor_peer}
if torch_available():
    PEERS["pytorch"] = torch_peer
if jax_available():
    PEERS["jax"] = jax_peer  # last: in --processes one it runs after the NumPy peers of each configuration


# -- measurement --------------------------------------------------------------------------------------
def make_batches(x, y, batch, peer: str = "minigrad"):
    """Whole batches of ``batch`` (the rest is dropped) as ``peer`` takes them: NumPy views, torch tensors sharing
    their memory, or JAX device arrays (copied once here, untimed; labels as int32)."""
    pairs = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x) - batch + 1, batch)]
    if peer == "pytorch":
        import torch

        return [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in pairs]
    if peer == "jax":
        _, jnp = import_jax()
        with jax_x64(x.dtype):
            return [(jnp.asarray(xb), jnp.asarray(yb.astype(np.int32))) for xb, yb in pairs]
    return pairs


@functools.lru_cache(maxsize=1)  # made once per process: every configuration slices it
def synthetic_data(n: int = 20_480) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped random data, identical in every process (fixed seed)."""
    rng = np.random.default_rng(0)
    return rng.random((n, 784)), rng.integers(0, 10, n)


class Segment:
    """One peer on one configuration: build it once, then time whole passes over the same batches."""

    def __init__(self, name: str, arch: list[int], dtype: str, batch: int, samples: int) -> None:
        x64, y = synthetic_data()
        dt = np.dtype(dtype).type
        x = x64[:samples].astype(dt)
        self.samples = samples
        self.train = PEERS[name](arch, dt, init_params(arch, dt))[0]
        self.data = make_batches(x, y[:samples], batch, name)
        self.warmup = self.data[: max(2, min(WARMUP_BATCHES, WARMUP_SAMPLES // batch))]
        start = time.perf_counter()
        self.train(self.warmup)  # warm-up: allocations, first-call costs (JAX: the compilation)
        self.first_warmup_seconds = time.perf_counter() - start

    def run(self) -> float:
        time.sleep(PAUSE)
        # The pause lets other processes' BLAS threads go quiet, but it also leaves this one's caches and
        # branch predictors cold: a few untimed steps first, so the segment measures the steady state.
        self.train(self.warmup)
        start = time.perf_counter()
        self.train(self.data)
        return self.samples / (time.perf_counter() - start)


def build_segments(names: tuple[str, ...], config: tuple, layout_seed: int | None) -> tuple[dict[str, Segment], list]:
    """The peers' segments of one configuration, and the padding arrays to keep alive beside them.

    With a ``layout_seed`` the peers are built in a shuffled order, each after a random number of
    heap allocations. Where a loop's arrays land relative to each other moves its speed by several
    percent, and for a given code and allocation order it lands the same way in every process
    (measured here at batch 128: minigrad / floor 0.89 to 0.93 when minigrad was built first, 0.93
    to 0.97 when the floor was; 0.83 to 1.01 over eight random layouts). Randomising it every round turns that
    fixed luck into spread, which the median over the rounds averages out (the idea of Stabilizer,
    Curtsinger and Berger, ASPLOS 2013). ``None`` keeps the fixed order and no padding.
    """
    if layout_seed is None:
        return {name: Segment(name, *config) for name in names}, []
    rng = np.random.default_rng(layout_seed)
    segments: dict[str, Segment] = {}
    padding: list[np.ndarray] = []
    for i in rng.permutation(len(names)):
        # np.empty touches no memory: this moves where the next arrays land without using any.
        padding += [np.empty(int(n), np.uint8) for n in rng.integers(16, 300_000, rng.integers(1, 12))]
        segments[names[i]] = Segment(names[i], *config)
    return segments, padding


def first_warmups(segments: dict[str, Segment]) -> dict[str, float]:
    return {name: seg.first_warmup_seconds for name, seg in segments.items()}


def worker(conn, names: tuple[str, ...]) -> None:
    """The process of some peers: ``("setup", config, layout_seed)``, ``("run", name)``, ``("stop",)``."""
    # Import the peers' libraries now, while the parent starts the other workers: all import at once.
    if "pytorch" in names:
        import torch  # noqa: F401
    if "jax" in names:
        import_jax()
    segments: dict[str, Segment] = {}
    while True:
        msg = conn.recv()
        if msg[0] == "setup":
            segments, padding = build_segments(names, *msg[1:])  # noqa: F841 (padding: kept alive on purpose)
            conn.send(first_warmups(segments))
        elif msg[0] == "run":
            conn.send(segments[msg[1]].run())
        else:
            return


class InProcess:
    """The same interface as a worker, in this process."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names, self.segments, self.padding = names, {}, []

    def setup(self, config: tuple, layout_seed: int | None) -> dict[str, float]:
        self.segments, self.padding = build_segments(self.names, config, layout_seed)
        return first_warmups(self.segments)

    def run(self, name: str) -> float:
        return self.segments[name].run()

    def stop(self) -> None:
        pass


class Worker:
    def __init__(self, names: tuple[str, ...], target: Callable | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited thread pools
        self.conn, child = ctx.Pipe()
        # target: the worker loop (bench_cnn passes its own, with the same messages)
        self.proc = ctx.Process(target=target or worker, args=(child, names), daemon=True)
        self.proc.start()

    def setup(self, config: tuple, layout_seed: int | None) -> dict[str, float]:
        self.conn.send(("setup", config, layout_seed))
        return self.conn.recv()

    def run(self, name: str) -> float:
        self.conn.send(("run", name))
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send(("stop",))
        self.proc.join(timeout=10)


PROCESS_MODES = ("numpy-shared", "per-peer", "one")


def process_groups(mode: str) -> list[tuple[str, ...]]:
    """Which peers share a process. ``numpy-shared`` (default): minigrad and the NumPy floor in one worker,
    PyTorch in another, JAX in a third; ``per-peer``: a worker each; ``one``: every peer in this process
    (JAX last)."""
    if mode == "one":
        return [tuple(PEERS)]
    if mode == "per-peer":
        return [(name,) for name in PEERS]
    numpy_peers = ("minigrad", "numpy_floor")
    return [numpy_peers] + [(name,) for name in PEERS if name not in numpy_peers]


def same_computation(arch: list[int]) -> dict[str, float]:
    """Four float64 steps from the same init: each peer's max |difference| of the parameters from the floor's."""
    rng = np.random.default_rng(1)
    x, y = rng.random((40, arch[0])), rng.integers(0, arch[-1], 40)
    params = init_params(arch, np.float64, seed=3)
    results = {}
    for name, make in PEERS.items():
        train, weights = make(arch, np.float64, params)
        train(make_batches(x, y, 10, name))
        results[name] = weights()
    ref = results.pop("numpy_floor")
    diffs = {}
    for name, res in results.items():
        if any(a.dtype != np.float64 for a in res):  # not computed in float64: not the same step
            diffs[name] = math.inf
        else:
            diffs[name] = max(float(np.max(np.abs(a - b))) for a, b in zip(res, ref, strict=True))
    return diffs


def check_same_computation(arch: list[int]) -> float:
    """The largest of ``same_computation``: every peer against the floor."""
    return max(same_computation(arch).values())


def run(args) -> dict:
    archs = [[int(a) for a in arch.split(",")] for arch in args.arch]
    configs = []
    for arch in archs:
        for dtype in args.dtype:
            for batch in args.batch:
                samples = args.samples if batch < 128 else args.samples * 2
                configs.append((arch, dtype, batch, min(samples, 20_480) // batch * batch))
    by_peer = {str(a): same_computation(a) for a in archs if a[0] == 784}
    checks = {arch: max(diffs.values()) for arch, diffs in by_peer.items()}
    timings: list[dict[str, list[float]]] = [{name: [] for name in PEERS} for _ in configs]
    warmups: list[dict[str, list[float]]] = [{name: [] for name in PEERS} for _ in configs]
    groups = process_groups(args.processes)
    for r in range(args.rounds):
        # Fresh worker processes every round, and a new random layout (build_segments) for every configuration:
        # where a loop's arrays lie moves its speed by several percent for the life of a process (measured: the
        # floor's step at batch 128 took 187 to 203 us in different processes), and a fixed allocation order
        # would lay them out the same way in every process. Over the rounds the luck averages out.
        hosts = [InProcess(g) if args.processes == "one" else Worker(g) for g in groups]
        host_of = {name: host for host, g in zip(hosts, groups) for name in g}
        try:
            for c, (config, times) in enumerate(zip(configs, timings)):
                seed = None if args.fixed_layout else r * len(configs) + c
                for host in hosts:
                    for name, seconds in host.setup(config, seed).items():
                        warmups[c][name].append(seconds)
                for name in PEERS:  # interleaved: A B C here, again in every round
                    times[name].append(host_of[name].run(name))
        finally:
            for host in hosts:
                host.stop()
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    results = [result_row(*entry) for entry in zip(configs, timings, warmups)]
    for row in results:
        print(summary_line(row), flush=True)
    return {"results": results, "same_computation_max_abs_diff": checks, "same_computation_by_peer": by_peer}


RATIOS = (("numpy_floor", "vs_floor", "floor"), ("pytorch", "vs_pytorch", "PyTorch"), ("jax", "vs_jax", "JAX"))


def result_row(config: tuple, timings: dict[str, list[float]], warmups: dict[str, list[float]] | None = None) -> dict:
    arch, dtype, batch, samples = config
    row = {"arch": arch, "dtype": dtype, "batch": batch, "samples": samples}
    for name, values in timings.items():
        row[name] = {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}
        if warmups and warmups.get(name):  # the untimed first warm-up of each round (JAX: mostly compiling)
            row[name]["first_warmup_seconds_median"] = statistics.median(warmups[name])
    for name, key, _ in RATIOS:
        if name in timings:
            # The median of the per-round ratios (each round's peers ran back to back, on one random layout),
            # the ratio of the medians, of the best segments (the least disturbed), and the per-round spread.
            paired = [m / o for m, o in zip(timings["minigrad"], timings[name])]
            row[key] = {
                "of_medians": row["minigrad"]["median"] / row[name]["median"],
                "of_best": row["minigrad"]["max"] / row[name]["max"],
                "per_round_median": statistics.median(paired),
                "per_round_min": min(paired),
                "per_round_max": max(paired),
            }
    return row


def summary_line(row: dict) -> str:
    parts = [f"{str(row['arch']):<20} {row['dtype']:<8} batch {row['batch']:>5}:"]
    for name in PEERS:
        parts.append(f"{name} {row[name]['median'] / 1e3:8.1f}k/s")
    for _, key, label in RATIOS:
        if key in row:
            parts.append(f"vs {label} {row[key]['per_round_median']:.2f}")
    return "  ".join(parts)


def import_time() -> dict:
    """Seconds to import numpy alone and minigrad (which imports numpy), each in a fresh interpreter."""
    out = {}
    for name, code in (("numpy", "import numpy"), ("minigrad", "import minigrad")):
        best = min(
            float(
                subprocess.run(
                    [sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(5)
        )
        out[name] = best
    return out


def training_memory(epochs: int, options: tuple[str, ...] = ()) -> dict:
    """Peak resident memory of `minigrad train OPTIONS` (real MNIST) in a child process, and the data's size."""
    # VmHWM is the peak resident size of this address space; ru_maxrss would include the
    # parent's size from before exec.
    code = (
        "import sys, minigrad.cli as c; "
        f"rc = c.main(['train', '--epochs', '{epochs}', '--out', sys.argv[1], '--no-progress', *{list(options)!r}]); "
        "print('PEAK', open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, tmp], capture_output=True, text=True)
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    peak_kb = int(proc.stdout.split("PEAK")[-1])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("Epoch")]
    epoch_seconds = [float(ln.rsplit(",", 1)[-1].strip().rstrip(" s")) for ln in lines]
    data_mb = 70_000 * 784 * 4 / 2**20
    return {
        "epochs": epochs,
        "options": list(options),
        "peak_rss_mb": peak_kb / 1024,
        "float32_dataset_mb": data_mb,
        "epoch_seconds": epoch_seconds,
        "wall_seconds": wall,
    }


def environment(processes: str) -> dict:
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": importlib.metadata.version("torch") if torch_available() else None,
        "jax": importlib.metadata.version("jax") if jax_available() else None,
        "jaxlib": importlib.metadata.version("jaxlib") if jax_available() else None,
        "peers": list(PEERS),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "pause_before_segment_s": PAUSE,
        "processes": processes,
        "peers_in": " + ".join("(" + ", ".join(g) + ")" for g in process_groups(processes))
        + (" in this process, in that order" if processes == "one" else ": a worker process each, fresh every round"),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [(d.get("internal_api"), d.get("version"), d.get("architecture")) for d in threadpool_info()]
    except ImportError:
        cfg = np.show_config(mode="dicts")
        info["blas"] = cfg.get("Build Dependencies", {}).get("blas", {}).get("name")
    return info


def markdown(report: dict) -> str:
    names = list(PEERS)
    head = "| arch | dtype | batch | " + " | ".join(f"{n} (samples/s, median [min..max])" for n in names) + " |"
    ratios = [key for name, key, _ in RATIOS if name in names]
    head += "".join(f" minigrad / {label}: per-round median (best) |" for name, _, label in RATIOS if name in names)
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in report["results"]:
        cells = [str(row["arch"]), row["dtype"], str(row["batch"])]
        for n in names:
            r = row[n]
            cells.append(f"{r['median'] / 1e3:,.0f}k [{r['min'] / 1e3:,.0f}..{r['max'] / 1e3:,.0f}]")
        for key in ratios:
            cells.append(f"**{row[key]['per_round_median']:.2f}** ({row[key]['of_best']:.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"\n{peer}: skipped ({why})" for peer, why in report.get("skipped", {}).items()]
    return "\n".join(lines) + "\n"


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and rounds")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--samples", type=int, help="samples per measured segment (x2 at batch >= 128)")
    parser.add_argument(
        "--memory-epochs",
        type=int,
        default=0,
        help="also run `minigrad train` for this many epochs to measure peak memory (0: skip)",
    )
    parser.add_argument("--out", default="runs/bench", help="folder for bench.json and bench.md")
    parser.add_argument(
        "--fixed-layout", action="store_true", help="build the peers in a fixed order, without random heap padding"
    )
    parser.add_argument(
        "--processes",
        choices=PROCESS_MODES,
        default="numpy-shared",
        help="numpy-shared (default): minigrad and the floor share a worker, PyTorch and JAX have one each; "
        "per-peer: a worker each; one: every peer in this process (JAX last)",
    )
    parser.add_argument(
        "--arch", action="append", help="layer sizes, repeatable (default: 784,30,10 and 784,256,256,10)"
    )
    parser.add_argument("--batch", action="append", type=int, help="batch size, repeatable (default: 10 32 128 1024)")
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"], help="repeatable (default: both)")
    parser.add_argument("--no-jax", action="store_true", help="leave out the JAX peer")
    return parser


def skip_peers(args) -> dict[str, str]:
    """Take the peers that cannot or should not run out of ``PEERS``; return why each is missing."""
    skipped = {}
    if not torch_available():
        skipped["pytorch"] = "torch is not importable"
    if getattr(args, "no_jax", False):
        PEERS.pop("jax", None)
        skipped["jax"] = "--no-jax"
    elif not jax_available():
        skipped["jax"] = "jax is not importable"
    return skipped


def main() -> None:
    args = argument_parser().parse_args()
    skipped = skip_peers(args)
    for peer, why in skipped.items():
        print(f"{peer}: skipped ({why})", flush=True)
    args.arch = args.arch or ["784,30,10", "784,256,256,10"]
    args.batch = args.batch or [10, 32, 128, 1024]
    args.dtype = args.dtype or ["float32", "float64"]
    args.rounds = args.rounds or (3 if args.quick else 9)
    args.samples = args.samples or (2_000 if args.quick else 10_000)
    report = {"environment": environment(args.processes), "args": vars(args), "import_seconds": import_time()}
    report["skipped"] = skipped
    print(json.dumps(report["environment"]), flush=True)
    report.update(run(args))
    if args.memory_epochs:
        report["training_memory"] = training_memory(args.memory_epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    md = markdown(report)
    (out / "bench.md").write_text(md)
    print(md)
    diffs = report["same_computation_by_peer"]
    print("same computation (max |param difference| from the floor after 4 float64 steps):", diffs)
    print("import seconds:", report["import_seconds"])
    if "training_memory" in report:
        print("training memory:", report["training_memory"])
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")


if __name__ == "__main__":
    main()
