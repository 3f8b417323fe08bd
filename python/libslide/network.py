"""``Network`` / ``Layer``: the Python face of the C network. All math runs in C; Python only marshals."""

from __future__ import annotations

import numbers
import os
import time
from dataclasses import dataclass, fields

import numpy as np

from . import _inputs
from ._api import c_string, check, ffi, lib, new_struct
from ._errors import InvalidArgumentError, NumericError, SlideIOError
from .epoch_average import EpochAverage

_ACTIVATIONS = {"relu": lib.SLIDE_ACT_RELU, "softmax": lib.SLIDE_ACT_SOFTMAX, "linear": lib.SLIDE_ACT_LINEAR}
_ACT_NAMES = {v: k for k, v in _ACTIVATIONS.items()}
_INSERTION = {"fifo": lib.SLIDE_INSERT_FIFO, "reservoir": lib.SLIDE_INSERT_RESERVOIR}
_INSERTION_NAMES = {v: k for k, v in _INSERTION.items()}
_MODES = {"exact": lib.SLIDE_PREDICT_EXACT, "sampled": lib.SLIDE_PREDICT_SAMPLED}
_RULES = {"topk": lib.SLIDE_SAMPLE_TOPK, "union": lib.SLIDE_SAMPLE_UNION, "threshold": lib.SLIDE_SAMPLE_THRESHOLD}
_RULE_NAMES = {v: k for k, v in _RULES.items()}
_STORAGE = {"float32": lib.SLIDE_STORAGE_F32, "bfloat16": lib.SLIDE_STORAGE_BF16}
_STORAGE_NAMES = {v: k for k, v in _STORAGE.items()}


def hash_backends() -> list[str]:
    """Names of the hash backends available at run time (pass one as ``LSH(hash=...)``)."""
    return [c_string(lib.slide_hash_backend_name(i)) for i in range(lib.slide_hash_backend_count())]


def load_backend(path) -> list[str]:
    """Loads a hash backend plugin (a shared module built against ``slide/hash_plugin.h``, see
    ``libslide.build_flags.include_dir()``) for the rest of the process; returns the new :func:`hash_backends`.
    Raises SlideIOError if it cannot be opened, UnsupportedError for another plugin API version,
    InvalidArgumentError for a missing entry point or a name already registered."""
    check(lib.slide_hash_backend_load(_inputs.path(path, "load_backend: path")))
    return hash_backends()


def _shortest_float32(x: float) -> float:
    """A float32 setting read back from C as the shortest decimal that rounds to it (1e-3, not 0.0010000000474974513)."""
    return float(str(np.float32(x)))


def _nonzero(value: int, name: str, why: str) -> int:
    """C reads 0 in some count fields as "unset"; an explicit 0 from Python must not silently mean that."""
    if value == 0:
        raise InvalidArgumentError(f"{name} must be >= 1 ({why}), got 0")
    return value


class _Settings:
    """Base of LSH, Layer, Adam and SGD: a field left at None means "the library's default", the value the C
    ``slide_*_config_init()`` function puts there; only fields that are set are written over it.
    ``resolved()`` shows every effective value; ``repr`` lists only the fields that are set. Two settings are
    equal when they configure the library the same way: ``Adam() == Adam.defaults()``."""

    __hash__ = None  # mutable, like any non-frozen dataclass

    def __repr__(self):
        parts = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if getattr(self, f.name) is not None]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        try:
            a, b = self.resolved(), other.resolved()
        except InvalidArgumentError:  # a field the library would refuse: compare as written
            a, b = self, other
        return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(self))


# Network.fit(lr_plateau=f) lowers the learning rate no further than this share of its starting value.
PLATEAU_MIN_LR_SHARE = 1e-6


# Network.fit(rollback=True) undoes the epochs since the best one after this many in a row without a better
# validation P@1. One is too few on a small validation set: on revdict (P@1 ~0.09 on 2,000 rows, standard
# error ~0.006) undoing every dip undid epochs that had helped the test rows (docs/benchmarks.md, "Rolling
# back epochs that did not help").
ROLLBACK_PATIENCE = 2


# Network.fit(holdout="auto"): on (X, Y) of at least HOLDOUT_AUTO_MIN_ROWS rows, min(HOLDOUT_AUTO_ROWS, 5%)
# rows are kept out of training; their P@1 steers the default rules below. 2,000 rows is what the rules were
# measured with (P@1 standard error <= 0.011 at any P@1); 5% caps what a small set gives up.
HOLDOUT_AUTO_MIN_ROWS = 10_000
HOLDOUT_AUTO_ROWS = 2_000
HOLDOUT_AUTO_SHARE = 0.05
# The rate factor of fit(lr_plateau="auto") when there are held-out rows (rollback then on as well).
DEFAULT_LR_PLATEAU = 0.5
# Seeds the choice of held-out rows apart from the shuffling stream, so that every fit call with one seed
# holds out the same rows (a second call never trains on rows the first one held out).
_HOLDOUT_STREAM = 0x686F6C64


class PlateauRule:
    """The epoch-end rule of Network.fit(lr_plateau=f, rollback=...), kept apart so that bench/vs_torch.py
    applies the very same rule to every implementation. step(p1) takes an epoch's watched P@1 and says
    whether it improved on the best so far, whether the rate is to be multiplied by f (never below
    PLATEAU_MIN_LR_SHARE of the starting rate; factor None: never) and whether the epochs since the best
    one are to be undone (rollback, after ROLLBACK_PATIENCE epochs in a row without a better P@1)."""

    def __init__(self, factor: float | None, rollback: bool):
        self.factor, self.rollback = factor, rollback
        self.best = None  # the best watched P@1 so far
        self.stale = 0  # epochs in a row without a better one, since the best one or a rollback
        self.lr_scale = 1.0  # the rate as a share of the starting one

    def step(self, p1: float) -> tuple[bool, bool, bool]:
        improved = self.best is None or p1 > self.best
        cut = not improved and self.factor is not None and self.lr_scale * self.factor >= PLATEAU_MIN_LR_SHARE
        if improved:
            self.best = p1
        if cut:
            self.lr_scale *= self.factor
        self.stale = 0 if improved else self.stale + 1
        undo = self.rollback and self.stale >= ROLLBACK_PATIENCE
        if undo:
            self.stale = 0
        return improved, cut, undo


def _flat(snapshot: list) -> list:
    """[(w0, b0), (w1, b1), ...] (a Network._snapshot_all) -> [w0, b0, w1, b1, ...], as EpochAverage takes it."""
    return [a for pair in snapshot for a in pair]


def _pairs(flat: list) -> list:
    """The inverse of _flat: an EpochAverage's mean as a snapshot Network._restore puts back."""
    return list(zip(flat[::2], flat[1::2]))


