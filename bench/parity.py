"""Parity: does libslide learn what PyTorch learns from the same network, data order and negatives?

    python bench/parity.py --dataset debdeps --batches 1400 --impls libslide torch-mirror torch-standard
    python bench/parity.py --dataset revdict --negatives 4096 --impls libslide torch-standard

Network: sparse input -> 128 ReLU -> softmax over every label, batch 128, Adam, the same shuffled batches for
every implementation. --negatives all computes every output neuron; --negatives N gives each batch one
shared set: the batch's labels plus N uniformly drawn other labels (libslide: batch-shared LSH with
random_fraction=1 and that count; torch: the same rule in torch).

Implementations (all evaluated on the same test rows, exact top-1 over every label):
  libslide        the library with the optimizer settings given (--catch-up, --logq)
  torch-mirror    torch with libslide's semantics: libslide's initial weights copied, libslide's lazy Adam
                  (rows of the input table and of the output layer that a batch does not touch keep their
                  moments, as --catch-up says); coincides with libslide up to float rounding
  torch-standard  what a PyTorch user writes: nn.Linear's default initialisation (U(+-1/sqrt(fan_in)), biases
                  zero here as in libslide), torch.optim.Adam over whole tensors (dense moments: untouched rows
                  keep moving by their momentum)
  torch-lazy      torch-standard's initialisation with libslide's lazy Adam (isolates the optimizer)
Writes bench/results/parity_<dataset>[_<negatives>].json and prints P@1 against samples for each.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import _common
import libslide as sl

HIDDEN, BATCH = 128, 128


def load(dataset):
    d = _common.SHARED_DATA / dataset
    X, Y = sl.load_xc(d / "train.txt.gz")
    Xt, Yt = sl.load_xc(d / "test.txt.gz")
    return X, Y, Xt, Yt


def p_at_1(top, Ye):
    Ye = Ye.tocsr()
    return float(np.mean([Ye[i, int(top[i])] != 0 for i in range(len(top))]))


class SlideRun:
    def __init__(self, X, Y, a):
        lsh = None
        if a.negatives != "all":
            lsh = sl.LSH(batch_shared=True, random_fraction=1.0, active=int(a.negatives), logq_correction=a.logq)
        self.net = sl.Network(X.shape[1], [sl.Layer(HIDDEN, "relu"), sl.Layer(Y.shape[1], "softmax", sampling=lsh)],
                              optimizer=sl.Adam(lr=a.lr, catch_up=a.catch_up), seed=a.seed, threads=a.threads)
        self.X, self.Y = X, Y

    def init_weights(self):
        return self.net.layers[0].weights.T.copy(), self.net.layers[1].weights.copy()

    def step(self, rows):
        return self.net.train_batch(self.X, self.Y, rows=rows)["loss"]

    def top1(self, Xe):
        return self.net.predict_topk(Xe, k=1)[0][:, 0]


class TorchRun:
    """The same network in torch; optimizer "lazy" (libslide's rule, with or without catch-up) or "dense"."""

    def __init__(self, X, Y, a, init, optimizer, catch_up):
        import torch

        self.torch, self.X, self.Y, self.a = torch, X, Y, a
        D, C = X.shape[1], Y.shape[1]
        if init is not None:
            W1, W2 = (torch.tensor(w) for w in init)
        else:
            g = torch.Generator().manual_seed(a.seed)
            W1 = (torch.rand(D, HIDDEN, generator=g) * 2 - 1) / np.sqrt(D)
            W2 = (torch.rand(C, HIDDEN, generator=g) * 2 - 1) / np.sqrt(HIDDEN)
        self.params = [W1, torch.zeros(HIDDEN), W2, torch.zeros(C)]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.last = [torch.zeros(p.shape[0], dtype=torch.long) for p in self.params]
        self.optimizer, self.catch_up, self.t = optimizer, catch_up, 0
        self.rng = np.random.default_rng(a.seed + 17)

    def _inputs(self, Xb):
        torch = self.torch
        c = Xb.tocoo()
        return torch.sparse_coo_tensor(torch.tensor(np.vstack([c.row, c.col]), dtype=torch.long),
                                       torch.tensor(c.data), (Xb.shape[0], self.X.shape[1]))

    def _candidates(self, Yb):
        """All labels, or the batch's labels then N uniform others (and the logQ offset of those)."""
        C = self.Y.shape[1]
        if self.a.negatives == "all":
            return None, 0, 0.0
        fixed = np.unique(Yb.indices)
        n = int(self.a.negatives)
        others = np.setdiff1d(np.arange(C), fixed, assume_unique=True)
        drawn = self.rng.choice(others, size=min(max(n - len(fixed), 0), len(others)), replace=False)
        off = float(np.log(len(others) / len(drawn))) if self.a.logq and len(drawn) else 0.0
        return np.concatenate([fixed, drawn]), len(fixed), off

    def _adam_rows(self, k, rows):
        """Adam on rows `rows` of parameter k (all rows when None) at step t, libslide's lazy rule or dense."""
        torch, a, t = self.torch, self.a, self.t
        b1, b2, eps = 0.9, 0.999, 1e-8
        p, g, m, v = self.params[k], self.params[k].grad, self.m[k], self.v[k]
        if rows is None:
            m.mul_(b1).add_((1 - b1) * g)
            v.mul_(b2).add_((1 - b2) * g * g)
            p -= a.lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps)
            return
        shape = (len(rows),) + (1,) * (p.dim() - 1)
        if self.catch_up:
            s = self.last[k][rows]
            gap = (t - 1 - s).clamp(min=0).double()
            r = b1 / np.sqrt(b2)
            lr_s = a.lr * torch.sqrt(1 - b2 ** (s + 1).double()) / (1 - b1 ** (s + 1).double())
            eps_s = eps * torch.sqrt(1 - b2 ** (s + 1).double())
            geo = r * (1 - r ** gap) / (1 - r)
            mr, vr = m[rows], v[rows]
            p[rows] -= ((lr_s * geo).float().view(shape) * mr / (vr.sqrt() + eps_s.float().view(shape)))
            m[rows] = mr * (b1 ** gap).float().view(shape)
            v[rows] = vr * (b2 ** gap).float().view(shape)
        self.last[k][rows] = t
        gr = g[rows]
        m[rows] = b1 * m[rows] + (1 - b1) * gr
        v[rows] = b2 * v[rows] + (1 - b2) * gr * gr
        p[rows] -= a.lr * (m[rows] / (1 - b1 ** t)) / ((v[rows] / (1 - b2 ** t)).sqrt() + eps)

    def step(self, rows):
        torch = self.torch
        self.t += 1
        Xb, Yb = self.X[rows], self.Y[rows].tocsr()
        for p in self.params:
            p.requires_grad_(True)
            p.grad = None
        W1, b1, W2, b2 = self.params
        h = torch.relu(torch.sparse.mm(self._inputs(Xb), W1) + b1)
        cand, n_fixed, off = self._candidates(Yb)
        if cand is None:
            z = h @ W2.T + b2
            col = {j: j for j in range(0)}
        else:
            ct = torch.tensor(cand, dtype=torch.long)
            z = h @ W2[ct].T + b2[ct]
            if off:
                z = z + torch.cat([torch.zeros(n_fixed), torch.full((len(cand) - n_fixed,), off)])
            col = {int(j): i for i, j in enumerate(cand)}
        T = torch.zeros_like(z)
        for i in range(len(rows)):
            labs = Yb.indices[Yb.indptr[i]:Yb.indptr[i + 1]]
            if len(labs):
                T[i, [col.get(int(j), int(j)) for j in labs]] = 1.0 / len(labs)
        loss = -(T * torch.log_softmax(z, 1)).sum() / len(rows)
        loss.backward()
        with torch.no_grad():
            if self.optimizer == "dense":
                for k in range(4):
                    self._adam_rows(k, None)
            else:
                self._adam_rows(0, torch.tensor(np.unique(Xb.indices), dtype=torch.long))
                self._adam_rows(1, None)
                out_rows = None if cand is None else torch.tensor(cand, dtype=torch.long)
                self._adam_rows(2, out_rows)
                self._adam_rows(3, out_rows)
        for p in self.params:
            p.requires_grad_(False)
        return float(loss.detach())

    def top1(self, Xe):
        torch = self.torch
        W1, b1, W2, b2 = self.params
        with torch.no_grad():
            h = torch.relu(torch.sparse.mm(self._inputs(Xe), W1) + b1)
            return (h @ W2.T + b2).argmax(1).numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="debdeps", choices=["debdeps", "revdict"])
    p.add_argument("--impls", nargs="+", default=["libslide", "torch-mirror", "torch-standard", "torch-lazy"])
    p.add_argument("--negatives", default="all", help="'all', or a count of shared uniform negatives per batch")
    p.add_argument("--batches", type=int, default=1400)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-sample", type=int, default=5000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--catch-up", type=int, default=1, choices=[0, 1],
                   help="libslide's Adam catch_up setting, mirrored by torch-mirror / torch-lazy")
    p.add_argument("--logq", type=int, default=0, choices=[0, 1], help="logQ correction of the drawn negatives")
    _common.add_threads_arg(p)
    _common.add_out_arg(p, None)
    a = p.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    X, Y, Xt, Yt = load(a.dataset)
    ev = np.random.default_rng(1).choice(Xt.shape[0], min(a.eval_sample, Xt.shape[0]), replace=False)
    Xe, Ye = Xt[ev], Yt[ev]
    order = np.random.default_rng(a.seed).permutation(X.shape[0])
    batches = [order[(b * BATCH) % (X.shape[0] - BATCH):][:BATCH] for b in range(a.batches)]
    init = SlideRun(X, Y, a).init_weights()
    result = _common.result_header(a.threads)
    result.update({"dataset": a.dataset, "negatives": a.negatives, "lr": a.lr, "catch_up": a.catch_up,
                   "logq": a.logq, "batch": BATCH, "eval_rows": len(ev), "curves": {}})
    for name in a.impls:
        run = {"libslide": lambda: SlideRun(X, Y, a),
               "torch-mirror": lambda: TorchRun(X, Y, a, init, "lazy", a.catch_up),
               "torch-standard": lambda: TorchRun(X, Y, a, None, "dense", 0),
               "torch-lazy": lambda: TorchRun(X, Y, a, None, "lazy", a.catch_up)}[name]()
        curve, train_s = [], 0.0
        for b, rows in enumerate(batches):
            t0 = time.perf_counter()
            loss = run.step(rows)
            train_s += time.perf_counter() - t0
            if (b + 1) % a.eval_every == 0 or b + 1 == len(batches):
                curve.append({"batches": b + 1, "samples": (b + 1) * BATCH, "seconds": round(train_s, 2),
                              "loss": round(loss, 4), "P@1": round(p_at_1(run.top1(Xe), Ye), 4)})
                print(f"{name:15s} {curve[-1]}", flush=True)
        result["curves"][name] = curve
    suffix = "" if a.negatives == "all" else f"_{a.negatives}"
    out = a.out or _common.RESULTS / f"parity_{a.dataset}{suffix}.json"
    _common.write_json(out, result)
    names = list(result["curves"])
    print("\n| samples | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for i, pt in enumerate(result["curves"][names[0]]):
        print(f"| {pt['samples']:,} | " + " | ".join(f"{result['curves'][n][i]['P@1']:.4f}" for n in names) + " |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
