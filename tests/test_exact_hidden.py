"""Per-sample exact selection on hidden layers (LSH(hash="exact")): training scores every neuron of the layer for
the whole batch at once (libslide/src/preact_batch.c), keeps each sample's highest pre-activations and
back-propagates through them alone. Checked against a float64 numpy reference of the same masked network, with
dense and sparse inputs, so that a score given to the wrong sample or neuron changes the result. Sparse inputs
are scored by gathers or through a dense panel of the batch over the union of their positions (preact_batch.c,
chosen by a cost model); SLIDE_PREACT_PANEL forces each way, and both must match the reference."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl

WIDTH, ACTIVE, IN, CLASSES = 40, 10, 12, 5  # 40 neurons: two blocks of 32 rows


@pytest.fixture(params=["auto", "0", "1"], ids=["panel-auto", "gathers", "panel"])
def panel(request, monkeypatch):
    """How sparse inputs are scored: the cost model's choice, always gathers, always the dense panel."""
    if request.param == "auto":
        monkeypatch.delenv("SLIDE_PREACT_PANEL", raising=False)
    else:
        monkeypatch.setenv("SLIDE_PREACT_PANEL", request.param)
    return request.param


def network(threads):
    lsh = sl.LSH(hash="exact", active=ACTIVE)
    return sl.Network(input_dim=IN, layers=[sl.Layer(WIDTH, sampling=lsh), sl.Layer(WIDTH, sampling=lsh),
                                            sl.Layer(CLASSES, activation="softmax")],
                      optimizer=sl.SGD(lr=1.0), seed=0, threads=threads)


def reference_gradients(params, X, labels, active=ACTIVE):
    """Gradients (mean cross-entropy) of the network whose hidden layers keep their `active` highest
    pre-activations (ties to the lower id) and output 0 elsewhere."""
    grads = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    n = len(X)
    for x, labs in zip(X, labels):
        hs, zs, masks = [x.astype(np.float64)], [], []
        for W, b in params[:-1]:
            z = W @ hs[-1] + b
            order = np.lexsort((np.arange(z.size), -z))
            mask = np.zeros(z.size, bool)
            mask[order[:active]] = True
            zs.append(z)
            masks.append(mask)
            hs.append(np.where(mask, np.maximum(z, 0.0), 0.0))
        W, b = params[-1]
        z = W @ hs[-1] + b
        p = np.exp(z - z.max())
        p /= p.sum()
        t = np.zeros(z.size)
        t[labs] = 1.0 / len(labs)
        dz = (p - t) / n
        for li in range(len(params) - 1, -1, -1):
            W = params[li][0]
            grads[li][0][...] += np.outer(dz, hs[li])
            grads[li][1][...] += dz
            if li:
                dz = (W.T @ dz) * masks[li - 1] * (zs[li - 1] > 0)
    return grads


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sparse_input", [False, True], ids=["dense-input", "sparse-input"])
def test_exact_hidden_layers_train_as_the_masked_reference(sparse_input, threads, panel):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, IN)).astype(np.float32)
    X[X < -0.6] = 0.0
    labels = [rng.choice(CLASSES, size=1 + i % 2, replace=False) for i in range(len(X))]
    net = network(threads)
    for layer in net.layers:
        layer.weights[...] = rng.normal(scale=0.5, size=layer.weights.shape)
        layer.bias[...] = rng.normal(scale=0.1, size=layer.bias.shape)
    before = [(np.array(l.weights, np.float64), np.array(l.bias, np.float64)) for l in net.layers]
    net.train_batch(sp.csr_matrix(X) if sparse_input else X, labels)  # SGD, lr 1: after = before - gradient
    want = reference_gradients(before, X, labels)
    for li, (layer, (W0, b0), (gW, gb)) in enumerate(zip(net.layers, before, want)):
        np.testing.assert_allclose(W0 - np.array(layer.weights, np.float64), gW, rtol=1e-4, atol=1e-6,
                                   err_msg=f"layer {li} weights")
        np.testing.assert_allclose(b0 - np.array(layer.bias, np.float64), gb, rtol=1e-4, atol=1e-6,
                                   err_msg=f"layer {li} bias")
    # Each sample computed ACTIVE neurons of each hidden layer.
    assert [net.layers[i].mean_active for i in range(2)] == [ACTIVE, ACTIVE]


