"""The C *_init() functions are the one source of defaults: LSH(), Layer(n), Adam(), SGD() and the `slide`
command's parsed defaults resolve to exactly the values slide_*_config_init writes, read here through cffi."""

import doctest

import numpy as np
import pytest

import libslide as sl
from libslide import build_flags, cli, network
from libslide import io as slide_io
from libslide._api import ffi, lib


def c_init(ctype, init):
    c = ffi.new(f"{ctype} *")
    assert init(c, ffi.sizeof(ctype)) == 0
    return c


def f32(x):
    return float(np.float32(x))


def same_bytes(a, b):
    return ffi.buffer(a)[:] == ffi.buffer(b)[:]


def lsh_struct(lsh):
    c = ffi.new("slide_lsh_config *")
    keep = []
    lsh._fill(c, keep)
    return c, keep


def assert_lsh_is_c_default(lsh):
    c = c_init("slide_lsh_config", lib.slide_lsh_config_init_v)
    filled, _ = lsh_struct(lsh)
    assert same_bytes(filled, c)  # nothing written over the init values, not even the same value
    r = lsh.resolved()
    assert r.hash == ffi.string(c.hash).decode()
    assert (r.bin_size, r.threshold, r.rebuild_every) == (c.bin_size, c.threshold, c.rebuild_period)
    # chosen for the kind of layer sampled (softmax or hidden) at network creation
    assert c.k == 0 and c.tables == 0 and (r.k, r.tables) == (None, None)
    assert c.batch_shared == -1 and r.batch_shared is None
    assert c.random_fraction == -1 and r.random_fraction is None
    assert c.max_active == 0
    assert (r.active == "auto" and c.active_fraction == 0) or (isinstance(r.active, float) and
                                                               f32(r.active) == c.active_fraction)
    assert c.min_active == 0 and r.min_active is None  # derived from the layer size
    assert c.bucket_bits == 0 and r.bucket_bits is None
    assert c.bucket_size == 0 and r.bucket_size is None  # sized to hold the layer
    assert r.insertion == {lib.SLIDE_INSERT_FIFO: "fifo", lib.SLIDE_INSERT_RESERVOIR: "reservoir"}[c.insertion]
    assert r.rule == {lib.SLIDE_SAMPLE_TOPK: "topk", lib.SLIDE_SAMPLE_UNION: "union",
                      lib.SLIDE_SAMPLE_THRESHOLD: "threshold"}[c.rule]
    assert f32(r.rebuild_growth) == c.rebuild_growth
    assert (r.rehash_touched, r.logq_correction) == (bool(c.rehash_touched), bool(c.logq_correction))


def assert_optimizer_is_c_default(opt, kind):
    c = c_init("slide_optimizer_config", lib.slide_optimizer_config_init_v)
    c.kind = kind
    filled = ffi.new("slide_optimizer_config *")
    opt._fill(filled)
    assert same_bytes(filled, c)
    r = opt.resolved()
    for name in ("lr", "weight_decay") + (("beta1", "beta2", "eps") if kind == lib.SLIDE_OPT_ADAM else ()):
        assert f32(getattr(r, name)) == getattr(c, name), name


def test_lsh_defaults_are_the_c_init_values():
    assert all(getattr(sl.LSH(), f) is None for f in sl.LSH.__dataclass_fields__)
    assert_lsh_is_c_default(sl.LSH())
    assert sl.LSH.defaults() == sl.LSH() and sl.LSH.defaults().resolved() == sl.LSH.defaults()


def test_layer_defaults_are_the_c_init_values():
    c = c_init("slide_layer_config", lib.slide_layer_config_init_v)
    c.units = 7
    filled = ffi.new("slide_layer_config *")
    sl.Layer(7)._fill(filled, [])
    assert same_bytes(filled, c)
    r = sl.Layer(7).resolved()
    assert r.units == 7 and r.sampling is None
    assert r.activation == {lib.SLIDE_ACT_RELU: "relu", lib.SLIDE_ACT_SOFTMAX: "softmax",
                            lib.SLIDE_ACT_LINEAR: "linear"}[c.activation]
    assert r.storage == {lib.SLIDE_STORAGE_F32: "float32", lib.SLIDE_STORAGE_BF16: "bfloat16"}[c.storage]


def test_optimizer_defaults_are_the_c_init_values():
    assert_optimizer_is_c_default(sl.Adam(), lib.SLIDE_OPT_ADAM)
    assert_optimizer_is_c_default(sl.SGD(), lib.SLIDE_OPT_SGD)
    assert sl.Adam.defaults() == sl.Adam() != sl.Adam(lr=0.01)
    net = sl.Network(input_dim=4, layers=[sl.Layer(3, activation="softmax")], threads=1)
    assert net.optimizer == sl.Adam() and net.optimizer == sl.Adam.defaults()  # read back from the network


@pytest.mark.parametrize("argv", [["train", "--train", "a.txt", "--test", "b.txt"], ["demo"]], ids=["train", "demo"])
def test_cli_defaults_are_the_c_init_values(argv):
    a = cli.build_parser().parse_args(argv)
    lsh, storage, adam = cli.model_settings(sl, a)
    assert_lsh_is_c_default(lsh)
    assert_optimizer_is_c_default(adam, lib.SLIDE_OPT_ADAM)
    assert sl.Layer(5, sampling=lsh, storage=storage).resolved().storage == sl.Layer(5).resolved().storage
    assert a.preset is None and a.batch is None


