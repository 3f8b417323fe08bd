"""Tests of the realistic mode of libslide.datasets.make_extreme / amazon670k_shape (fast: a few seconds)."""

import numpy as np
import pytest
import scipy.sparse as sp

from libslide import InvalidArgumentError, datasets
from libslide.datasets import Realism

# Amazon-670K's per-label statistics (1-10 true labels per row, Zipf 0.55, ~4 training points per
# label) on a small problem.
SHAPE = dict(n_train=3000, n_test=1500, n_features=3000, n_labels=4000, nnz_per_row=75,
             labels_per_row=(1, 10), label_power=0.55, noise=0.3, signal_features=30, seed=0)


@pytest.fixture(scope="module")
def realistic():
    return datasets.make_extreme(**SHAPE, realistic=True)


def _check_format(X, Y, n, n_features, n_labels, max_labels):
    for m in (X, Y):
        assert sp.issparse(m) and m.format == "csr" and m.dtype == np.float32
        assert m.indices.dtype == np.int32 and m.indptr.dtype == np.int32
        assert m.has_sorted_indices
        d = np.diff(m.indices.astype(np.int64))
        inside = np.ones(m.nnz - 1, dtype=bool)
        inside[m.indptr[1:-1] - 1] = False
        assert (d[inside] > 0).all()  # sorted, unique within a row
    assert X.shape == (n, n_features) and Y.shape == (n, n_labels)
    assert (X.data > 0).all()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    assert (Y.data == 1.0).all()
    per_row = np.diff(Y.indptr)
    assert per_row.min() >= 1 and per_row.max() <= max_labels


def _same(a, b):
    return all(x.shape == y.shape and np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
               and np.array_equal(x.data, y.data) for x, y in zip(a, b))