@pytest.mark.parametrize("storage", ["float32", "bfloat16"])
@pytest.mark.parametrize("dense_input", [False, True], ids=["csr-input", "dense-input"])
@pytest.mark.parametrize("mode", ["0", "1"], ids=["gathers", "panel"])
def test_inputs_over_several_panel_chunks(mode, dense_input, storage, monkeypatch):
    """An input of 1,100 positions (sparse: a union over two 512-position chunks plus a tail; dense: the
    same chunks read in place, or widened from bfloat16) into 70 neurons (a 64-row block and a 6-row tail):
    the chunk sums and row tails must land on the right sample and neuron, as the gathers do, in sampled
    and exact prediction and in training."""
    monkeypatch.setenv("SLIDE_PREACT_PANEL", mode)
    rng = np.random.default_rng(11)
    n_in, width, active = 1100, 70, 7
    X = rng.normal(size=(9, n_in)).astype(np.float32)
    X[rng.random(X.shape) < 0.6] = 0.0
    labels = [rng.choice(CLASSES, size=1, replace=False) for _ in range(len(X))]
    lsh = sl.LSH(hash="exact", active=active)
    net = sl.Network(input_dim=n_in, layers=[sl.Layer(width, sampling=lsh, storage=storage),
                                             sl.Layer(width, sampling=lsh, storage=storage),
                                             sl.Layer(CLASSES, activation="softmax")],
                     optimizer=sl.SGD(lr=1.0), seed=0, threads=2)
    for layer in net.layers:
        layer.weights = rng.normal(scale=0.3, size=layer.weights.shape).astype(np.float32)
        layer.bias[...] = rng.normal(scale=0.1, size=layer.bias.shape)
    # the stored values (bfloat16 rounds them; widening back is exact)
    before = [(np.array(l.weights, np.float64), np.array(l.bias, np.float64)) for l in net.layers]
    Xin = X if dense_input else sp.csr_matrix(X)
    for pmode, keep in (("sampled", active), ("exact", None)):
        ids, scores = net.predict_topk(Xin, k=2, mode=pmode)
        want = masked_forward(before, X, keep)
        np.testing.assert_array_equal(ids, np.argsort(-want, axis=1, kind="stable")[:, :2], err_msg=pmode)
        np.testing.assert_allclose(scores, np.take_along_axis(want, ids, axis=1), rtol=1e-4, atol=1e-6,
                                   err_msg=pmode)
    if storage == "bfloat16":
        return  # the update rounds the new weights to bfloat16: no float64 step to compare with
    net.train_batch(Xin, labels)
    grads = reference_gradients(before, X, labels, active)
    for li, (layer, (W0, b0), (gW, gb)) in enumerate(zip(net.layers, before, grads)):
        np.testing.assert_allclose(W0 - np.array(layer.weights, np.float64), gW, rtol=1e-4, atol=1e-5,
                                   err_msg=f"layer {li} weights")
        np.testing.assert_allclose(b0 - np.array(layer.bias, np.float64), gb, rtol=1e-4, atol=1e-5,
                                   err_msg=f"layer {li} bias")


def masked_forward(params, X, active=None):
    """Softmax outputs of the network in float64; hidden layers keep their `active` highest pre-activations
    (every neuron when None)."""
    out = []
    for x in X.astype(np.float64):
        h = x
        for W, b in params[:-1]:
            z = W @ h + b
            if active is not None:
                keep = np.lexsort((np.arange(z.size), -z))[:active]
                z = np.where(np.isin(np.arange(z.size), keep), z, 0.0)
            h = np.maximum(z, 0.0)
        W, b = params[-1]
        z = W @ h + b
        p = np.exp(z - z.max())
        out.append(p / p.sum())
    return np.array(out)


@pytest.mark.parametrize("hash_name", ["exact", "simhash"])
@pytest.mark.parametrize("sparse_input", [False, True], ids=["dense-input", "sparse-input"])
def test_prediction_scores_hidden_layers_per_chunk(hash_name, sparse_input, panel):
    """Exact prediction scores every neuron of a sampled hidden layer for a chunk of 256 samples at once (and
    sampled prediction an exact-selection layer): 600 rows span three chunks, and each must get its own."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, IN)).astype(np.float32)
    X[X < -0.6] = 0.0
    lsh = sl.LSH(hash=hash_name, active=ACTIVE)
    net = sl.Network(input_dim=IN, layers=[sl.Layer(WIDTH, sampling=lsh), sl.Layer(WIDTH, sampling=lsh),
                                           sl.Layer(CLASSES, activation="softmax")], seed=0, threads=2)
    for layer in net.layers:
        layer.weights[...] = rng.normal(scale=0.5, size=layer.weights.shape)
        layer.bias[...] = rng.normal(scale=0.1, size=layer.bias.shape)
    params = [(np.array(l.weights, np.float64), np.array(l.bias, np.float64)) for l in net.layers]
    Xin = sp.csr_matrix(X) if sparse_input else X
    modes = [("exact", None)] + ([("sampled", ACTIVE)] if hash_name == "exact" else [])
    for mode, active in modes:
        ids, scores = net.predict_topk(Xin, k=3, mode=mode)
        want = masked_forward(params, X, active)
        np.testing.assert_array_equal(ids, np.argsort(-want, axis=1, kind="stable")[:, :3], err_msg=mode)
        np.testing.assert_allclose(scores, np.take_along_axis(want, ids, axis=1), rtol=1e-4, atol=1e-6,
                                   err_msg=mode)
