"""libslide against PyTorch on the same CPU, data, network, threads and training-time budget.

    python bench/vs_torch.py --dataset debdeps --minutes 5 --threads 2
    python bench/vs_torch.py --dataset amazon --minutes 5 --threads 2 --n-train 490449 --n-test 20000

Network: sparse input -> 128 ReLU -> softmax over all labels, trained with a uniform target over each
sample's labels (rows without labels contribute nothing), batch 128, shuffled every epoch with the same
seed for every implementation, weights initialised alike (uniform, He for the hidden layer, 0.1 *
sqrt(3 / 128) for the output layer, zero biases). Implementations:

  torch-full       input layer: F.embedding_bag(mode="sum", per_sample_weights=values) over the CSR
                   indices + bias, ReLU; output: one dense (labels x 128) matrix and bias, logits for
                   every label; fused torch.optim.Adam on the output layer (every row moves every batch).
  torch-sampled    same input layer; per batch one candidate set = the batch's labels U --negatives (4,096)
                   uniform random labels, shared by the whole batch; logits = h @ W[cand].T + b[cand]; soft
                   targets over the candidates (no correction for the sampling).
                   Loss and gradient of both: softmax cross-entropy against the uniform target, formed in
                   place as (softmax - target) / batch and passed to backward (one pass over the logits).
                   --torch-optimizer (both torch implementations) chooses how the big tables are updated:
                   "rows" (default, fastest here): the batch's input rows and candidate output rows are
                   gathered into small dense leaves and updated by a lazy Adam on those rows (moments of
                   untouched rows do not decay, as in torch.optim.SparseAdam and libslide);
                   "sparseadam": sparse=True gradients + torch.optim.SparseAdam (slower: COO gradients
                   are coalesced and indexed; and it adds eps before the bias correction, an effective eps
                   ~30x larger in the first steps, which matters for the ~1e-7 gradients of the output
                   layer's negative rows); "dense": dense gradients + torch.optim.Adam
                   over whole tables (every weight moves every batch; ~15x slower on the amazon shape).
  libslide         output layer LSH-sampled, one active set per sample (debdeps: simhash, amazon: dwta;
                   k=6, 50 tables (--tables), bucket 128 (--bucket-size), active 5% / 0.5% (--active), tables
                   rebuilt every 50 batches),
                   libslide's lazy Adam; on debdeps a quarter of each set is uniformly random
                   (random_fraction=0.25, see bench/random_share.py).
  libslide-shared  the same with LSH(batch_shared=True): one active set per batch, on debdeps half of it
                   uniformly random (random_fraction=0.5); on amazon 16 tables of 32-id buckets and 0.2%
                   of the layer active (chosen with bench/amazon_settings.py), and it
                   re-hashes the neurons each batch touched and rebuilds the tables after 50, 150, 350, ...
                   batches (rehash_touched=True, rebuild_growth=2).
  libslide-bf16, libslide-shared-bf16 (only when named in --impls)
                   the same two with the output layer's weights and Adam moments stored as bfloat16.

Protocol (MISSION.md "Benchmark protocol"): every implementation runs in its own subprocess (so peak
memory, ru_maxrss of the child, does not mix; it includes the data and, for torch, the torch runtime),
one after the other in one run, the order reversed on every other --repeats. Each trains for --minutes of
training wall time (or --epochs, whichever ends first); the clock stops during evaluation. P@1 and P@5
are evaluated exactly (all outputs scored) at time 0, every --eval-every seconds of training and at the
end, on the same --eval-sample random test rows (seed --eval-seed) for all implementations. Early
stopping (--val-sample N): every checkpoint also scores P@1 on N other random test rows (disjoint from
the evaluation rows), and the model an implementation returns after its budget is the checkpoint with
the best validation P@1, as a training run that keeps its best checkpoint would return; its P@1 on the
evaluation rows is reported beside the final one. Target P@1 = the final (with --val-sample: the
best-validation) P@1 of --target-from (default torch-sampled; median over repeats) minus --target-slack
(default 0) unless --target-p1 is given; "time to target" is the
training time of the first checkpoint at or above it (resolution: --eval-every). PyTorch threads:
torch.set_num_threads(--threads); libslide: Network(threads=--threads); OMP_NUM_THREADS is set for both.
THP_MEM_ALLOC_ENABLE=1 is set for the children (unless already set): PyTorch then asks for transparent
huge pages for large tensors; without it, on this VM, every fresh 343 MB logits / gradient block of
torch-full on the amazon shape costs ~0.2 s of page faults.

Data: --dataset debdeps (--data dir with train.txt.gz / test.txt.gz) or --dataset amazon
(libslide.datasets.amazon670k_shape: 135,909 features, 670,091 labels; --n-train / --n-test, --data-seed;
generated once in the parent and handed to the children in a temporary .npz).
Writes bench/results/vs_torch_<dataset>.json and .png (P@1 against training wall time) and prints a
markdown table. Needs PyTorch for the torch-* implementations (pip install '.[bench]').
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
IMPLS = ["torch-sampled", "libslide", "libslide-shared", "torch-full"]
# Also selectable with --impls: libslide with a bfloat16 output layer (weights and Adam moments).
IMPLS_EXTRA = ["libslide-bf16", "libslide-shared-bf16"]
HIDDEN = 128
DATASETS = {
    # LSH settings as in bench/debdeps.py and bench/amazon_shape.py.
    # "shared": extra LSH options for libslide-shared (amazon: touched neurons re-hashed after every batch,
    # full rebuilds after 50, 150, 350, ... batches); per-sample sets re-hashing every neuron a batch touches
    # (~300,000 rows on the amazon shape) would cost more than it saves. "per_sample": extra options for
    # libslide. debdeps: a random quarter of each per-sample set (stops their early collapse) and half of
    # each batch-shared set (bench/random_share.py; chosen on the eval rows of --eval-seed 0)
    "debdeps": {"hash": "simhash", "active": 0.05, "lr": 3e-3, "eval_sample": 5000,
                "shared": {"random_fraction": 0.5}, "per_sample": {"random_fraction": 0.25}},
    # amazon batch-shared: 16 tables of 32-id buckets, 0.2% of the layer active (bench/amazon_settings.py:
    # the retrieved negatives teach as much per sample as with 50 tables, 128-id buckets and 0.5%, and the
    # batch costs a third of the time)
    "amazon": {"hash": "dwta", "active": 0.005, "lr": 1e-3, "eval_sample": 2000,
               "shared": {"rehash_touched": True, "rebuild_growth": 2.0, "tables": 16, "bucket_size": 32,
                          "active": 0.002},
               "per_sample": {}},
}


def machine():
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def require_torch():
    try:
        import torch
    except ImportError:
        raise SystemExit("bench/vs_torch.py: PyTorch is not installed. Install the bench extras "
                         "(pip install '.[bench]' or pip install torch), or run only libslide with "
                         "--impls libslide libslide-shared.") from None
    return torch


# ------------------------------------------------------------------------------------------------ data
def save_npz(path, X, Y, Xt, Yt):
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


def load_data(a):
    if a.dataset == "debdeps":
        import libslide as sl

        X, Y = sl.load_xc(Path(a.data) / "train.txt.gz")
        Xt, Yt = sl.load_xc(Path(a.data) / "test.txt.gz")
        return X, Y, Xt, Yt
    return load_npz(a.data_file)


def eval_rows(n_test, a):
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


# ------------------------------------------------------------------------------------------------ trainers
class LibslideTrainer:
    def __init__(self, X, Y, a, shared, storage="float32"):
        import libslide as sl

        cfg = DATASETS[a.dataset]
        self.version = getattr(sl, "__version__", "?")
        extra = dict(cfg["shared"] if shared else cfg["per_sample"])
        if a.random_fraction is not None:
            extra["random_fraction"] = a.random_fraction
        if a.rehash_touched is not None:
            extra["rehash_touched"] = bool(a.rehash_touched)
        if a.rebuild_growth is not None:
            extra["rebuild_growth"] = a.rebuild_growth
        tables, bucket, active = (extra.pop(key, default) for key, default in
                                  (("tables", 50), ("bucket_size", 128), ("active", cfg["active"])))
        lsh = sl.LSH(cfg["hash"], k=6, tables=a.tables or tables, bucket_size=a.bucket_size or bucket,
                     active=a.active or active, batch_shared=shared, **extra)
        self.net = sl.Network(input_dim=X.shape[1],
                              layers=[sl.Layer(HIDDEN), sl.Layer(Y.shape[1], activation="softmax", sampling=lsh,
                                                                 storage=storage)],
                              optimizer=sl.Adam(lr=a.lr or cfg["lr"], weight_decay=a.weight_decay), seed=a.seed,
                              threads=a.threads)
        # C views built once (as Network.fit does) so train_batch does not re-marshal X and Y every batch
        # (~70 us per call on debdeps); the plain matrices if that private helper moves.
        try:
            from libslide._inputs import features, labels

            self.xv, self.yv = features(X, self.net.input_dim), labels(Y, X.shape[0], self.net.output_dim)
        except ImportError:
            self.xv, self.yv = X, Y
        self.lr = a.lr or cfg["lr"]
        self.config = {"lsh": lsh.__dict__, "lr": self.lr, "optimizer": "libslide Adam (touched rows)",
                       "weight_decay": a.weight_decay, "output_storage": storage}

    def step(self, rows):
        return self.net.train_batch(self.xv, self.yv, rows=rows)["loss"]

    def scale_lr(self, factor):
        self.lr *= factor
        self.net.set_learning_rate(self.lr)

    def topk(self, Xe, k):
        return self.net.predict_topk(Xe, k=k)[0]

    def extra(self):
        return {"mean_active_output": self.net.layers[-1].mean_active, "network_memory_mib":
                self.net.memory_bytes() / 2**20}


class RowAdam:
    """Adam on selected rows of a weight matrix, given those rows' dense gradient: the lazy ("sparse") Adam
    of torch.optim.SparseAdam and of libslide (moments of untouched rows do not decay; bias correction by the
    global step), without building, coalescing and indexing sparse COO gradients. eps is added to
    sqrt(v / (1 - beta2^t)) as in torch.optim.Adam and libslide (SparseAdam adds it to sqrt(v)).
    weight_decay is decoupled (torch.optim.AdamW, libslide): the selected rows are first multiplied by
    1 - lr * weight_decay."""

    def __init__(self, torch, weight, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.w, self.lr, self.b1, self.b2, self.eps = weight, lr, beta1, beta2, eps
        self.wd = weight_decay
        self.m, self.v = torch.zeros_like(weight), torch.zeros_like(weight)
        self.t = 0

    def step(self, rows, g):
        self.t += 1
        m = self.m.index_select(0, rows).mul_(self.b1).add_(g, alpha=1 - self.b1)
        v = self.v.index_select(0, rows).mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        self.m.index_copy_(0, rows, m)
        self.v.index_copy_(0, rows, v)
        denom = v.div_(1 - self.b2 ** self.t).sqrt_().add_(self.eps)
        step = m.div_(denom).mul_(-self.lr / (1 - self.b1 ** self.t))
        if self.wd:  # rows are unique, so one index_add applies decay and step: w += -lr*wd*w + step
            step.add_(self.w.index_select(0, rows), alpha=-self.lr * self.wd)
        self.w.index_add_(0, rows, step)


class TorchTrainer:
    """The same network in PyTorch; --torch-optimizer chooses how the big tables are updated:
    rows       gather the batch's input rows / candidate output rows into small dense leaves, then RowAdam
               on those rows (default, fastest);
    sparseadam EmbeddingBag / Embedding with sparse=True gradients and torch.optim.SparseAdam;
    dense      dense gradients and torch.optim.Adam over whole tables.
    The full-softmax output layer touches every row each batch, so it always uses torch.optim.Adam."""

    def __init__(self, X, Y, a, sampled):
        torch = require_torch()
        import torch.nn as nn

        self.torch, self.F, self.X, self.Y, self.sampled = torch, torch.nn.functional, X, Y, sampled
        torch.set_num_threads(a.threads)
        torch.manual_seed(a.seed)
        self.version = torch.__version__
        self.mode = a.torch_optimizer
        self.n_labels = L = Y.shape[1]
        self.negatives = a.negatives
        self.rng = np.random.default_rng(a.seed + 1)
        lr = a.lr or DATASETS[a.dataset]["lr"]
        lim1, lim2 = (6.0 / X.shape[1]) ** 0.5, 0.1 * (3.0 / HIDDEN) ** 0.5
        self.W1 = nn.Parameter(torch.empty(X.shape[1], HIDDEN).uniform_(-lim1, lim1))
        self.b1 = nn.Parameter(torch.zeros(HIDDEN))
        self.W2 = nn.Parameter(torch.empty(L, HIDDEN).uniform_(-lim2, lim2))
        self.b2 = nn.Parameter(torch.zeros(L, 1))
        out_params = [self.W2, self.b2]
        wd = a.weight_decay
        dense = [self.b1] + (out_params if not sampled else [])
        self.row_opts, self.opts = None, []
        if self.mode == "rows":
            # weights decay, biases do not (as in libslide)
            self.row_opts = [RowAdam(torch, p.data, lr, weight_decay=0.0 if p is self.b2 else wd)
                             for p in [self.W1] + (out_params if sampled else [])]
        elif self.mode == "sparseadam":
            self.opts.append(torch.optim.SparseAdam([self.W1] + (out_params if sampled else []), lr=lr))
        else:
            dense = [self.W1, self.b1] + out_params
        # Dense tables (the full softmax's output layer, or every table with --torch-optimizer dense): AdamW
        # with the same decoupled decay on weight matrices and none on biases; plain Adam without decay.
        groups = [{"params": [p for p in dense if p is self.W1 or p is self.W2], "weight_decay": wd},
                  {"params": [p for p in dense if p is self.b1 or p is self.b2], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        adam = torch.optim.AdamW if wd else torch.optim.Adam
        try:
            self.opts.append(adam(groups, lr=lr, fused=True))
            fused = "fused "
        except (RuntimeError, TypeError, ValueError):
            self.opts.append(adam(groups, lr=lr))
            fused = ""
        big = "input table" + (" and output tables" if sampled else "")
        opt_desc = {"rows": f"RowAdam (lazy Adam on the batch's rows) for the {big}",
                    "sparseadam": f"torch.optim.SparseAdam (sparse=True gradients) for the {big}",
                    "dense": "dense gradients for every table"}[self.mode] + \
            f"; {fused}torch.optim.{adam.__name__} for the hidden bias" + ("" if sampled or self.mode == "dense" else
                                                              " and the full output layer")
        if wd:
            opt_desc += f"; decoupled weight decay {wd} on weight rows, none on biases"
        self.config = {"lr": lr, "optimizer": opt_desc, "torch_optimizer": self.mode, "weight_decay": wd,
                       "output": (f"sampled softmax, batch labels U {a.negatives} uniform negatives shared by the "
                                  "batch") if sampled else "full softmax"}
        self.cand_sizes = []

    def scale_lr(self, factor):
        for o in self.row_opts or []:
            o.lr *= factor
        for o in self.opts:
            for g in o.param_groups:
                g["lr"] *= factor

    def _hidden(self, X, rows, train):
        torch, F = self.torch, self.F
        ind, val, lens = csr_batch(X, rows)
        offsets = np.zeros(rows.size, np.int64)
        np.cumsum(lens[:-1], out=offsets[1:])
        offsets = torch.from_numpy(offsets)
        psw = torch.from_numpy(np.ascontiguousarray(val, np.float32))
        leaf = None
        if train and self.mode == "rows":
            uniq, inv = np.unique(ind, return_inverse=True)
            uniq = torch.from_numpy(uniq.astype(np.int64))
            leaf = self.W1.detach().index_select(0, uniq).requires_grad_()
            z = F.embedding_bag(torch.from_numpy(inv.astype(np.int64)), leaf, offsets, mode="sum",
                                per_sample_weights=psw)
            leaf = (uniq, leaf)
        else:
            z = F.embedding_bag(torch.from_numpy(ind.astype(np.int64)), self.W1 if train else self.W1.detach(),
                                offsets, mode="sum", per_sample_weights=psw,
                                sparse=train and self.mode == "sparseadam")
        return torch.relu(z + self.b1), leaf

    def step(self, rows):
        torch, F = self.torch, self.F
        h, in_leaf = self._hidden(self.X, rows, True)
        lab, _, nlab = csr_batch(self.Y, rows)
        lab = lab.astype(np.int64)
        lab_row = np.repeat(np.arange(rows.size), nlab)
        out_leaf = None
        if self.sampled:
            neg = self.rng.integers(0, self.n_labels, self.negatives)
            cand = np.unique(np.concatenate([lab, neg]))
            self.cand_sizes.append(cand.size)
            tgt = np.searchsorted(cand, lab)
            cand_t = torch.from_numpy(cand)
            if self.mode == "rows":
                Wc = self.W2.detach().index_select(0, cand_t).requires_grad_()
                bc = self.b2.detach().index_select(0, cand_t).requires_grad_()
                out_leaf = (cand_t, Wc, bc)
            elif self.mode == "sparseadam":
                Wc, bc = F.embedding(cand_t, self.W2, sparse=True), F.embedding(cand_t, self.b2, sparse=True)
            else:
                Wc, bc = self.W2.index_select(0, cand_t), self.b2.index_select(0, cand_t)
            logits = torch.addmm(bc.view(1, -1), h, Wc.t())
        else:
            tgt = lab
            logits = torch.addmm(self.b2.view(1, -1), h, self.W2.t())
        # Softmax cross-entropy with a uniform target over the row's labels, batch mean. The gradient
        # (softmax - target) / batch is formed in place on one copy of the logits and handed to backward: no
        # dense target matrix and one pass over the logits instead of autograd's several (logsumexp's
        # backward took ~2x longer on the 670,091-wide layer). Rows without labels contribute nothing.
        lr_t, tg_t = torch.from_numpy(lab_row), torch.from_numpy(tgt)
        w = torch.from_numpy((1.0 / np.maximum(nlab, 1))[lab_row].astype(np.float32))
        with torch.no_grad():
            g = torch.softmax(logits.detach(), dim=1)
            loss = -(w * g[lr_t, tg_t].clamp_min(1e-30).log()).sum().item() / rows.size
            g.index_put_((lr_t, tg_t), -w, accumulate=True)
            if (nlab == 0).any():
                g[torch.from_numpy(nlab == 0)] = 0
            g.div_(rows.size)
        for o in self.opts:
            o.zero_grad(set_to_none=True)
        logits.backward(g)
        del g, logits
        for o in self.opts:
            o.step()
        if self.row_opts:
            with torch.no_grad():
                self.row_opts[0].step(in_leaf[0], in_leaf[1].grad)
                if out_leaf is not None:
                    self.row_opts[1].step(out_leaf[0], out_leaf[1].grad)
                    self.row_opts[2].step(out_leaf[0], out_leaf[2].grad)
        return loss

    def topk(self, Xe, k):
        torch = self.torch
        chunk = max(1, min(4096, (32 << 20) // self.n_labels))  # bound the logits block to ~128 MB
        out = []
        with torch.no_grad():
            for s in range(0, Xe.shape[0], chunk):
                rows = np.arange(s, min(s + chunk, Xe.shape[0]), dtype=np.int64)
                logits = torch.addmm(self.b2.view(1, -1), self._hidden(Xe, rows, False)[0], self.W2.t())
                out.append(torch.topk(logits, k, dim=1).indices.numpy())
        return np.concatenate(out).astype(np.int32)

    def extra(self):
        return {"mean_candidates": float(np.mean(self.cand_sizes))} if self.cand_sizes else {}


# ------------------------------------------------------------------------------------------------ worker
def worker(a):
    t_load = time.perf_counter()
    X, Y, Xt, Yt = load_data(a)
    rows_e, rows_v = eval_rows(Xt.shape[0], a), val_rows(Xt.shape[0], a)
    Xe, Ye = Xt[rows_e], Yt[rows_e]
    Xv, Yv = (Xt[rows_v], Yt[rows_v]) if rows_v is not None else (None, None)
    load_s = time.perf_counter() - t_load
    rss_data = peak_rss_mib()
    impl = a.worker
    if impl.startswith("torch"):
        tr = TorchTrainer(X, Y, a, sampled=impl == "torch-sampled")
    else:
        tr = LibslideTrainer(X, Y, a, shared=impl.startswith("libslide-shared"),
                             storage="bfloat16" if impl.endswith("-bf16") else a.storage)
    rss_model = peak_rss_mib()

    curve = []
    state = {"train_s": 0.0, "samples": 0, "epoch": 0, "batches": 0, "loss_sum": 0.0, "loss_n": 0, "lr_scale": 1.0}

    def evaluate():
        t0 = time.perf_counter()
        ids = tr.topk(Xe, 5)
        r = precision_at_k(ids, Ye, (1, 5))
        eval_s = time.perf_counter() - t0
        loss = state["loss_sum"] / state["loss_n"] if state["loss_n"] else float("nan")
        state["loss_sum"], state["loss_n"] = 0.0, 0
        rec = {"train_s": state["train_s"], "samples": state["samples"], "epoch": state["epoch"],
               "P@1": r["P@1"], "P@5": r["P@5"], "train_loss": loss, "eval_s": eval_s}
        if Xv is not None:
            rec["val_P@1"] = precision_at_k(tr.topk(Xv, 1), Yv, (1,))["P@1"]
        curve.append(rec)
        # --lr-plateau: the same rule for every implementation, on the validation rows only
        if a.lr_plateau and Xv is not None and len(curve) > 2 and \
                rec["val_P@1"] <= max(c["val_P@1"] for c in curve[:-1]):
            tr.scale_lr(a.lr_plateau)
            state["lr_scale"] *= a.lr_plateau
        rec["lr_scale"] = state["lr_scale"]
        val = f", validation P@1 {rec['val_P@1']:.4f}" if Xv is not None else ""
        val += f", lr x{state['lr_scale']:g}" if a.lr_plateau else ""
        print(f"[{impl}] {rec['train_s']:7.1f} s, {rec['samples']:9,} samples, epoch {rec['epoch']}, "
              f"loss {loss:.3f}, P@1 {rec['P@1']:.4f}, P@5 {rec['P@5']:.4f}{val} (eval {eval_s:.1f} s)",
              flush=True)

    evaluate()
    budget = a.minutes * 60.0
    rng = np.random.default_rng(a.seed)
    n, B = X.shape[0], a.batch
    next_ck = a.eval_every
    done = False
    while not done:
        order = rng.permutation(n).astype(np.int64)
        state["epoch"] += 1
        for s in range(0, n, B):
            rows = order[s:s + B]
            t0 = time.perf_counter()
            loss = tr.step(rows)
            state["train_s"] += time.perf_counter() - t0
            state["samples"] += rows.size
            state["batches"] += 1
            state["loss_sum"] += loss
            state["loss_n"] += 1
            if state["train_s"] >= budget:
                done = True
                break
            if state["train_s"] >= next_ck:
                evaluate()
                while next_ck <= state["train_s"]:
                    next_ck += a.eval_every
        if a.epochs is not None and state["epoch"] >= a.epochs:
            done = True
    if curve[-1]["samples"] != state["samples"]:
        evaluate()
    chosen = selected(curve)
    result = {
        "impl": impl,
        "version": tr.version,
        "config": tr.config,
        "threads": a.threads,
        "train_s": state["train_s"],
        "samples": state["samples"],
        "epochs": state["samples"] / n,
        "samples_per_s": state["samples"] / state["train_s"],
        "final_P@1": curve[-1]["P@1"],
        "final_P@5": curve[-1]["P@5"],
        # early stopping (--val-sample): the model of the checkpoint with the best validation P@1
        "selected_P@1": chosen["P@1"],
        "selected_P@5": chosen["P@5"],
        "selected_train_s": chosen["train_s"],
        "curve": curve,
        "data_load_s": load_s,
        "rss_after_data_mib": rss_data,
        "rss_after_model_mib": rss_model,
        "peak_rss_mib": peak_rss_mib(),
        **tr.extra(),
    }
    Path(a.worker_out).write_text(json.dumps(result, default=float))


# ------------------------------------------------------------------------------------------------ parent
def time_to_target(curve, target):
    for r in curve:
        if r["P@1"] >= target:
            return r["train_s"]
    return None


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    colors = {impl: f"C{i}" for i, impl in enumerate(IMPLS + IMPLS_EXTRA)}
    seen = set()
    for run in results["runs"]:
        impl = run["impl"]
        c = run["curve"]
        p1 = [r["P@1"] for r in c]
        ax.plot([r["train_s"] for r in c], p1, "o-", ms=3, color=colors[impl],
                label=None if impl in seen else f"{impl} ({run['samples_per_s']:,.0f} samples/s)")
        ax2.plot([r["samples"] / results["n_train"] for r in c], p1, "o-", ms=3, color=colors[impl])
        if "val_P@1" in c[0]:  # the checkpoint early stopping returns
            sel = selected(c)
            ax.plot([sel["train_s"]], [sel["P@1"]], "*", ms=12, color=colors[impl],
                    label="best validation P@1 (early stopping)" if not seen else None)
            ax2.plot([sel["samples"] / results["n_train"]], [sel["P@1"]], "*", ms=12, color=colors[impl])
        seen.add(impl)
    for a in (ax, ax2):
        a.axhline(results["most_frequent_labels"]["P@1"], ls="--", lw=0.8, color="black", alpha=0.5,
                  label="always the most frequent label" if a is ax else None)
        if results.get("target_P@1") is not None:
            a.axhline(results["target_P@1"], ls=":", color="gray",
                      label=f"target P@1 {results['target_P@1']:.3f}" if a is ax else None)
        a.set_ylim(bottom=0)
        a.grid(alpha=0.3)
    ax.set_xlabel("training wall time, s (evaluation excluded)")
    ax.set_ylabel(f"P@1 (exact, {results['eval_rows']:,} random test rows)")
    ax.set_title(f"{results['dataset']}: P@1 vs training time, {results['threads']} thread"
                 f"{'' if results['threads'] == 1 else 's'}, {results['machine']}",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax2.set_xlabel("epochs (training samples / training rows)")
    ax2.set_title("the same against data seen", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fmt_time(ts):
    reached = [t for t in ts if t is not None]
    if not reached:
        return "not reached"
    s = f"{statistics.median(reached):,.0f} s"
    return s if len(reached) == len(ts) else f"{s} ({len(reached)}/{len(ts)} runs)"


def parent(a):
    if any(i.startswith("torch") for i in a.impls) and importlib.util.find_spec("torch") is None:
        require_torch()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    out = Path(a.out or HERE / "results" / f"vs_torch_{a.dataset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vs_torch_") as tmp:
        extra = []
        if a.dataset == "amazon":
            import libslide as sl

            t0 = time.perf_counter()
            X, Y, Xt, Yt = sl.datasets.amazon670k_shape(n_train=a.n_train, n_test=a.n_test, seed=a.data_seed)
            data_file = Path(tmp) / "amazon.npz"
            save_npz(data_file, X, Y, Xt, Yt)
            extra = ["--data-file", str(data_file)]
            print(f"amazon670k_shape: {X.shape[0]:,} train / {Xt.shape[0]:,} test, {X.shape[1]:,} features, "
                  f"{Y.shape[1]:,} labels, seed {a.data_seed} ({time.perf_counter() - t0:.1f} s)", flush=True)
            n_train, n_test = X.shape[0], Xt.shape[0]
            desc = f"amazon670k_shape(n_train={a.n_train}, n_test={a.n_test}, seed={a.data_seed})"
            baseline = popularity_baseline(Y, Yt[eval_rows(n_test, a)])
            del X, Y, Xt, Yt
        else:
            X, Y, Xt, Yt = load_data(a)
            n_train, n_test = X.shape[0], Xt.shape[0]
            baseline = popularity_baseline(Y, Yt[eval_rows(n_test, a)])
            desc = f"debdeps ({a.data})"
            del X, Y, Xt, Yt
        runs = []
        for rep in range(a.repeats):
            order = a.impls if rep % 2 == 0 else a.impls[::-1]
            for impl in order:
                res_file = Path(tmp) / f"{impl}_{rep}.json"
                cmd = [sys.executable, str(Path(__file__).resolve())] + sys.argv[1:] + extra + \
                    ["--worker", impl, "--worker-out", str(res_file)]
                print(f"--- repeat {rep + 1}/{a.repeats}: {impl}", flush=True)
                proc = subprocess.run(cmd, env=env)
                if proc.returncode != 0 or not res_file.exists():
                    print(f"{impl} failed (exit {proc.returncode}); continuing", flush=True)
                    runs.append({"impl": impl, "repeat": rep, "failed": proc.returncode})
                    continue
                r = json.loads(res_file.read_text())
                r["repeat"] = rep
                runs.append(r)

    ok = [r for r in runs if "failed" not in r]
    target = a.target_p1
    target_src = "--target-p1"
    if target is None:
        key = "selected_P@1" if a.val_sample else "final_P@1"
        ts = [r[key] for r in ok if r["impl"] == a.target_from]
        target = statistics.median(ts) - a.target_slack if ts else None
        target_src = (f"{'best-validation' if a.val_sample else 'final'} P@1 of {a.target_from} (median over "
                      f"repeats)" + (f" minus {a.target_slack}" if a.target_slack else ""))
    for r in ok:
        r["time_to_target_s"] = time_to_target(r["curve"], target) if target is not None else None
    results = {
        "command": " ".join(["python"] + sys.argv),
        "machine": machine(),
        "threads": a.threads,
        "dataset": a.dataset,
        "data": desc,
        "n_train": n_train,
        "eval_rows": int(min(a.eval_sample or n_test, n_test)),
        "eval_seed": a.eval_seed,
        "val_rows": a.val_sample or 0,
        "target_P@1": target,
        "most_frequent_labels": baseline,
        "target_source": target_src,
        "args": vars(a),
        "env": {k: env[k] for k in ("OMP_NUM_THREADS", "THP_MEM_ALLOC_ENABLE")},
        "runs": runs,
    }
    out.write_text(json.dumps(results, indent=2, default=float))
    png = out.with_suffix(".png")
    plot(dict(results, runs=ok), png)

    print(f"\n{results['command']}\n{results['data']}; P@1 exact on {results['eval_rows']:,} random test rows "
          f"(seed {a.eval_seed}); budget {a.minutes} min of training"
          f"{f' or {a.epochs} epochs' if a.epochs else ''}; target P@1 "
          f"{'-' if target is None else f'{target:.4f}'} = {target_src}; always predicting the most frequent "
          f"label: P@1 {baseline['P@1']:.4f}; medians over {a.repeats} repeat(s)\n")
    print("| implementation | samples/s | final P@1 | best-validation P@1 (at s) | time to target P@1 | "
          "peak memory MiB | threads | machine |")
    print("|---|---|---|---|---|---|---|---|")
    for impl in a.impls:
        rs = [r for r in ok if r["impl"] == impl]
        if not rs:
            print(f"| {impl} | failed | | | | | {a.threads} | {machine()} |")
            continue
        sel = (f"{statistics.median(r['selected_P@1'] for r in rs):.4f} "
               f"({statistics.median(r['selected_train_s'] for r in rs):.0f} s)") if a.val_sample else "-"
        print(f"| {impl} | {statistics.median(r['samples_per_s'] for r in rs):,.0f} | "
              f"{statistics.median(r['final_P@1'] for r in rs):.4f} | {sel} | "
              f"{fmt_time([r['time_to_target_s'] for r in rs])} | "
              f"{max(r['peak_rss_mib'] for r in rs):,.0f} | {a.threads} | {machine()} |")
    print(f"\nwrote {out} and {png}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="debdeps")
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "debdeps"),
                   help="debdeps directory (train.txt.gz, test.txt.gz)")
    p.add_argument("--n-train", type=int, default=490449,
                   help="amazon: generated training rows (default: as many as Amazon-670K has)")
    p.add_argument("--n-test", type=int, default=20000, help="amazon: generated test rows")
    p.add_argument("--data-seed", type=int, default=0, help="amazon: generator seed")
    p.add_argument("--impls", nargs="+", choices=IMPLS + IMPLS_EXTRA, default=IMPLS)
    p.add_argument("--minutes", type=float, default=5.0, help="training wall-time budget per implementation")
    p.add_argument("--epochs", type=int, default=None, help="stop after this many epochs if earlier")
    p.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between evaluations")
    p.add_argument("--eval-sample", type=int, default=None,
                   help="random test rows evaluated (all if larger; default debdeps 5000, amazon 2000: an exact "
                        "evaluation over 670,091 outputs takes ~5-10 ms per row)")
    p.add_argument("--eval-seed", type=int, default=0)
    p.add_argument("--val-sample", type=int, default=0,
                   help="early stopping: also score P@1 on this many other random test rows (seed --eval-seed + "
                        "1, disjoint from the evaluation rows) at every checkpoint; the model an implementation "
                        "returns is then the checkpoint with the best validation P@1 (reported beside the final "
                        "one), and the target comes from it (default 0: off)")
    p.add_argument("--target-p1", type=float, default=None,
                   help="default: --target-from's final (with --val-sample: best-validation) P@1 minus "
                        "--target-slack")
    p.add_argument("--target-from", choices=IMPLS + IMPLS_EXTRA, default="torch-sampled")
    p.add_argument("--target-slack", type=float, default=0.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: debdeps 3e-3, amazon 1e-3)")
    p.add_argument("--active", type=float, default=None,
                   help="libslide LSH active fraction (default: debdeps 0.05, amazon 0.005 per sample and "
                        "0.002 batch-shared)")
    p.add_argument("--rehash-touched", type=int, choices=[0, 1], default=None,
                   help="libslide: re-hash the neurons each batch touched (default: 1 for amazon libslide-shared)")
    p.add_argument("--rebuild-growth", type=float, default=None,
                   help="libslide: rebuild period growth factor (default: 2 for amazon libslide-shared, else 1)")
    p.add_argument("--tables", type=int, default=None,
                   help="libslide: number of hash tables L (default 50; amazon batch-shared 16)")
    p.add_argument("--bucket-size", type=int, default=None,
                   help="libslide: ids kept per bucket (default 128; amazon batch-shared 32)")
    p.add_argument("--random-fraction", type=float, default=None,
                   help="libslide: random share of each active set (default for debdeps: 0.25 per-sample, 0.5 "
                        "shared; amazon: 0)")
    p.add_argument("--storage", choices=["float32", "bfloat16"], default="float32",
                   help="libslide, libslide-shared: storage of the output layer's weights and Adam moments "
                        "(the -bf16 implementations always use bfloat16)")
    p.add_argument("--lr-plateau", type=float, default=0.0, metavar="FACTOR",
                   help="with --val-sample: multiply every implementation's learning rate by FACTOR after each "
                        "evaluation whose validation P@1 is not above the best so far (0: off)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="decoupled (AdamW) weight decay on weight rows for every implementation: libslide's and "
                        "RowAdam's on the rows each batch updates, torch.optim.AdamW on dense tables; not with "
                        "--torch-optimizer sparseadam (SparseAdam has none)")
    p.add_argument("--negatives", type=int, default=4096, help="torch-sampled: uniform negatives per batch")
    p.add_argument("--torch-optimizer", choices=["rows", "sparseadam", "dense"], default="rows",
                   help="how torch updates the input table (and torch-sampled's output tables): lazy Adam on the "
                        "batch's rows (rows), sparse=True gradients + SparseAdam, or dense Adam")
    p.add_argument("--repeats", type=int, default=1, help="runs per implementation; order reversed every other")
    p.add_argument("--seed", type=int, default=0, help="weights, shuffling and negatives")
    p.add_argument("--out", default=None, help="default bench/results/vs_torch_<dataset>.json")
    p.add_argument("--worker", choices=IMPLS + IMPLS_EXTRA, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    p.add_argument("--data-file", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.weight_decay and a.torch_optimizer == "sparseadam":
        p.error("--weight-decay needs --torch-optimizer rows or dense: torch.optim.SparseAdam has no weight decay")
    if a.eval_sample is None:
        a.eval_sample = DATASETS[a.dataset]["eval_sample"]
    if a.worker:
        worker(a)
    else:
        parent(a)


if __name__ == "__main__":
    main()
