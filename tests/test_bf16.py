"""bfloat16 storage of LSH-sampled layers: options, memory, accuracy against float32, models, gradients."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl
from conftest import most_frequent_p1


def to_bf16(a):
    """float32 -> nearest-even bfloat16 value, returned as float32 (finite inputs)."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)


def net_for(X, Y, storage, hidden=64, optimizer=None, threads=2, seed=0, batch_shared=False):
    return sl.Network(
        input_dim=X.shape[1],
        layers=[sl.Layer(hidden, activation="relu"),
                sl.Layer(Y.shape[1], activation="softmax", storage=storage,
                         sampling=sl.LSH("dwta", k=5, tables=24, bucket_size=64, active=0.1, rebuild_every=20,
                                         batch_shared=batch_shared))],
        optimizer=optimizer or sl.Adam(lr=1e-2), seed=seed, threads=threads)


def test_bad_storage_values_are_refused():
    lsh = sl.LSH("dwta", k=2, tables=4)
    with pytest.raises(sl.InvalidArgumentError, match=r"layers\[1\]\.storage must be one of \['bfloat16', 'float32'\]"):
        sl.Network(input_dim=5, layers=[sl.Layer(4), sl.Layer(10, "softmax", sampling=lsh, storage="fp16")])
    with pytest.raises(sl.InvalidArgumentError,
                       match="layer 0: bfloat16 storage needs an LSH-sampled layer"):
        sl.Network(input_dim=5, layers=[sl.Layer(4, storage="bfloat16"), sl.Layer(10, "softmax", sampling=lsh)])


def test_memory_bytes_follows_the_documented_formula(small_data):
    X, Y, _, _ = small_data
    # hidden = 40: a float row pads 40 -> 48 values (64 bytes), a bf16 row 40 -> 64 values (128 bytes)
    f32, b16 = (net_for(X, Y, s, hidden=40) for s in ("float32", "bfloat16"))
    rows = Y.shape[1]
    assert f32.memory_bytes() - b16.memory_bytes() == rows * 3 * (48 * 4 - 64 * 2)
    assert b16.layers[1].storage == "bfloat16" and b16.layers[0].storage == "float32"
    assert "bfloat16" in repr(b16.layers[1])
    # SGD keeps no moments: one array of rows x stride
    s32, s16 = (net_for(X, Y, s, hidden=40, optimizer=sl.SGD(lr=0.1)) for s in ("float32", "bfloat16"))
    assert s32.memory_bytes() - s16.memory_bytes() == rows * (48 * 4 - 64 * 2)


@pytest.mark.parametrize("batch_shared", [False, True], ids=["per-sample", "batch-shared"])
def test_bf16_trains_as_well_as_float32(small_data, batch_shared):
    X, Y, Xt, Yt = small_data
    p1 = {}
    for storage in ("float32", "bfloat16"):
        net = net_for(X, Y, storage, batch_shared=batch_shared)
        hist = net.fit(X, Y, epochs=3, batch_size=128, validation_data=(Xt, Yt), progress=False, seed=0)
        p1[storage] = hist[-1]["P@1"]
    base = most_frequent_p1(Y, Yt)
    assert p1["bfloat16"] > base + 0.3, p1
    assert abs(p1["bfloat16"] - p1["float32"]) < 0.03, p1


def test_bf16_with_sgd_learns(small_data):
    X, Y, Xt, Yt = small_data
    p1, loss = {}, {}
    for storage in ("float32", "bfloat16"):
        net = net_for(X, Y, storage, optimizer=sl.SGD(lr=5.0))
        hist = net.fit(X, Y, epochs=3, batch_size=128, validation_data=(Xt, Yt), progress=False, seed=0)
        assert hist[-1]["loss"] < hist[0]["loss"]
        p1[storage], loss[storage] = hist[-1]["P@1"], hist[-1]["loss"]
    # With SGD at this rate the test P@1 of an epoch swings by +-0.1 with any rounding difference; the
    # training loss does not, so it carries the comparison.
    assert abs(loss["bfloat16"] - loss["float32"]) < 0.02 * loss["float32"], loss
    assert p1["bfloat16"] > most_frequent_p1(Y, Yt) + 0.2, p1


