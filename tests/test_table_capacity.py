"""Hash tables that hold their layer: Network.table_stats."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl

UNITS = 20_000


def net_with(lsh, units=UNITS, seed=3):
    return sl.Network(16, [sl.Layer(32, "relu"), sl.Layer(units, "softmax", sampling=lsh)], seed=seed, threads=2)


def test_crowded_layer_reports_low_occupancy():
    net = net_with(sl.LSH(k=6, bucket_size=128))  # 50 x 64 x 128 = 409,600 slots: accepted
    rng = np.random.default_rng(0)
    # weight rows aligned with one direction: SimHash sends them all to one bucket per table
    net.layers[1].weights = np.ones((UNITS, 32), np.float32) + 1e-4 * rng.standard_normal((UNITS, 32), np.float32)
    net.rebuild_tables()
    st = net.table_stats()
    assert st.present_share < 0.5
    assert st.max_fill == 1.0 and st.dropped > 0 and 0 < st.full_share < 0.1


def test_layers_without_tables_are_refused():
    net = net_with(sl.LSH(), units=3000)
    with pytest.raises(sl.InvalidArgumentError, match="layer 0 is fully computed: it has no hash tables"):
        net.table_stats(0)
    with pytest.raises(sl.InvalidArgumentError, match="out of range"):
        net.table_stats(2)
    with pytest.raises(sl.InvalidArgumentError, match="exact oracle"):
        net_with(sl.LSH(hash="exact"), units=3000).table_stats()


def test_stale_tables_are_rebuilt_before_the_report():
    net = net_with(sl.LSH(), units=3000)  # random_fraction 1: training reads no tables
    X = np.random.default_rng(1).random((32, 16), np.float32)
    Y = sp.csr_matrix((np.ones(32, np.float32), (np.arange(32), np.arange(32) * 7)), shape=(32, 3000))
    net.train_batch(X, Y)
    before = net.layers[1].rebuilds
    net.table_stats()
    assert net.layers[1].rebuilds == before + 1
    net.table_stats()
    assert net.layers[1].rebuilds == before + 1
