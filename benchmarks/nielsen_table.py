"""Reproduce the MNIST table of Nielsen's book with ``minigrad train``; print it as Markdown.

    python benchmarks/nielsen_table.py [--seeds 0 1] [--jobs 2] [--out runs/nielsen-table]

Each row is one ``minigrad train`` command (shown in the table), run once per seed.
Nielsen's accuracies are on the 10,000 test images (his ``evaluation_data=test_data``);
we report the test accuracy at the final epoch and at the best epoch, as he does.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROWS = [
    ("Ch. 1: quadratic cost", "--loss quadratic --init normal --lr 3.0", "95.42 % (best epoch)"),
    ("Ch. 1: quadratic cost, 100 hidden", "--arch 784,100,10 --loss quadratic --init normal --lr 3.0", "96.59 %"),
    ("Ch. 3: cross-entropy (sigmoid + BCE)", "--loss sigmoid-bce --init normal --lr 0.5", "95.49 %"),
    ("Ch. 3: cross-entropy, 100 hidden", "--arch 784,100,10 --loss sigmoid-bce --init normal --lr 0.5", "96.82 %"),
    (
        "Ch. 3: + L2 (lambda 5.0), 100 hidden",
        "--arch 784,100,10 --loss sigmoid-bce --init normal --lr 0.5 --l2 5.0",
        "97.92 %",
    ),
    (
        "Ch. 3: + N(0, 1/n_in) init, L2, 100 hidden",
        "--arch 784,100,10 --loss sigmoid-bce --init scaled_normal --lr 0.5 --l2 5.0",
        "98 % (about)",
    ),
    ("Softmax CE, N(0, 1) init (seed's init)", "--loss softmax-ce --init normal --lr 3.0", "-"),
    ("Softmax CE, `minigrad train` defaults", "", "-"),
]


def run(label: str, flags: str, seed: int, out: Path) -> dict:
    folder = out / f"{zlib.crc32(flags.encode()):08x}-seed{seed}"
    # --force: a rerun replaces its earlier folder (minigrad train refuses to overwrite a run otherwise)
    cmd = ["minigrad", "train", *shlex.split(flags), "--seed", str(seed), "--out", str(folder), "--no-progress"]
    cmd.append("--force")
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    hist = json.loads((folder / "history.json").read_text())["history"]
    test = hist["test_accuracy"]
    best = max(range(len(test)), key=test.__getitem__)
    return {
        "label": label,
        "flags": flags,
        "seed": seed,
        "final": test[-1],
        "best": test[best],
        "best_epoch": best + 1,
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="runs/nielsen-table")
    args = parser.parse_args()
    jobs = [(label, flags, seed) for label, flags, _ in ROWS for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda j: run(*j, Path(args.out)), jobs))
    print("| setting | command: `minigrad train ...` | Nielsen | seed | final epoch | best epoch | wall |")
    print("|---|---|---|---|---|---|---|")
    book = {label: ref for label, _, ref in ROWS}
    for r in results:
        print(
            f"| {r['label']} | `{r['flags'] or '(defaults)'}` | {book[r['label']]} | {r['seed']} | "
            f"{r['final']:.2%} | {r['best']:.2%} (epoch {r['best_epoch']}) | {r['wall']:.0f} s |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
