"""Training throughput of Nielsen's chapter-6 CNN: minigrad against PyTorch (CPU) and a plain-NumPy floor.

    python benchmarks/bench_cnn.py            # batch 10 and 64, float32, 5 rounds
    python benchmarks/bench_cnn.py --quick    # fewer samples, 2 rounds
    python benchmarks/bench_cnn.py --profile  # minigrad's step layer by layer (best of 30)
    python benchmarks/bench_cnn.py --threads 1  # every peer on one thread (a machine shared with other jobs)
    python benchmarks/bench_cnn.py --memory-epochs 1  # peak memory of `minigrad train --model cnn`, real MNIST

The network: Conv2d(1, 20, 5) -> ReLU -> MaxPool2d(2) -> Conv2d(20, 40, 5) -> ReLU -> MaxPool2d(2) ->
Flatten -> Linear(640, 100) -> ReLU -> Linear(100, 10), mean softmax cross-entropy, plain SGD (lr ``LR``),
on synthetic MNIST-shaped images (N, 1, 28, 28) (fixed seed). The peers start from the same weights and
compute the same step (checked first: the parameters after four float64 steps agree to ~1e-12):

- **minigrad**: the README's loop, nothing added (``opt.zero_grad()``, ``loss(model(xb), yb)``,
  ``model.backward(loss.backward())``, ``opt.step()``) on a model of public classes;
- **pytorch**: the idiomatic loop, with its default thread count (as NumPy's OpenBLAS, one per core);
- **numpy_floor**: the fastest straightforward NumPy step we could write (``numpy_floor_peer``).

The fairness rules and the machinery are ``bench_train``'s (imported, not copied): minigrad and the floor
share a worker process, PyTorch has its own, fresh workers every round on a random heap layout, the
segments interleaved within a round, a short pause before each; the headline ratio is the median of the
per-round ratios. Writes ``bench_cnn.json`` and ``bench_cnn.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train  # noqa: E402 (the shared machinery: workers, layouts, ratios)

import minigrad as mg  # noqa: E402

LR = 0.03  # Nielsen's rate for ReLU networks
SHAPES = {"conv1": (20, 1, 5, 5), "conv2": (40, 20, 5, 5), "fc1": (100, 640), "fc2": (10, 100)}


def init_params(dtype, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch's default init (U(+-1/sqrt(fan_in)) for weights and biases), from a NumPy generator."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in SHAPES.values():
        bound = 1 / math.sqrt(math.prod(shape[1:]))
        out.append(
            (rng.uniform(-bound, bound, shape).astype(dtype), rng.uniform(-bound, bound, shape[0]).astype(dtype))
        )
    return out


def minigrad_model(dtype, params):
    """The network of public classes with the weights copied in, its loss and its optimizer."""
    model = mg.Sequential(
        mg.Conv2d(1, 20, 5, dtype=dtype),
        mg.ReLU(),
        mg.MaxPool2d(2),
        mg.Conv2d(20, 40, 5, dtype=dtype),
        mg.ReLU(),
        mg.MaxPool2d(2),
        mg.Flatten(),
        mg.Linear(640, 100, dtype=dtype),
        mg.ReLU(),
        mg.Linear(100, 10, dtype=dtype),
    )
    model.load_state_dict(dict(zip((k for k, _ in model.named_parameters()), (a for pair in params for a in pair))))
    return model, mg.SoftmaxCrossEntropy(), mg.SGD(model.parameters(), lr=LR)


def minigrad_peer(dtype, params):
    """The README's loop, exactly, on ``minigrad_model``."""
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


def torch_peer(dtype, params):
    import torch

    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(640, 100), nn.ReLU(), nn.Linear(100, 10),
    ).to(torch.float64 if dtype == np.float64 else torch.float32)  # fmt: skip
    with torch.no_grad():
        for p, a in zip(model.parameters(), (a for pair in params for a in pair)):
            p.copy_(torch.from_numpy(a))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def train(batches):
        for xb, yb in batches:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()

    def weights():
        return [p.detach().numpy() for p in model.parameters()]

    return train, weights