def holdout_count(n: int, holdout) -> int:
    """How many of ``n`` rows Network.fit(holdout=...) keeps out of training."""
    if isinstance(holdout, str):
        if holdout != "auto":
            raise InvalidArgumentError(f"holdout must be 'auto', a row count or a fraction, got {holdout!r}")
        return min(HOLDOUT_AUTO_ROWS, int(n * HOLDOUT_AUTO_SHARE)) if n >= HOLDOUT_AUTO_MIN_ROWS else 0
    if holdout is None or holdout is False:
        return 0
    if isinstance(holdout, (float, np.floating)):
        share = _inputs.real(holdout, "holdout (a fraction)", 0.0, 1.0, hi_open=True)
        return 0 if share == 0 else min(max(1, round(share * n)), n - 1)
    count = _inputs.integer(holdout, "holdout")
    if not 0 <= count < n:
        raise InvalidArgumentError(f"holdout must leave rows to train on: {count} of {n} rows")
    return count


def holdout_split(n: int, holdout="auto", seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows trained on, rows held out): the sorted int64 row ids Network.fit(holdout=..., seed=...) splits
    ``n`` rows into."""
    n_held = holdout_count(n, holdout)
    if not n_held:
        return np.arange(n, dtype=np.int64), np.empty(0, dtype=np.int64)
    seed = 0 if seed is None else _inputs.integer(seed, "seed") & 0xFFFFFFFFFFFFFFFF
    pick = np.random.default_rng([seed, _HOLDOUT_STREAM]).permutation(n)
    return np.sort(pick[n_held:]), np.sort(pick[:n_held])


@dataclass(repr=False, eq=False)
class LSH(_Settings):
    """LSH sampling of a layer: which neurons each sample computes.

    The defaults depend on the layer sampled. On a softmax layer they train a sampled softmax that measured
    best (docs/benchmarks.md): one set per batch of the batch's labels and uniformly drawn negatives
    (batch_shared=True, random_fraction=1.0) with the logQ correction; SimHash tables (k=6, 50 tables) serve
    ``predict_topk(mode="sampled")``. random_fraction < 1 gives that share of the set to hash retrieval. On a
    hidden layer (relu, linear) each sample keeps its own highest pre-activations, with no random draws
    (hash "auto" resolves to "exact"; batch_shared=False, random_fraction=0.0): all of them are computed for
    the batch against the previous sampled layer's sparse output, which measured faster than retrieval and
    at least as accurate: ``LSH(active=0.05)`` is all a hidden layer needs. An explicit backend on a hidden
    layer (``hash="simhash"``) retrieves from 200 tables of k = floor(log2(units / (2 cap))) bits, so that
    a bucket holds about two caps' worth of neurons, and rescores the candidates. k, tables,
    batch_shared, random_fraction and rescore stay None after :meth:`resolved` unless set.

    Every field defaults to None, meaning the C library's default (``slide_lsh_config_init``);
    :meth:`LSH.defaults` returns them all and :meth:`resolved` fills in the unset fields of an instance.
    The library checks the ranges when the network is created and its message names the layer and field.

    hash: backend name (see :func:`hash_backends`), "exact", or "auto" (the default: SimHash on a softmax
    layer, exact on a hidden one); k: codes per table; tables: L; bucket_size: ids per
    bucket (None: sized so that each table can hold the layer twice over, a power of two >= 128; an explicit
    size whose tables * buckets * bucket_size slots cannot hold the layer is refused); active: cap on active
    neurons, either a float, the fraction of the layer in (0, 1], or an int, a count of neurons (the fraction
    is then not used) -- so ``LSH(active=1.0)`` computes every neuron and ``LSH(active=1)`` a single one --
    or "auto" (the default: 5% of the layer, at least 1,024 and at most 4,096 neurons, all of a smaller
    layer); min_active: training sets hold at least this many neurons besides the labels, padded with random
    ones (None: a quarter of the cap);
    rebuild_every: rebuild the tables every this many batches; rebuild_growth: multiply that period by this
    after every rebuild (1 = fixed, > 1 = exponentially growing); rehash_touched: between rebuilds, re-hash
    the neurons each batch updated; insertion: "fifo" or "reservoir"; rule: "topk" (rank by the number of
    tables that returned a neuron), "union" (all retrieved, in retrieval order) or "threshold" (only
    neurons returned by >= `threshold` tables); batch_shared: while training, one active set for the whole
    batch (its labels plus the neurons its samples retrieve most often, up to the cap); bin_size: DWTA/WTA
    bin size; bucket_bits: log2 buckets per table (None: one bucket per bucket_size neurons, never fewer
    than 2^k for codes of <= 10 bits); random_fraction: share of the cap filled with uniformly random
    neurons instead of retrieved ones, in [0, 1] (a small share such as 0.1 keeps per-sample sets from
    collapsing early in training, see docs/benchmarks.md; 1 is a uniformly sampled softmax); training only:
    sampled predictions give the whole cap to retrieval; logq_correction: train on an unbiased estimate of
    the full softmax, each uniformly drawn neuron's logit raised by log(neurons it stands for), the
    labels and retrieved neurons counted once (training only); rescore: per-sample retrieval computes the
    exact pre-activation of the ``rescore * want`` candidates returned by the most tables and keeps the
    ``want`` highest (1: rank by table hits alone; None: 8 on a hidden layer, 1 on a softmax layer).

    min_active, bucket_bits and bucket_size stay None after :meth:`resolved`: they derive from the layer's
    size; :meth:`Network.table_stats` reports a network's buckets and their capacity.

    >>> LSH(k=4, active=64)
    LSH(k=4, active=64)
    >>> r = LSH(k=4, active=64).resolved()
    >>> r.k, r.active, r.hash == LSH.defaults().hash
    (4, 64, True)
    """

    hash: str | None = None
    k: int | None = None
    tables: int | None = None
    bucket_size: int | None = None
    active: float | int | None = None
    min_active: int | None = None
    rebuild_every: int | None = None
    insertion: str | None = None
    bin_size: int | None = None
    bucket_bits: int | None = None
    rule: str | None = None
    threshold: int | None = None
    rebuild_growth: float | None = None
    rehash_touched: bool | None = None
    batch_shared: bool | None = None
    random_fraction: float | None = None
    logq_correction: bool | None = None
    rescore: int | None = None

    # Python field -> C field of slide_lsh_config, by kind; `active` and the names are handled apart.
    _COUNTS = {"k": "k", "tables": "tables", "bin_size": "bin_size", "threshold": "threshold",
               "rebuild_every": "rebuild_period", "rescore": "rescore"}
    # C: 0 = derived from the layer size, so an explicit 0 is refused
    _DERIVED = ("min_active", "bucket_bits", "bucket_size")
    _REALS = ("rebuild_growth", "random_fraction")
    _FLAGS = ("rehash_touched", "batch_shared", "logq_correction")
    # C: 0 (counts) or -1 = automatic, resolved for the kind of layer sampled (softmax or hidden)
    _AUTO = ("k", "tables", "batch_shared", "random_fraction", "rescore")

    def _fill(self, c, keep: list, where: str = "LSH"):
        check(lib.slide_lsh_config_init_v(c, ffi.sizeof("slide_lsh_config")))
        if self.hash is not None:
            name = ffi.new("char[]", _inputs.text(self.hash, f"{where}.hash").encode())
            keep.append(name)
            c.hash = name
        for py, cf in self._COUNTS.items():
            if getattr(self, py) is not None:
                value = _inputs.c_uint32(getattr(self, py), f"{where}.{py}")
                if py in self._AUTO:  # C: 0 = automatic
                    value = _nonzero(value, f"{where}.{py}", "None chooses it for the layer")
                setattr(c, cf, value)
        for py in self._DERIVED:
            if getattr(self, py) is not None:
                setattr(c, py, _nonzero(_inputs.c_uint32(getattr(self, py), f"{where}.{py}"), f"{where}.{py}",
                                        "None derives it from the layer size"))
        for py in self._REALS:
            if getattr(self, py) is not None:
                value = _inputs.real(getattr(self, py), f"{where}.{py}")
                if py == "random_fraction" and value == -1.0:  # C reads -1 as automatic; it refuses the rest
                    raise InvalidArgumentError(f"{where}.random_fraction must be in [0, 1] (None chooses it for "
                                               f"the layer), got {value!r}")
                setattr(c, py, value)
        for py in self._FLAGS:
            if getattr(self, py) is not None:
                setattr(c, py, _inputs.flag(getattr(self, py), f"{where}.{py}"))
        if self.insertion is not None:
            c.insertion = _inputs.choice(self.insertion, _INSERTION, f"{where}.insertion")
        if self.rule is not None:
            c.rule = _inputs.choice(self.rule, _RULES, f"{where}.rule")
        active = self.active
        if active is None:
            pass
        elif isinstance(active, str) and active == "auto":
            c.active_fraction = 0.0  # C: 0 = the automatic cap
        elif isinstance(active, numbers.Integral) and not isinstance(active, (bool, np.bool_)):
            # a count: C's max_active, where 0 would mean "use the fraction"
            c.max_active = _nonzero(_inputs.c_uint32(active, f"{where}.active"), f"{where}.active",
                                    "an int counts neurons, a float such as 1.0 is a fraction of the layer")
        elif isinstance(active, numbers.Real) and not isinstance(active, (bool, np.bool_)):
            c.active_fraction = float(active)
        else:
            raise InvalidArgumentError(f"{where}.active must be a float fraction of the layer, an int count of "
                                       f"neurons or 'auto', got {active!r}")

    @classmethod
    def _from_c(cls, c) -> "LSH":
        f32 = _shortest_float32
        return cls(hash=c_string(c.hash), k=int(c.k) or None, tables=int(c.tables) or None,
                   bucket_size=int(c.bucket_size) or None,
                   active=int(c.max_active) if c.max_active else f32(c.active_fraction) if c.active_fraction else "auto",
                   min_active=int(c.min_active) or None, rebuild_every=int(c.rebuild_period),
                   insertion=_INSERTION_NAMES[c.insertion], bin_size=int(c.bin_size),
                   bucket_bits=int(c.bucket_bits) or None, rule=_RULE_NAMES[c.rule], threshold=int(c.threshold),
                   rebuild_growth=f32(c.rebuild_growth), rehash_touched=bool(c.rehash_touched),
                   batch_shared=None if c.batch_shared < 0 else bool(c.batch_shared),
                   random_fraction=None if c.random_fraction < 0 else f32(c.random_fraction),
                   logq_correction=bool(c.logq_correction), rescore=int(c.rescore) or None)

    def resolved(self) -> "LSH":
        """A copy with every unset field replaced by the library's default, read back from the C struct
        (so float fields show their float32 value). min_active, bucket_bits and bucket_size stay None unless
        set: they derive from the layer's size (:meth:`Network.table_stats` shows a network's)."""
        c = ffi.new("slide_lsh_config *")
        self._fill(c, [])
        return self._from_c(c)

    @classmethod
    def defaults(cls) -> "LSH":
        """The library's defaults (``slide_lsh_config_init``), every field filled in."""
        return cls().resolved()


