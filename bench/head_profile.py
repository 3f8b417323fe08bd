"""Where a training step of the PyTorch head goes, per batch of 128, on a subset of the Amazon shape:
torch-head's input layer, its label slicing, the head's forward + backward (slide_network_train_begin),
its update (slide_network_train_apply) and the input layer's lazy Adam (--torch-optimizer rows: RowAdam
on gathered rows; lazyadam: sparse=True gradients and libslide.torch.LazyAdam); beside it the native
network's whole step with the same output layer.

    python bench/head_profile.py --threads 2 [--torch-optimizer lazyadam]

Times are means over --batches batches after --warmup; writes bench/results/head_profile.json.
"""

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch

import _common
from _torch_models import HIDDEN, TorchHeadTrainer

import libslide as sl


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=30000)
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--head-active", type=int, default=None,
                   help="output neurons per batch of the head and the native network (default: automatic)")
    p.add_argument("--torch-optimizer", choices=["rows", "lazyadam"], default="rows",
                   help="the input table's optimizer (as bench/vs_torch.py --torch-optimizer)")
    _common.add_threads_arg(p)
    _common.add_out_arg(p, "head_profile.json")
    a = p.parse_args()

    X, Y, _, _ = sl.datasets.amazon670k_shape(n_train=a.n_train, n_test=10, seed=0, realistic=True)
    tr = TorchHeadTrainer(X, Y, SimpleNamespace(threads=a.threads, seed=0, lr=1e-3, dataset="amazon",
                                                head_active=a.head_active, torch_optimizer=a.torch_optimizer))
    rng = np.random.default_rng(0)
    parts = dict.fromkeys(["input layer", "labels", "head forward+backward", "head update", "input Adam"], 0.0)
    for it in range(a.warmup + a.batches):
        rows = rng.choice(X.shape[0], 128, replace=False)
        t = [time.perf_counter()]
        h, leaf = tr._hidden(X, rows, True)
        t.append(time.perf_counter())
        Yb = Y[rows]
        t.append(time.perf_counter())
        loss = tr.head(h, Yb)
        t.append(time.perf_counter())
        loss.backward()
        t.append(time.perf_counter())
        for o in tr.opts:
            o.step()
            o.zero_grad(set_to_none=True)
        if tr.row_opts:
            with torch.no_grad():
                tr.row_opts[0].step(leaf[0], leaf[1].grad)
        t.append(time.perf_counter())
        if it >= a.warmup:
            for k, t0, t1 in zip(parts, t, t[1:]):
                parts[k] += t1 - t0
    ms = {k: 1000 * v / a.batches for k, v in parts.items()}

    net = sl.Network(X.shape[1], [sl.Layer(HIDDEN), sl.Layer(Y.shape[1], "softmax", sampling=tr.sampling)],
                     threads=a.threads)
    for it in range(a.warmup + a.batches):
        if it == a.warmup:
            t0 = time.perf_counter()
        net.train_batch(X, Y, rows=rng.choice(X.shape[0], 128, replace=False))
    ms["native network step"] = 1000 * (time.perf_counter() - t0) / a.batches

    _common.write_json(a.out, {**_common.result_header(a.threads), "ms_per_batch": ms, "args": vars(a)})
    for k, v in ms.items():
        print(f"{k:>24}: {v:6.2f} ms")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
