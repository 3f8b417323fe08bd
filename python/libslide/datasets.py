"""Synthetic extreme multi-label classification data sets.

The generators here build sparse, learnable XMC problems of any size with only
numpy and scipy.sparse, so the library can be exercised, tested and benchmarked
without downloading a real data set (Amazon-670K, Delicious-200K, ...).

Two entry points:

* :func:`make_extreme` -- a configurable problem.
* :func:`amazon670k_shape` -- the same generator with the dimensions of
  Amazon-670K (135,909 features, 670,091 labels, ~75 non-zeros per row).

Both have a realistic mode (``realistic=True``, settings in :class:`Realism`):
labels grouped into topics sharing features, correlated labels, missing and
spurious labels, topic-word noise; calibrated so that a 128-hidden network
scores on ``amazon670k_shape(realistic=True)`` about what it scores on the
real Amazon-670K.

Both return ``(X_train, Y_train, X_test, Y_test)`` as ``scipy.sparse`` CSR
matrices (see :func:`make_extreme` for the exact format guarantees).

This module is pure Python on top of numpy/scipy: it calls nothing in the
compiled part of libslide. Bad arguments raise InvalidArgumentError (also a
ValueError), checked by the same helpers as the rest of the package.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
import scipy.sparse as sp

from . import _inputs
from ._errors import FormatError, InvalidArgumentError

__all__ = [
    "make_extreme",
    "Realism",
    "amazon670k_shape",
    "AMAZON670K_N_FEATURES",
    "AMAZON670K_N_LABELS",
    "AMAZON670K_NNZ_PER_ROW",
]

#: Feature dimension of Amazon-670K.
AMAZON670K_N_FEATURES = 135_909
#: Label dimension of Amazon-670K.
AMAZON670K_N_LABELS = 670_091
#: Average number of non-zero features per row in Amazon-670K (rounded).
AMAZON670K_NNZ_PER_ROW = 75

_INT32_MAX = np.iinfo(np.int32).max

# Rows are generated in blocks of this many samples to bound temporary memory.
# It is a fixed constant (not a parameter) because it is part of what makes the
# output reproducible for a given seed.
_CHUNK_ROWS = 8192

# Log-normal spread of the multiplicative jitter applied to every value.
_VALUE_JITTER_SIGMA = 0.3


# --------------------------------------------------------------------------- #
# argument checking
# --------------------------------------------------------------------------- #
def _as_int(name, value, minimum=1):
    return _inputs.integer(value, name, minimum)


def _as_float(name, value, lo, hi, lo_open=False, hi_open=False):
    return _inputs.real(value, name, lo, hi, lo_open, hi_open)


def _labels_range(labels_per_row, n_labels):
    if isinstance(labels_per_row, numbers.Integral) and not isinstance(
        labels_per_row, (bool, np.bool_)
    ):
        lo = hi = _as_int("labels_per_row", labels_per_row)
    else:
        try:
            pair = tuple(labels_per_row)
        except TypeError:
            raise InvalidArgumentError(
                "labels_per_row must be an int or a (min, max) pair, "
                f"got {labels_per_row!r}"
            ) from None
        if len(pair) != 2:
            raise InvalidArgumentError(
                "labels_per_row must be a (min, max) pair, "
                f"got {len(pair)} values: {labels_per_row!r}"
            )
        lo = _as_int("labels_per_row[0] (min labels per row)", pair[0])
        hi = _as_int("labels_per_row[1] (max labels per row)", pair[1])
    if lo > hi:
        raise InvalidArgumentError(
            f"labels_per_row=({lo}, {hi}): the minimum is larger than the maximum"
        )
    if hi > n_labels:
        raise InvalidArgumentError(
            f"labels_per_row=({lo}, {hi}): a row cannot have more distinct labels "
            f"than n_labels={n_labels}"
        )
    return lo, hi


def _as_seed(seed):
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    try:
        return _inputs.integer(seed, "seed", 0)
    except InvalidArgumentError:
        raise InvalidArgumentError(
            f"seed must be a non-negative integer, a numpy SeedSequence or None, got {seed!r}") from None


# --------------------------------------------------------------------------- #
# building blocks
# --------------------------------------------------------------------------- #
def _position_weights(signal_features):
    """Relative weight of the s-th feature of every prototype: 1/sqrt(s+1)."""
    return 1.0 / np.sqrt(np.arange(1, signal_features + 1, dtype=np.float64))


def _label_cdf(n_labels, label_power):
    """Cumulative Zipf distribution p_j ~ (j+1)^-label_power, last entry exactly 1."""
    p = np.arange(1, n_labels + 1, dtype=np.float64) ** (-label_power)
    p /= p.sum()
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return p, cdf


def _make_prototypes(rng, n_labels, n_features, signal_features):
    """(n_labels, signal_features) int32 matrix; each row has distinct feature ids.

    Rows are drawn uniformly with replacement and rows that contain a repeated
    id are redrawn whole (rejection), so every row is a uniform random
    ordered subset.  When collisions are likely (signal_features**2 comparable
    to n_features) the remaining bad rows are finished with a random-key
    argpartition over all features, processed in blocks.
    """
    protos = rng.integers(0, n_features, size=(n_labels, signal_features), dtype=np.int32)
    if signal_features == 1:
        return protos

    def bad_rows(block):
        s = np.sort(block, axis=1)
        return np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))

    # Detect duplicates block-wise to avoid a full sorted copy of a large matrix.
    bad = []
    step = 1 << 16
    for start in range(0, n_labels, step):
        bad.append(bad_rows(protos[start:start + step]) + start)
    bad = np.concatenate(bad)

    for _ in range(16):
        if bad.size == 0:
            return protos
        protos[bad] = rng.integers(
            0, n_features, size=(bad.size, signal_features), dtype=np.int32
        )
        bad = bad[bad_rows(protos[bad])]

    # Dense regime (e.g. signal_features close to n_features): exact fallback.
    rows_per_block = max(1, (1 << 22) // n_features)
    for start in range(0, bad.size, rows_per_block):
        idx = bad[start:start + rows_per_block]
        keys = rng.random((idx.size, n_features))
        pick = np.argpartition(keys, signal_features - 1, axis=1)[:, :signal_features]
        # argpartition leaves the chosen ids in an arbitrary order; order them by
        # their random key so the position (and hence weight) is random too.
        order = np.argsort(np.take_along_axis(keys, pick, axis=1), axis=1)
        protos[idx] = np.take_along_axis(pick, order, axis=1).astype(np.int32)
    return protos


def _sample_labels(rng, k, hi, p, cdf):
    """Draw k[i] distinct labels for every row i, Zipf-weighted, without replacement.

    Labels are drawn one column at a time (successive sampling).  For column m
    the distribution p restricted to the labels not yet chosen in the row is
    sampled exactly by inverse-CDF with a fixed-point correction: with u uniform
    on [0, 1 - P(chosen)), the answer is the smallest unchosen x with
    ``cdf[x] - sum(p[c] for chosen c <= x) > u``; iterating
    ``x <- searchsorted(cdf, u + sum(p[c] for chosen c <= x))`` increases x
    monotonically and stops at that label after at most m + 1 steps.

    Returns an (n, hi) int64 matrix; entries at columns >= k[i] are -1.
    """
    n = k.shape[0]
    n_labels = p.shape[0]
    lab = np.full((n, hi), -1, dtype=np.int64)
    pch = np.zeros((n, hi), dtype=np.float64)  # p of the chosen labels
    taken = np.zeros(n, dtype=np.float64)  # total p already chosen per row
    for m in range(hi):
        u = rng.random(n)
        rows = np.flatnonzero(k > m)
        if rows.size == 0:
            break
        u = u[rows] * np.maximum(1.0 - taken[rows], 0.0)
        x = np.searchsorted(cdf, u, side="right")
        np.minimum(x, n_labels - 1, out=x)
        if m > 0:
            prev_lab = lab[rows, :m]
            prev_p = pch[rows, :m]
            act = np.arange(rows.size)
            for _ in range(m + 2):
                s = (prev_p[act] * (prev_lab[act] <= x[act, None])).sum(axis=1)
                xn = np.searchsorted(cdf, u[act] + s, side="right")
                np.minimum(xn, n_labels - 1, out=xn)
                moved = xn != x[act]
                x[act] = xn
                act = act[moved]
                if act.size == 0:
                    break
            # Floating-point guard: u + s can round up to the very end of the
            # CDF, where clipping may land on a label already chosen.  Replace
            # such a label by the largest unchosen one (never triggers in
            # exact arithmetic).
            clash = np.flatnonzero((prev_lab == x[:, None]).any(axis=1))
            if clash.size:
                fixed = np.full(clash.size, -1, dtype=np.int64)
                for j in range(m + 1):
                    cand = n_labels - 1 - j
                    ok = (fixed < 0) & ~(prev_lab[clash] == cand).any(axis=1)
                    fixed[ok] = cand
                x[clash] = fixed
        lab[rows, m] = x
        pm = p[x]
        pch[rows, m] = pm
        taken[rows] += pm
    return lab


def _rows_to_csr_parts(cols, vals):
    """Per-row (sorted, deduplicated, L2-normalised) CSR parts of a dense (n, w) block.

    ``cols`` / ``vals`` hold w candidate (column, value) pairs per row; repeated
    columns within a row are summed.
    """
    n, w = cols.shape
    order = np.argsort(cols, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    first = np.ones((n, w), dtype=bool)
    first[:, 1:] = cols[:, 1:] != cols[:, :-1]
    starts = np.flatnonzero(first.ravel())
    indices = cols.ravel()[starts].astype(np.int32)
    data = np.add.reduceat(vals.ravel(), starts)
    counts = first.sum(axis=1)
    row_starts = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=row_starts[1:])
    norms = np.sqrt(np.add.reduceat(data * data, row_starts))
    data /= np.repeat(norms, counts)
    return counts, indices, data.astype(np.float32)


def _generate_split(rng, n, *, protos, wpos, p, cdf, lo, hi, n_features,
                    nnz_per_row, noise):
    """Generate one split (X, Y) of n samples."""
    signal_features = protos.shape[1]
    pool_width = hi * signal_features
    max_sig = min(nnz_per_row, pool_width)
    pool_w = np.tile(wpos, hi)  # weight of every pool position

    x_counts, x_ind, x_dat = [], [], []
    y_counts, y_ind = [], []
    for start in range(0, n, _CHUNK_ROWS):
        c = min(_CHUNK_ROWS, n - start)

        # ---- labels -------------------------------------------------------
        k = rng.integers(lo, hi + 1, size=c)
        lab = _sample_labels(rng, k, hi, p, cdf)

        # ---- signal features: weighted sample without replacement from the
        # union of the row's label prototypes (Efraimidis-Spirakis keys
        # log(U)/w, largest keys win; absent labels get -inf).
        present = lab >= 0
        pool = protos[np.where(present, lab, 0)].reshape(c, pool_width)
        keys = np.log1p(-rng.random((c, pool_width))) / pool_w
        keys[~np.repeat(present, signal_features, axis=1)] = -np.inf
        if max_sig < pool_width:
            top = np.argpartition(-keys, max_sig - 1, axis=1)[:, :max_sig]
        else:
            top = np.broadcast_to(np.arange(pool_width), (c, pool_width))
        top = np.take_along_axis(
            top, np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1), axis=1
        )

        n_noise = rng.binomial(nnz_per_row, noise, size=c)
        n_sig = np.minimum(nnz_per_row - n_noise, k * signal_features)
        use_sig = np.arange(max_sig)[None, :] < n_sig[:, None]

        # ---- assemble nnz_per_row (column, value) candidates per row -------
        # Start with all-noise (uniform feature id, value distributed like a
        # signal value so magnitudes do not reveal what is signal), then
        # overwrite the first n_sig slots with the chosen signal features.
        cols = rng.integers(0, n_features, size=(c, nnz_per_row), dtype=np.int32)
        base = wpos[rng.integers(0, signal_features, size=(c, nnz_per_row))]
        sig_cols = np.take_along_axis(pool, top, axis=1)
        sig_base = wpos[top % signal_features]
        cols[:, :max_sig] = np.where(use_sig, sig_cols, cols[:, :max_sig])
        base[:, :max_sig] = np.where(use_sig, sig_base, base[:, :max_sig])
        vals = base * rng.lognormal(0.0, _VALUE_JITTER_SIGMA, size=(c, nnz_per_row))

        cnt, ind, dat = _rows_to_csr_parts(cols, vals)
        x_counts.append(cnt)
        x_ind.append(ind)
        x_dat.append(dat)

        # ---- label rows: sorted, -1 padding pushed to the end --------------
        lab_sorted = np.sort(np.where(present, lab, np.iinfo(np.int64).max), axis=1)
        y_counts.append(k)
        y_ind.append(lab_sorted[present.sum(axis=1)[:, None] > np.arange(hi)].astype(np.int32))

    X = _assemble(x_counts, x_ind, x_dat, n, n_features)
    Y = _assemble(y_counts, y_ind, None, n, p.shape[0])
    return X, Y


def _assemble(counts, indices, data, n, n_cols):
    """CSR matrix (int32 indices, float32 data; data=None: all ones) from per-chunk row parts."""
    counts = np.concatenate(counts)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indptr = indptr.astype(np.int32)
    indices = np.concatenate(indices)
    if data is None:
        data = np.ones(indices.size, dtype=np.float32)
    else:
        data = np.concatenate(data)
    m = sp.csr_matrix((data, indices, indptr), shape=(n, n_cols), copy=False)
    m.has_sorted_indices = True
    m.has_canonical_format = True
    return m


# --------------------------------------------------------------------------- #
# realistic mode
# --------------------------------------------------------------------------- #
@dataclasses.dataclass(frozen=True)
class Realism:
    """Settings of :func:`make_extreme`'s realistic mode (``realistic=True`` uses these defaults).

    The defaults were calibrated so that ``amazon670k_shape(realistic=True)`` gives a 128-hidden
    network about the P@1 it reaches on the real Amazon-670K (see :func:`make_extreme`, "How hard is
    it?").  Every field is a plain number; all rates are probabilities in [0, 1].

    Attributes
    ----------
    labels_per_topic : int
        Labels are split at random into topics of this many labels (the last topic may be smaller).
        Topics are the unit of feature sharing and of label co-occurrence.
    topic_features : int
        Size of every topic's vocabulary: distinct feature ids drawn uniformly, shared by all the
        topic's labels (different topics' vocabularies overlap only by chance).
    topic_share : float
        Fraction of every label prototype drawn from its topic's vocabulary (without replacement);
        the rest of the prototype is label-specific (uniform ids).  Two labels of a topic share about
        ``(topic_share * signal_features) ** 2 / topic_features`` prototype features, so a high
        share makes near-duplicate labels.
    topic_noise : float
        Expected fraction of a row's features drawn uniformly from its primary topic's vocabulary
        whatever its labels: generic topic words that point at the topic but not at a label.
    coherence : float
        Probability that each label of a row after the first comes from the row's primary topic
        (the first label's topic); otherwise it is drawn from the global popularity law.
    missing : float
        Probability that each true label (one that generated features) is absent from Y.  A row
        whose labels would all go missing keeps its first label, so no row of Y is empty.
    spurious : float
        Each row gets ``Binomial(k, spurious)`` spurious labels (``k`` = its number of true labels)
        drawn from the global popularity law: labels in Y that generated no features.
    """

    labels_per_topic: int = 20
    topic_features: int = 40
    topic_share: float = 0.6
    topic_noise: float = 0.15
    coherence: float = 0.7
    missing: float = 0.25
    spurious: float = 0.25

    def __post_init__(self):
        for name in ("labels_per_topic", "topic_features"):
            _inputs.integer(getattr(self, name), f"Realism.{name}", 1)
        for name in ("topic_share", "topic_noise", "coherence", "missing", "spurious"):
            _inputs.real(getattr(self, name), f"Realism.{name}", 0.0, 1.0)


def _as_realism(realistic):
    if realistic is None or realistic is False:
        return None
    if realistic is True:
        return Realism()
    if isinstance(realistic, Realism):
        return realistic
    raise InvalidArgumentError(
        f"realistic must be a bool, None or a libslide.datasets.Realism, got {realistic!r}")


def _random_subsets(rng, n_rows, n_from, size):
    """(n_rows, size) int64: for every row a uniformly random ordered subset of range(n_from)."""
    out = np.empty((n_rows, size), dtype=np.int64)
    rows_per_block = max(1, (1 << 21) // max(n_from, 1))
    for start in range(0, n_rows, rows_per_block):
        stop = min(n_rows, start + rows_per_block)
        keys = rng.random((stop - start, n_from))
        if size < n_from:
            pick = np.argpartition(keys, size - 1, axis=1)[:, :size]
        else:
            pick = np.broadcast_to(np.arange(n_from), keys.shape)
        order = np.argsort(np.take_along_axis(keys, pick, axis=1), axis=1)
        out[start:stop] = np.take_along_axis(pick, order, axis=1)
    return out


def _make_realistic_model(rng, n_labels, n_features, signal_features, p, realism):
    """Topics, their vocabularies and the label prototypes of the realistic mode.

    Returns a dict: ``perm`` (labels in topic order: topic t holds perm[t*L:(t+1)*L]), ``topic``
    (topic of every label), ``seg`` (start of every topic in perm, plus n_labels), ``cum`` (cumulative
    popularity along perm, cum[0] = 0), ``vocab`` (topics x topic_features int32) and ``protos``
    (n_labels x signal_features int32).
    """
    L = realism.labels_per_topic
    n_topics = -(-n_labels // L)
    V = min(realism.topic_features, n_features)
    perm = rng.permutation(n_labels)
    topic = np.empty(n_labels, dtype=np.int64)
    topic[perm] = np.arange(n_labels) // L
    seg = np.minimum(np.arange(n_topics + 1) * L, n_labels)
    cum = np.zeros(n_labels + 1, dtype=np.float64)
    np.cumsum(p[perm], out=cum[1:])
    vocab = _make_prototypes(rng, n_topics, n_features, V)

    n_shared = min(int(round(realism.topic_share * signal_features)), V)
    n_own = signal_features - n_shared
    protos = np.empty((n_labels, signal_features), dtype=np.int32)
    block = 1 << 16
    for start in range(0, n_labels, block):
        stop = min(n_labels, start + block)
        c = stop - start
        parts = []
        if n_shared:
            pos = _random_subsets(rng, c, V, n_shared)
            parts.append(vocab[topic[start:stop, None], pos])
        if n_own:
            parts.append(rng.integers(0, n_features, size=(c, n_own), dtype=np.int32))
        row = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        # Random positions, so topic and own features get the same mix of weights w_s.
        order = np.argsort(rng.random((c, signal_features)), axis=1)
        protos[start:stop] = np.take_along_axis(row, order, axis=1)
    return dict(perm=perm, topic=topic, seg=seg, cum=cum, vocab=vocab, protos=protos)


def _draw_in_range(rng, size, lo_cum, hi_cum, cum, seg_lo, seg_hi, perm):
    """Labels drawn by popularity from perm[seg_lo:seg_hi] (cumulative bounds lo_cum, hi_cum)."""
    u = lo_cum + rng.random(size) * (hi_cum - lo_cum)
    idx = np.searchsorted(cum, u, side="right") - 1
    np.clip(idx, seg_lo, seg_hi - 1, out=idx)
    return perm[idx]


_REDRAWS = 6  # rejection rounds for a repeated label before it is dropped


def _sample_labels_realistic(rng, k, hi, p, cdf, model, coherence):
    """(n, hi) int64 true labels (-1 padding, possibly a few dropped repeats) and the primary topics.

    The first label is drawn from the global popularity law (so the primary topic is drawn by topic
    popularity); each further label comes from the primary topic with probability ``coherence`` and
    from the global law otherwise.  A label already in the row is redrawn (same source), up to
    _REDRAWS times, then dropped.
    """
    n = k.shape[0]
    n_labels = p.shape[0]
    perm, topic, seg, cum = model["perm"], model["topic"], model["seg"], model["cum"]
    lab = np.full((n, hi), -1, dtype=np.int64)
    first = np.searchsorted(cdf, rng.random(n), side="right")
    np.minimum(first, n_labels - 1, out=first)
    lab[:, 0] = first
    t = topic[first]
    t_lo, t_hi = seg[t], seg[t + 1]
    c_lo, c_hi = cum[t_lo], cum[t_hi]
    for m in range(1, hi):
        rows = np.flatnonzero(k > m)
        if rows.size == 0:
            break
        local = rng.random(rows.size) < coherence
        cand = np.full(rows.size, -1, dtype=np.int64)
        todo = np.arange(rows.size)
        for _ in range(_REDRAWS + 1):
            if todo.size == 0:
                break
            r = rows[todo]
            loc = local[todo]
            x = np.empty(todo.size, dtype=np.int64)
            li = np.flatnonzero(loc)
            gi = np.flatnonzero(~loc)
            x[li] = _draw_in_range(rng, li.size, c_lo[r[li]], c_hi[r[li]], cum,
                                   t_lo[r[li]], t_hi[r[li]], perm)
            g = np.searchsorted(cdf, rng.random(gi.size), side="right")
            x[gi] = np.minimum(g, n_labels - 1)
            dup = (lab[r, :m] == x[:, None]).any(axis=1)
            cand[todo[~dup]] = x[~dup]
            todo = todo[dup]
        lab[rows, m] = cand
    # Push dropped repeats (-1) to the end of each row, keeping the first label first.
    key = np.where(lab >= 0, 0, 1)
    lab = np.take_along_axis(lab, np.argsort(key, axis=1, kind="stable"), axis=1)
    return lab, t


def _generate_split_realistic(rng, rng_y, n, *, protos, wpos, p, cdf, lo, hi, n_features,
                              nnz_per_row, noise, model, realism):
    """One split (X, Y) of the realistic mode; label noise is drawn from its own stream rng_y."""
    signal_features = protos.shape[1]
    pool_width = hi * signal_features
    max_sig = min(nnz_per_row, pool_width)
    pool_w = np.tile(wpos, hi)
    vocab = model["vocab"]
    V = vocab.shape[1]
    n_labels = p.shape[0]

    x_counts, x_ind, x_dat = [], [], []
    y_counts, y_ind = [], []
    for start in range(0, n, _CHUNK_ROWS):
        c = min(_CHUNK_ROWS, n - start)

        # ---- true labels --------------------------------------------------
        k = rng.integers(lo, hi + 1, size=c)
        lab, t = _sample_labels_realistic(rng, k, hi, p, cdf, model, realism.coherence)
        present = lab >= 0
        k_true = present.sum(axis=1)

        # ---- signal features (as in the default mode) ---------------------
        pool = protos[np.where(present, lab, 0)].reshape(c, pool_width)
        keys = np.log1p(-rng.random((c, pool_width))) / pool_w
        keys[~np.repeat(present, signal_features, axis=1)] = -np.inf
        if max_sig < pool_width:
            top = np.argpartition(-keys, max_sig - 1, axis=1)[:, :max_sig]
        else:
            top = np.broadcast_to(np.arange(pool_width), (c, pool_width))
        top = np.take_along_axis(
            top, np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1), axis=1)

        # ---- budget: uniform noise, topic noise, then signal ---------------
        n_noise = rng.binomial(nnz_per_row, noise, size=c)
        n_topic = rng.binomial(nnz_per_row - n_noise, realism.topic_noise)
        n_sig = np.minimum(nnz_per_row - n_noise - n_topic, k_true * signal_features)
        slot = np.arange(nnz_per_row)[None, :]
        cols = rng.integers(0, n_features, size=(c, nnz_per_row), dtype=np.int32)
        topic_cols = vocab[t[:, None], rng.integers(0, V, size=(c, nnz_per_row))]
        is_topic = (slot >= n_sig[:, None]) & (slot < (n_sig + n_topic)[:, None])
        cols = np.where(is_topic, topic_cols, cols)
        base = wpos[rng.integers(0, signal_features, size=(c, nnz_per_row))]
        use_sig = slot[:, :max_sig] < n_sig[:, None]
        sig_cols = np.take_along_axis(pool, top, axis=1)
        sig_base = wpos[top % signal_features]
        cols[:, :max_sig] = np.where(use_sig, sig_cols, cols[:, :max_sig])
        base[:, :max_sig] = np.where(use_sig, sig_base, base[:, :max_sig])
        vals = base * rng.lognormal(0.0, _VALUE_JITTER_SIGMA, size=(c, nnz_per_row))

        cnt, ind, dat = _rows_to_csr_parts(cols, vals)
        x_counts.append(cnt)
        x_ind.append(ind)
        x_dat.append(dat)

        # ---- observed labels: drop missing ones, add spurious ones --------
        keep = present & (rng_y.random((c, hi)) >= realism.missing)
        keep[:, 0] |= ~keep.any(axis=1)  # never an empty row: keep the first label
        n_spur = rng_y.binomial(k_true, realism.spurious)
        spur = np.searchsorted(cdf, rng_y.random((c, hi)), side="right")
        np.minimum(spur, n_labels - 1, out=spur)
        spur_on = np.arange(hi)[None, :] < n_spur[:, None]
        obs = np.concatenate([np.where(keep, lab, -1), np.where(spur_on, spur, -1)], axis=1)
        obs = np.sort(np.where(obs >= 0, obs, np.iinfo(np.int64).max), axis=1)
        valid = obs < n_labels
        valid[:, 1:] &= obs[:, 1:] != obs[:, :-1]  # a spurious label equal to a kept one
        y_counts.append(valid.sum(axis=1))
        y_ind.append(obs[valid].astype(np.int32))

    return _assemble(x_counts, x_ind, x_dat, n, n_features), _assemble(
        y_counts, y_ind, None, n, n_labels)


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def make_extreme(n_train=20000, n_test=5000, n_features=20000, n_labels=5000,
                 nnz_per_row=40, labels_per_row=(1, 5), label_power=1.0,
                 noise=0.3, signal_features=30, seed=0, realistic=False):
    """Generate a synthetic extreme multi-label classification problem.

    Generative model
    ----------------
    1. **Label popularity.**  Label ``j`` has probability
       ``p_j ∝ (j + 1) ** -label_power`` (Zipf).  Label ids are *not*
       permuted: label 0 is the most frequent, label ``n_labels - 1`` the
       rarest, which makes frequency plots and debugging readable.  (Nothing
       in an LSH-sampled network depends on the numbering; code that shards
       labels by contiguous id range will see the head labels in the first
       shard.)  ``label_power=0`` gives uniform labels.
    2. **Prototypes.**  Every label gets a fixed random *prototype*: an ordered
       set of ``signal_features`` distinct feature ids drawn uniformly.  The
       s-th prototype feature has weight ``w_s = 1 / sqrt(s + 1)``.  Only the
       ids are stored (an int32 ``n_labels x signal_features`` matrix, 80 MB
       for Amazon-670K); train and test share the prototypes.
    3. **Labels of a sample.**  The number of labels ``k`` is uniform on
       ``labels_per_row = (min, max)``; the ``k`` labels are drawn from the
       Zipf law *without replacement* (exact successive sampling).
    4. **Features of a sample.**  Exactly ``nnz_per_row`` (feature, value)
       candidates are drawn.  The number of noise candidates is
       ``Binomial(nnz_per_row, noise)``; the rest are signal features sampled
       without replacement from the union of the sample's label prototypes,
       each label equally likely and each prototype feature weighted by
       ``w_s``.  If the union is smaller than the signal budget (e.g. a
       one-label row with ``nnz_per_row > signal_features / (1 - noise)``),
       the whole union is used and the shortfall is filled with noise.  Noise
       features are uniform over all ``n_features`` ids.
    5. **Values.**  A signal feature's value is ``w_s`` times a log-normal
       jitter (sigma 0.3); a noise feature's value has the same distribution
       (``w_s`` at a random position), so magnitudes do not reveal which
       features carry signal.  All values are positive.  Repeated feature ids
       within a row (a noise id hitting a signal id, or two labels whose
       prototypes share an id) are summed, so a row has *at most*
       ``nnz_per_row`` non-zeros (slightly fewer when ``n_features`` is small).
       Finally every row is L2-normalised.

    Train and test are drawn independently from the same distribution, with
    separate random streams derived from ``seed``: the training set does not
    depend on ``n_test`` (and vice versa), and the prototypes do not depend on
    either.

    Realistic mode
    --------------
    The model above makes labels far easier to tell apart than in real
    extreme classification data: every label has its own random prototype,
    labels co-occur at random and Y is exact.  ``realistic=True`` (or a
    :class:`Realism` with other settings) adds what real data sets have; all
    parameters above keep their meaning, and the default
    (``realistic=False``) output is bit-identical to earlier versions.

    a. **Topics with a shared vocabulary.**  Labels are split at random into
       topics of ``labels_per_topic`` labels; every topic has a vocabulary of
       ``topic_features`` feature ids.  A fraction ``topic_share`` of every
       label's prototype is drawn from its topic's vocabulary (the rest is
       label-specific), at random positions, so labels of a topic share many
       features and near-duplicate labels are hard to tell apart.
    b. **Correlated labels.**  A row's first label is drawn from the Zipf law
       and sets its *primary topic*; each further label comes from the primary
       topic (by popularity within the topic) with probability ``coherence``
       and from the global Zipf law otherwise.  A label drawn twice is redrawn
       (a few times, then dropped), so a row may have fewer than ``k`` labels.
    c. **Feature noise.**  On top of ``noise`` (uniform ids), a fraction
       ``topic_noise`` of the remaining budget is drawn uniformly from the
       primary topic's vocabulary: generic topic words that point at the
       topic, not at a label.  The signal features come from the true labels'
       prototypes exactly as in step 4.
    d. **Label noise.**  Y is not the set of labels that generated the
       features: each true label is missing with probability ``missing`` (a
       row keeps its first label rather than becoming empty), and
       ``Binomial(k, spurious)`` spurious labels drawn from the Zipf law are
       added.  Label noise uses its own random streams, so X and the true
       labels do not depend on ``missing`` / ``spurious``.  Test labels are as
       noisy as training labels, as in real data.
    e. **Long tail.**  Nothing new: with ``label_power < 1`` the Zipf law
       gives a scale-free tail (the distribution of points per label depends
       only on ``n_train * E[k] / n_labels``, not on the size), e.g.
       :func:`amazon670k_shape`'s ``realistic=True`` (exponent 0.55, 1-10
       labels per row, 4 training points per label: median label 3 points,
       74 % of the labels with 1-5 points).

    In realistic mode a row of Y has between 1 and ``2 * max`` labels.

    How hard is it?
    ---------------
    The task is learnable (a test sample shares, in expectation, about
    ``min((1 - noise) * nnz_per_row / k, signal_features)`` features with each of its labels'
    prototypes) but not trivial: noise features, random sub-sampling of the
    prototypes, multi-label mixing and the long tail (with the default Zipf
    exponent most tail labels have few or no training examples) all cost
    accuracy.  Difficulty is mostly set by ``noise``.  A plain nearest-centroid
    classifier (label centroid = sum of its L2-normalised training rows,
    score = cosine) measured on this generator gives:

    ============================================  =======  ========  ==========
    problem                                       P@1      P@5       baseline
    ============================================  =======  ========  ==========
    ``make_extreme()`` (defaults, noise 0.3)      ≈ 0.98   ≈ 0.39    ≈ 0.30
    same with ``noise=0.7``                       ≈ 0.78   ≈ 0.25    ≈ 0.30
    same with ``noise=0.8``                       ≈ 0.58   ≈ 0.19    ≈ 0.30
    same with ``noise=0.9``                       ≈ 0.27   ≈ 0.10    ≈ 0.30
    ``amazon670k_shape()`` (100k train)           ≈ 0.92   ≈ 0.33    ≈ 0.19
    ============================================  =======  ========  ==========

    ("baseline" is the P@1 of always predicting the most frequent training
    label; P@5 is bounded by the mean of ``min(k, 5) / 5``, 0.6 for 1-5 labels
    per row.)  So with the default noise the head of the label distribution is
    easy and P@1 mostly checks that training works at all; use
    ``noise`` >= 0.7 for a problem where models can be told apart.  In the
    default mode a trained network landing far below the nearest-centroid P@1
    usually points at a training problem rather than at the data.

    The default mode is much easier than real data: the 128-hidden network
    below reaches P@1 ≈ 0.89 on ``amazon670k_shape()`` but 0.32-0.36 on the
    real Amazon-670K.  The realistic mode was calibrated to close that gap.
    Network = ``X -> 128 ReLU -> softmax`` over all labels, output sampled with
    ``LSH(random_fraction=1.0, active=0.05, batch_shared=True)``, Adam lr 2e-3,
    batch 128, 1 thread, seed 0; P@1 exact over all labels on 3,000 test rows,
    best epoch; same rows for the centroid and the most-frequent baseline:

    ===========================================  ============  ========  ========
    problem                                      network P@1   centroid  baseline
    ===========================================  ============  ========  ========
    ``amazon670k_shape(scale=0.1,                ≈ 0.87 (4/4)  ≈ 0.96    ≈ 0.23
    n_train=49045)`` (default mode)
    ``amazon670k_shape(realistic=True,           ≈ 0.35 (9/9)  ≈ 0.48    ≈ 0.014
    scale=0.1)``
    ``amazon670k_shape(realistic=True)``         see below     ≈ 0.48    ≈ 0.004
    real Amazon-670K                             0.32-0.36     --        low
    ===========================================  ============  ========  ========

    Measured with ``python bench/realistic_data.py --realistic --scale 0.1
    --epochs 9`` (and ``--scale 0.1 --n-train 49045 --epochs 4`` without
    ``--realistic``; ``--realistic`` alone for the full shape's baselines).
    At scale 0.1 the realistic network's P@1 by epoch is 0.04, 0.11, 0.20,
    0.27, 0.31, 0.34, 0.34, 0.33, 0.35 (an epoch takes ≈ 8 s): it needs more
    epochs than on the default mode because every label has only ~4 training
    points.  The full shape was trained once, for 3 epochs (``--epochs 3
    --active 0.005``, ≈ 4 min per epoch) with an earlier setting
    (``missing=spurious=0.2``): P@1 0.08, 0.17, 0.25 against 0.04, 0.12, 0.23
    at scale 0.1 with the same setting (which then levelled off at
    0.36-0.38), so the full shape learns at least as fast per epoch as the
    scaled one and its best P@1 is expected near the scaled one's.  In the
    realistic mode the nearest-centroid classifier beating this small network
    is expected: it keeps a full-width centroid per label, the network
    squeezes everything through 128 units.

    Parameters
    ----------
    n_train, n_test : int
        Number of training / test samples (> 0).
    n_features : int
        Input dimension (> 0, < 2**31).
    n_labels : int
        Number of labels (> 0, < 2**31).
    nnz_per_row : int
        Feature candidates per row, ``1 <= nnz_per_row <= n_features``.
    labels_per_row : (int, int) or int
        Inclusive range ``(min, max)`` of labels per row,
        ``1 <= min <= max <= n_labels``; an int ``k`` means ``(k, k)``.
    label_power : float
        Zipf exponent of label popularity, ``0 <= label_power <= 10``.
    noise : float
        Expected fraction of noise features per row, ``0 <= noise <= 1``
        (1 gives pure noise: nothing to learn).
    signal_features : int
        Prototype size per label, ``1 <= signal_features <= n_features``.
    seed : int, numpy.random.SeedSequence or None
        Seed of the numpy ``Generator`` (PCG64).  The same seed gives
        bit-identical output (for a given version of this module); ``None``
        draws fresh entropy.
    realistic : bool, Realism or None
        ``False`` / ``None`` (default): the model above, unchanged.  ``True``:
        the realistic mode with the default :class:`Realism` settings; a
        :class:`Realism` instance: the realistic mode with those settings.

    Returns
    -------
    X_train : scipy.sparse.csr_matrix, shape (n_train, n_features)
    Y_train : scipy.sparse.csr_matrix, shape (n_train, n_labels)
    X_test : scipy.sparse.csr_matrix, shape (n_test, n_features)
    Y_test : scipy.sparse.csr_matrix, shape (n_test, n_labels)

    X matrices have float32 data (positive, each row of unit L2 norm), int32
    ``indices``/``indptr``, sorted and unique column ids per row.  Y matrices
    are 0/1 indicators: float32 data all equal to 1.0, int32
    ``indices``/``indptr``, sorted and unique label ids per row.
    In realistic mode rows of Y hold 1 to ``2 * max`` labels (missing and
    spurious labels).

    Raises
    ------
    libslide.InvalidArgumentError (a ValueError)
        On non-integer or non-positive sizes, ``nnz_per_row > n_features``,
        ``signal_features > n_features``, a bad ``labels_per_row`` range,
        ``label_power``/``noise`` out of range, a negative seed, a
        ``realistic`` that is not a bool, None or :class:`Realism`, or a
        problem too large for int32 indices.  (A :class:`Realism` checks its
        own fields when it is created.)
    """
    n_train = _as_int("n_train", n_train)
    n_test = _as_int("n_test", n_test)
    n_features = _as_int("n_features", n_features)
    n_labels = _as_int("n_labels", n_labels)
    nnz_per_row = _as_int("nnz_per_row", nnz_per_row)
    signal_features = _as_int("signal_features", signal_features)
    if n_features > _INT32_MAX:
        raise InvalidArgumentError(f"n_features={n_features} does not fit in int32 indices")
    if n_labels > _INT32_MAX:
        raise InvalidArgumentError(f"n_labels={n_labels} does not fit in int32 indices")
    if nnz_per_row > n_features:
        raise InvalidArgumentError(
            f"nnz_per_row={nnz_per_row} exceeds n_features={n_features}"
        )
    if signal_features > n_features:
        raise InvalidArgumentError(
            f"signal_features={signal_features} exceeds n_features={n_features}"
        )
    lo, hi = _labels_range(labels_per_row, n_labels)
    label_power = _as_float("label_power", label_power, 0.0, 10.0)
    noise = _as_float("noise", noise, 0.0, 1.0)
    seed = _as_seed(seed)
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n * nnz_per_row > _INT32_MAX:
            raise InvalidArgumentError(
                f"{name} * nnz_per_row = {n * nnz_per_row} non-zeros does not fit "
                "in int32 indices; generate the data in smaller parts"
            )

    realism = _as_realism(realistic)

    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    ss_proto, ss_train, ss_test = ss.spawn(3)
    gen = lambda s: np.random.Generator(np.random.PCG64(s))  # noqa: E731

    p, cdf = _label_cdf(n_labels, label_power)
    wpos = _position_weights(signal_features)
    if realism is None:
        protos = _make_prototypes(gen(ss_proto), n_labels, n_features, signal_features)
        common = dict(protos=protos, wpos=wpos, p=p, cdf=cdf, lo=lo, hi=hi,
                      n_features=n_features, nnz_per_row=nnz_per_row, noise=noise)
        X_train, Y_train = _generate_split(gen(ss_train), n_train, **common)
        X_test, Y_test = _generate_split(gen(ss_test), n_test, **common)
        return X_train, Y_train, X_test, Y_test

    # Label noise has its own streams: changing missing/spurious leaves X and the true labels as they are.
    ss_noise_train, ss_noise_test = ss.spawn(2)
    model = _make_realistic_model(gen(ss_proto), n_labels, n_features, signal_features, p, realism)
    common = dict(protos=model["protos"], wpos=wpos, p=p, cdf=cdf, lo=lo, hi=hi,
                  n_features=n_features, nnz_per_row=nnz_per_row, noise=noise,
                  model=model, realism=realism)
    X_train, Y_train = _generate_split_realistic(gen(ss_train), gen(ss_noise_train), n_train, **common)
    X_test, Y_test = _generate_split_realistic(gen(ss_test), gen(ss_noise_test), n_test, **common)
    return X_train, Y_train, X_test, Y_test


def amazon670k_shape(n_train=None, n_test=20000, seed=0, realistic=False, scale=1.0):
    """A :func:`make_extreme` problem with the dimensions of Amazon-670K.

    135,909 features, 670,091 labels, 75 non-zeros per row, 30 prototype features per label and 30 %
    feature noise.  The number of samples is configurable (the real data set has 490,449 training and
    153,025 test points).

    **Default mode** (``realistic=False``): 1-5 labels per row, Zipf exponent 1.0; ``n_train=None``
    means 100,000.  100k + 20k points take a few seconds and well under 1 GB.  With the default Zipf
    exponent most of the 670k labels never occur in a 100k-sample training set (about 84k distinct
    labels occur in 100k samples) while the head is easy: nearest-centroid P@1 is ≈ 0.92 and the
    128-hidden network of the benchmarks reaches P@1 ≈ 0.89 -- far above the 0.32-0.36 it reaches on
    the real Amazon-670K, so the default mode checks that training works, not how well.  One-label
    rows have only 30 prototype features for a signal budget of ~52, so their remaining features are
    noise (see :func:`make_extreme`, step 4).

    **Realistic mode** (``realistic=True`` or a :class:`Realism`): the realistic mode of
    :func:`make_extreme` (default :class:`Realism`: topics of 20 labels sharing a 40-feature
    vocabulary, 25 % missing and 25 % spurious labels, ...) with 1-10 true labels per row and Zipf
    exponent 0.55; ``n_train=None`` means 490,449, as many as the real set.  This reproduces the real
    set's label statistics -- 5.5 labels per row, 4.0 training points per label, median label 3
    points, 74 % of the labels with 1-5 points, 6 % with none, the most frequent label on 0.3 % of the
    rows -- and its difficulty: the same network reaches P@1 ≈ 0.35 (see :func:`make_extreme`, "How
    hard is it?").  Rows have ≈ 68 non-zeros (features repeated within a row are summed).
    Generating 490,449 + 20,000 rows takes ≈ 12-16 s and ≈ 0.8 GB peak RSS (the Python runtime
    included).

    ``scale`` (0 < scale <= 1) shrinks the features, the labels and the default ``n_train`` by the
    same factor (rounded) and keeps everything else, so per-label statistics (points per label,
    labels per row, non-zeros per row) stay those of the full shape: ``scale=0.1`` is a 13,591 x
    67,009 problem with 49,045 training rows, ten times cheaper to train, for calibration and tests.
    An explicit ``n_train`` is not scaled.

    Returns ``(X_train, Y_train, X_test, Y_test)``; see :func:`make_extreme`.
    """
    scale = _inputs.real(scale, "scale", 0.0, 1.0, lo_open=True)
    realism = _as_realism(realistic)
    if n_train is None:
        n_train = max(1, round((100_000 if realism is None else 490_449) * scale))
    n_features = max(AMAZON670K_NNZ_PER_ROW, round(AMAZON670K_N_FEATURES * scale))
    n_labels = max(10, round(AMAZON670K_N_LABELS * scale))
    return make_extreme(
        n_train=n_train,
        n_test=n_test,
        n_features=n_features,
        n_labels=n_labels,
        nnz_per_row=AMAZON670K_NNZ_PER_ROW,
        labels_per_row=(1, 5) if realism is None else (1, 10),
        label_power=1.0 if realism is None else 0.55,
        noise=0.3,
        signal_features=30,
        seed=seed,
        realistic=realism,
    )


# --------------------------------------------------------------------------- #
# Fashion-MNIST (real data, read from the Debian package's files)
# --------------------------------------------------------------------------- #
import gzip as _gzip  # noqa: E402  (kept with the code that uses it)
import os as _os  # noqa: E402

#: Where Debian's ``dataset-fashion-mnist`` package installs the IDX files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_FASHION_HINT = ("install the Debian package dataset-fashion-mnist "
                 "(apt-get install dataset-fashion-mnist) or pass path= a directory holding the IDX files")
_IDX_UBYTE = 0x08


def _read_idx_ubyte(path, ndim):
    """Reads one IDX file of unsigned bytes (gzip detected by its magic bytes) as an ndim-d uint8 array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = _gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise FormatError(f"{path}: corrupt gzip data ({e}); {_FASHION_HINT}") from None
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise FormatError(f"{path}: {len(raw)} bytes is too short for an IDX header of {ndim} dimension(s); "
                         f"{_FASHION_HINT}")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != ndim:
        raise FormatError(f"{path}: bad IDX magic {raw[:4].hex()} (expected 0000{_IDX_UBYTE:02x}{ndim:02x}: "
                         f"unsigned bytes, {ndim} dimension(s)); {_FASHION_HINT}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    want = math.prod(shape)
    if len(raw) - head != want:
        raise FormatError(f"{path}: header says shape {shape} ({want} bytes of data) but the file holds "
                         f"{len(raw) - head}; {_FASHION_HINT}")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(shape)


def _idx_path(directory, stem):
    for name in (stem + ".gz", stem):
        p = _os.path.join(directory, name)
        if _os.path.isfile(p):
            return p
    raise FileNotFoundError(f"Fashion-MNIST file {_os.path.join(directory, stem)}[.gz] not found; {_FASHION_HINT}")


def _fashion_split(directory, kind):
    img_path = _idx_path(directory, f"{kind}-images-idx3-ubyte")
    lab_path = _idx_path(directory, f"{kind}-labels-idx1-ubyte")
    images = _read_idx_ubyte(img_path, 3)
    labels = _read_idx_ubyte(lab_path, 1)
    if images.shape[1:] != (28, 28):
        raise FormatError(f"{img_path}: images are {images.shape[1]}x{images.shape[2]} pixels, expected 28x28; "
                         f"{_FASHION_HINT}")
    if images.shape[0] != labels.shape[0]:
        raise FormatError(f"{img_path} holds {images.shape[0]} images but {lab_path} holds {labels.shape[0]} "
                         f"labels; {_FASHION_HINT}")
    if labels.size and labels.max() > 9:
        raise FormatError(f"{lab_path}: label {int(labels.max())} is outside the 10 classes 0..9; {_FASHION_HINT}")
    X = images.reshape(images.shape[0], 784).astype(np.float32)
    X /= np.float32(255.0)
    return X, labels.astype(np.int64)


def load_fashion_mnist(path=None):
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 training and 10,000 test images of 28x28 pixels
    in 10 classes, read from the IDX files of Debian's ``dataset-fashion-mnist`` package.

    ``path`` is a directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or gzipped (``.gz``); None means
    :data:`FASHION_MNIST_DIR` (``/usr/share/datasets/fashion-mnist``, where ``apt-get install
    dataset-fashion-mnist`` puts them). Nothing is downloaded.

    Returns ``(X_train, y_train, X_test, y_test)``: X float32 of shape (n, 784), pixels scaled to [0, 1],
    row-major image order; y int64 class ids 0..9 (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal,
    Shirt, Sneaker, Bag, Ankle boot).

    Raises FileNotFoundError when the directory or a file is missing, libslide.FormatError (a ValueError)
    when a file is not a valid IDX file of the expected shape; both name the file.
    """
    directory = _os.fspath(FASHION_MNIST_DIR if path is None else path)
    if not _os.path.isdir(directory):
        raise FileNotFoundError(f"Fashion-MNIST directory {directory} does not exist; {_FASHION_HINT}")
    X_train, y_train = _fashion_split(directory, "train")
    X_test, y_test = _fashion_split(directory, "t10k")
    return X_train, y_train, X_test, y_test


__all__.append("load_fashion_mnist")
