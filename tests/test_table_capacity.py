"""Hash tables that hold their layer: Network.table_stats, the automatic bucket size, the refusal of tables
too small for their layer, and the minimum of negatives in training sets."""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl

UNITS = 20_000


def net_with(lsh, units=UNITS, seed=3):
    return sl.Network(16, [sl.Layer(32, "relu"), sl.Layer(units, "softmax", sampling=lsh)], seed=seed, threads=2)


def test_default_tables_hold_every_neuron():
    st = net_with(sl.LSH()).table_stats()
    assert isinstance(st, sl.TableStats) and st.layer == 1
    assert (st.tables, st.buckets, st.units) == (50, 64, UNITS)
    assert st.bucket_capacity == 1024  # 2 * 20,000 / 64 = 625, next power of two
    assert st.present == UNITS and st.present_share == 1.0
    assert st.entries_per_neuron == 50.0  # every table holds every neuron
    assert st.dropped == 0 and st.full_share == 0.0 and st.max_fill < 1.0
    assert st.table_bytes >= 50 * 64 * 1025 * 4


def test_auto_size_is_resolved_per_layer_and_kept_by_model_files(tmp_path):
    assert sl.LSH().resolved().bucket_size is None  # derives from the layer's size
    small = net_with(sl.LSH(), units=3000).table_stats()
    assert small.bucket_capacity == 128  # 2 * 3,000 / 64 = 94: the minimum
    net = net_with(sl.LSH(), units=9000)
    assert net.table_stats(-1).bucket_capacity == 512
    net.save(tmp_path / "m.slide")
    again = sl.Network.load(tmp_path / "m.slide").table_stats()
    assert again == net.table_stats()
    with pytest.raises(sl.InvalidArgumentError, match="bucket_size must be >= 1"):
        net_with(sl.LSH(bucket_size=0))


def test_tables_too_small_for_the_layer_are_refused():
    with pytest.raises(sl.InvalidArgumentError) as e:
        net_with(sl.LSH(k=6, bucket_size=16, tables=2))
    msg = str(e.value)
    assert "layer 1" in msg and "2 tables x 64 buckets x 16 ids = 2048 slots" in msg
    assert "20000 neurons" in msg and "leave bucket_size unset for the automatic size (1024 ids per bucket here)" in msg
    with pytest.raises(sl.InvalidArgumentError, match="8192 slots cannot hold its 20000 neurons"):
        net_with(sl.LSH(k=6, bucket_size=128, tables=1))
    # an explicit size that fits in total is kept as given
    assert net_with(sl.LSH(k=6, bucket_size=200, tables=2)).table_stats().bucket_capacity == 200


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


@pytest.mark.parametrize("shared", [False, True])
def test_training_sets_keep_negatives_when_retrieval_returns_nothing(shared):
    # a neuron must share the query's bucket in all 8 tables: retrieval returns (almost) nothing
    lsh = sl.LSH(tables=8, rule="threshold", threshold=8, random_fraction=0.0, active=16, batch_shared=shared,
                 logq_correction=False)
    net = net_with(lsh, units=2000)
    X = np.random.default_rng(2).random((8, 16), np.float32)
    rows = np.repeat(np.arange(8), 6)
    Y = sp.csr_matrix((np.ones(48, np.float32), (rows, np.arange(48) * 37)), shape=(8, 2000))
    active = net.train_batch(X, Y)["active"]
    # min_active = 16 / 4 = 4 neurons besides the labels (6 per sample, 48 per batch)
    assert active >= (48 + 4 if shared else 6 + 4)
