"""Tests of libslide.datasets (synthetic extreme multi-label data)."""

import numpy as np
import pytest
import scipy.sparse as sp

from libslide import InvalidArgumentError, datasets

SMALL = dict(n_train=5000, n_test=1000, n_features=2000, n_labels=500,
             nnz_per_row=40, labels_per_row=(1, 5), signal_features=30, seed=0)
TINY = dict(n_train=300, n_test=100, n_features=500, n_labels=50,
            nnz_per_row=20, signal_features=10, seed=3)


@pytest.fixture(scope="module")
def small():
    return datasets.make_extreme(**SMALL)


def _rows_strictly_increasing(m):
    """True when every row's column ids are sorted and unique."""
    if m.nnz < 2:
        return True
    d = np.diff(m.indices.astype(np.int64))
    starts = m.indptr[1:-1]
    inside = np.ones(m.nnz - 1, dtype=bool)
    inside[starts[(starts > 0) & (starts < m.nnz)] - 1] = False  # row boundaries
    return bool((d[inside] > 0).all())


def _check_x(X, n, n_features, nnz_per_row):
    assert sp.issparse(X) and X.format == "csr"
    assert X.shape == (n, n_features)
    assert X.dtype == np.float32
    assert X.indices.dtype == np.int32
    assert X.indptr.dtype == np.int32
    assert X.indices.min() >= 0 and X.indices.max() < n_features
    assert _rows_strictly_increasing(X)
    assert X.has_sorted_indices
    assert (X.data > 0).all()
    row_nnz = np.diff(X.indptr)
    assert row_nnz.min() >= 1 and row_nnz.max() <= nnz_per_row
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
    np.testing.assert_allclose(norms, 1.0, rtol=0, atol=1e-5)


def _check_y(Y, n, n_labels, lo, hi):
    assert sp.issparse(Y) and Y.format == "csr"
    assert Y.shape == (n, n_labels)
    assert Y.dtype == np.float32
    assert Y.indices.dtype == np.int32
    assert Y.indptr.dtype == np.int32
    assert (Y.data == 1.0).all()
    assert Y.indices.min() >= 0 and Y.indices.max() < n_labels
    assert _rows_strictly_increasing(Y)
    per_row = np.diff(Y.indptr)
    assert per_row.min() >= lo and per_row.max() <= hi


def test_formats(small):
    Xtr, Ytr, Xte, Yte = small
    _check_x(Xtr, SMALL["n_train"], SMALL["n_features"], SMALL["nnz_per_row"])
    _check_x(Xte, SMALL["n_test"], SMALL["n_features"], SMALL["nnz_per_row"])
    _check_y(Ytr, SMALL["n_train"], SMALL["n_labels"], 1, 5)
    _check_y(Yte, SMALL["n_test"], SMALL["n_labels"], 1, 5)


def test_nnz_per_row_close_to_target(small):
    Xtr, _, Xte, _ = small
    for X in (Xtr, Xte):
        mean = X.nnz / X.shape[0]
        # Repeated ids (noise hitting signal, shared prototype ids) are summed,
        # so the mean is a little below the target, never above it.
        assert 0.93 * SMALL["nnz_per_row"] <= mean <= SMALL["nnz_per_row"]


def test_labels_per_row_range_and_spread(small):
    _, Ytr, _, _ = small
    per_row = np.diff(Ytr.indptr)
    counts = np.bincount(per_row, minlength=6)
    assert counts[0] == 0
    assert (counts[1:6] > 0.15 * Ytr.shape[0]).all()  # uniform on 1..5
    assert abs(per_row.mean() - 3.0) < 0.1

    for lpr, lo, hi in (((2, 4), 2, 4), ((3, 3), 3, 3), (2, 2, 2)):
        _, Y, _, Yt = datasets.make_extreme(**{**TINY, "labels_per_row": lpr})
        for m in (Y, Yt):
            _check_y(m, m.shape[0], TINY["n_labels"], lo, hi)
        assert set(np.unique(np.diff(Y.indptr))) == set(range(lo, hi + 1))


def test_all_labels_when_max_equals_n_labels():
    # Sampling without replacement must work even when every label is taken
    # and the Zipf law is extremely skewed.
    _, Y, _, _ = datasets.make_extreme(
        n_train=500, n_test=10, n_features=100, n_labels=5, nnz_per_row=10,
        labels_per_row=(5, 5), label_power=10.0, signal_features=5, seed=1)
    assert (Y.indices.reshape(-1, 5) == np.arange(5)).all()