def batch_last_windows(a: np.ndarray, k: int) -> np.ndarray:
    """``v[c, i, j, p, q, n] = a[c, p + i, q + j, n]`` for activations laid out (C, H, W, N): im2col's columns, a view.

    The batch index last, as minigrad's ``kernels.im2col``: at stride 1 the copy of this view, and col2im's
    adds, run over contiguous stretches of ``OW N`` elements."""
    c, h, w, n = a.shape
    s_c, s_h, s_w, s_n = a.strides
    shape, strides = (c, k, k, h - k + 1, w - k + 1, n), (s_c, s_h, s_w, s_h, s_w, s_n)
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)


def max_pool_2x2(z: np.ndarray, out: np.ndarray) -> None:
    """``out = z.reshape(C, H/2, 2, W/2, 2, N).max(axis=(2, 4))`` as three elementwise maxima of strided slices."""
    np.maximum(z[:, 0::2, 0::2], z[:, 0::2, 1::2], out=out)
    np.maximum(out, z[:, 1::2, 0::2], out=out)
    np.maximum(out, z[:, 1::2, 1::2], out=out)


def max_pool_2x2_backward(z: np.ndarray, pooled: np.ndarray, g: np.ndarray, dz: np.ndarray, free: np.ndarray) -> None:
    """``dz``: ``g`` at each window's first maximum (row-major, as PyTorch), 0 elsewhere; ``free`` a bool scratch."""
    free.fill(True)
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
        hit = z[:, i::2, j::2] == pooled
        hit &= free
        free &= ~hit
        np.multiply(g, hit, out=dz[:, i::2, j::2])