@dataclass(repr=False, eq=False)
class Layer(_Settings):
    """A fully connected layer. ``sampling=LSH(...)`` makes it compute only hash-retrieved neurons.

    activation: "relu", "softmax" (the last layer) or "linear"; ``storage="bfloat16"`` (LSH-sampled layers
    only) stores the weights and both Adam moments as bfloat16, halving the layer's memory; biases and all
    arithmetic stay float32. None means the library's default (``slide_layer_config_init``: relu, float32);
    :meth:`resolved` shows it.

    >>> Layer(10).resolved()
    Layer(units=10, activation='relu', storage='float32')
    """

    units: int
    activation: str | None = None
    sampling: LSH | None = None
    storage: str | None = None

    def _fill(self, c, keep: list, where: str = "Layer"):
        check(lib.slide_layer_config_init_v(c, ffi.sizeof("slide_layer_config")))
        c.units = _inputs.c_uint32(self.units, f"{where}.units")
        if self.activation is not None:
            c.activation = _inputs.choice(self.activation, _ACTIVATIONS, f"{where}.activation")
        if self.storage is not None:
            c.storage = _inputs.choice(self.storage, _STORAGE, f"{where}.storage")
        if self.sampling is not None:
            if not isinstance(self.sampling, LSH):
                raise InvalidArgumentError(f"{where}.sampling must be a libslide.LSH or None, "
                                           f"got {type(self.sampling).__name__}")
            lsh = ffi.new("slide_lsh_config *")
            self.sampling._fill(lsh, keep, f"{where}.sampling")
            keep.append(lsh)
            c.lsh = lsh

    def resolved(self) -> "Layer":
        """A copy with the library's defaults filled in (its ``sampling`` resolved too)."""
        c = ffi.new("slide_layer_config *")
        self._fill(c, [])
        return Layer(units=int(c.units), activation=_ACT_NAMES[c.activation],
                     sampling=None if self.sampling is None else self.sampling.resolved(),
                     storage=_STORAGE_NAMES[c.storage])


