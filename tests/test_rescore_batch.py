"""Batched rescoring (rescore_batch.c): a training batch's per-sample rescoring pools are scored row by row
for the whole batch. It must choose what the per-sample path (SLIDE_RESCORE_BATCH=0) chooses, so training
gives the same weights bit for bit."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl


def data(n=300, d=48, classes=12, sparse=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    if sparse:
        X[rng.random(X.shape) < 0.7] = 0.0
        X = sp.csr_matrix(X)
    y = rng.integers(0, classes, size=n)
    return X, y


def network(d, classes, output_sampled, storage, threads):
    hidden = sl.LSH(active=0.05, hash="simhash")  # hidden-layer retrieval defaults: per-sample, rescore 8
    out = sl.LSH(active=0.5, batch_shared=False, random_fraction=0.25, rescore=3, hash="simhash", k=3, tables=30) \
        if output_sampled else None
    return sl.Network(input_dim=d, layers=[sl.Layer(700, sampling=hidden, storage=storage),
                                           sl.Layer(500, sampling=hidden, storage=storage),
                                           sl.Layer(classes, activation="softmax", sampling=out)],
                      optimizer=sl.Adam(lr=3e-3), seed=3, threads=threads)


def train(monkeypatch, batched, X, y, **kw):
    if batched:
        monkeypatch.delenv("SLIDE_RESCORE_BATCH", raising=False)
    else:
        monkeypatch.setenv("SLIDE_RESCORE_BATCH", "0")
    net = network(X.shape[1], int(y.max()) + 1, **kw)
    rng = np.random.default_rng(5)
    losses = []
    for b in range(12):  # crosses a table rebuild (every 50 batches by default: rebuild explicitly too)
        rows = rng.choice(X.shape[0], size=64, replace=False)
        losses.append(net.train_batch(X, y, rows=rows)["loss"])
        if b == 6:
            net.rebuild_tables()
    return net, losses


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("output_sampled", [False, True])
@pytest.mark.parametrize("storage", ["float32", "bfloat16"])
def test_batched_rescoring_trains_as_the_per_sample_path(monkeypatch, sparse, output_sampled, storage):
    X, y = data(sparse=sparse)
    a, la = train(monkeypatch, True, X, y, output_sampled=output_sampled, storage=storage, threads=2)
    b, lb = train(monkeypatch, False, X, y, output_sampled=output_sampled, storage=storage, threads=2)
    assert la == lb
    for i in range(3):
        np.testing.assert_array_equal(a.layers[i].weights, b.layers[i].weights)
        np.testing.assert_array_equal(a.layers[i].bias, b.layers[i].bias)


def test_batched_rescoring_does_not_depend_on_the_thread_count(monkeypatch):
    X, y = data(sparse=True)
    a, la = train(monkeypatch, True, X, y, output_sampled=True, storage="float32", threads=1)
    b, lb = train(monkeypatch, True, X, y, output_sampled=True, storage="float32", threads=2)
    assert la == lb
    for i in range(3):
        np.testing.assert_array_equal(a.layers[i].weights, b.layers[i].weights)
