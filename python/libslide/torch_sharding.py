"""An LSHSoftmax whose classes are split over the ranks of a torch.distributed process group.

Rank r of W holds classes [r * C // W, (r + 1) * C // W) as its own libslide network (rows, optimizer state,
hash tables). One step of the group, every rank calling forward with its own batch:

  1. all-gather the batch sizes, the hidden vectors h (B_r x d each) and the labels: every rank sees the
     global batch of n = sum B_r rows;
  2. each rank chooses its shard's active set for the global batch (its classes among the labels forced in,
     plus its share of uniform negatives, logQ-corrected) and computes their logits
     (C: slide_network_shard_forward), giving per row the max and the sum of exps;
  3. one all-reduce (MAX) of the maxima and one (SUM) of the rescaled sums give each row's exact
     normaliser over the union of every shard's set;
  4. each rank forms its probabilities, its labels' loss and its part of dL/dh for the n rows
     (slide_network_shard_backward); an all-reduce (SUM) of the losses gives the batch's loss and one of
     the n x d gradients dL/dh, of which each rank keeps its own rows, scaled to the gradient of its own
     batch's mean loss (what DistributedDataParallel averages over the ranks);
  5. loss.backward() applies each rank's update to its own rows.

Bytes each rank sends per step (ring collectives, W ranks, n rows of d floats): about 4 n d (all-gather of h)
+ 8 n d (all-reduce of the gradient) + labels and 3 x 4 n for the normaliser and the loss.

A rank that dies makes the others' next collective fail; gloo reports it (or times out after the group's
timeout) and the error is raised as libslide.SlideError naming the step, never a hang beyond the timeout.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist

from . import _inputs
from ._api import check, ffi, lib
from ._errors import InvalidArgumentError, SlideError
from .network import _batch_stats

__all__ = ["Shard"]


def shard_sampling(sampling, num_classes: int, shard: "Shard"):
    """The LSH of one shard, such that the union of the W shards' sets is as large as one head's: the
    automatic cap (5% of the classes, 1,024 to 4,096) or an int count is split over the ranks; a fraction is
    kept (it applies to each shard's classes)."""
    import dataclasses
    import math

    active = sampling.active
    if active is None or active == "auto":
        share = 0.05  # SLIDE_AUTO_ACTIVE_FRACTION (slide.h)
        total = min(num_classes, max(lib.SLIDE_AUTO_ACTIVE_MIN,
                                     min(lib.SLIDE_AUTO_ACTIVE_MAX, math.ceil(share * num_classes))))
    elif isinstance(active, (int, np.integer)) and not isinstance(active, bool):
        total = int(active)
    else:
        return sampling
    return dataclasses.replace(sampling, active=max(1, min(shard.size, math.ceil(total / shard.world))))


class Shard:
    """This rank's share of the classes and the collectives of a sharded step."""

    def __init__(self, group, num_classes: int):
        if not dist.is_available() or not dist.is_initialized():
            raise InvalidArgumentError("process_group needs torch.distributed initialised "
                                       "(torch.distributed.init_process_group('gloo'))")
        self.group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        if num_classes < self.world:
            raise InvalidArgumentError(f"{num_classes} classes cannot be split over {self.world} ranks")
        self.num_classes = num_classes
        self.lo = self.rank * num_classes // self.world
        self.hi = (self.rank + 1) * num_classes // self.world
        self.size = self.hi - self.lo

    # ------------------------------------------------------------------ collectives
    def _collective(self, what, fn, *args, **kw):
        try:
            return fn(*args, group=self.group, **kw)
        except RuntimeError as e:
            raise SlideError(f"rank {self.rank} of {self.world}: {what} failed (a rank of the process group "
                             f"died or timed out?): {e}") from e

    def _gather_rows(self, local: torch.Tensor, sizes: list[int], what: str) -> torch.Tensor:
        """Concatenation over ranks of each rank's (B_r, ...) tensor (padded to the largest B_r to gather)."""
        top = max(sizes)
        pad = torch.zeros((top,) + tuple(local.shape[1:]), dtype=local.dtype)
        pad[:local.shape[0]] = local
        parts = [torch.empty_like(pad) for _ in range(self.world)]
        self._collective(what, dist.all_gather, parts, pad)
        return torch.cat([p[:b] for p, b in zip(parts, sizes)])

    def _global_batch(self, x: np.ndarray, indptr: np.ndarray, indices: np.ndarray):
        """(X of the global batch, its labels padded with -1 per row, this rank's first row, the batch sizes),
        from this rank's rows and their CSR labels."""
        lens = np.diff(indptr)
        b = torch.tensor([x.shape[0], int(lens.max(initial=0))], dtype=torch.int64)
        sizes = [torch.empty_like(b) for _ in range(self.world)]
        self._collective("gathering the batch sizes", dist.all_gather, sizes, b)
        rows = [int(t[0]) for t in sizes]
        width = max(1, max(int(t[1]) for t in sizes))
        lab = np.full((x.shape[0], width), -1, np.int64)
        lab[np.repeat(np.arange(x.shape[0]), lens), np.arange(indices.size) - np.repeat(indptr[:-1], lens)] = indices
        X = self._gather_rows(torch.from_numpy(x), rows, "gathering h").numpy()
        L = self._gather_rows(torch.from_numpy(lab), rows, "gathering the labels").numpy()
        return np.ascontiguousarray(X), L, sum(rows[:self.rank]), rows

    # ------------------------------------------------------------------ a step
    def begin(self, head, h, targets, want_grad: bool) -> dict:
        from .torch import _hidden_array, _target_labels

        x = _hidden_array(h, head.in_features)
        yv = _target_labels(targets, x.shape[0], self.num_classes)
        X, L, first, rows = self._global_batch(x, yv.keep[0], yv.keep[1])  # int64 indptr, int32 label ids
        n = X.shape[0]
        counts = (L >= 0).sum(axis=1).astype(np.uint32)
        mine = (L >= self.lo) & (L < self.hi)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(mine.sum(axis=1), out=indptr[1:])
        local = (L[mine] - self.lo).astype(np.int32)  # row-major: each row's labels in order
        xv = _inputs.features(X, head.in_features, name="h")
        yl = _inputs.labels(sp.csr_matrix((np.ones(local.size, np.float32), local, indptr), shape=(n, self.size)),
                            n, self.size, name="targets")
        mx = np.empty(n, np.float32)
        se = np.empty(n, np.float32)
        net = head.net._h
        check(lib.slide_network_shard_forward(net, xv.c, yl.c, ffi.NULL, n, ffi.from_buffer("uint32_t[]", counts),
                                              ffi.from_buffer("float[]", mx), ffi.from_buffer("float[]", se)))
        try:
            m = torch.from_numpy(mx.copy())
            self._collective("reducing the row maxima", dist.all_reduce, m, op=dist.ReduceOp.MAX)
            scaled = torch.from_numpy(se.astype(np.float64) * np.exp(mx.astype(np.float64) - m.double().numpy()))
            self._collective("reducing the sums of exps", dist.all_reduce, scaled, op=dist.ReduceOp.SUM)
            log_norm = (m.double() + torch.log(scaled)).float().numpy()
            grad = np.empty((n, head.in_features), np.float32) if want_grad else None
            st = _batch_stats()
            check(lib.slide_network_shard_backward(net, ffi.from_buffer("float[]", log_norm), st,
                                                   ffi.from_buffer("float[]", grad) if want_grad else ffi.NULL,
                                                   grad.size if want_grad else 0))
            loss = torch.tensor([st.loss], dtype=torch.float64)
            self._collective("reducing the loss", dist.all_reduce, loss, op=dist.ReduceOp.SUM)
            g = None
            if want_grad:
                full = torch.from_numpy(grad)
                self._collective("reducing dL/dh", dist.all_reduce, full, op=dist.ReduceOp.SUM)
                # the gradient of this rank's batch mean: the shards' parts were scaled by 1 / n
                g = full[first:first + x.shape[0]] * (n / x.shape[0])
        except BaseException:
            lib.slide_network_train_cancel(net)
            raise
        return {"loss": float(loss), "active": st.active_output, "grad": g, "keep": (X, xv, yl),
                "rows": n, "bytes_sent": self.bytes_per_step(n, head.in_features, L.shape[1])}

    def bytes_per_step(self, n: int, d: int, width: int) -> int:
        """Bytes this rank sends per step in ring collectives: (W - 1) / W of each gathered or reduced
        buffer for an all-gather, twice that for an all-reduce."""
        w = self.world
        if w == 1:
            return 0
        share = (w - 1) / w
        gathered = 16 * w + 4 * n * d + 8 * n * width  # sizes, h, padded labels
        reduced = 4 * n + 8 * n + 8 + (4 * n * d)  # maxima, sums, loss, dL/dh
        return int(share * gathered + 2 * share * reduced)

    def topk(self, head, x: np.ndarray, k: int, mode: str):
        """Each rank scores its classes for the global batch; the best k over the shards for this rank's rows."""
        k = _inputs.positive_int(k, "k")
        X, _, first, rows = self._global_batch(x, np.zeros(x.shape[0] + 1, np.int64), np.empty(0, np.int64))
        kk = min(k, self.size)
        ids, scores = head.net.predict_topk(X, k=kk, mode=mode)
        ids = np.where(ids >= 0, ids.astype(np.int64) + self.lo, -1)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        s_all = [torch.empty((X.shape[0], kk), dtype=torch.float32) for _ in range(self.world)]
        i_all = [torch.empty((X.shape[0], kk), dtype=torch.int64) for _ in range(self.world)]
        self._collective("gathering top-k scores", dist.all_gather, s_all, torch.from_numpy(scores))
        self._collective("gathering top-k ids", dist.all_gather, i_all, torch.from_numpy(ids))
        s = torch.cat(s_all, dim=1)[first:first + x.shape[0]]
        i = torch.cat(i_all, dim=1)[first:first + x.shape[0]]
        best, where = torch.topk(s, min(k, s.shape[1]), dim=1)
        ids_out = torch.gather(i, 1, where)
        ids_out[torch.isinf(best)] = -1
        best[torch.isinf(best)] = 0.0
        return best, ids_out


# ---------------------------------------------------------------------- checkpoints

MANIFEST = "manifest.json"


def _write_atomically(path: str, text: str) -> None:
    import os
    import tempfile

    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def save_sharded(head, directory) -> None:
    """Every rank writes its shard (a libslide model file, atomically) under a name carrying the step; once
    all are written, rank 0 replaces the manifest that names them, then files no manifest names are removed.
    A crash at any point leaves the previous manifest and the files it names intact."""
    import json
    import os

    shard = head._shard
    directory = os.fspath(directory)
    if shard.rank == 0:
        os.makedirs(directory, exist_ok=True)
    shard._collective("waiting for the checkpoint directory", dist.barrier)
    step = head.net.steps
    name = f"shard-{shard.rank}-of-{shard.world}-step{step}.slide"
    head.net.save(os.path.join(directory, name))
    names = [None] * shard.world
    shard._collective("gathering the shard file names", dist.all_gather_object, names, name)
    if shard.rank == 0:
        manifest = {"format": "libslide sharded LSHSoftmax", "version": 1, "num_classes": shard.num_classes,
                    "in_features": head.in_features, "world": shard.world, "step": step,
                    "shards": [{"file": n, "classes": [r * shard.num_classes // shard.world,
                                                       (r + 1) * shard.num_classes // shard.world]}
                               for r, n in enumerate(names)]}
        _write_atomically(os.path.join(directory, MANIFEST), json.dumps(manifest, indent=1) + "\n")
        for f in os.listdir(directory):
            if f.startswith("shard-") and f.endswith(".slide") and f not in names:
                os.unlink(os.path.join(directory, f))
    shard._collective("waiting for the manifest", dist.barrier)


def read_manifest(directory) -> dict:
    import json
    import os

    path = os.path.join(os.fspath(directory), MANIFEST)
    try:
        with open(path) as f:
            m = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no manifest: not a sharded LSHSoftmax checkpoint") from None
    except json.JSONDecodeError as e:
        from ._errors import FormatError

        raise FormatError(f"{path}: line {e.lineno}: not valid JSON: {e.msg}") from None
    from ._errors import FormatError

    if m.get("format") != "libslide sharded LSHSoftmax" or m.get("version") != 1:
        raise FormatError(f"{path}: not a version 1 sharded LSHSoftmax manifest")
    shards = m.get("shards")
    if not isinstance(shards, list) or len(shards) != m.get("world") or not shards:
        raise FormatError(f"{path}: 'shards' must list one entry per rank ({m.get('world')})")
    edge = 0
    for i, s in enumerate(shards):
        lo, hi = s.get("classes", [None, None])
        if lo != edge or not isinstance(hi, int) or hi <= lo or not isinstance(s.get("file"), str) \
                or os.path.basename(s["file"]) != s["file"]:
            raise FormatError(f"{path}: shard {i}: classes must continue at {edge} and name a file in the directory")
        edge = hi
    if edge != m.get("num_classes"):
        raise FormatError(f"{path}: the shards cover {edge} classes, num_classes says {m.get('num_classes')}")
    return m


def load_rows(directory, manifest: dict, lo: int, hi: int, in_features: int):
    """Weights and biases of classes [lo, hi) gathered from the shard files that hold them."""
    import os

    from .network import Network

    w = np.empty((hi - lo, in_features), np.float32)
    b = np.empty(hi - lo, np.float32)
    for s in manifest["shards"]:
        a, z = s["classes"]
        if z <= lo or a >= hi:
            continue
        net = Network.load(os.path.join(os.fspath(directory), s["file"]), threads=1)
        if net.input_dim != in_features or net.output_dim != z - a:
            from ._errors import FormatError

            raise FormatError(f"{s['file']}: a {net.input_dim} -> {net.output_dim} layer, the manifest says "
                              f"{in_features} -> {z - a}")
        x, y = max(a, lo), min(z, hi)
        w[x - lo:y - lo] = net.layers[0].weights[x - a:y - a]
        b[x - lo:y - lo] = net.layers[0].bias[x - a:y - a]
    return w, b
