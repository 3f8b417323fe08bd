"""Model files: round trip, resume, export, refusal of damaged files."""

import numpy as np
import pytest

import libslide as sl


def build(X, Y, threads=1):
    return sl.Network(input_dim=X.shape[1],
                      layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax",
                                                     sampling=sl.LSH("dwta", k=4, tables=8, bucket_size=32,
                                                                     active=0.1, rebuild_every=7))],
                      optimizer=sl.Adam(lr=1e-2), seed=11, threads=threads)


def train_rows(net, X, Y, rows):
    for start in range(0, rows.size, 128):
        net.train_batch(X, Y, rows=rows[start:start + 128])


def test_save_load_resume_is_exact(small_data, tmp_path):
    X, Y, Xt, _ = small_data
    a = build(X, Y)
    rows = np.random.default_rng(0).permutation(X.shape[0])[:1280]
    train_rows(a, X, Y, rows)
    path = tmp_path / "model.slide"
    a.save(path)
    b = sl.Network.load(path, threads=1)
    ida, sa = a.predict_topk(Xt, k=5)
    idb, sb = b.predict_topk(Xt, k=5)
    np.testing.assert_array_equal(ida, idb)
    np.testing.assert_array_equal(sa, sb)
    # Optimizer state, step count and hash tables are restored: training continues bit for bit.
    train_rows(a, X, Y, rows[::-1])
    train_rows(b, X, Y, rows[::-1])
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(la.weights, lb.weights)
        np.testing.assert_array_equal(la.bias, lb.bias)
    assert not list(tmp_path.glob("*.tmp.*"))  # no temporary files left behind


def test_export_npz(small_data, tmp_path):
    X, Y, _, _ = small_data
    net = build(X, Y)
    net.export_npz(tmp_path / "w.npz")
    z = np.load(tmp_path / "w.npz")
    assert z["layer0_weights"].shape == (32, X.shape[1])
    assert z["layer1_weights"].shape == (Y.shape[1], 32)
    np.testing.assert_array_equal(z["layer1_bias"], net.layers[1].bias)


def test_damaged_files_are_refused(small_data, tmp_path):
    X, Y, _, _ = small_data
    path = tmp_path / "model.slide"
    build(X, Y).save(path)
    data = bytearray(path.read_bytes())
    flipped = tmp_path / "flipped.slide"
    data[len(data) // 2] ^= 0x40
    flipped.write_bytes(bytes(data))
    with pytest.raises(sl.FormatError, match="checksum"):
        sl.Network.load(flipped)
    cut = tmp_path / "cut.slide"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(sl.FormatError, match="truncated"):
        sl.Network.load(cut)
    foreign = tmp_path / "foreign.slide"
    foreign.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(sl.FormatError, match="not a libslide model"):
        sl.Network.load(foreign)
    with pytest.raises(sl.SlideIOError):
        sl.Network.load(tmp_path / "missing.slide")


def test_two_epochs_equal_one_plus_save_load_plus_one(small_data, tmp_path):
    X, Y, _, _ = small_data
    X, Y = X[:3000], Y[:3000]
    straight = build(X, Y, threads=1)
    straight.fit(X, Y, epochs=2, progress=False, seed=4)
    first = build(X, Y, threads=1)
    first.fit(X, Y, epochs=1, progress=False, seed=4)
    first.save(tmp_path / "half.slide")
    resumed = sl.Network.load(tmp_path / "half.slide", threads=1)
    assert resumed.steps == first.steps
    resumed.fit(X, Y, epochs=1, progress=False, seed=4)
    for a, b in zip(straight.layers, resumed.layers):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)



def _file_version(path) -> int:
    with open(path, "rb") as f:
        return int.from_bytes(f.read(12)[8:12], "little")  # after the 8-byte magic