def test_cli_preset_is_explicit_and_flags_override_it():
    a = cli.build_parser().parse_args(["train", "--train", "a", "--test", "b", "--preset", "shared-simhash",
                                       "--lr", "0.01", "--active-set", "per-sample", "--tables", "8"])
    lsh, _, adam = cli.model_settings(sl, a)
    assert lsh == sl.LSH("simhash", active=0.05, batch_shared=False, tables=8, random_fraction=0.0,
                         logq_correction=False)
    assert adam == sl.Adam(lr=0.01)
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "shared-simhash" in help_text and "shared-dwta" in help_text


@pytest.mark.parametrize("text, value", [("400", 400), ("1", 1), ("1.0", 1.0), ("0.05", 0.05), ("5e-3", 0.005)])
def test_cli_active_is_a_count_only_when_written_as_an_integer(text, value):
    a = cli.build_parser().parse_args(["demo", "--active", text])
    assert a.active == value and type(a.active) is type(value)


def test_int_active_is_a_count_and_float_active_a_fraction():
    one, _ = lsh_struct(sl.LSH(active=1))
    assert one.max_active == 1  # a single neuron; C then ignores the fraction
    init = c_init("slide_lsh_config", lib.slide_lsh_config_init_v)
    assert one.active_fraction == init.active_fraction
    everything, _ = lsh_struct(sl.LSH(active=1.0))
    assert everything.max_active == 0 and everything.active_fraction == 1.0  # the whole layer
    assert sl.LSH(active=np.int64(30)).resolved().active == 30
    X = np.eye(10, dtype=np.float32)
    for active, expected in ((3, 3), (0.5, 10)):  # 0.5 of 20 units
        net = sl.Network(input_dim=10, layers=[sl.Layer(20, activation="softmax",
                                                        sampling=sl.LSH(active=active, min_active=expected))],
                         threads=1)
        net.reset_counters()
        net.train_batch(X, [np.array([], np.int32)] * 10)
        assert net.layers[0].mean_active == expected


def test_unset_fields_are_shown_by_resolved_and_left_out_of_repr():
    assert repr(sl.LSH(k=4, active=64)) == "LSH(k=4, active=64)"
    assert repr(sl.Layer(5, activation="softmax")) == "Layer(units=5, activation='softmax')"
    assert repr(sl.SGD()) == "SGD()"
    r = sl.LSH(k=4).resolved()
    assert r.k == 4 and r.hash == sl.LSH.defaults().hash and "hash=" in repr(r)


def test_ranges_are_checked_by_the_library():
    """Out-of-range values reach C, whose status and message become the exception (status != 0); Python only
    refuses wrong types (status 0) and a 0 that C would read as "unset"."""
    def build(**kw):
        return sl.Network(input_dim=10, layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(**kw))], threads=1)

    for kw, words in ((dict(active=1.5), "active_fraction"), (dict(active=9), "max_active 9"),
                      (dict(random_fraction=-0.1), "random_fraction"), (dict(rebuild_growth=0.5), "rebuild_growth"),
                      (dict(tables=5000), r"tables must be in \[1, 4096\], got 5000")):
        with pytest.raises(sl.InvalidArgumentError, match=words) as err:
            build(**kw)
        assert err.value.status == lib.SLIDE_E_INVALID, kw
    for opt, words in ((sl.Adam(lr=0), "lr must be a finite number > 0, got 0"),
                       (sl.Adam(beta2=1.0), r"beta2 must be in \[0, 1\), got 1"),
                       (sl.SGD(lr=-1.0), "lr must be a finite number > 0, got -1")):
        with pytest.raises(sl.InvalidArgumentError, match="optimizer: " + words) as err:
            sl.Network(input_dim=4, layers=[sl.Layer(3, activation="softmax")], optimizer=opt)
        assert err.value.status == lib.SLIDE_E_INVALID
    for kw, words in ((dict(k=2.5), "LSH.k must be an integer"), (dict(k=-1), "LSH.k must be an integer in"),
                      (dict(k=0), r"k must be >= 1 \(None chooses it for the layer\), got 0"),
                      (dict(tables=0), r"tables must be >= 1 \(None chooses it for the layer\), got 0"),
                      (dict(hash=3), "LSH.hash must be a str"), (dict(active="all"), "LSH.active must be a float"),
                      (dict(active=True), "LSH.active must be a float"), (dict(active=0), "LSH.active must be >= 1"),
                      (dict(min_active=0), "None derives it"), (dict(rule="best"), "LSH.rule must be one of"),
                      (dict(batch_shared="yes"), "LSH.batch_shared must be True or False")):
        with pytest.raises(sl.InvalidArgumentError, match=words) as err:
            sl.LSH(**kw).resolved()
        assert err.value.status == 0, kw
    with pytest.raises(sl.InvalidArgumentError, match=r"layers\[0\]\.sampling\.k must be an integer"):
        build(k=2.5)
    with pytest.raises(sl.InvalidArgumentError, match="Adam.lr must be a real number"):
        sl.Adam(lr="fast").resolved()


def test_docstring_examples_hold():
    attempted = 0
    for module in (network, slide_io, build_flags, sl):
        failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failed == 0, module.__name__
        attempted += tried
    assert attempted >= 5
