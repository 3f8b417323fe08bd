"""Sampled training learns, with every hash backend, deterministically, and under both thread controls."""

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

import libslide as sl
from conftest import most_frequent_p1


def sampled_net(X, Y, hash_name="dwta", threads=2, seed=0, active=0.1, lr=1e-2):
    return sl.Network(
        input_dim=X.shape[1],
        layers=[sl.Layer(64, activation="relu"),
                sl.Layer(Y.shape[1], activation="softmax",
                         sampling=sl.LSH(hash_name, k=5, tables=24, bucket_size=64, active=active,
                                         rebuild_every=20, batch_shared=False, random_fraction=0.0,
                                         logq_correction=False))],
        optimizer=sl.Adam(lr=lr), seed=seed, threads=threads)


@pytest.mark.parametrize("hash_name", sl.hash_backends())
def test_every_backend_trains_well_above_most_frequent_label(small_data, hash_name):
    X, Y, Xt, Yt = small_data
    net = sampled_net(X, Y, hash_name)
    hist = net.fit(X, Y, epochs=3, batch_size=128, validation_data=(Xt, Yt), progress=False, seed=0)
    base = most_frequent_p1(Y, Yt)
    p1 = hist[-1]["P@1"]
    assert p1 > base + 0.3, f"{hash_name}: P@1 {p1:.3f} vs most-frequent {base:.3f}"
    assert hist[-1]["loss"] < hist[0]["loss"]
    # The output layer really is sparse: at most the cap (10% of 300) plus the labels of a sample.
    active = net.layers[-1].mean_active
    assert 1 <= active <= 0.1 * Y.shape[1] + 6
    assert hist[-1]["n"] == Xt.shape[0]  # evaluated on the full test set
    # Sampled inference scores only retrieved neurons: ids are valid or -1 padding, never more than the cap.
    ids, scores = net.predict_topk(Xt, k=40, mode="sampled")
    assert ids.max() < Y.shape[1] and ids.min() >= -1
    assert np.all((ids >= 0).sum(axis=1) <= 0.1 * Y.shape[1])
    assert np.all(scores[ids < 0] == 0)


def test_training_is_identical_for_one_and_two_threads(small_data):
    X, Y, _, _ = small_data
    rows = np.arange(2048)
    nets = [sampled_net(X, Y, threads=t, seed=5) for t in (1, 2)]
    for net in nets:
        for start in range(0, rows.size, 256):
            net.train_batch(X, Y, rows=rows[start:start + 256])
    for a, b in zip(nets[0].layers, nets[1].layers):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)


def test_threads_argument_and_threadpoolctl(small_data):
    X, Y, _, _ = small_data
    fixed = sampled_net(X, Y, threads=1)
    follow = sampled_net(X, Y, threads=None)
    assert fixed.threads == 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert follow.threads == 1
        follow.train_batch(X, Y, rows=np.arange(128))  # runs under the limit
    with threadpool_limits(limits=2, user_api="openmp"):
        assert follow.threads == 2
        assert fixed.threads == 1  # an explicit thread count wins over threadpoolctl
    fixed.threads = 2
    assert fixed.threads == 2
    fixed.threads = None
    with threadpool_limits(limits=1, user_api="openmp"):
        assert fixed.threads == 1


def test_threadpoolctl_sees_the_openmp_runtime():
    from threadpoolctl import threadpool_info

    assert any(info["user_api"] == "openmp" for info in threadpool_info())


def test_dense_numpy_input_and_sgd():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 20)).astype(np.float32)
    y = rng.integers(0, 10, size=3000)
    X = centers[y] + 0.3 * rng.normal(size=(3000, 20)).astype(np.float32)
    net = sl.Network(input_dim=20, layers=[sl.Layer(32), sl.Layer(10, activation="softmax")],
                     optimizer=sl.SGD(lr=0.5), seed=1, threads=2)
    net.fit(X[:2500], y[:2500], epochs=5, batch_size=64, progress=False)
    assert np.mean(net.predict(X[2500:]) == y[2500:]) > 0.9


def test_memory_bytes_counts_parameters(small_data):
    X, Y, _, _ = small_data
    net = sampled_net(X, Y)
    params = (X.shape[1] * 64 + 64 * Y.shape[1]) * 4 * 3  # weights plus two Adam moments
    assert params <= net.memory_bytes() <= params * 2 + 64 * 2**20