def _centroid_p1(Xtr, Ytr, Xte, Yte):
    """P@1 of nearest label centroid (sum of the label's training rows, cosine), as in make_extreme's docstring."""
    C = (Ytr.T @ Xtr).tocsr().astype(np.float64)
    norms = np.sqrt(np.asarray(C.multiply(C).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    top = (Xte @ (sp.diags(1.0 / norms) @ C).T).toarray().argmax(axis=1)
    return float(np.asarray(Yte[np.arange(Yte.shape[0]), top]).mean())


def test_format(realistic):
    Xtr, Ytr, Xte, Yte = realistic
    _check_format(Xtr, Ytr, SHAPE["n_train"], SHAPE["n_features"], SHAPE["n_labels"], 20)
    _check_format(Xte, Yte, SHAPE["n_test"], SHAPE["n_features"], SHAPE["n_labels"], 20)
    # Features repeated within a row are summed: a little below the 75 candidates, never above.
    assert 60 <= Xtr.nnz / Xtr.shape[0] <= 75


def test_deterministic_for_a_seed(realistic):
    again = datasets.make_extreme(**SHAPE, realistic=Realism())  # True means the default Realism
    assert _same(realistic, again)
    other = datasets.make_extreme(**{**SHAPE, "seed": 1}, realistic=True)
    assert not np.array_equal(other[0].indices, realistic[0].indices)
    assert not np.array_equal(other[1].indices, realistic[1].indices)


def test_default_mode_unchanged():
    small = dict(n_train=300, n_test=100, n_features=500, n_labels=50, nnz_per_row=20, signal_features=10, seed=3)
    base = datasets.make_extreme(**small)
    assert _same(base, datasets.make_extreme(**small, realistic=False))
    assert _same(base, datasets.make_extreme(**small, realistic=None))
    assert not np.array_equal(base[1].indices, datasets.make_extreme(**small, realistic=True)[1].indices)


def test_label_statistics(realistic):
    """Amazon-670K-like: ~5.5 labels per row, ~4 points per label, median label a handful of points."""
    _, Ytr, _, _ = realistic
    counts = np.bincount(Ytr.indices, minlength=Ytr.shape[1])
    assert 5.0 <= Ytr.nnz / Ytr.shape[0] <= 6.0
    assert 1 <= np.median(counts) <= 5
    assert np.mean((counts >= 1) & (counts <= 5)) > 0.6  # the long tail: most labels have 1-5 points
    assert np.mean(counts == 0) < 0.15
    assert counts.max() / Ytr.shape[0] < 0.05  # the most frequent label is on few rows


def test_label_noise_rates():
    """Label noise has its own random stream: X and the true labels do not depend on missing/spurious,
    so comparing with a noise-free draw gives the exact missing and spurious rates."""
    kw = dict(SHAPE, n_train=4000, n_test=10)
    clean = datasets.make_extreme(**kw, realistic=Realism(missing=0.0, spurious=0.0))
    noisy = datasets.make_extreme(**kw, realistic=Realism(missing=0.2, spurious=0.3))
    assert _same(clean[:1], noisy[:1])  # X_train identical
    Yc, Yn = clean[1], noisy[1]
    kept = Yc.multiply(Yn).nnz  # true labels still present
    missing_rate = 1 - kept / Yc.nnz
    spurious_rate = (Yn.nnz - kept) / Yc.nnz  # added labels per true label
    # A row keeps its first label when all would go missing, and a spurious label equal to a kept
    # one is not added twice: both pull the observed rates slightly below the nominal ones.
    assert 0.17 <= missing_rate <= 0.205
    assert 0.27 <= spurious_rate <= 0.305


def test_labels_cooccur_and_share_features():
    """Labels of a row mostly come from one topic, whose labels share prototype features: the
    centroids of co-occurring labels are far more alike than those of random label pairs."""
    Xtr, Ytr, _, _ = datasets.make_extreme(**dict(SHAPE, n_train=6000, n_test=10),
                                           realistic=Realism(missing=0.0, spurious=0.0, coherence=1.0))
    C = (Ytr.T @ Xtr).tocsr().astype(np.float64)
    norms = np.sqrt(np.asarray(C.multiply(C).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    C = sp.diags(1.0 / norms) @ C
    pairs = [(Ytr.indices[Ytr.indptr[i]], Ytr.indices[Ytr.indptr[i] + 1])
             for i in range(Ytr.shape[0]) if Ytr.indptr[i + 1] - Ytr.indptr[i] >= 2][:2000]
    a, b = np.array(pairs).T
    co = np.asarray(C[a].multiply(C[b]).sum(axis=1)).ravel().mean()
    rng = np.random.default_rng(0)
    seen = np.flatnonzero(np.diff(C.indptr) > 0)
    ra, rb = rng.choice(seen, 2000), rng.choice(seen, 2000)
    rand = np.asarray(C[ra].multiply(C[rb]).sum(axis=1)).ravel().mean()
    assert co > 0.3 and co > 5 * rand


def test_harder_than_default_mode(realistic):
    easy = _centroid_p1(*datasets.make_extreme(**SHAPE))
    hard = _centroid_p1(*realistic)
    assert easy > 0.8
    assert hard < easy - 0.3


def test_amazon670k_shape_realistic_scaled():
    Xtr, Ytr, Xte, Yte = datasets.amazon670k_shape(n_test=200, realistic=True, scale=0.01)
    assert Xtr.shape == (4904, 1359) and Ytr.shape == (4904, 6701)  # 490,449 / 135,909 / 670,091 x 0.01
    assert Xte.shape == (200, 1359) and Yte.shape == (200, 6701)
    assert 5.0 <= Ytr.nnz / Ytr.shape[0] <= 6.0
    assert 3.5 <= Ytr.nnz / Ytr.shape[1] <= 4.5  # 4.0 training points per label, like the real set
    # Default mode, scale 1: the unchanged historical problem.
    a = datasets.amazon670k_shape(n_train=200, n_test=50, seed=0)
    b = datasets.make_extreme(n_train=200, n_test=50, n_features=135_909, n_labels=670_091, nnz_per_row=75,
                              labels_per_row=(1, 5), label_power=1.0, noise=0.3, signal_features=30, seed=0)
    assert _same(a, b)


@pytest.mark.parametrize("realistic, match", [
    ("yes", "realistic"),
    (1, "realistic"),
])
def test_bad_realistic_argument(realistic, match):
    with pytest.raises(InvalidArgumentError, match=match):
        datasets.make_extreme(n_train=10, n_test=10, n_features=50, n_labels=20, nnz_per_row=5,
                              signal_features=5, realistic=realistic)


@pytest.mark.parametrize("kwargs, match", [
    (dict(labels_per_topic=0), "labels_per_topic"),
    (dict(topic_features=2.5), "topic_features"),
    (dict(topic_share=1.5), "topic_share"),
    (dict(topic_noise=-0.1), "topic_noise"),
    (dict(coherence=float("nan")), "coherence"),
    (dict(missing=2), "missing"),
    (dict(spurious=-1), "spurious"),
])
def test_bad_realism_fields(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        Realism(**kwargs)


@pytest.mark.parametrize("scale", [0, -0.5, 1.5])
def test_bad_scale(scale):
    with pytest.raises(InvalidArgumentError, match="scale"):
        datasets.amazon670k_shape(n_train=10, n_test=10, scale=scale)