def numpy_floor_peer(dtype, params):
    """The fastest straightforward NumPy step we could write, laid out for NumPy rather than for an API.

    Activations stay (C, H, W, N), batch last, from the input's one transposed copy to the pooled
    (40, 4, 4, N), whose transpose the first Linear reads without a copy: no NCHW transposes at all
    (minigrad's layers must take and return NCHW, so its Conv2d copies its input, output and their
    gradients between layouts). Every buffer is preallocated per batch size; both convolutions' columns
    are copied into reused buffers and kept for the weight gradients, and the weight gradients are
    computed transposed (``cols @ g.T``, the faster form for OpenBLAS, as minigrad does); 2x2 max pooling is
    three maxima of strided slices, its backward routes to the first maximum; ReLU's backward is applied
    to the pooled gradient (a pooled value is positive exactly where its argmax is); the first layer
    computes no input gradient; all parameters live in one flat buffer (one SGD update, as minigrad's
    fused SGD); scalars are 0-d arrays of the dtype. It computes the loss value, as the other peers do,
    and checks nothing.
    """
    shapes = [a.shape for pair in params for a in pair]
    sizes = [a.size for pair in params for a in pair]
    flat = np.concatenate([a.ravel() for pair in params for a in pair]).astype(dtype)
    gflat, step = np.zeros_like(flat), np.empty_like(flat)
    ends = np.cumsum(sizes)
    w1, b1, w2, b2, w3, b3, w4, b4 = (flat[e - s : e].reshape(sh) for s, e, sh in zip(sizes, ends, shapes))
    gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4 = (gflat[e - s : e].reshape(sh) for s, e, sh in zip(sizes, ends, shapes))
    lr, tiny = np.array(LR, dtype), float(np.finfo(dtype).tiny)
    last_loss = [0.0]

    @functools.cache
    def bufs(n):
        e = functools.partial(np.empty, dtype=dtype)
        return {
            "x": e((1, 28, 28, n)), "cols1": e((1, 5, 5, 24, 24, n)), "z1": e((20, 24, 24, n)),
            "p1": e((20, 12, 12, n)), "cols2": e((20, 5, 5, 8, 8, n)), "z2": e((40, 8, 8, n)),
            "p2": e((40, 4, 4, n)), "dz1": e((20, 24, 24, n)), "dz2": e((40, 8, 8, n)), "dp1": e((20, 12, 12, n)),
            "free1": np.empty((20, 12, 12, n), bool), "free2": np.empty((40, 4, 4, n), bool),
            "rows": np.arange(0, n * 10, 10), "inv_n": np.array(1.0 / n, dtype),
        }  # fmt: skip

    def train(batches):
        for xb, yb in batches:
            n = len(xb)
            b = bufs(n)
            z1, p1, z2, p2, cols1, cols2 = b["z1"], b["p1"], b["z2"], b["p2"], b["cols1"], b["cols2"]
            np.copyto(b["x"], xb.transpose(1, 2, 3, 0))
            np.copyto(cols1, batch_last_windows(b["x"], 5))  # (25, 576 N)
            np.matmul(w1.reshape(20, 25), cols1.reshape(25, -1), out=z1.reshape(20, -1))
            z1 += b1[:, None, None, None]
            np.maximum(z1, 0, out=z1)
            max_pool_2x2(z1, p1)
            np.copyto(cols2, batch_last_windows(p1, 5))  # (500, 64 N)
            np.matmul(w2.reshape(40, 500), cols2.reshape(500, -1), out=z2.reshape(40, -1))
            z2 += b2[:, None, None, None]
            np.maximum(z2, 0, out=z2)
            max_pool_2x2(z2, p2)
            a3 = p2.reshape(640, n).T  # Flatten of NCHW: (c, h, w) order, a view
            h3 = a3 @ w3.T
            h3 += b3
            np.maximum(h3, 0, out=h3)
            z = h3 @ w4.T
            z += b4
            z -= z.ravel()[b["rows"] + z.argmax(axis=1)][:, None]  # softmax, the row max at the argmax
            np.exp(z, out=z)
            z /= np.add.reduce(z, axis=1, keepdims=True)
            target = b["rows"] + yb
            picked = z.ravel()[target]
            prod = float(np.multiply.reduce(picked))
            last_loss[0] = -math.log(prod) / n if prod >= tiny else float(-np.log(picked).mean())
            z.ravel()[target] -= 1
            z *= b["inv_n"]  # dL/dlogits
            np.matmul(z.T, h3, out=gw4)
            np.add.reduce(z, axis=0, out=gb4)
            d3 = z @ w4
            d3 *= h3 > 0
            np.matmul(d3.T, a3, out=gw3)
            np.add.reduce(d3, axis=0, out=gb3)
            dp2 = (w3.T @ d3.T).reshape(40, 4, 4, n)
            dp2 *= p2 > 0  # ReLU's backward on the pooled gradient
            dz2 = b["dz2"]
            max_pool_2x2_backward(z2, p2, dp2, dz2, b["free2"])
            np.copyto(gw2.reshape(40, 500), (cols2.reshape(500, -1) @ dz2.reshape(40, -1).T).T)
            np.add.reduce(dz2.reshape(40, -1), axis=1, out=gb2)
            dcols2 = (w2.reshape(40, 500).T @ dz2.reshape(40, -1)).reshape(20, 5, 5, 8, 8, n)
            dp1 = b["dp1"]
            dp1.fill(0)
            for i in range(5):  # col2im: one strided add per kernel offset, runs of 8 N contiguous elements
                for j in range(5):
                    dp1[:, i : i + 8, j : j + 8] += dcols2[:, i, j]
            dp1 *= p1 > 0
            dz1 = b["dz1"]
            max_pool_2x2_backward(z1, p1, dp1, dz1, b["free1"])
            np.copyto(gw1.reshape(20, 25), (cols1.reshape(25, -1) @ dz1.reshape(20, -1).T).T)
            np.add.reduce(dz1.reshape(20, -1), axis=1, out=gb1)
            np.multiply(gflat, lr, out=step)
            np.subtract(flat, step, out=flat)

    def weights():
        return [w1, b1, w2, b2, w3, b3, w4, b4]

    return train, weights