def test_evaluate_matches_reference_precision_and_ndcg(small_data):
    X, Y, Xt, Yt = small_data
    net = sl.Network(input_dim=X.shape[1], layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax")],
                     optimizer=sl.Adam(lr=1e-2), seed=0, threads=2)
    net.fit(X, Y, epochs=1, progress=False)
    res = net.evaluate(Xt, Yt, ks=(1, 3, 5))
    ids, _ = net.predict_topk(Xt, k=5)
    Yt = Yt.tocsr()
    p, ndcg = {k: 0.0 for k in (1, 3, 5)}, {k: 0.0 for k in (1, 3, 5)}
    for i in range(Xt.shape[0]):
        labels = set(Yt.indices[Yt.indptr[i]:Yt.indptr[i + 1]].tolist())
        rel = [1.0 if j in labels else 0.0 for j in ids[i]]
        for k in p:
            p[k] += sum(rel[:k]) / k
            if labels:
                ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(labels))))
                ndcg[k] += sum(g / np.log2(r + 2) for r, g in enumerate(rel[:k])) / ideal
    n = Xt.shape[0]
    for k in p:
        assert res[f"P@{k}"] == pytest.approx(p[k] / n, abs=1e-12)
        assert res[f"nDCG@{k}"] == pytest.approx(ndcg[k] / n, abs=1e-12)
    assert res["nDCG@1"] == pytest.approx(res["P@1"])  # one prediction: the same ratio
    assert res["nDCG@5"] < 1


def small_overfitting_net(X, Y, lr):
    """64 ReLU -> softmax with one shared 20% set per batch: trained on 300 rows at a high rate, its
    validation P@1 peaks within a few epochs (the rules that watch validation P@1 get to act)."""
    return sl.Network(input_dim=X.shape[1],
                      layers=[sl.Layer(64), sl.Layer(Y.shape[1], activation="softmax",
                                                     sampling=sl.LSH("simhash", active=0.2, batch_shared=True))],
                      optimizer=sl.Adam(lr=lr), seed=0, threads=2)


