"""LSH(active=f) on a hidden layer works without further settings: the automatic fields are resolved for the
kind of layer sampled (per-sample exact top-k selection for a hidden layer, a batch-shared sampled softmax
over SimHash tables for the output; an explicit hash backend on a hidden layer gets the hidden-layer table
sizes and rescoring), and hidden layers so configured learn where uniformly drawn neurons do not."""

import numpy as np
import pytest

import libslide as sl


def clusters(seed=0, n=6000, d=64, classes=10):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    X = np.tanh(centers[y] + 1.5 * rng.normal(size=(n, d))).astype(np.float32)
    return X[1000:], y[1000:], X[:1000], y[:1000]


def network(sampling, d=64, classes=10, width=512):
    return sl.Network(input_dim=d, layers=[sl.Layer(width, sampling=sampling), sl.Layer(width, sampling=sampling),
                                           sl.Layer(classes, activation="softmax")],
                      optimizer=sl.Adam(lr=3e-3), seed=0, threads=1)


def test_automatic_fields_are_resolved_by_layer_kind(tmp_path):
    net = sl.Network(input_dim=64, layers=[sl.Layer(1000, sampling=sl.LSH(active=0.05, hash="simhash")),
                                           sl.Layer(2000, activation="softmax", sampling=sl.LSH())], threads=1)
    hidden, output = net.table_stats(0), net.table_stats(1)
    # hidden: 200 tables, k = floor(log2(1000 / (2 * 50))) = 3 bits, so 8 buckets of about two caps' worth
    assert (hidden.tables, hidden.buckets) == (200, 8)
    # softmax: the sampled-softmax tables (k = 6, 50 tables)
    assert (output.tables, output.buckets) == (50, 64)
    net.save(tmp_path / "m.slide")  # the file holds the resolved values
    again = sl.Network.load(tmp_path / "m.slide", threads=1)
    assert (again.table_stats(0).tables, again.table_stats(0).buckets) == (200, 8)
    # hash left to the library: exact top-k on the hidden layer (no tables), SimHash on the softmax layer
    auto = sl.Network(input_dim=64, layers=[sl.Layer(1000, sampling=sl.LSH(active=0.05)),
                                            sl.Layer(2000, activation="softmax", sampling=sl.LSH())], threads=1)
    with pytest.raises(sl.InvalidArgumentError, match="exact oracle"):
        auto.table_stats(0)
    assert (auto.table_stats(1).tables, auto.table_stats(1).buckets) == (50, 64)
    auto.save(tmp_path / "auto.slide")  # the file holds the resolved backend
    with pytest.raises(sl.InvalidArgumentError, match="exact oracle"):
        sl.Network.load(tmp_path / "auto.slide", threads=1).table_stats(0)
    # explicit values are kept
    explicit = sl.Network(input_dim=64, layers=[sl.Layer(1000, sampling=sl.LSH(active=0.05, k=5, tables=20,
                                                                                         hash="simhash")),
                                                sl.Layer(10, activation="softmax")], threads=1)
    assert (explicit.table_stats(0).tables, explicit.table_stats(0).buckets) == (20, 32)


def test_the_automatic_hidden_selection_is_exact_top_k():
    """LSH(active=f) trains a hidden layer exactly as LSH(active=f, hash="exact"), and not as SimHash retrieval."""
    X, y, _, _ = clusters(n=1400)
    nets = {h: network(sl.LSH(active=0.05, **({} if h == "auto" else {"hash": h}))) for h in ("auto", "exact", "simhash")}
    for net in nets.values():
        for b in range(5):
            net.train_batch(X, y, rows=np.arange(64 * b, 64 * (b + 1)))
    np.testing.assert_array_equal(nets["auto"].layers[1].weights, nets["exact"].layers[1].weights)
    assert not np.array_equal(nets["auto"].layers[1].weights, nets["simhash"].layers[1].weights)


def test_hidden_layers_learn_with_only_the_fraction_set():
    X, y, Xt, yt = clusters()
    auto = network(sl.LSH(active=0.05)).fit(X, y, epochs=4, progress=False, seed=0, validation_data=(Xt, yt))
    # the 0.4 behaviour on a hidden layer: uniformly drawn neurons per sample
    uniform = network(sl.LSH(active=0.05, random_fraction=1.0, batch_shared=False, hash="simhash")).fit(
        X, y, epochs=4, progress=False, seed=0, validation_data=(Xt, yt))
    assert auto[-1]["P@1"] >= 0.87, auto[-1]  # measured 0.893 (SimHash retrieval: 0.906; uniform: 0.731)
    assert auto[-1]["P@1"] >= uniform[-1]["P@1"] + 0.1, (auto[-1]["P@1"], uniform[-1]["P@1"])
    assert auto[-1]["mean_active"][0] <= 0.05 * 512 + 1  # still sparse


@pytest.mark.parametrize("kw", [dict(k=0), dict(tables=0), dict(random_fraction=-1.0)])
def test_the_automatic_sentinels_cannot_be_passed_explicitly(kw):
    with pytest.raises(sl.InvalidArgumentError, match="None chooses it for the layer"):
        sl.LSH(**kw).resolved()
