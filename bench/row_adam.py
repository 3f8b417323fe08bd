"""The optimizer step of a torch model's input embedding table, per batch of 128, on a subset of the Amazon
shape (sparse rows of ~68 features into a 135,909 x 128 table): the backward pass of the EmbeddingBag and
the optimizer step (and the forward pass: RowAdam's gathers its rows there), for
  rows            bench/_torch_models.py's RowAdam: the batch's rows gathered into a dense leaf
                  (index_select), torch's fused AdamW on them, index_copy_ back (the torch baselines' default);
  sparseadam      EmbeddingBag(sparse=True) + torch.optim.SparseAdam;
  lazyadam        EmbeddingBag(sparse=True) + libslide.torch.LazyAdam (catch_up=True, the default);
  lazyadam-frozen the same with catch_up=False.
Each on the same batches, alternated batch by batch; means over --batches after --warmup.

    python bench/row_adam.py --threads 2
"""

import argparse
import time

import numpy as np
import torch

import _common
from _data import HIDDEN, csr_batch
from _torch_models import RowAdam

import libslide as sl
from libslide.torch import LazyAdam

METHODS = ["rows", "sparseadam", "lazyadam", "lazyadam-frozen"]


class Table:
    """One input table (He-uniform start, as the benchmarks' models) and its optimizer."""

    def __init__(self, method, n_features, lr):
        lim = (6.0 / n_features) ** 0.5
        self.method = method
        self.w = torch.nn.Parameter(torch.empty(n_features, HIDDEN).uniform_(-lim, lim))
        if method == "rows":
            self.opt = RowAdam(torch, self.w.data, lr)
        elif method == "sparseadam":
            self.opt = torch.optim.SparseAdam([self.w], lr=lr)
        else:
            self.opt = LazyAdam([self.w], lr=lr, catch_up=method == "lazyadam")

    def step(self, ind, val, offsets):
        """(forward, backward, optimizer) seconds of one batch whose loss is sum(relu(h)^2) / batch."""
        t_start = time.perf_counter()
        if self.method == "rows":
            uniq, inv = np.unique(ind, return_inverse=True)
            uniq = torch.from_numpy(uniq.astype(np.int64))
            leaf = self.w.detach().index_select(0, uniq).requires_grad_()
            h = torch.nn.functional.embedding_bag(torch.from_numpy(inv.astype(np.int64)), leaf, offsets,
                                                  mode="sum", per_sample_weights=val)
        else:
            h = torch.nn.functional.embedding_bag(torch.from_numpy(ind.astype(np.int64)), self.w, offsets,
                                                  mode="sum", per_sample_weights=val, sparse=True)
        t0 = time.perf_counter()
        (torch.relu(h) ** 2).sum().div(offsets.numel()).backward()
        t1 = time.perf_counter()
        if self.method == "rows":
            with torch.no_grad():
                self.opt.step(uniq, leaf.grad)
        else:
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        return t0 - t_start, t1 - t0, time.perf_counter() - t1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=30000)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    _common.add_threads_arg(p)
    _common.add_out_arg(p, "row_adam.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X, _, _, _ = sl.datasets.amazon670k_shape(n_train=a.n_train, n_test=10, seed=0, realistic=True)
    tables = {m: Table(m, X.shape[1], 1e-3) for m in a.methods}
    rng = np.random.default_rng(0)
    ms = {m: [0.0, 0.0, 0.0] for m in a.methods}
    touched = []
    for it in range(a.warmup + a.batches):
        rows = rng.choice(X.shape[0], 128, replace=False)
        ind, val, lens = csr_batch(X, rows)
        touched.append(np.unique(ind).size)
        offsets = np.zeros(rows.size, np.int64)
        np.cumsum(lens[:-1], out=offsets[1:])
        offsets, val = torch.from_numpy(offsets), torch.from_numpy(np.ascontiguousarray(val, np.float32))
        order = a.methods if it % 2 == 0 else a.methods[::-1]
        for m in order:
            times = tables[m].step(ind, val, offsets)
            if it >= a.warmup:
                for k, t in enumerate(times):
                    ms[m][k] += 1000 * t / a.batches
    result = {m: {"forward_ms": v[0], "backward_ms": v[1], "optimizer_ms": v[2], "total_ms": sum(v)}
              for m, v in ms.items()}
    _common.write_json(a.out, {**_common.result_header(a.threads), "ms_per_batch": result,
                               "table": [X.shape[1], HIDDEN], "mean_rows_touched": float(np.mean(touched)),
                               "args": vars(a)})
    print(f"table {X.shape[1]:,} x {HIDDEN}, {np.mean(touched):,.0f} rows touched per batch of 128")
    for m, v in result.items():
        print(f"{m:>16}: forward {v['forward_ms']:5.2f} ms, backward {v['backward_ms']:5.2f} ms, optimizer "
              f"{v['optimizer_ms']:5.2f} ms, total {v['total_ms']:5.2f} ms")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