def test_early_stopping_needs_validation_data(small_data):
    X, Y, _, _ = small_data
    net = sl.Network(input_dim=X.shape[1], layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax")])
    with pytest.raises(sl.InvalidArgumentError, match="validation_data"):
        net.fit(X[:256], Y[:256], epochs=2, progress=False, early_stopping=1)


def test_early_stopping_stops_and_restores_the_best_epoch(small_data, tmp_path):
    X, Y, Xt, Yt = small_data
    # 300 training rows and a high learning rate: validation P@1 peaks within a few epochs
    net = small_overfitting_net(X, Y, lr=1e-2)
    ckpt = tmp_path / "best.slide"
    hist = net.fit(X[:300], Y[:300], epochs=40, batch_size=32, validation_data=(Xt[:500], Yt[:500]),
                   progress=False, seed=0, early_stopping=2, checkpoint=ckpt)
    best = hist[-1]["best_epoch"]
    assert len(hist) == best + 2 < 40  # stopped two epochs after the best one
    assert hist[best - 1]["P@1"] == max(r["P@1"] for r in hist)
    # the returned network and the re-saved checkpoint are the best epoch's model
    assert net.evaluate(Xt[:500], Yt[:500], ks=(1,))["P@1"] == hist[best - 1]["P@1"]
    assert sl.Network.load(ckpt).evaluate(Xt[:500], Yt[:500], ks=(1,))["P@1"] == hist[best - 1]["P@1"]


def test_lr_plateau_lowers_the_rate_after_epochs_without_a_better_validation_p1(small_data):
    X, Y, Xt, Yt = small_data
    net = small_overfitting_net(X, Y, lr=1e-2)
    hist = net.fit(X[:300], Y[:300], epochs=12, batch_size=32, validation_data=(Xt[:500], Yt[:500]),
                   progress=False, seed=0, lr_plateau=0.5)
    # the rule replayed from the records: halved exactly after the epochs that did not beat the best
    lr, best = 1e-2, -1.0
    for r in hist:
        if r["P@1"] > best:
            best = r["P@1"]
        else:
            lr *= 0.5
        assert r["lr"] == pytest.approx(lr, rel=1e-6)
    assert hist[-1]["lr"] < 1e-2  # 300 rows at lr 1e-2: validation P@1 stops rising within 12 epochs
    assert net.optimizer.lr == pytest.approx(hist[-1]["lr"], rel=1e-6)
    with pytest.raises(sl.InvalidArgumentError, match="validation_data"):
        net.fit(X[:64], Y[:64], progress=False, lr_plateau=0.5)
    with pytest.raises(sl.InvalidArgumentError, match="factor"):
        net.fit(X[:64], Y[:64], progress=False, validation_data=(Xt[:50], Yt[:50]), lr_plateau=1.5)
    # a long run on a plateau: the rate stops at 1e-6 of where this fit started instead of reaching 0
    # (which set_learning_rate refuses)
    start = net.optimizer.lr
    hist = net.fit(X[:64], Y[:64], epochs=8, batch_size=32, validation_data=(Xt[:50], Yt[:50]), progress=False,
                   seed=0, lr_plateau=1e-3)
    assert len(hist) == 8
    assert min(r["lr"] for r in hist) >= start * 1e-6 * (1 - 1e-6)
    assert hist[-1]["lr"] == hist[-2]["lr"] < start * 1e-2  # it fell, then held at the floor


def test_plateau_rule_cuts_on_a_plateau_and_undoes_two_stale_epochs():
    rule = sl.network.PlateauRule(0.5, rollback=True)
    steps = [rule.step(p) for p in (0.1, 0.2, 0.2, 0.15, 0.3, 0.1)]
    assert steps == [(True, False, False), (True, False, False), (False, True, False), (False, True, True),
                     (True, False, False), (False, True, False)]
    assert rule.best == 0.3 and rule.lr_scale == 0.125
    rule = sl.network.PlateauRule(None, rollback=False)  # watching only: never cuts, never undoes
    assert [rule.step(p) for p in (0.2, 0.1, 0.1)] == [(True, False, False), (False, False, False),
                                                     (False, False, False)]


def test_fit_holds_out_rows_by_default_and_trains_on_the_rest_only(small_data):
    X, Y, Xt, Yt = small_data
    XA, YA = sp.vstack([X, Xt]).tocsr(), sp.vstack([Y, Yt]).tocsr()  # 10,000 rows: the automatic hold-out starts
    train, held = sl.holdout_split(XA.shape[0], "auto", seed=5)
    assert (held.size, train.size) == (500, 9500) and np.union1d(train, held).size == XA.shape[0]
    a = small_overfitting_net(X, Y, lr=1e-3)
    rec = a.fit(XA, YA, epochs=1, progress=False, seed=5)[0]
    assert rec["holdout_n"] == 500 and rec["lr"] == 1e-3 and a.steps == -(-9500 // 128)
    # exactly the other rows were trained on, in the order fit(holdout=0) gives them
    b = small_overfitting_net(X, Y, lr=1e-3)
    b.fit(XA[train], YA[train], epochs=1, progress=False, seed=5, holdout=0)
    assert np.array_equal(a.layers[1].weights, b.layers[1].weights)
    assert rec["holdout_P@1"] == b.evaluate(XA[held], YA[held], ks=(1,))["P@1"]
    # below 10,000 rows nothing is held out and the rate stays
    rec = small_overfitting_net(X, Y, lr=1e-3).fit(X, Y, epochs=1, progress=False, seed=5)[0]
    assert "holdout_n" not in rec and "lr" not in rec


def test_default_rules_watch_held_out_rows_never_validation_data(small_data):
    X, Y, Xt, Yt = small_data
    net = small_overfitting_net(X, Y, lr=3e-2)
    hist = net.fit(X[:400], Y[:400], epochs=10, batch_size=32, validation_data=(Xt[:500], Yt[:500]), holdout=100,
                   progress=False, seed=0)
    # the plateau rule (DEFAULT_LR_PLATEAU) and rollback act on the held-out rows' P@1
    lr, best = 3e-2, -1.0
    for r in hist:
        if r["holdout_P@1"] <= best:
            lr *= sl.network.DEFAULT_LR_PLATEAU
        best = max(best, r["holdout_P@1"])
        assert r["lr"] == pytest.approx(lr) and "P@1" in r
    assert any(r.get("rolled_back") for r in hist)
    # fit returns the weights of the best held-out epoch
    held = sl.holdout_split(400, 100, seed=0)[1]
    assert net.evaluate(X[held], Y[held], ks=(1,))["P@1"] == best
    # without held-out rows the test rows passed as validation_data are only reported
    net = small_overfitting_net(X, Y, lr=3e-2)
    hist = net.fit(X[:400], Y[:400], epochs=6, batch_size=32, validation_data=(Xt[:500], Yt[:500]), holdout=0,
                   progress=False, seed=0)
    assert all("lr" not in r and "best_epoch" not in r for r in hist) and net.optimizer.lr == 3e-2
    with pytest.raises(sl.InvalidArgumentError, match="holdout"):
        net.fit(X[:400], Y[:400], holdout=400, progress=False)


def test_average_returns_the_best_of_the_live_weights_and_their_epoch_means(small_data):
    X, Y, _, _ = small_data

    def train(average):
        net = small_overfitting_net(X, Y, lr=3e-2)
        live = []  # the weights training goes on from after each epoch

        def after_epoch(rec):
            live.append([(layer.weights.copy(), layer.bias.copy()) for layer in net.layers])

        hist = net.fit(X[:1000], Y[:1000], epochs=5, batch_size=32, holdout=250, progress=False, seed=0,
                       callback=after_epoch, average=average)
        return net, hist, live

    net, hist, live = train(True)
    _, hist0, live0 = train(False)
    # the average never steers: training, the held-out P@1 the rules see and the rates are those of average=False
    assert [r["holdout_P@1"] for r in hist] == [r["holdout_P@1"] for r in hist0]
    assert [r["lr"] for r in hist] == [r["lr"] for r in hist0]
    for a, b in zip(live, live0):
        assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert any(r["averaged"] > 1 for r in hist)  # the mean beats the live weights on some epochs here
    for r in hist:
        assert (r["averaged"] > 1) == (r.get("average_P@1", -1.0) > r["holdout_P@1"])
    # fit returns the best held-out model among every epoch's live weights and means
    candidates = [max(r["holdout_P@1"], r.get("average_P@1", -1.0)) for r in hist]
    e, k = hist[-1]["model_epoch"], hist[-1]["model_averaged"]
    assert candidates[e - 1] == max(candidates) and candidates.index(max(candidates)) == e - 1
    assert k == hist[e - 1]["averaged"] and k > 1  # here the mean of epochs 3-5 is the best model
    window = live[e - k:e]  # a mean never spans a rollback
    assert not any(r.get("rolled_back") for r in hist[e - k:e - 1])
    for i, layer in enumerate(net.layers):
        np.testing.assert_allclose(layer.weights, np.mean([w[i][0] for w in window], axis=0), rtol=0, atol=1e-6)
        np.testing.assert_allclose(layer.bias, np.mean([w[i][1] for w in window], axis=0), rtol=0, atol=1e-6)
    held = sl.holdout_split(1000, 250, seed=0)[1]
    assert net.evaluate(X[held], Y[held], ks=(1,))["P@1"] == max(candidates)
    assert all("averaged" not in r and "average_P@1" not in r for r in hist0)
    with pytest.raises(sl.InvalidArgumentError, match="average needs"):
        net.fit(X[:64], Y[:64], progress=False, average=True)
    with pytest.raises(sl.InvalidArgumentError, match="average must be True or False"):
        net.fit(X[:64], Y[:64], progress=False, average="yes")


def test_rollback_undoes_epochs_that_did_not_beat_the_best(small_data, tmp_path):
    X, Y, Xt, Yt = small_data
    net = small_overfitting_net(X, Y, lr=3e-2)
    Xv, Yv = Xt[:500], Yt[:500]
    ckpt = tmp_path / "m.slide"
    snapshots = []

    def after_epoch(rec):  # the weights training goes on from after each epoch
        snapshots.append(net.layers[1].weights.copy())

    hist = net.fit(X[:300], Y[:300], epochs=12, batch_size=32, validation_data=(Xv, Yv), progress=False, seed=0,
                   lr_plateau=0.5, rollback=True, checkpoint=ckpt, callback=after_epoch)
    best, best_i, stale, rolled = -1.0, None, 0, 0
    for i, r in enumerate(hist):
        stale = 0 if r["P@1"] > best else stale + 1
        if r["P@1"] > best:
            best, best_i = r["P@1"], i
        assert r["best_epoch"] == best_i + 1
        # the second epoch in a row without a better validation P@1 is undone, with the one before it
        assert r.get("rolled_back", False) == (stale == sl.network.ROLLBACK_PATIENCE)
        if r.get("rolled_back"):
            rolled, stale = rolled + 1, 0
            assert np.array_equal(snapshots[i], snapshots[best_i])  # training goes on from the best weights
        elif i > 0:
            assert not np.array_equal(snapshots[i], snapshots[i - 1])
    assert rolled >= 1  # 300 rows at lr 3e-2 stop improving within 12 epochs
    if hist[-1].get("rolled_back"):  # the checkpoint holds the weights training goes on from
        assert sl.Network.load(ckpt).evaluate(Xv, Yv, ks=(1,))["P@1"] == best
    with pytest.raises(sl.InvalidArgumentError, match="lr_plateau"):
        net.fit(X[:64], Y[:64], progress=False, validation_data=(Xv, Yv), rollback=True)