def test_format_version_1_unless_a_layer_needs_version_2(small_data, tmp_path):
    """Networks without bfloat16 storage, a random share, weight decay, catch-up or logQ correction are
    written as version 1, which older libraries read; a random share needs version 2, whose layer records
    keep it across save and load."""
    X, Y, Xt, _ = small_data
    plain = sl.Network(input_dim=X.shape[1], layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax",
                       sampling=sl.LSH("dwta", k=4, tables=8, bucket_size=32, active=0.1, rebuild_every=7,
                                       random_fraction=0.0, logq_correction=False))],
                       optimizer=sl.Adam(lr=1e-2, catch_up=False), seed=11, threads=1)
    plain.save(tmp_path / "plain.slide")
    assert _file_version(tmp_path / "plain.slide") == 1
    mixed = sl.Network(input_dim=X.shape[1],
                       layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax",
                                                      sampling=sl.LSH("dwta", k=4, tables=8, bucket_size=32,
                                                                      active=0.1, random_fraction=0.5,
                                                                      logq_correction=False))],
                       optimizer=sl.Adam(lr=1e-2, catch_up=False), seed=11, threads=1)
    train_rows(mixed, X, Y, np.arange(640))
    mixed.save(tmp_path / "mixed.slide")
    assert _file_version(tmp_path / "mixed.slide") == 2
    again = sl.Network.load(tmp_path / "mixed.slide", threads=1)
    np.testing.assert_array_equal(mixed.predict_topk(Xt, k=5)[0], again.predict_topk(Xt, k=5)[0])
    # The random share survived: continued training matches bit for bit (it would not without the share).
    rows = np.arange(640, 1280)
    train_rows(mixed, X, Y, rows)
    train_rows(again, X, Y, rows)
    np.testing.assert_array_equal(mixed.layers[1].weights, again.layers[1].weights)


def test_weight_decay_survives_save_and_load_as_version_3(small_data, tmp_path):
    """weight_decay lives in the head word versions 1 and 2 wrote as 0, so a network with it is written as
    version 3 (older libraries refuse it instead of silently training without decay)."""
    X, Y, Xt, _ = small_data
    net = sl.Network(input_dim=X.shape[1],
                     layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax",
                                                    sampling=sl.LSH("dwta", k=4, tables=8, bucket_size=32,
                                                                    active=0.1, logq_correction=False))],
                     optimizer=sl.Adam(lr=1e-2, weight_decay=0.25, catch_up=False), seed=11, threads=1)
    train_rows(net, X, Y, np.arange(640))
    net.save(tmp_path / "wd.slide")
    assert _file_version(tmp_path / "wd.slide") == 3
    again = sl.Network.load(tmp_path / "wd.slide", threads=1)
    assert again.optimizer == sl.Adam(lr=1e-2, weight_decay=0.25, catch_up=False)
    rows = np.arange(640, 1280)
    train_rows(net, X, Y, rows)
    train_rows(again, X, Y, rows)
    for la, lb in zip(net.layers, again.layers):
        np.testing.assert_array_equal(la.weights, lb.weights)
    # A version 1 or 2 file whose reserved head word is not 0 is refused, naming the problem.
    plain = build(X, Y)
    plain.save(tmp_path / "v1.slide")
    raw = bytearray((tmp_path / "v1.slide").read_bytes())
    head = 24 + 4 + 4 + 8 + 8 + 4 + 16  # file header, then input_dim, n_layers, seed, step, opt_kind, 4 floats
    raw[head:head + 4] = np.float32(0.25).tobytes()
    (tmp_path / "v1.slide").write_bytes(bytes(raw))
    with pytest.raises(sl.FormatError):
        sl.Network.load(tmp_path / "v1.slide")


def test_catch_up_and_logq_survive_save_and_load_as_version_4(small_data, tmp_path):
    """Version 4 keeps the optimizer's catch_up flag, every row's last update step and the logQ correction,
    so training resumes bit for bit; with catch_up off a row's step is not stored."""
    X, Y, Xt, _ = small_data
    net = sl.Network(input_dim=X.shape[1],
                     layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax",
                                                    sampling=sl.LSH("dwta", k=4, tables=8, bucket_size=32,
                                                                    active=0.1, random_fraction=0.5,
                                                                    logq_correction=True, batch_shared=False))],
                     optimizer=sl.Adam(lr=1e-2, weight_decay=0.1), seed=11, threads=1)
    train_rows(net, X, Y, np.arange(640))
    net.save(tmp_path / "v4.slide")  # per-sample sets keep no label counts: version 4 holds it
    assert _file_version(tmp_path / "v4.slide") == 4
    again = sl.Network.load(tmp_path / "v4.slide", threads=1)
    assert again.optimizer == sl.Adam(lr=1e-2, weight_decay=0.1, catch_up=True)
    rows = np.arange(640, 1920)
    train_rows(net, X, Y, rows)
    train_rows(again, X, Y, rows)
    for la, lb in zip(net.layers, again.layers):
        np.testing.assert_array_equal(la.weights, lb.weights)
        np.testing.assert_array_equal(la.bias, lb.bias)