def test_save_load_round_trip_gives_identical_predictions(small_data, tmp_path):
    X, Y, Xt, _ = small_data
    net = net_for(X, Y, "bfloat16")
    net.fit(X[:2000], Y[:2000], epochs=1, batch_size=128, progress=False, seed=0)
    net.save(tmp_path / "m.slide")
    back = sl.Network.load(tmp_path / "m.slide", threads=2)
    assert back.layers[1].storage == "bfloat16"
    np.testing.assert_array_equal(back.layers[1].weights, net.layers[1].weights)
    for mode in ("exact", "sampled"):
        ia, sa = net.predict_topk(Xt, k=5, mode=mode)
        ib, sb = back.predict_topk(Xt, k=5, mode=mode)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(sa, sb)


def test_weights_are_float32_copies_and_assignable(small_data):
    X, Y, _, _ = small_data
    net = net_for(X, Y, "bfloat16")
    W = net.layers[1].weights
    assert W.dtype == np.float32 and W.shape == (Y.shape[1], 64) and not W.flags.writeable
    np.testing.assert_array_equal(W, to_bf16(W))  # every value is a bf16 value
    with pytest.raises(ValueError):
        W[0, 0] = 1.0
    new = np.random.default_rng(0).normal(size=W.shape).astype(np.float32)
    net.layers[1].weights = new
    np.testing.assert_array_equal(net.layers[1].weights, to_bf16(new))
    with pytest.raises(sl.InvalidArgumentError, match="must have shape"):
        net.layers[1].weights = new[:3]
    net.layers[1].bias[...] = 0.5  # biases stay float32 views
    assert np.all(net.layers[1].bias == 0.5)
    # the same setter works on float32 layers, and export_npz sees float32 copies
    net.layers[0].weights = np.ones(net.layers[0].weights.shape)
    assert np.all(net.layers[0].weights == 1.0)


@pytest.mark.parametrize("sampled", ["per-sample", "shared"])
@pytest.mark.parametrize("sparse_input", [False, True], ids=["dense-input", "sparse-input"])
def test_bf16_gradient_step_equals_float32_path_rounded(sampled, sparse_input):
    """From the same bf16-representable weights, one SGD step of the bf16 network must give exactly the
    float32 network's new weights rounded to bf16: both compute the same gradient in float32 (which
    test_gradients.py checks against finite differences); only the stored result is rounded."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3, 6)).astype(np.float32)
    X[X < -0.5] = 0.0
    labels = [np.array([1, 4]), np.array([0]), np.array([6, 2, 3])]
    nets = []
    for storage in ("float32", "bfloat16"):
        lsh = sl.LSH("dwta", k=2, tables=4, bucket_size=8, active=1.0, min_active=7,
                     batch_shared=sampled == "shared")
        nets.append(sl.Network(input_dim=6, layers=[sl.Layer(5), sl.Layer(4),
                                                    sl.Layer(7, "softmax", sampling=lsh, storage=storage)],
                               optimizer=sl.SGD(lr=1.0), seed=0, threads=1))
    f32, b16 = nets
    for li in range(3):
        W = to_bf16(rng.normal(scale=0.5, size=f32.layers[li].weights.shape))
        b = rng.normal(scale=0.1, size=f32.layers[li].bias.shape)
        for net in nets:
            net.layers[li].weights = W
            net.layers[li].bias[...] = b
    for net in nets:
        net.rebuild_tables()
    Xin = sp.csr_matrix(X) if sparse_input else X
    # Same forward: the bf16 kernels compute on exactly the same values.
    np.testing.assert_allclose(b16.predict_topk(Xin, k=7)[1], f32.predict_topk(Xin, k=7)[1], rtol=1e-6)
    W_before = np.array(f32.layers[2].weights)
    for net in nets:
        net.train_batch(Xin, labels)
    assert np.abs(np.array(f32.layers[2].weights) - W_before).max() > 1e-3  # the step is not vacuous
    np.testing.assert_array_equal(b16.layers[2].weights, to_bf16(f32.layers[2].weights))
    for li in range(2):  # float32 layers below received the same back-propagated gradient
        np.testing.assert_allclose(b16.layers[li].weights, f32.layers[li].weights, rtol=1e-6, atol=1e-7)
