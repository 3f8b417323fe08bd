"""Data and evaluation plumbing of bench/vs_torch.py: the per-dataset benchmark settings, the hand-off of
generated data to worker processes, evaluation and validation rows, P@k and the checkpoint early stopping
returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

import _common

HIDDEN = 128
IMPLS = ["torch-sampled", "libslide", "libslide-shared", "torch-full", "libslide-defaults"]
# Also selectable with --impls: libslide with a bfloat16 output layer (weights and Adam moments), and
# torch-head: the torch input layer with libslide.torch.LSHSoftmax as the output layer; torch-sampled-equal:
# torch-sampled with as many uniform negatives as torch-head computes (--head-active), the equal-count control.
IMPLS_EXTRA = ["libslide-bf16", "libslide-shared-bf16", "torch-head", "torch-sampled-equal"]
DATASETS = {
    # LSH settings as in bench/debdeps.py and bench/amazon_shape.py.
    # "shared": extra LSH options for libslide-shared (amazon: touched neurons re-hashed after every batch,
    # full rebuilds after 50, 150, 350, ... batches); per-sample sets re-hashing every neuron a batch touches
    # (~300,000 rows on the amazon shape) would cost more than it saves. "per_sample": extra options for
    # libslide. debdeps: a random quarter of each per-sample set (stops their early collapse) and half of
    # each batch-shared set (bench/random_share.py; chosen on the eval rows of --eval-seed 0)
    "debdeps": {"hash": "simhash", "active": 0.05, "lr": 3e-3, "eval_sample": 5000,
                "shared": {"random_fraction": 0.5}, "per_sample": {"random_fraction": 0.25}},
    # revdict (55,721 labels, median label 2 training points): the same settings as debdeps
    "revdict": {"hash": "simhash", "active": 0.05, "lr": 3e-3, "eval_sample": 5000,
                "shared": {"random_fraction": 0.5}, "per_sample": {"random_fraction": 0.25}},
    # amazon batch-shared: 16 tables of 32-id buckets, 0.2% of the layer active (bench/amazon_settings.py:
    # the retrieved negatives teach as much per sample as with 50 tables, 128-id buckets and 0.5%, and the
    # batch costs a third of the time)
    "amazon": {"hash": "dwta", "active": 0.005, "lr": 1e-3, "eval_sample": 2000,
               "shared": {"rehash_touched": True, "rebuild_growth": 2.0, "tables": 16, "bucket_size": 32,
                          "active": 0.002},
               "per_sample": {}},
}


# ------------------------------------------------------------------------------------------ hand-off
def save_npz(path, X, Y, Xt, Yt):
    """The four CSR matrices in one .npz (label matrices without their all-ones data)."""
    parts = {}
    for name, m in (("X", X), ("Y", Y), ("Xt", Xt), ("Yt", Yt)):
        parts.update({f"{name}_indptr": m.indptr, f"{name}_indices": m.indices, f"{name}_shape": np.array(m.shape)})
        if name.startswith("X"):
            parts[f"{name}_data"] = m.data
    np.savez(path, **parts)


def load_npz(path):
    z = np.load(path)
    out = []
    for name in ("X", "Y", "Xt", "Yt"):
        ip, ind, shape = z[f"{name}_indptr"], z[f"{name}_indices"], tuple(z[f"{name}_shape"])
        data = z[f"{name}_data"] if name.startswith("X") else np.ones(ind.size, np.float32)
        out.append(sp.csr_matrix((data, ind, ip), shape=shape))
    return out


def data_dir(a) -> Path:
    """The directory of a real data set: --data, or ../shared/data/<dataset> when --data is left at debdeps'."""
    if a.dataset != "debdeps" and Path(a.data) == _common.DEBDEPS_DIR:
        return _common.SHARED_DATA / a.dataset
    return Path(a.data)


def load_data(a):
    """(X, Y, Xt, Yt) in a worker: debdeps / revdict from their directory, amazon from the parent's --data-file."""
    if a.dataset in ("debdeps", "revdict"):
        return _common.load_debdeps(data_dir(a))
    return load_npz(a.data_file)


# ------------------------------------------------------------------------------------------ evaluation
def eval_rows(n_test, a):
    """--eval-sample random test rows (seed --eval-seed), sorted; all rows if that is more than there are."""
    if a.eval_sample is None or a.eval_sample >= n_test:
        return np.arange(n_test, dtype=np.int64)
    return np.sort(np.random.default_rng(a.eval_seed).choice(n_test, size=a.eval_sample, replace=False))


def val_rows(n_test, a):
    """--val-sample random test rows outside the evaluation rows (seed --eval-seed + 1), or None."""
    if not a.val_sample:
        return None
    rest = np.setdiff1d(np.arange(n_test, dtype=np.int64), eval_rows(n_test, a))
    if rest.size < a.val_sample:
        raise SystemExit(f"--val-sample {a.val_sample}: only {rest.size} test rows lie outside the evaluation rows")
    return np.sort(np.random.default_rng(a.eval_seed + 1).choice(rest, size=a.val_sample, replace=False))


def selected(curve):
    """The checkpoint early stopping returns: the first with the best validation P@1 (the last without one)."""
    if not curve or "val_P@1" not in curve[0]:
        return curve[-1]
    return max(curve, key=lambda r: (r["val_P@1"], -r["train_s"]))


def time_to_target(curve, target):
    """Training time of the first checkpoint at or above the target P@1, or None."""
    for r in curve:
        if r["P@1"] >= target:
            return r["train_s"]
    return None


def csr_batch(m, rows):
    """indices, values and per-row lengths of the given rows of a CSR matrix (no scipy slicing)."""
    starts, ends = m.indptr[rows], m.indptr[rows + 1]
    lens = (ends - starts).astype(np.int64)
    total = int(lens.sum())
    first = np.zeros(rows.size, np.int64)
    np.cumsum(lens[:-1], out=first[1:])
    pos = np.repeat(starts.astype(np.int64) - first, lens) + np.arange(total, dtype=np.int64)
    return m.indices[pos], (m.data[pos] if m.data is not None else None), lens


def popularity_baseline(Y, Ye):
    """P@1 / P@5 of always predicting the 5 most frequent training labels."""
    top = np.argsort(-np.bincount(Y.indices, minlength=Y.shape[1]), kind="stable")[:5].astype(np.int32)
    return precision_at_k(np.tile(top, (Ye.shape[0], 1)), Ye, (1, 5))


def precision_at_k(ids, Y, ks):
    """P@k of top-k ids (n, kmax) against the CSR label indicator Y (same rows): hits / (k * n)."""
    n, kmax = ids.shape
    L = np.int64(Y.shape[1])
    truth = np.repeat(np.arange(n, dtype=np.int64), np.diff(Y.indptr)) * L + Y.indices.astype(np.int64)
    truth.sort()
    keys = np.arange(n, dtype=np.int64)[:, None] * L + ids.astype(np.int64)
    hit = np.isin(keys, truth) & (ids >= 0)
    return {f"P@{k}": float(hit[:, :k].sum() / (k * max(n, 1))) for k in ks}
