"""Retrieval must be measurably better than chance, and the checks must catch a broken one.

Training accuracy alone cannot tell a working hash from a useless one (uniformly random negatives train as
well), so these tests look at what the tables return: the share of each sample's exact top-k pre-activations
that sampled inference finds (chance = the active fraction), and sampled top-1 against exact top-1. The same
checks run on deliberately broken retrievals (tables never rebuilt after initialisation, one table of 16-bit
codes) and must reject them.
"""

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