PEERS = {"minigrad": minigrad_peer, "numpy_floor": numpy_floor_peer}
if bench_train.torch_available():
    PEERS["pytorch"] = torch_peer


@functools.lru_cache(maxsize=1)
def synthetic_images(n: int = 4_096) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 28, 28)), rng.integers(0, 10, n)


def make_batches(x, y, batch, peer):
    pairs = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x) - batch + 1, batch)]
    if peer == "pytorch":
        import torch

        return [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in pairs]
    return pairs


class Segment(bench_train.Segment):
    """bench_train's segment (the same warm-up and timing) on this benchmark's peers and images."""

    def __init__(self, name: str, arch: str, dtype: str, batch: int, samples: int) -> None:
        x64, y = synthetic_images()
        dt = np.dtype(dtype).type
        self.samples = samples
        self.train = PEERS[name](dt, init_params(dt))[0]
        self.data = make_batches(x64[:samples].astype(dt), y[:samples], batch, name)
        self.warmup = self.data[: max(2, min(bench_train.WARMUP_BATCHES, 640 // batch))]
        start = time.perf_counter()
        self.train(self.warmup)
        self.first_warmup_seconds = time.perf_counter() - start


@contextlib.contextmanager
def own_peers():
    """bench_train's machinery (build_segments, process_groups, worker) on this benchmark's peers and segments."""
    saved = bench_train.PEERS, bench_train.Segment
    bench_train.PEERS, bench_train.Segment = PEERS, Segment
    try:
        yield
    finally:
        bench_train.PEERS, bench_train.Segment = saved


def worker(conn, names):
    threads = os.environ.get("BENCH_CNN_THREADS")
    if threads and "pytorch" in names:
        import torch

        torch.set_num_threads(int(threads))
    with own_peers():
        bench_train.worker(conn, names)


def same_computation() -> dict[str, float]:
    """Four float64 steps of batch 10 from the same init: each peer's max |parameter difference| from the floor."""
    rng = np.random.default_rng(1)
    x, y = rng.random((40, 1, 28, 28)), rng.integers(0, 10, 40)
    results = {}
    for name, make in PEERS.items():
        train, weights = make(np.float64, init_params(np.float64, seed=3))
        train(make_batches(x, y, 10, name))
        results[name] = [np.asarray(a) for a in weights()]
    ref = results.pop("numpy_floor")
    return {
        name: max(float(np.max(np.abs(a - b))) if a.dtype == np.float64 else math.inf for a, b in zip(res, ref))
        for name, res in results.items()
    }


def run(args) -> dict:
    with own_peers():
        return _run(args)


def _run(args) -> dict:
    configs = [("cnn", args.dtype, batch, args.samples // batch * batch) for batch in args.batch]
    diffs = same_computation()
    timings = [{name: [] for name in PEERS} for _ in configs]
    groups = bench_train.process_groups("one" if args.in_process else "numpy-shared")
    for r in range(args.rounds):
        hosts = [bench_train.InProcess(g) if args.in_process else bench_train.Worker(g, worker) for g in groups]
        host_of = {name: host for host, g in zip(hosts, groups) for name in g}
        try:
            for c, config in enumerate(configs):
                for host in hosts:
                    host.setup(config, r * len(configs) + c)
                for name in PEERS:
                    timings[c][name].append(host_of[name].run(name))
        finally:
            for host in hosts:
                host.stop()
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    rows = [bench_train.result_row(config, t) for config, t in zip(configs, timings)]
    return {"results": rows, "same_computation_max_abs_diff": diffs, "peers": list(PEERS)}


def profile_layers(batch: int, dtype=np.float32, repeats: int = 30) -> list[tuple[str, float]]:
    """Where minigrad's step goes: the best time (seconds) of every layer's forward and backward, the loss
    and the SGD step, each over ``repeats`` steps of the README's loop written out layer by layer."""
    train_x, train_y = synthetic_images()
    xb, yb = train_x[:batch].astype(dtype), train_y[:batch]
    net, loss, opt = minigrad_model(dtype, init_params(dtype))
    best: dict[str, float] = {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        best[name] = min(best.get(name, math.inf), time.perf_counter() - start)
        return out

    layers = list(net.children())
    for _ in range(repeats):
        opt.zero_grad()
        a = xb
        for i, layer in enumerate(layers):
            a = timed(f"forward  {i} {layer!r}", layer.forward, a)
        timed("loss forward + backward", lambda z: (loss(z, yb), loss.backward())[1], a)
        g = loss.backward()
        for i in range(len(layers) - 1, -1, -1):
            layers[i].needs_input_grad = i > 0  # as Sequential.backward sets it
            g = timed(f"backward {i} {layers[i]!r}", layers[i].backward, g)
        timed("SGD step", opt.step)
    return sorted(best.items(), key=lambda kv: -kv[1])


def markdown(report: dict) -> str:
    names = report["peers"]
    ratios = [(key, label) for name, key, label in bench_train.RATIOS if name in names]
    head = "| dtype | batch | " + " | ".join(f"{n} (samples/s, median [min..max])" for n in names) + " |"
    head += "".join(f" minigrad / {label}: per-round median [min..max] |" for _, label in ratios)
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in report["results"]:
        cells = [row["dtype"], str(row["batch"])]
        cells += [f"{row[n]['median']:,.0f} [{row[n]['min']:,.0f}..{row[n]['max']:,.0f}]" for n in names]
        for key, _ in ratios:
            r = row[key]
            cells.append(f"**{r['per_round_median']:.2f}** [{r['per_round_min']:.2f}..{r['per_round_max']:.2f}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and rounds")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--samples", type=int, help="samples per measured segment")
    parser.add_argument("--batch", action="append", type=int, help="repeatable (default: 10 and 64)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--in-process", action="store_true", help="every peer in this process (for tests)")
    parser.add_argument(
        "--threads",
        type=int,
        help="BLAS / PyTorch threads of every worker (default: the libraries' own, one per core); "
        "1 keeps a machine shared with other jobs from descheduling one half of every GEMM",
    )
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--profile", action="store_true", help="only time minigrad's layers, one by one")
    parser.add_argument(
        "--memory-epochs",
        type=int,
        default=0,
        help="only measure the peak memory of `minigrad train --model cnn --batch-size 50` for this many epochs",
    )
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = argument_parser().parse_args(argv)
    if args.threads:  # read by the workers' NumPy (OpenBLAS) when it loads, and by worker() for PyTorch
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BENCH_CNN_THREADS"):
            os.environ[var] = str(args.threads)
    args.batch = args.batch or [10, 64]
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.samples = args.samples or (640 if args.quick else 2_560)
    if args.memory_epochs:  # the whole of real training: data, activations of a batch, checkpoints
        memory = bench_train.training_memory(args.memory_epochs, ("--model", "cnn", "--batch-size", "50"))
        print("training memory:", memory)
        return {"training_memory": memory}
    if args.profile:
        for batch in args.batch:
            parts = profile_layers(batch)
            total = sum(t for _, t in parts)
            print(f"batch {batch}: the parts' best times add up to {total * 1e3:.1f} ms a step")
            for name, t in parts:
                print(f"  {t * 1e6:8.0f} us {t / total:6.1%}  {name}")
        return {}
    report = {"environment": bench_train.environment("numpy-shared"), "args": vars(args)}
    report["environment"]["peers"] = list(PEERS)
    report.update(run(args))
    md = markdown(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_cnn.json").write_text(json.dumps(report, indent=1))
    (out / "bench_cnn.md").write_text(md)
    print(md)
    print("same computation (max |param difference| from the floor after 4 float64 steps):", report[
        "same_computation_max_abs_diff"])  # fmt: skip
    return report


if __name__ == "__main__":
    main()