class _Optimizer(_Settings):
    """Adam and SGD: fields of ``slide_optimizer_config`` (floats, and the catch_up flag), None = the library's
    default."""

    _KIND = None
    _FLAGS = ("catch_up",)

    def _fill(self, c):
        check(lib.slide_optimizer_config_init_v(c, ffi.sizeof("slide_optimizer_config")))
        c.kind = self._KIND
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            where = f"{type(self).__name__}.{f.name}"
            setattr(c, f.name, _inputs.flag(value, where) if f.name in self._FLAGS else _inputs.real(value, where))

    @classmethod
    def _from_c(cls, c):
        return cls(**{f.name: bool(getattr(c, f.name)) if f.name in cls._FLAGS else _shortest_float32(getattr(c, f.name))
                      for f in fields(cls)})

    def resolved(self):
        """A copy with every unset field replaced by the library's default (as float32 reads it back)."""
        c = ffi.new("slide_optimizer_config *")
        self._fill(c)
        return self._from_c(c)

    @classmethod
    def defaults(cls):
        """The library's defaults (``slide_optimizer_config_init``)."""
        return cls().resolved()


@dataclass(repr=False, eq=False)
class Adam(_Optimizer):
    """Adam with bias correction, applied lazily to the rows a batch touched.

    ``weight_decay`` is decoupled weight decay as in ``torch.optim.AdamW``: each update of a weight row
    first multiplies it by ``1 - lr * weight_decay``. Biases are not decayed. ``catch_up`` (default on):
    a row's first update after k batches without a gradient first applies what dense Adam would have done
    to it in those batches (moments decayed, weights moved on by the decaying momentum and shrunk by the
    decay), so lazy updates follow ``torch.optim.Adam``/``AdamW``; off, untouched rows' moments stay
    frozen as in ``torch.optim.SparseAdam``. None fields take the library's defaults
    (``slide_optimizer_config_init``; weight_decay 0 is plain Adam): see :meth:`Adam.defaults`.

    >>> Adam(lr=3e-3).resolved().lr
    0.003
    """

    lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    eps: float | None = None
    weight_decay: float | None = None
    catch_up: bool | None = None

    _KIND = lib.SLIDE_OPT_ADAM


@dataclass(repr=False, eq=False)
class SGD(_Optimizer):
    """Plain SGD on the touched rows; ``weight_decay`` as for :class:`Adam` (rows touched by the batch).
    None fields take the library's defaults: the same learning rate as Adam's (:meth:`SGD.defaults`)."""

    lr: float | None = None
    weight_decay: float | None = None
    catch_up: bool | None = None

    _KIND = lib.SLIDE_OPT_SGD


class _ArrayOwner:
    """Exposes C memory to numpy and keeps the owning network alive while any view exists."""

    def __init__(self, owner, ptr, shape, strides):
        self.owner = owner
        self.__array_interface__ = {
            "data": (int(ffi.cast("uintptr_t", ptr)), False),
            "shape": shape,
            "strides": strides,
            "typestr": "<f4",
            "version": 3,
        }


class LayerView:
    """One layer of a live network: shape, sampling counters and zero-copy parameter views."""

    def __init__(self, net: "Network", index: int):
        self._net = net
        self.index = index

    def _info(self):
        info = ffi.new("slide_layer_info *")
        info.struct_size = ffi.sizeof("slide_layer_info")
        check(lib.slide_network_layer_info(self._net._h, self.index, info))
        return info

    @property
    def units(self) -> int:
        return int(self._info().units)

    @property
    def input_dim(self) -> int:
        return int(self._info().input_dim)

    @property
    def sampled(self) -> bool:
        return bool(self._info().sampled)

    @property
    def activation(self) -> str:
        return _ACT_NAMES[int(self._info().activation)]

    @property
    def mean_active(self) -> float:
        """Mean active neurons per training sample since the counters were last reset."""
        info = self._info()
        return info.active_total / info.samples_seen if info.samples_seen else float("nan")

    @property
    def rebuilds(self) -> int:
        return int(self._info().rebuilds)

    @property
    def storage(self) -> str:
        """"float32" or "bfloat16": how the weights and Adam moments are stored."""
        return _STORAGE_NAMES[int(self._info().storage)]

    def _params(self, weights: bool = True):
        w = ffi.new("float **") if weights else ffi.NULL
        b = ffi.new("float **")
        rows, row_len, stride = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
        check(lib.slide_network_layer_params(self._net._h, self.index, w, b, rows, row_len, stride))
        return (w[0] if weights else None), b[0], rows[0], row_len[0], stride[0]

    @property
    def weights(self) -> np.ndarray:
        """Weights as a (units, input_dim) float32 array (like torch.nn.Linear).

        float32 layers: a view of the network's memory; writing into it changes the model. bfloat16 layers:
        a read-only float32 copy (exact). Assigning ``layer.weights = array`` works for both (bfloat16 rounds
        to nearest even). Call ``net.rebuild_tables()`` after changing a sampled layer's weights."""
        info = self._info()
        if info.storage == lib.SLIDE_STORAGE_BF16:
            _, _, rows, row_len, _ = self._params(weights=False)
            arr = np.empty((rows, row_len), dtype=np.float32)
            check(lib.slide_network_get_weights(self._net._h, self.index, ffi.from_buffer("float[]", arr), arr.size))
            arr.flags.writeable = False
        else:
            w, _, rows, row_len, stride = self._params()
            arr = np.asarray(_ArrayOwner(self._net, w, (rows, row_len), (stride * 4, 4)))
        return arr if info.neuron_major else arr.T

    @weights.setter
    def weights(self, value) -> None:
        info = self._info()
        shape = (int(info.units), int(info.input_dim))
        arr = np.asarray(value, dtype=np.float32)
        if arr.shape != shape:
            raise InvalidArgumentError(f"layer {self.index} weights must have shape {shape}, got {arr.shape}")
        arr = np.ascontiguousarray(arr if info.neuron_major else arr.T)
        check(lib.slide_network_set_weights(self._net._h, self.index, ffi.from_buffer("float[]", arr), arr.size))

    @property
    def bias(self) -> np.ndarray:
        _, b, _, _, _ = self._params(weights=False)
        return np.asarray(_ArrayOwner(self._net, b, (self.units,), (4,)))

    def __repr__(self):
        kind = "sampled" if self.sampled else "dense"
        storage = ", bfloat16" if self.storage == "bfloat16" else ""
        return f"<Layer {self.index}: {self.input_dim} -> {self.units} {self.activation}, {kind}{storage}>"


@dataclass(frozen=True)
class TableStats:
    """Occupancy of a sampled layer's hash tables (:meth:`Network.table_stats`, C ``slide_table_stats``).

    present_share is the share of the layer's neurons held by at least one table: a neuron no table holds is
    never retrieved (only drawn at random or forced in as a label). Fills are ids held over bucket capacity;
    dropped counts offers to full buckets since the last rebuild."""

    layer: int
    tables: int
    buckets: int
    bucket_capacity: int
    units: int
    present: int
    present_share: float
    entries_per_neuron: float
    mean_fill: float
    max_fill: float
    full_share: float
    dropped: int
    table_bytes: int


