"""Write small idx files (the MNIST format) for tests: big-endian header, then the raw bytes."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_dataset(folder: Path, n_train: int = 120, n_test: int = 40, gz: bool = True, seed: int = 0) -> dict:
    """A learnable MNIST-shaped data set: class k lights up row block k of a 28x28 image, plus noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 250
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte" + (".gz" if gz else "")
            data = idx_bytes(arr)
            (folder / name).write_bytes(gzip.compress(data) if gz else data)
        out[split] = (images, labels)
    return out
