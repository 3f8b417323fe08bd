"""Sampling rules, rebuild schedules, batch-shared active sets and diagnostics."""

import numpy as np
import pytest

import libslide as sl
from conftest import most_frequent_p1


def net_with(X, Y, threads=2, **lsh):
    # per-sample sets filled by retrieval alone (the library's defaults are batch-shared uniform negatives)
    params = dict(k=5, tables=24, bucket_size=64, active=0.1, rebuild_every=20, batch_shared=False,
                  random_fraction=0.0, logq_correction=False)
    params.update(lsh)
    return sl.Network(input_dim=X.shape[1],
                      layers=[sl.Layer(64), sl.Layer(Y.shape[1], activation="softmax",
                                                     sampling=sl.LSH(params.pop("hash", "simhash"), **params))],
                      optimizer=sl.Adam(lr=1e-2), seed=0, threads=threads)


@pytest.mark.parametrize("options", [dict(rule="topk"), dict(rule="union"), dict(rule="threshold", threshold=2),
                                     dict(batch_shared=True), dict(rehash_touched=True),
                                     dict(rebuild_growth=1.5, insertion="reservoir"), dict(random_fraction=0.2),
                                     dict(batch_shared=True, random_fraction=0.2)],
                         ids=["topk", "union", "threshold", "batch-shared", "rehash-touched", "growth-reservoir",
                              "random-share", "batch-shared-random-share"])
def test_every_rule_and_schedule_trains(small_data, options):
    X, Y, Xt, Yt = small_data
    net = net_with(X, Y, **options)
    hist = net.fit(X, Y, epochs=3, validation_data=(Xt, Yt), progress=False, seed=0)
    assert hist[-1]["P@1"] > most_frequent_p1(Y, Yt) + 0.3, hist[-1]


def test_batch_shared_set_holds_the_batch_labels_within_the_cap(small_data):
    X, Y, _, _ = small_data
    net = net_with(X, Y, batch_shared=True, active=0.1)
    rows = np.arange(64)
    net.reset_counters()
    net.train_batch(X, Y, rows=rows)
    batch_labels = np.unique(Y[rows].indices).size
    # Labels first, then retrieved neurons up to the cap (30 of 300), then random ones until the set holds
    # min_active (a quarter of the cap, 7) neurons besides the labels: max(cap, labels + 7) per sample.
    assert batch_labels > 30  # the labels alone fill the cap: only the padding adds negatives
    assert net.layers[-1].mean_active == max(30, batch_labels + 30 // 4)


def test_wide_batch_shared_sets_are_the_same_for_any_thread_count():
    """40,000 outputs span all eight id partitions of the parallel merge and ranking: the set's size is exact
    when the cap binds, and training does not depend on the thread count."""
    X, Y, _, _ = sl.datasets.make_extreme(n_train=1024, n_test=10, n_features=500, n_labels=40000,
                                          nnz_per_row=20, seed=4)
    nets = [sl.Network(input_dim=X.shape[1],
                       layers=[sl.Layer(16), sl.Layer(Y.shape[1], activation="softmax",
                                                      sampling=sl.LSH("dwta", k=3, tables=8, bucket_size=64,
                                                                      active=400, batch_shared=True,
                                                                      random_fraction=0.1))],
                       optimizer=sl.Adam(lr=1e-3), seed=1, threads=t) for t in (1, 2)]
    for net in nets:
        for start in range(0, 1024, 128):
            net.reset_counters()
            net.train_batch(X, Y, rows=np.arange(start, start + 128))
            labels = np.unique(Y[start:start + 128].indices).size
            assert labels < 400 - 40
            assert net.layers[-1].mean_active == 400, start
    for a, b in zip(nets[0].layers, nets[1].layers):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)


