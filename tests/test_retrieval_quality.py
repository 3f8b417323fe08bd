"""Retrieval must be measurably better than chance, and the checks must catch a broken one.

Training accuracy alone cannot tell a working hash from a useless one (uniformly random negatives train as
well), so these tests look at what the tables return: the share of each sample's exact top-k pre-activations
that sampled inference finds (chance = the active fraction), and sampled top-1 against exact top-1. The same
checks run on deliberately broken retrievals (tables never rebuilt after initialisation, one table of 16-bit
codes) and must reject them.
"""

import numpy as np
import pytest

import libslide as sl

ACTIVE = 30  # of 300 output neurons: chance recall is 0.1


@pytest.fixture(scope="module")
def data():
    return sl.datasets.make_extreme(n_train=8000, n_test=2000, n_features=2000, n_labels=300, nnz_per_row=30,
                                    noise=0.3, seed=3)


def trained(data, **lsh):
    X, Y, _, _ = data
    net = sl.Network(X.shape[1], [sl.Layer(64), sl.Layer(Y.shape[1], "softmax",
                                                          sampling=sl.LSH(active=ACTIVE, bucket_size=64,
                                                                          batch_shared=False, random_fraction=0.0,
                                                                          **lsh))],
                     optimizer=sl.Adam(lr=3e-3), seed=0, threads=2)
    net.fit(X, Y, epochs=3, progress=False)
    return net


def retrieval_works(net, data):
    """The retrieval checks: recall of the exact top-k well above chance, sampled top-1 close to exact top-1."""
    _, _, Xt, Yt = data
    recall = net.diagnose(Xt, sample=1000)[-1]["recall"]
    exact = net.evaluate(Xt, Yt, ks=(1,))["P@1"]
    sampled = net.evaluate(Xt, Yt, ks=(1,), mode="sampled")["P@1"]
    return recall >= 1.4 * ACTIVE / 300 and sampled >= exact - 0.1, (recall, exact, sampled)


@pytest.mark.parametrize("lsh", [dict(hash="simhash", k=6, tables=16), dict(hash="simhash-mips", k=6, tables=16),
                                 dict(hash="exact")], ids=["simhash", "simhash-mips", "exact"])
def test_working_retrieval_passes(data, lsh):
    if lsh["hash"] not in sl.hash_backends() + ["exact"]:
        pytest.skip(f"no backend {lsh['hash']}")
    ok, figures = retrieval_works(trained(data, **lsh), data)
    assert ok, f"recall, exact P@1, sampled P@1 = {figures}"


@pytest.mark.parametrize("lsh", [dict(hash="simhash", k=6, tables=16, rebuild_every=10**9),
                                 dict(hash="simhash", k=16, tables=1)], ids=["never-rebuilt", "one-table-16-bit"])
def test_broken_retrieval_is_caught(data, lsh):
    ok, figures = retrieval_works(trained(data, **lsh), data)
    assert not ok, f"a broken retrieval passed the checks: recall, exact P@1, sampled P@1 = {figures}"



def test_exact_oracle_finds_the_true_top_k_and_does_not_depend_on_threads(data):
    """hash="exact" keeps the highest pre-activations: sampled inference then has recall 1; batch-shared
    training with it gives the same weights on 1 and 2 threads."""
    X, Y, Xt, _ = data
    net = trained(data, hash="exact")
    assert net.diagnose(Xt, sample=300)[-1]["recall"] == 1.0
    nets = [sl.Network(X.shape[1], [sl.Layer(32), sl.Layer(Y.shape[1], "softmax",
                                                            sampling=sl.LSH(hash="exact", active=ACTIVE,
                                                                            batch_shared=True,
                                                                            random_fraction=0.25))],
                       seed=1, threads=t) for t in (1, 2)]
    for net in nets:
        for start in range(0, 1024, 128):
            net.train_batch(X, Y, rows=np.arange(start, start + 128))
    np.testing.assert_array_equal(nets[0].layers[1].weights, nets[1].layers[1].weights)
    np.testing.assert_array_equal(nets[0].layers[1].bias, nets[1].layers[1].bias)


def test_draws_only_training_leaves_tables_to_prediction(data):
    """With no retrieval share (the defaults) training never reads the tables, so it does not rebuild them;
    the first sampled prediction rebuilds them from the current weights."""
    X, Y, Xt, _ = data
    net = sl.Network(X.shape[1], [sl.Layer(32), sl.Layer(Y.shape[1], "softmax", sampling=sl.LSH(rebuild_every=2))],
                     seed=0, threads=2)
    before = net.layers[1].rebuilds
    for start in range(0, 1280, 128):
        net.train_batch(X, Y, rows=np.arange(start, start + 128))
    assert net.layers[1].rebuilds == before
    ids, _ = net.predict_topk(Xt[:50], k=3, mode="sampled")
    assert net.layers[1].rebuilds == before + 1 and ids.max() < Y.shape[1]
    net.predict_topk(Xt[:50], k=3, mode="sampled")
    assert net.layers[1].rebuilds == before + 1  # fresh until the next training batch