def test_label_frequencies_power_law(small):
    _, Ytr, _, _ = small
    freq = np.asarray(Ytr.sum(axis=0)).ravel()
    assert int(np.argmax(freq)) == 0  # label 0 is the most frequent (documented)
    assert freq[0] > 20 * np.median(freq)
    # Frequency decreases with the label id on average.
    assert freq[:10].mean() > 5 * freq[50:100].mean() > 5 * freq[400:].mean()

    _, Yu, _, _ = datasets.make_extreme(**{**SMALL, "label_power": 0.0})
    fu = np.asarray(Yu.sum(axis=0)).ravel()
    assert fu.max() < 2.5 * np.median(fu)  # uniform labels


def test_deterministic_by_seed():
    a = datasets.make_extreme(**TINY)
    b = datasets.make_extreme(**TINY)
    c = datasets.make_extreme(**{**TINY, "seed": TINY["seed"] + 1})
    for ma, mb, mc in zip(a, b, c):
        np.testing.assert_array_equal(ma.indptr, mb.indptr)
        np.testing.assert_array_equal(ma.indices, mb.indices)
        np.testing.assert_array_equal(ma.data, mb.data)
        assert (ma != mc).nnz > 0
    # Train and test are different draws.
    n = min(TINY["n_train"], TINY["n_test"])
    assert (a[0][:n] != a[2][:n]).nnz > 0


def test_train_independent_of_test_size():
    a = datasets.make_extreme(**TINY)
    b = datasets.make_extreme(**{**TINY, "n_test": 7})
    for ma, mb in ((a[0], b[0]), (a[1], b[1])):
        assert (ma != mb).nnz == 0
    assert b[2].shape == (7, TINY["n_features"])


def _centroid_p1(Xtr, Ytr, Xte, Yte):
    """P@1 of a nearest-label-centroid classifier (cosine), fully vectorised."""
    C = (Ytr.T @ Xtr).tocsr().astype(np.float64)  # labels x features
    norms = np.sqrt(np.asarray(C.multiply(C).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    C = sp.diags(1.0 / norms) @ C
    scores = (Xte @ C.T).toarray()
    top = scores.argmax(axis=1)
    p1 = np.asarray(Yte[np.arange(Yte.shape[0]), top]).mean()
    freq = np.asarray(Ytr.sum(axis=0)).ravel()
    baseline = np.asarray(Yte[:, int(freq.argmax())].toarray()).mean()
    return float(p1), float(baseline)


def test_learnable(small):
    p1, baseline = _centroid_p1(*small)
    assert baseline < 0.5
    assert p1 > 0.85
    assert p1 > 2 * baseline


def test_noise_makes_it_harder():
    easy = datasets.make_extreme(**{**SMALL, "n_train": 2000, "n_test": 500, "noise": 0.1})
    hard = datasets.make_extreme(**{**SMALL, "n_train": 2000, "n_test": 500, "noise": 0.8})
    assert _centroid_p1(*easy)[0] > _centroid_p1(*hard)[0] + 0.2


def test_amazon670k_shape_small():
    Xtr, Ytr, Xte, Yte = datasets.amazon670k_shape(n_train=200, n_test=50, seed=0)
    _check_x(Xtr, 200, 135_909, 75)
    _check_x(Xte, 50, 135_909, 75)
    _check_y(Ytr, 200, 670_091, 1, 5)
    _check_y(Yte, 50, 670_091, 1, 5)
    assert Xtr.nnz / 200 > 74


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_train=0), "n_train"),
    (dict(n_test=-1), "n_test"),
    (dict(n_train=10.5), "n_train"),
    (dict(n_train=True), "n_train"),
    (dict(n_features=0), "n_features"),
    (dict(n_labels=0), "n_labels"),
    (dict(nnz_per_row=0), "nnz_per_row"),
    (dict(nnz_per_row=501), "nnz_per_row"),
    (dict(signal_features=0), "signal_features"),
    (dict(signal_features=501), "signal_features"),
    (dict(labels_per_row=(0, 3)), "labels_per_row"),
    (dict(labels_per_row=(4, 2)), "labels_per_row"),
    (dict(labels_per_row=(1, 51)), "labels_per_row"),
    (dict(labels_per_row=(1, 2, 3)), "labels_per_row"),
    (dict(labels_per_row="ab"), "labels_per_row"),
    (dict(labels_per_row=0), "labels_per_row"),
    (dict(label_power=-0.5), "label_power"),
    (dict(label_power=float("nan")), "label_power"),
    (dict(noise=-0.1), "noise"),
    (dict(noise=1.5), "noise"),
    (dict(seed=-1), "seed"),
    (dict(seed="x"), "seed"),
])
def test_argument_validation(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match) as err:
        datasets.make_extreme(**{**TINY, **kwargs})
    assert isinstance(err.value, ValueError)  # the package's one validator family, still a ValueError
