"""The C gradients and forward pass against a float64 numpy reference on tiny all-active networks."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl


def numpy_forward(layers, x):
    """Softmax probabilities of a ReLU MLP given [(W (units, in), b)] per layer, in float64."""
    h = x.astype(np.float64)
    for i, (W, b) in enumerate(layers):
        z = W.astype(np.float64) @ h + b
        if i + 1 < len(layers):
            h = np.maximum(z, 0.0)
        else:
            z = z - z.max()
            e = np.exp(z)
            return e / e.sum()


def numpy_loss(layers, X, labels):
    """Mean cross-entropy with a uniform target over each sample's labels."""
    total = 0.0
    for x, labs in zip(X, labels):
        p = numpy_forward(layers, x)
        total -= np.mean(np.log(p[labs]))
    return total / len(X)


def params_of(net):
    return [(np.array(l.weights, dtype=np.float64), np.array(l.bias, dtype=np.float64)) for l in net.layers]


def make_net(sampled_output, dims=(6, 5, 4, 7), seed=0):
    layers = [sl.Layer(u, activation="relu") for u in dims[1:-1]]
    sampling = sl.LSH("dwta", k=2, tables=4, bucket_size=8, active=1.0, min_active=dims[-1],
                      batch_shared=sampled_output == "shared") if sampled_output else None
    layers.append(sl.Layer(dims[-1], activation="softmax", sampling=sampling))
    return sl.Network(input_dim=dims[0], layers=layers, optimizer=sl.SGD(lr=1.0), seed=seed, threads=1)


@pytest.mark.parametrize("sampled_output", [False, True, "shared"],
                         ids=["dense-output", "sampled-output-all-active", "batch-shared-output-all-active"])
@pytest.mark.parametrize("sparse_input", [False, True], ids=["dense-input", "sparse-input"])
def test_gradient_matches_finite_differences(sampled_output, sparse_input):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 6)).astype(np.float32)
    X[X < -0.5] = 0.0  # some exact zeros, as in sparse data
    labels = [np.array([1, 4]), np.array([0]), np.array([6, 2, 3])]
    net = make_net(sampled_output)
    # Perturb the initial weights away from the symmetric init so every unit carries gradient.
    for layer in net.layers:
        layer.weights[...] = rng.normal(scale=0.5, size=layer.weights.shape)
        layer.bias[...] = rng.normal(scale=0.1, size=layer.bias.shape)
    net.rebuild_tables()
    before = params_of(net)
    Xin = sp.csr_matrix(X) if sparse_input else X
    net.train_batch(Xin, labels)  # SGD with lr = 1: w_after = w_before - grad
    after = params_of(net)

    eps = 1e-6
    for li, ((W0, b0), (W1, b1)) in enumerate(zip(before, after)):
        got_w = W0 - W1
        got_b = b0 - b1
        num_w = np.zeros_like(W0)
        num_b = np.zeros_like(b0)
        for idx in np.ndindex(W0.shape):
            for sign in (+1, -1):
                p = [(W.copy(), b.copy()) for W, b in before]
                p[li][0][idx] += sign * eps
                num_w[idx] += sign * numpy_loss(p, X, labels) / (2 * eps)
        for j in range(b0.size):
            for sign in (+1, -1):
                p = [(W.copy(), b.copy()) for W, b in before]
                p[li][1][j] += sign * eps
                num_b[j] += sign * numpy_loss(p, X, labels) / (2 * eps)
        np.testing.assert_allclose(got_w, num_w, rtol=2e-3, atol=2e-5, err_msg=f"layer {li} weights")
        np.testing.assert_allclose(got_b, num_b, rtol=2e-3, atol=2e-5, err_msg=f"layer {li} bias")
        assert np.abs(num_w).max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("sampled_output", [False, True])
