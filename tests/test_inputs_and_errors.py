"""Typed exceptions for bad arguments, and the input forms the Python API accepts."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl


@pytest.fixture
def net():
    return sl.Network(input_dim=10, layers=[sl.Layer(8), sl.Layer(5, activation="softmax")], seed=0, threads=1)


def test_version_and_backends():
    assert sl.__version__ == "0.4.0"
    assert {"dwta", "simhash"} <= set(sl.hash_backends())


def test_wrong_width_raises_typed_error(net):
    with pytest.raises(sl.InvalidArgumentError, match="11 columns"):
        net.train_batch(np.zeros((2, 11), np.float32), [np.array([0]), np.array([1])])
    with pytest.raises(ValueError):  # InvalidArgumentError is also a ValueError
        net.predict_topk(np.zeros((2, 11), np.float32))


def test_label_out_of_range(net):
    with pytest.raises(sl.InvalidArgumentError, match=r"\[0, 5\)"):
        net.train_batch(np.ones((2, 10), np.float32), [np.array([0]), np.array([7])])
    Y = sp.csr_matrix(([1.0], ([1], [4])), shape=(2, 5))
    Y.indices[0] = 9  # corrupt the CSR behind scipy's back: the C side must refuse it
    with pytest.raises(sl.InvalidArgumentError, match="label id 9"):
        net.train_batch(np.ones((2, 10), np.float32), Y)


def test_row_mismatch_and_bad_dtype(net):
    with pytest.raises(sl.InvalidArgumentError, match="rows"):
        net.train_batch(np.ones((3, 10), np.float32), [np.array([0])])
    with pytest.raises(sl.InvalidArgumentError):
        net.train_batch(np.array([["a"] * 10]), [np.array([0])])
    with pytest.raises(sl.InvalidArgumentError):
        net.train_batch(np.ones(10, np.float32), [np.array([0])])


def test_nan_input_is_refused(net):
    X = np.ones((1, 10), np.float32)
    X[0, 3] = np.nan
    with pytest.raises(sl.InvalidArgumentError, match="not finite"):
        net.train_batch(X, [np.array([0])])


def test_bad_configuration():
    with pytest.raises(sl.InvalidArgumentError, match="softmax"):
        sl.Network(input_dim=4, layers=[sl.Layer(3, activation="relu")])
    with pytest.raises(sl.NotFoundError, match="available"):
        sl.Network(input_dim=4, layers=[sl.Layer(3, activation="softmax", sampling=sl.LSH("nope"))])
    with pytest.raises(sl.InvalidArgumentError):
        sl.Network(input_dim=0, layers=[sl.Layer(3, activation="softmax")])
    with pytest.raises(sl.InvalidArgumentError):
        sl.Network(input_dim=4, layers=[sl.Layer(3, activation="tanh")])
    with pytest.raises(sl.InvalidArgumentError, match="bin_size"):
        sl.Network(input_dim=4, layers=[sl.Layer(3, activation="softmax", sampling=sl.LSH("dwta", bin_size=3))])


def test_label_forms_agree():
    rng = np.random.default_rng(0)
    X = sp.random(50, 10, density=0.3, format="csr", dtype=np.float32, random_state=1)
    labels = [rng.choice(5, size=rng.integers(1, 3), replace=False) for _ in range(50)]
    Y = sp.csr_matrix((np.ones(sum(map(len, labels)), np.float32), np.concatenate(labels),
                       np.concatenate([[0], np.cumsum([len(l) for l in labels])])), shape=(50, 5))
    results = []
    for Ylike in (labels, Y):
        net = sl.Network(input_dim=10, layers=[sl.Layer(8), sl.Layer(5, activation="softmax")], seed=0, threads=1)
        net.train_batch(X, Ylike)
        results.append(np.array(net.layers[1].weights))
    np.testing.assert_array_equal(results[0], results[1])


def test_float64_and_coo_inputs_are_accepted(net):
    X = sp.random(20, 10, density=0.5, format="coo", dtype=np.float64, random_state=0)
    net.train_batch(X, np.arange(20) % 5)
    ids, scores = net.predict_topk(X.toarray(), k=3)
    assert ids.shape == (20, 3) and ids.dtype == np.int32 and scores.dtype == np.float32


def test_weights_are_views_that_keep_the_network_alive():
    net = sl.Network(input_dim=10, layers=[sl.Layer(8), sl.Layer(5, activation="softmax")], seed=0, threads=1)
    W = net.layers[1].weights
    assert W.shape == (5, 8)
    assert net.layers[0].weights.shape == (8, 10)
    before = W.copy()
    del net
    import gc

    gc.collect()
    np.testing.assert_array_equal(W, before)  # still readable: the view holds the network