def _batch_stats():
    st = ffi.new("slide_batch_stats *")
    st.struct_size = ffi.sizeof("slide_batch_stats")
    return st


class Network:
    """A feed-forward network of fully connected layers trained with LSH-sampled sparse updates.

    Parameters: input_dim (width of X), layers (list of :class:`Layer`; the last must be softmax),
    optimizer (:class:`Adam` or :class:`SGD`; None: ``Adam()``), seed, threads (None or 0: follow OpenMP /
    threadpoolctl). The library checks every setting and names the layer and field at fault.
    """

    def __init__(self, input_dim: int, layers, optimizer=None, seed: int = 0, threads: int | None = None,
                 _handle=None):
        if _handle is not None:
            self._h = _handle
            self._threads = threads
            return
        input_dim = _inputs.c_uint32(input_dim, "input_dim")
        layers = list(layers)
        keep = []
        lcs = ffi.new("slide_layer_config *[]", len(layers))
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise InvalidArgumentError(f"layers[{i}] must be a libslide.Layer, got {type(layer).__name__}")
            lc = ffi.new("slide_layer_config *")
            layer._fill(lc, keep, f"layers[{i}]")
            keep.append(lc)
            lcs[i] = lc
        if optimizer is None:
            optimizer = Adam()
        if not isinstance(optimizer, (Adam, SGD)):
            raise InvalidArgumentError(f"optimizer must be a libslide.Adam or libslide.SGD, got {type(optimizer).__name__}")
        cfg = new_struct("slide_network_config")
        cfg.input_dim = input_dim
        cfg.n_layers = len(layers)
        cfg.layers = lcs
        cfg.seed = _inputs.integer(seed, "seed") & 0xFFFFFFFFFFFFFFFF
        cfg.threads = self._thread_arg(threads)
        opt = ffi.new("slide_optimizer_config *")
        optimizer._fill(opt)
        out = ffi.new("slide_network **")
        check(lib.slide_network_create(cfg, opt, out))
        self._h = ffi.gc(out[0], lib.slide_network_free, size=lib.slide_network_memory_bytes(out[0]))
        self._threads = threads

    # ---------------------------------------------------------------- properties
    @staticmethod
    def _thread_arg(threads):
        if threads is None:
            return 0
        return _inputs.c_int(threads, "threads")

    @property
    def threads(self) -> int:
        """Threads the next call will use (resolves None to the OpenMP / threadpoolctl setting)."""
        return int(lib.slide_network_get_threads(self._h))

    @threads.setter
    def threads(self, value):
        check(lib.slide_network_set_threads(self._h, self._thread_arg(value)))
        self._threads = value

    @property
    def layers(self) -> list[LayerView]:
        return [LayerView(self, i) for i in range(lib.slide_network_layer_count(self._h))]

    @property
    def input_dim(self) -> int:
        return self.layers[0].input_dim

    @property
    def output_dim(self) -> int:
        return self.layers[-1].units

    @property
    def steps(self) -> int:
        """Optimizer steps (batches) applied so far; restored by :meth:`load`."""
        return int(lib.slide_network_step_count(self._h))

    def memory_bytes(self) -> int:
        """Bytes owned by the network: parameters, optimizer state, hash tables and scratch."""
        return int(lib.slide_network_memory_bytes(self._h))

    def set_learning_rate(self, lr: float) -> None:
        check(lib.slide_network_set_learning_rate(self._h, _inputs.real(lr, "lr")))

    @property
    def optimizer(self) -> Adam | SGD:
        """The optimizer settings in use (a copy; the learning rate is the current one, restored by :meth:`load`)."""
        c = new_struct("slide_optimizer_config")
        check(lib.slide_network_get_optimizer(self._h, c))
        return (SGD if c.kind == lib.SLIDE_OPT_SGD else Adam)._from_c(c)

    def rebuild_tables(self) -> None:
        check(lib.slide_network_rebuild_tables(self._h))

    def reset_counters(self) -> None:
        check(lib.slide_network_reset_counters(self._h))

    # ---------------------------------------------------------------- training
    def train_batch(self, X, Y, rows=None) -> dict:
        """One optimizer step on the given rows of (X, Y) (all rows when None). Returns loss and active count."""
        xv = _inputs.features(X, self.input_dim)
        yv = _inputs.labels(Y, xv.rows, self.output_dim)
        if rows is None:
            n, rp = xv.rows, ffi.NULL
        else:
            r = _inputs.row_ids(rows, xv.rows)
            n, rp = r.size, ffi.from_buffer("int64_t[]", r)
        st = _batch_stats()
        check(lib.slide_network_train_batch(self._h, xv.c, yv.c, rp, n, st))
        return {"loss": st.loss, "active": st.active_output}

    @staticmethod
    def _snapshot(layer) -> tuple:
        """Private copies of a layer's weights and bias (a bfloat16 layer's `weights` already is a read-only copy)."""
        w = layer.weights
        return (w.copy() if w.flags.writeable else w), layer.bias.copy()

    def _snapshot_all(self) -> list:
        """_snapshot of every layer: what _restore puts back."""
        return [self._snapshot(layer) for layer in self.layers]

    def _restore(self, snapshot, rebuild: bool = True) -> None:
        """Puts back weights and biases taken by _snapshot and rebuilds the hash tables over them (rebuild=False:
        the caller puts back weights the tables were built over, or only evaluates exactly)."""
        for layer, (w, b) in zip(self.layers, snapshot):
            layer.weights = w
            layer.bias[...] = b
        if rebuild:
            self.rebuild_tables()

    def fit(self, X, Y, epochs: int = 1, batch_size: int = 128, validation_data=None, shuffle: bool = True,
            progress: bool = True, seed: int | None = None, eval_sample: int | None = None, callback=None,
            checkpoint=None, checkpoint_every: int | None = None, early_stopping: int | None = None,
            lr_plateau="auto", rollback="auto", holdout="auto", average=False):
        """Trains for ``epochs`` passes over (X, Y) in shuffled mini-batches.

        validation_data=(Xv, Yv) is evaluated (P@1, P@5, exact top-k) after every epoch on all of its rows, or
        on a random subset of ``eval_sample`` rows. ``callback(record)`` is called after each epoch. With
        ``checkpoint`` (a path) the model is saved atomically every ``checkpoint_every`` batches and after each
        epoch. A non-finite loss raises NumericError naming the epoch and batch; that batch is not applied and
        no checkpoint is written after it. Returns the list of per-epoch records: epoch, loss, seconds,
        samples_per_s, mean_active (per layer) and P@k.

        holdout: rows of (X, Y) kept out of training whose P@1 steers the rules below. "auto" (default):
        min(2,000, 5%) rows when X has at least 10,000 rows, none below that (HOLDOUT_AUTO_*); an int: that
        many rows; a float: that share; 0: none. The rows are drawn with ``seed`` alone, so every call with
        one seed holds out the same rows (``holdout_split(len(X), holdout, seed)`` names them). Records then
        carry holdout_P@1 and holdout_n, and validation_data is only reported. Without held-out rows the
        rules watch validation_data.

        early_stopping=k: stops once the watched P@1 has not improved for k epochs, then puts back the
        weights and biases of the best epoch and rebuilds the hash tables (optimizer moments stay those of the
        last epoch), and re-saves ``checkpoint``. Records then also carry ``best_epoch``. Keeping the best
        weights costs one float32 copy of every layer's weights.

        lr_plateau=f (0 < f < 1): after each epoch whose watched P@1 is not above the best so far, the
        learning rate is multiplied by f (as ``set_learning_rate``, so it stays in the network and its model
        files), down to PLATEAU_MIN_LR_SHARE (1e-6) of the rate the call started with; records then also
        carry ``lr``. "auto" (default): DEFAULT_LR_PLATEAU (0.5) when there are held-out rows, else off
        (test rows passed as validation_data to watch P@1 must not steer training unless asked); None: off.

        rollback=True (with lr_plateau): after ROLLBACK_PATIENCE (2) epochs in a row without a better
        watched P@1, those epochs are undone: the weights and biases of the best epoch are put back
        (tables rebuilt; optimizer moments and step stay those of the last epoch; the record carries
        rolled_back) and training goes on from them at the rate lr_plateau has lowered meanwhile; fit
        returns with the best epoch's weights, as early_stopping. "auto" (default): on when lr_plateau is
        and there are held-out rows. Costs one float32 copy of every layer's weights, as early_stopping.

        average=True: after each epoch the weights join a running mean of the weights at epoch ends
        (libslide.epoch_average.EpochAverage, an epoch-level stochastic weight average) and the watched P@1
        of the mean is measured too; when it is not above the live weights' the mean restarts from them.
        fit returns the best model on the watched rows among every epoch's live weights and means. The
        rules above and training see the live weights only, so they take the same course as without
        average (after a rollback the mean starts anew). Records then carry ``average_P@1`` (the mean's
        watched P@1, from the second epoch of a mean on), ``averaged`` (the epoch's better model is the
        mean of the live weights at the last `averaged` epoch ends; 1: the live weights), and
        ``model_epoch`` / ``model_averaged``: the model fit returns if it stops there. Costs three more
        float32 copies of every layer's weights and one more evaluation of the watched rows per epoch.

        So by default a set of 10,000 rows or more trains without at most 2,000 of them (5%), and fit
        returns, whatever the epoch count, the best epoch on those rows instead of an overfitted last one
        (docs/benchmarks.md, "Rolling back epochs that did not help"); holdout=0 trains on every row at a
        constant rate, as libslide 0.4 did.
        """
        if checkpoint_every is not None:
            checkpoint_every = _inputs.positive_int(checkpoint_every, "checkpoint_every")
            if checkpoint is None:
                raise InvalidArgumentError("checkpoint_every needs a checkpoint path")
        epochs = _inputs.positive_int(epochs, "epochs")
        batch_size = _inputs.positive_int(batch_size, "batch_size")
        if eval_sample is not None:
            eval_sample = _inputs.positive_int(eval_sample, "eval_sample")
        if seed is not None:
            seed = _inputs.integer(seed, "seed") & 0xFFFFFFFFFFFFFFFF  # as Network(seed=): any integer
        if checkpoint is not None:
            check_writable(checkpoint, "checkpoint")
        xv = _inputs.features(X, self.input_dim)
        yv = _inputs.labels(Y, xv.rows, self.output_dim)
        if validation_data is not None:
            # checked now, not after the first epoch
            try:
                Xv, Yv = validation_data
            except (TypeError, ValueError):
                raise InvalidArgumentError("validation_data must be a pair (X, Y)") from None
            xvv = _inputs.features(Xv, self.input_dim, name="validation X")
            validation_data = (xvv, _inputs.labels(Yv, xvv.rows, self.output_dim, name="validation Y"))
        n_all = xv.rows
        if n_all == 0:
            raise InvalidArgumentError("X has no rows")
        train_rows, held = holdout_split(n_all, holdout, seed)
        n_held = held.size
        can_watch = n_held > 0 or validation_data is not None
        if early_stopping is not None:
            early_stopping = _inputs.positive_int(early_stopping, "early_stopping")
            if not can_watch:
                raise InvalidArgumentError("early_stopping needs held-out rows or validation_data (it watches P@1)")
        if isinstance(lr_plateau, str) and lr_plateau == "auto":
            lr_plateau = DEFAULT_LR_PLATEAU if n_held else None
        elif lr_plateau is not None:
            if not can_watch:
                raise InvalidArgumentError("lr_plateau needs held-out rows or validation_data (it watches P@1)")
            lr_plateau = _inputs.real(lr_plateau, "lr_plateau (a factor)", 0.0, 1.0, lo_open=True, hi_open=True)
        if isinstance(rollback, str) and rollback == "auto":
            rollback = lr_plateau is not None and n_held > 0
        elif not isinstance(rollback, (bool, np.bool_)):
            raise InvalidArgumentError(f"rollback must be True, False or 'auto', got {rollback!r}")
        elif rollback and lr_plateau is None:
            raise InvalidArgumentError("rollback needs lr_plateau (it acts when the rate is cut)")
        if not isinstance(average, (bool, np.bool_)):
            raise InvalidArgumentError(f"average must be True or False, got {average!r}")
        elif average and not can_watch:
            raise InvalidArgumentError("average needs held-out rows or validation_data (it watches P@1)")
        steering = early_stopping is not None or lr_plateau is not None
        keep_best = early_stopping is not None or rollback
        rule = PlateauRule(lr_plateau, rollback)
        best = None  # (epoch, [(weights, bias) per layer]) of the best watched P@1, with keep_best
        mean = EpochAverage() if average else None
        chosen = None  # with average: (epoch, averaged, watched P@1, snapshot) of the best model seen

        def watched_p1() -> float:
            if n_held:
                return self._evaluate_rows(xv, yv, held, (1,))["P@1"]
            return self.evaluate(*validation_data, ks=(1,), sample=eval_sample, progress=False)["P@1"]
        n = train_rows.size
        order = train_rows
        history = []
        bar_cls = _tqdm() if progress else None
        for epoch in range(1, epochs + 1):
            if shuffle:
                # The order depends on (seed, steps so far), not on this call: training 2 epochs equals
                # 1 epoch + save + load + 1 more epoch.
                rng = np.random.default_rng([0 if seed is None else int(seed), self.steps])
                order = train_rows[rng.permutation(n)]
            self.reset_counters()
            st = _batch_stats()
            loss_sum, batches = 0.0, 0
            bar = bar_cls(total=n, desc=f"epoch {epoch}/{epochs}", unit="sample", leave=True) if bar_cls else None
            t0 = time.perf_counter()
            base_ptr = ffi.from_buffer("int64_t[]", order)
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                status = lib.slide_network_train_batch(self._h, xv.c, yv.c, base_ptr + start, m, st)
                if status == lib.SLIDE_E_NUMERIC:
                    msg = c_string(lib.slide_last_error())
                    raise NumericError(f"epoch {epoch}, batch {batches + 1}: {msg}", status)
                check(status)
                loss_sum += st.loss
                batches += 1
                if checkpoint_every and batches % checkpoint_every == 0:
                    self.save(checkpoint)
                if bar is not None:
                    bar.update(m)
                    if batches % 20 == 0:
                        bar.set_postfix(loss=f"{loss_sum / batches:.4f}", active=f"{st.active_output:.0f}")
            seconds = time.perf_counter() - t0
            if bar is not None:
                bar.close()
            record = {
                "epoch": epoch,
                "loss": loss_sum / batches,
                "seconds": seconds,
                "samples_per_s": n / seconds,
                "mean_active": [layer.mean_active for layer in self.layers],
            }
            if checkpoint is not None:
                self.save(checkpoint)
            if validation_data is not None:
                record.update(self.evaluate(*validation_data, ks=(1, 5), sample=eval_sample, progress=False))
            if n_held:
                record["holdout_P@1"] = watched_p1()
                record["holdout_n"] = n_held
            live_p1 = record["holdout_P@1" if n_held else "P@1"] if can_watch else None  # what the rules watch
            if mean is not None:
                # The live weights compete with the mean of the weights at the last epoch ends; neither the
                # rules below nor training see the mean, so the trajectory is that of average=False.
                live = self._snapshot_all()
                flat = _flat(live)
                mean.add(flat)
                candidate = (live_p1, 1, live)
                if mean.count > 1:
                    self._restore(_pairs(mean.mean), rebuild=False)
                    record["average_P@1"] = mean_p1 = watched_p1()
                    if mean.settle(flat, live_p1, mean_p1):
                        candidate = (mean_p1, mean.count, self._snapshot_all())
                    self._restore(live, rebuild=False)  # the tables were built over these weights
                record["averaged"] = candidate[1]
                if chosen is None or candidate[0] > chosen[2]:
                    chosen = (epoch, candidate[1], candidate[0], candidate[2])
                record["model_epoch"], record["model_averaged"] = chosen[0], chosen[1]
            if steering:
                improved, cut, undo = rule.step(live_p1)
                if cut:
                    self.set_learning_rate(self.optimizer.lr * lr_plateau)
                if lr_plateau is not None:
                    record["lr"] = self.optimizer.lr
                if keep_best:
                    if improved:
                        best = (epoch, self._snapshot_all())
                    record["best_epoch"] = best[0]
                if undo:
                    self._restore(best[1])
                    if mean is not None:
                        mean.reset()  # the mean holds epochs after the rollback only
                    record["rolled_back"] = True
                    if checkpoint is not None:
                        self.save(checkpoint)  # the file holds the weights training goes on from
            history.append(record)
            if callback is not None:
                callback(record)
            if early_stopping is not None and epoch - best[0] >= early_stopping:
                break
        last = history[-1]
        if chosen is not None and (chosen[0], chosen[1]) == (last["epoch"], 1) and not last.get("rolled_back"):
            return history  # the network holds the best model already: the last epoch's live weights
        if chosen is not None:
            self._restore(chosen[3])  # the best watched model, live weights or a mean
        elif keep_best and best[0] != last["epoch"]:
            # early stopping and rollback both return the best watched epoch's weights
            self._restore(best[1])
        else:
            return history
        if checkpoint is not None:
            self.save(checkpoint)  # the file holds the model fit returns
        return history

    # ---------------------------------------------------------------- inference
    def predict_topk(self, X, k: int = 5, mode: str = "exact", rows=None, progress: bool = False):
        """Top-k output ids (int32, shape (n, k)) and their softmax scores (float32), best first.

        mode="exact" scores every output neuron; mode="sampled" only those the hash tables retrieve (ids
        beyond the retrieved set are -1)."""
        k = _inputs.positive_int(k, "k")
        if mode not in _MODES:
            raise InvalidArgumentError(f"mode must be 'exact' or 'sampled', got {mode!r}")
        xv = _inputs.features(X, self.input_dim)
        r = np.arange(xv.rows, dtype=np.int64) if rows is None else _inputs.row_ids(rows, xv.rows)
        n = r.size
        ids = np.empty((n, k), dtype=np.int32)
        scores = np.empty((n, k), dtype=np.float32)
        rp = ffi.from_buffer("int64_t[]", r)
        ip = ffi.from_buffer("int32_t[]", ids)
        sp_ = ffi.from_buffer("float[]", scores)
        chunk = max(4096, n // 100) if progress else max(n, 1)
        bar = _tqdm()(total=n, desc="predict", unit="sample") if progress else None
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            check(lib.slide_network_predict_topk(self._h, xv.c, rp + start, m, k, _MODES[mode], ip + start * k,
                                                 sp_ + start * k))
            if bar is not None:
                bar.update(m)
        if bar is not None:
            bar.close()
        return ids, scores

    def predict(self, X, mode: str = "exact") -> np.ndarray:
        """The top-1 output id of every row."""
        return self.predict_topk(X, k=1, mode=mode)[0][:, 0]

    def evaluate(self, X, Y, ks=(1, 3, 5), mode: str = "exact", sample: int | None = None, seed: int = 0,
                 progress: bool = False) -> dict:
        """Precision@k and nDCG@k (as in the extreme-classification literature: binary relevance, rows without
        labels count 0) over all rows of (X, Y), or over a random subset of ``sample`` rows drawn with ``seed``.
        Returns {"P@1": ..., "nDCG@1": ..., ...} for every k in ``ks``, plus "n" (rows evaluated)."""
        if isinstance(ks, (numbers.Integral, np.integer)) and not isinstance(ks, (bool, np.bool_)):
            ks = (ks,)
        try:
            ks = tuple(_inputs.positive_int(k, "ks") for k in ks)
        except TypeError:
            raise InvalidArgumentError(f"ks must be a positive integer or a sequence of them, got {ks!r}") from None
        if not ks:
            raise InvalidArgumentError("ks must not be empty")
        if sample is not None:
            sample = _inputs.positive_int(sample, "sample")
        xv = _inputs.features(X, self.input_dim)
        yv = _inputs.labels(Y, xv.rows, self.output_dim)
        if sample is not None and sample < xv.rows:
            rows = np.sort(np.random.default_rng(seed).choice(xv.rows, size=int(sample), replace=False))
        else:
            rows = np.arange(xv.rows, dtype=np.int64)
        return self._evaluate_rows(xv, yv, rows, ks, mode, progress)

    def _evaluate_rows(self, xv, yv, rows, ks, mode="exact", progress=False) -> dict:
        """evaluate() on the given row ids of checked features and labels."""
        kmax = max(ks)
        ids, _ = self.predict_topk(xv, k=kmax, mode=mode, rows=rows, progress=progress)
        hits, ndcg = ffi.new("double[]", kmax), ffi.new("double[]", kmax)
        crows = ffi.from_buffer("int64_t[]", rows.astype(np.int64, copy=False))
        cids = ffi.from_buffer("int32_t[]", ids)
        check(lib.slide_precision_at_k(yv.c, crows, rows.size, cids, kmax, kmax, hits))
        check(lib.slide_ndcg_at_k(yv.c, crows, rows.size, cids, kmax, kmax, ndcg))
        n = max(rows.size, 1)
        out = {f"P@{k}": hits[k - 1] / (k * n) for k in ks}
        out.update({f"nDCG@{k}": ndcg[k - 1] / n for k in ks})
        out["n"] = int(rows.size)
        return out

    def diagnose(self, X, sample: int | None = 1000, seed: int = 0) -> list[dict]:
        """Per layer: active neurons per sample (mean and distribution), recall of the computed neurons against
        the exact top-k pre-activations (k = the active count), and multiply-adds as computed versus a dense
        network. Runs sampled inference on ``sample`` random rows of X (all rows if None)."""
        if sample is not None:
            sample = _inputs.positive_int(sample, "sample")
        xv = _inputs.features(X, self.input_dim)
        if sample is not None and sample < xv.rows:
            rows = np.sort(np.random.default_rng(seed).choice(xv.rows, size=int(sample), replace=False))
        else:
            rows = np.arange(xv.rows, dtype=np.int64)
        rows = rows.astype(np.int64, copy=False)
        n_layers = len(self.layers)
        out = ffi.new("slide_layer_diagnosis[]", n_layers)
        out[0].struct_size = ffi.sizeof("slide_layer_diagnosis")
        check(lib.slide_network_diagnose(self._h, xv.c, ffi.from_buffer("int64_t[]", rows), rows.size, out,
                                         n_layers))
        result = []
        for d in out:
            result.append({
                "layer": int(d.layer), "sampled": bool(d.sampled), "units": self.layers[d.layer].units,
                "mean_active": d.mean_active, "min_active": d.min_active, "p50_active": d.p50_active,
                "p90_active": d.p90_active, "max_active": d.max_active, "recall": d.recall,
                "madds": d.madds, "madds_dense": d.madds_dense,
                "madds_fraction": d.madds / d.madds_dense if d.madds_dense else float("nan"),
                "n": int(rows.size),
            })
        return result

    def table_stats(self, layer: int = -1) -> TableStats:
        """Occupancy of a sampled layer's hash tables (default: the output layer): how many neurons at least
        one table holds, how full the buckets are, and their memory. Tables that training left stale
        (random_fraction=1) are rebuilt first, as ``predict_topk(mode="sampled")`` would. A fully computed
        layer, or one using ``hash="exact"``, has no tables: InvalidArgumentError."""
        n_layers = lib.slide_network_layer_count(self._h)
        index = _inputs.integer(layer, "layer")
        if not -n_layers <= index < n_layers:
            raise InvalidArgumentError(f"layer {layer} out of range for a network of {n_layers} layers")
        index %= n_layers
        st = ffi.new("slide_table_stats *")
        st.struct_size = ffi.sizeof("slide_table_stats")
        check(lib.slide_network_table_stats(self._h, index, st))
        return TableStats(layer=index, tables=int(st.tables), buckets=int(st.buckets),
                          bucket_capacity=int(st.bucket_capacity), units=int(st.units), present=int(st.present),
                          present_share=st.present_share, entries_per_neuron=st.entries_per_neuron,
                          mean_fill=st.mean_fill, max_fill=st.max_fill, full_share=st.full_share,
                          dropped=int(st.dropped), table_bytes=int(st.table_bytes))

    # ---------------------------------------------------------------- files
    def save(self, path) -> None:
        """Writes the model, optimizer state and hash tables atomically (temporary file, fsync, rename)."""
        check(lib.slide_network_save(self._h, _inputs.path(path, "save: path")))

    @classmethod
    def load(cls, path, threads: int | None = None) -> "Network":
        """Loads a file written by :meth:`save`; training resumes exactly where it stopped."""
        out = ffi.new("slide_network **")
        check(lib.slide_network_load(_inputs.path(path, "load: path"), out))
        h = ffi.gc(out[0], lib.slide_network_free, size=lib.slide_network_memory_bytes(out[0]))
        net = cls(0, [], _handle=h, threads=threads)
        if threads is not None:
            net.threads = threads
        return net

    def export_npz(self, path) -> None:
        """Writes every layer's weights (units x input_dim) and bias to a numpy .npz file."""
        arrays = {}
        for layer in self.layers:
            arrays[f"layer{layer.index}_weights"] = np.ascontiguousarray(layer.weights)
            arrays[f"layer{layer.index}_bias"] = np.array(layer.bias)
        np.savez(path, **arrays)

    def __repr__(self):
        inner = ", ".join(f"{l.units}{'*' if l.sampled else ''}" for l in self.layers)
        return f"<libslide.Network {self.input_dim} -> [{inner}] (* = LSH-sampled)>"


def check_writable(path, name="path") -> None:
    """Refuses, before any work, a save target that cannot be written: a directory, a missing directory, a
    special file (device, FIFO, socket). A symlink is followed: the model is written at its target."""
    raw = _inputs.path(path, name)
    target = os.path.realpath(raw)
    if os.path.isdir(target):
        raise SlideIOError(f"{os.fsdecode(raw)}: is a directory", lib.SLIDE_E_IO)
    if os.path.exists(target) and not os.path.isfile(target):
        raise SlideIOError(f"{os.fsdecode(raw)}: not a regular file; refusing to replace it", lib.SLIDE_E_IO)
    parent = os.path.dirname(target) or b"."
    if not os.path.isdir(parent):
        raise SlideIOError(f"{os.fsdecode(raw)}: directory {os.fsdecode(parent)} does not exist", lib.SLIDE_E_IO)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SlideIOError(f"{os.fsdecode(raw)}: directory {os.fsdecode(parent)} is not writable", lib.SLIDE_E_IO)


def _tqdm():
    from tqdm.auto import tqdm

    return tqdm
