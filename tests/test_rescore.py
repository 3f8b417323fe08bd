"""Rescoring of per-sample retrieval (LSH.rescore): the candidates returned by the most tables get their exact
pre-activation and the highest are kept, so a hidden layer's active set is the neurons that fire hardest
rather than those whose weights point closest to the input."""

from pathlib import Path

import numpy as np
import pytest

import libslide as sl

FUZZ_MODELS = Path(__file__).parent / "fuzz" / "corpus" / "fuzz_model_load"


def inputs(n=400, d=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def network(d=64, width=1000, **lsh):
    lsh.setdefault("hash", "simhash")  # retrieval (the automatic hidden-layer choice is exact top-k: nothing to rescore)
    return sl.Network(input_dim=d, layers=[sl.Layer(width, sampling=sl.LSH(active=0.05, **lsh)),
                                           sl.Layer(10, activation="softmax")], seed=0, threads=1)


def recall(net, X):
    return net.diagnose(X, sample=300, seed=0)[0]["recall"]


def test_rescoring_finds_the_top_pre_activations_that_table_hits_miss():
    X = inputs()
    hits_only, default = network(rescore=1), network()
    # same seed: same weights and tables; only the ranking of the candidates differs
    np.testing.assert_array_equal(hits_only.layers[0].weights, default.layers[0].weights)
    r1, r8 = recall(hits_only, X), recall(default, X)
    assert r8 >= 0.9, r8  # measured 0.98
    assert r8 >= r1 + 0.3, (r1, r8)  # measured 0.50 by hits alone


def test_rescoring_weighs_row_norms_and_biases():
    """Hit counts see only the angle between a row and the input; rescoring also sees |w| and the bias."""
    X = inputs()
    nets = [network(rescore=1), network(rescore=8)]
    rng = np.random.default_rng(1)
    scale = np.exp(rng.normal(size=(1000, 1))).astype(np.float32)
    bias = rng.normal(size=1000).astype(np.float32)
    for net in nets:
        layer = net.layers[0]
        layer.weights = layer.weights * scale
        layer.bias[:] = bias
        net.rebuild_tables()
    r1, r8 = recall(nets[0], X), recall(nets[1], X)
    assert r8 >= 0.8 and r8 >= r1 + 0.3, (r1, r8)


def test_rescore_survives_save_and_load(tmp_path):
    X = inputs()
    for rescore in (1, 3):
        net = network(rescore=rescore)
        before = recall(net, X)
        net.save(tmp_path / f"r{rescore}.slide")
        again = sl.Network.load(tmp_path / f"r{rescore}.slide", threads=1)
        assert recall(again, X) == before
    assert recall(sl.Network.load(tmp_path / "r1.slide", threads=1), X) < \
        recall(sl.Network.load(tmp_path / "r3.slide", threads=1), X)


def model_version(path):
    return int.from_bytes(Path(path).read_bytes()[8:12], "little")


def test_files_from_before_rescoring_load_ranking_by_hits(tmp_path):
    """A file written before format 7 has no rescore: its sampled layers rank by table hits (rescore 1), as
    when it was trained, and saving it again writes the same older format."""
    src = tmp_path / "old.mdl"  # a fuzz seed: one selector byte, then a version 1 file with sampled hidden layers
    src.write_bytes((FUZZ_MODELS / "deep_all_sampled_adam.mdl").read_bytes()[1:])
    old = model_version(src)
    assert old < 7
    net = sl.Network.load(src, threads=1)
    net.save(tmp_path / "again.mdl")
    assert model_version(tmp_path / "again.mdl") == old
    # a network using rescoring needs format 7
    network().save(tmp_path / "new.mdl")
    assert model_version(tmp_path / "new.mdl") == 7


def test_bad_rescore_values_are_refused():
    with pytest.raises(sl.InvalidArgumentError, match="None chooses it for the layer"):
        sl.LSH(rescore=0).resolved()
    with pytest.raises(sl.InvalidArgumentError, match="rescore must be in"):
        network(rescore=65)