@pytest.mark.parametrize("shared", [False, True], ids=["per-sample", "batch-shared"])
def test_random_share_is_added_to_the_labels_and_retrieved_neurons(small_data, shared):
    X, Y, _, _ = small_data
    rows = np.arange(64)
    sizes = {}
    for fraction in (0.0, 0.5, 1.0):
        net = net_with(X, Y, batch_shared=shared, active=30, random_fraction=fraction)
        net.reset_counters()
        net.train_batch(X, Y, rows=rows)
        sizes[fraction] = net.layers[-1].mean_active
    labels = np.unique(Y[rows].indices).size if shared else np.mean(np.diff(Y[rows].indptr))
    # 1: no retrieval at all, the labels plus all 30 slots drawn at random (300 units, so no clash).
    assert sizes[1.0] == pytest.approx(labels + 30)
    # 0.5: retrieval fills at most 30 - 15 slots including the labels, 15 random neurons follow.
    assert sizes[0.5] <= max(labels, 15) + 15 + 1e-9
    assert sizes[0.5] >= 15


def test_random_share_is_for_training_only(small_data):
    X, Y, Xt, _ = small_data
    plain, random = net_with(X, Y, random_fraction=0.0), net_with(X, Y, random_fraction=1.0)
    # Same seed, untrained: sampled predictions retrieve with the whole cap in both.
    np.testing.assert_array_equal(plain.predict_topk(Xt, k=5, mode="sampled")[0],
                                  random.predict_topk(Xt, k=5, mode="sampled")[0])


def test_half_random_per_sample_sets_learn_in_one_epoch(small_data):
    """Half of each set drawn at random still leaves enough retrieved hard negatives to learn (the effect on
    the early collapse of per-sample sets is measured by bench/random_share.py, not asserted here)."""
    X, Y, Xt, Yt = small_data
    hist = net_with(X, Y, random_fraction=0.5).fit(X, Y, epochs=1, validation_data=(Xt, Yt), progress=False, seed=0)
    assert hist[-1]["P@1"] > most_frequent_p1(Y, Yt) + 0.2, hist[-1]


def test_random_fraction_outside_0_1_is_refused(small_data):
    X, Y, _, _ = small_data
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(sl.InvalidArgumentError, match="random_fraction"):
            net_with(X, Y, random_fraction=bad)


def test_exponential_schedule_rebuilds_less_often(small_data):
    X, Y, _, _ = small_data
    fixed, growing = net_with(X, Y, rebuild_every=5), net_with(X, Y, rebuild_every=5, rebuild_growth=2.0)
    for net in (fixed, growing):
        for start in range(0, 40 * 64, 64):
            net.train_batch(X, Y, rows=np.arange(start, start + 64))
    # Creation builds once; fixed: every 5 batches (8 more); growing: after 5, 10 and 20 more batches (3 more).
    assert fixed.layers[-1].rebuilds == 9
    assert growing.layers[-1].rebuilds == 4


def test_diagnose_reports_recall_and_work(small_data):
    X, Y, _, Xt_unused = small_data
    net = net_with(X, Y)
    net.fit(X, Y, epochs=1, progress=False)
    hidden, out = net.diagnose(X, sample=300)
    assert hidden["recall"] == 1.0 and not hidden["sampled"]  # a dense layer computes everything
    assert out["sampled"] and 0.0 <= out["recall"] <= 1.0
    assert out["mean_active"] <= 0.1 * Y.shape[1] + 1e-9
    assert 0 < out["madds_fraction"] < 0.2
    assert out["n"] == 300
    # With every neuron active the computed set is the exact top-k: recall 1.
    full = net_with(X, Y, active=1.0, min_active=Y.shape[1])
    assert full.diagnose(X, sample=50)[-1]["recall"] == pytest.approx(1.0)


def test_resume_is_exact_with_all_options(small_data, tmp_path):
    X, Y, _, _ = small_data
    opts = dict(batch_shared=True, rehash_touched=True, rebuild_growth=1.3, rule="threshold", rebuild_every=3,
                random_fraction=0.25)
    a = net_with(X, Y, threads=1, **opts)
    for start in range(0, 20 * 64, 64):
        a.train_batch(X, Y, rows=np.arange(start, start + 64))
    a.save(tmp_path / "m.slide")
    b = sl.Network.load(tmp_path / "m.slide", threads=1)
    for net in (a, b):
        for start in range(20 * 64, 40 * 64, 64):
            net.train_batch(X, Y, rows=np.arange(start, start + 64))
    np.testing.assert_array_equal(a.layers[1].weights, b.layers[1].weights)
    assert a.layers[1].rebuilds == b.layers[1].rebuilds
