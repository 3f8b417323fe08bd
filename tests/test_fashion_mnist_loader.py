"""Tests of libslide.datasets.load_fashion_mnist on tiny synthetic IDX files (the real data set is not needed)."""

import gzip
import struct

import numpy as np
import pytest

from libslide import FormatError, datasets


def idx_bytes(arr, magic_type=0x08):
    """An IDX file of unsigned bytes: magic 00 00 <type> <ndim>, big-endian uint32 dims, then the data."""
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, magic_type, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_split(directory, kind, images, labels, gz):
    for stem, arr in ((f"{kind}-images-idx3-ubyte", images), (f"{kind}-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (directory / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)


def make_dir(tmp_path, gz, n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    tr_img = rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8)
    te_img = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    tr_img[0, 0, 0], tr_img[0, 0, 1] = 0, 255  # both ends of the pixel range
    tr_lab = rng.integers(0, 10, size=n_train, dtype=np.uint8)
    te_lab = rng.integers(0, 10, size=n_test, dtype=np.uint8)
    write_split(tmp_path, "train", tr_img, tr_lab, gz)
    write_split(tmp_path, "t10k", te_img, te_lab, gz)
    return tr_img, tr_lab, te_img, te_lab


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_reads_synthetic_idx(tmp_path, gz):
    tr_img, tr_lab, te_img, te_lab = make_dir(tmp_path, gz)
    X, y, Xt, yt = datasets.load_fashion_mnist(tmp_path)
    assert X.shape == (5, 784) and Xt.shape == (3, 784)
    assert X.dtype == np.float32 and Xt.dtype == np.float32
    assert y.dtype == np.int64 and yt.dtype == np.int64
    assert X.flags.c_contiguous and X.flags.writeable
    np.testing.assert_array_equal(X, tr_img.reshape(5, 784) / np.float32(255))
    np.testing.assert_array_equal(Xt, te_img.reshape(3, 784) / np.float32(255))
    assert X[0, 0] == 0.0 and X[0, 1] == 1.0
    assert 0.0 <= X.min() and X.max() <= 1.0
    np.testing.assert_array_equal(y, tr_lab)
    np.testing.assert_array_equal(yt, te_lab)


def test_path_accepts_str(tmp_path):
    make_dir(tmp_path, gz=True)
    X, _, _, _ = datasets.load_fashion_mnist(str(tmp_path))
    assert X.shape == (5, 784)


def test_default_path_is_debian_location():
    assert datasets.FASHION_MNIST_DIR == "/usr/share/datasets/fashion-mnist"
    assert "load_fashion_mnist" in datasets.__all__


def test_missing_directory(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        datasets.load_fashion_mnist(missing)
    msg = str(e.value)
    assert str(missing) in msg
    assert "install the Debian package dataset-fashion-mnist" in msg


def test_missing_file(tmp_path):
    make_dir(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte.*dataset-fashion-mnist"):
        datasets.load_fashion_mnist(tmp_path)


def test_bad_magic(tmp_path):
    make_dir(tmp_path, gz=False)
    bad = tmp_path / "train-labels-idx1-ubyte"
    bad.write_bytes(idx_bytes(np.zeros(5, np.uint8), magic_type=0x0D))  # float32 type code
    with pytest.raises(FormatError, match=r"train-labels-idx1-ubyte: bad IDX magic.*dataset-fashion-mnist"):
        datasets.load_fashion_mnist(tmp_path)


def test_truncated_file(tmp_path):
    make_dir(tmp_path, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-7]))
    with pytest.raises(FormatError, match=r"train-images-idx3-ubyte\.gz: header says shape \(5, 28, 28\)"):
        datasets.load_fashion_mnist(tmp_path)


def test_corrupt_gzip(tmp_path):
    make_dir(tmp_path, gz=True)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(FormatError, match=r"t10k-images-idx3-ubyte\.gz: corrupt gzip"):
        datasets.load_fashion_mnist(tmp_path)


def test_count_mismatch_and_bad_label(tmp_path):
    make_dir(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(FormatError, match=r"5 images but .*4 labels"):
        datasets.load_fashion_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([0, 1, 2, 3, 10], np.uint8)))
    with pytest.raises(FormatError, match=r"label 10 is outside"):
        datasets.load_fashion_mnist(tmp_path)


def test_wrong_image_size(tmp_path):
    make_dir(tmp_path, gz=False)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 14, 14), np.uint8)))
    with pytest.raises(FormatError, match=r"14x14 pixels, expected 28x28"):
        datasets.load_fashion_mnist(tmp_path)