def test_all_active_forward_equals_numpy(sampled_output):
    rng = np.random.default_rng(2)
    net = make_net(sampled_output, dims=(9, 8, 6, 11))
    X = rng.normal(size=(20, 9)).astype(np.float32)
    ids, scores = net.predict_topk(X, k=11, mode="exact")
    params = params_of(net)
    for i in range(X.shape[0]):
        p = numpy_forward(params, X[i])
        np.testing.assert_allclose(scores[i], p[ids[i]], rtol=1e-4, atol=1e-6)
        assert sorted(ids[i].tolist()) == list(range(11))
        assert np.all(np.diff(scores[i]) <= 1e-7)  # best first
    if sampled_output:
        # Every neuron is active (min_active = units), so sampled prediction equals exact prediction.
        ids_s, scores_s = net.predict_topk(X, k=11, mode="sampled")
        np.testing.assert_allclose(np.take_along_axis(scores_s, np.argsort(ids_s, 1), 1),
                                   np.take_along_axis(scores, np.argsort(ids, 1), 1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("shared", [False, True], ids=["per-sample", "batch-shared"])
def test_weight_decay_is_decoupled_and_lazy(optimizer, shared):
    """AdamW-style decay: with it, each updated weight row ends at (the update without decay) minus
    lr * weight_decay * (its old value); rows no batch touched and all biases are the same as without."""
    rng = np.random.default_rng(4)
    X = sp.random(16, 40, density=0.15, format="csr", random_state=5, dtype=np.float32)
    labels = [rng.choice(60, size=2, replace=False) for _ in range(16)]
    lr, wd = (0.5, 0.3) if optimizer == "sgd" else (0.05, 5.0)

    def run(weight_decay):
        opt = (sl.SGD(lr=lr, weight_decay=weight_decay) if optimizer == "sgd"
               else sl.Adam(lr=lr, weight_decay=weight_decay))
        lsh = sl.LSH("dwta", k=2, tables=4, bucket_size=8, active=0.2, batch_shared=shared)
        net = sl.Network(input_dim=40, layers=[sl.Layer(12), sl.Layer(60, activation="softmax", sampling=lsh)],
                         optimizer=opt, seed=9, threads=1)
        before = params_of(net)
        net.train_batch(X, labels)
        return before, params_of(net)

    before, plain = run(0.0)
    before_d, decayed = run(wd)
    for li, ((W0, b0), (Wp, bp), (W0d, _), (Wd, bd)) in enumerate(zip(before, plain, before_d, decayed)):
        np.testing.assert_array_equal(W0, W0d)  # same seed, same start
        np.testing.assert_array_equal(bp, bd, err_msg=f"layer {li}: biases are not decayed")
        # Rows are input features for the first layer (sparse input) and neurons for the output layer.
        rows_w = (lambda W: W.T) if li == 0 else (lambda W: W)
        touched = np.any(rows_w(Wp) != rows_w(W0), axis=1)
        assert 0 < touched.sum() < touched.size, f"layer {li}: need touched and untouched rows"
        np.testing.assert_array_equal(rows_w(Wd)[~touched], rows_w(W0)[~touched],
                                      err_msg=f"layer {li}: untouched rows must not decay")
        np.testing.assert_allclose(rows_w(Wd)[touched], rows_w(Wp)[touched] - lr * wd * rows_w(W0)[touched],
                                   rtol=1e-5, atol=1e-6, err_msg=f"layer {li}")
        assert np.abs(lr * wd * rows_w(W0)[touched]).max() > 1e-3  # the decay term is not negligible


def test_weight_decay_must_keep_the_factor_positive():
    layers = [sl.Layer(4), sl.Layer(5, activation="softmax")]
    with pytest.raises(sl.InvalidArgumentError, match="weight_decay"):
        sl.Network(input_dim=3, layers=layers, optimizer=sl.Adam(lr=1e-3, weight_decay=-0.1))
    with pytest.raises(sl.InvalidArgumentError, match="weight_decay"):
        sl.Network(input_dim=3, layers=layers, optimizer=sl.Adam(lr=0.5, weight_decay=2.0))
    net = sl.Network(input_dim=3, layers=layers, optimizer=sl.Adam(lr=1e-3, weight_decay=0.5))
    with pytest.raises(sl.InvalidArgumentError, match="weight_decay"):
        net.set_learning_rate(2.0)  # lr * weight_decay would reach 1
    net.set_learning_rate(0.5)
    assert net.optimizer == sl.Adam(lr=0.5, weight_decay=0.5)
