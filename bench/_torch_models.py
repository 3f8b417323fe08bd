"""The PyTorch side of bench/vs_torch.py: the same network as libslide's (sparse input -> 128 ReLU ->
softmax over all labels) trained with a full softmax or a sampled softmax, and RowAdam, the lazy Adam on
the rows a batch touched that both use for their big tables by default (--torch-optimizer rows)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from _data import DATASETS, HIDDEN, csr_batch


def require_torch():
    try:
        import torch
    except ImportError:
        raise SystemExit("bench/vs_torch.py: PyTorch is not installed. Install the bench extras "
                         "(pip install '.[bench]' or pip install torch), or run only libslide with "
                         "--impls libslide libslide-shared.") from None
    return torch


class RowAdam:
    """Adam on selected rows of a weight matrix, given those rows' dense gradient: the lazy ("sparse") Adam
    of torch.optim.SparseAdam and of libslide (moments of untouched rows do not decay; bias correction by the
    global step), without building, coalescing and indexing sparse COO gradients. eps is added to
    sqrt(v / (1 - beta2^t)) as in torch.optim.Adam and libslide (SparseAdam adds it to sqrt(v)).
    weight_decay is decoupled (torch.optim.AdamW, libslide): the selected rows are first multiplied by
    1 - lr * weight_decay."""

    def __init__(self, torch, weight, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, fused=True):
        self.w, self.lr, self.b1, self.b2, self.eps = weight, lr, beta1, beta2, eps
        self.wd = weight_decay
        self.m, self.v = torch.zeros_like(weight), torch.zeros_like(weight)
        self.t = 0
        # torch's fused AdamW kernel (one pass over the gathered rows) where this torch has it, else the
        # elementwise chain below; the two agree up to rounding (tests/test_bench_row_adam.py).
        self.fused = getattr(torch, "_fused_adamw_", None) if fused else None
        self.step_count = torch.zeros((), dtype=torch.float32)

    def step(self, rows, g):
        self.t += 1
        if self.fused is not None:
            w, m, v = self.w.index_select(0, rows), self.m.index_select(0, rows), self.v.index_select(0, rows)
            self.step_count.fill_(self.t)
            self.fused([w], [g.contiguous()], [m], [v], [], [self.step_count], lr=self.lr, beta1=self.b1,
                       beta2=self.b2, weight_decay=self.wd, eps=self.eps, amsgrad=False, maximize=False)
            for table, new in ((self.w, w), (self.m, m), (self.v, v)):
                table.index_copy_(0, rows, new)
            return
        m = self.m.index_select(0, rows).mul_(self.b1).add_(g, alpha=1 - self.b1)
        v = self.v.index_select(0, rows).mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        self.m.index_copy_(0, rows, m)
        self.v.index_copy_(0, rows, v)
        denom = v.div_(1 - self.b2 ** self.t).sqrt_().add_(self.eps)
        step = m.div_(denom).mul_(-self.lr / (1 - self.b1 ** self.t))
        if self.wd:  # rows are unique, so one index_add applies decay and step: w += -lr*wd*w + step
            step.add_(self.w.index_select(0, rows), alpha=-self.lr * self.wd)
        self.w.index_add_(0, rows, step)


def _lazy_adam(torch, weights, biases, lr, wd, threads):
    """libslide.torch.LazyAdam over tables with sparse=True gradients: decoupled decay on weights, none on biases."""
    from libslide.torch import LazyAdam

    groups = [{"params": weights, "weight_decay": wd}] + ([{"params": biases, "weight_decay": 0.0}] if biases else [])
    return LazyAdam(groups, lr=lr, threads=threads)


def _dense_adam(adam, params, lr):
    """(optimizer, fused): torch.optim.Adam / AdamW over params, fused where this torch has it."""
    try:
        return adam(params, lr=lr, fused=True), True
    except (RuntimeError, TypeError, ValueError):
        return adam(params, lr=lr), False


class TorchTrainer:
    """The same network in PyTorch; --torch-optimizer chooses how the big tables are updated:
    rows       gather the batch's input rows / candidate output rows into small dense leaves, then RowAdam
               on those rows (default; the fastest pure-torch way measured);
    sparseadam EmbeddingBag / Embedding with sparse=True gradients and torch.optim.SparseAdam;
    lazyadam   the same sparse=True gradients and libslide.torch.LazyAdam (AdamW on the touched rows, in C,
               in place, with its catch-up of the steps a row missed: not pure torch, and not RowAdam's rule);
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
        self._init_input_layer(nn, X.shape[1])
        # U(+-1/sqrt(fan_in)): what nn.Linear starts from and libslide's softmax layer too (until this commit the
        # baselines kept libslide 0.3's 10x smaller start, which bench/parity.py showed learns slower at first)
        lim2 = HIDDEN ** -0.5
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
        elif self.mode == "lazyadam":
            self.opts.append(_lazy_adam(torch, [self.W1] + (out_params[:1] if sampled else []),
                                        out_params[1:] if sampled else [], lr, wd, a.threads))
        else:
            dense = [self.W1, self.b1] + out_params
        # Dense tables (the full softmax's output layer, or every table with --torch-optimizer dense): AdamW
        # with the same decoupled decay on weight matrices and none on biases; plain Adam without decay.
        groups = [{"params": [p for p in dense if p is self.W1 or p is self.W2], "weight_decay": wd},
                  {"params": [p for p in dense if p is self.b1 or p is self.b2], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        adam = torch.optim.AdamW if wd else torch.optim.Adam
        opt, fused = _dense_adam(adam, groups, lr)
        self.opts.append(opt)
        fused = "fused " if fused else ""
        big = "input table" + (" and output tables" if sampled else "")
        opt_desc = {"rows": f"RowAdam (lazy Adam on the batch's rows) for the {big}",
                    "sparseadam": f"torch.optim.SparseAdam (sparse=True gradients) for the {big}",
                    "lazyadam": f"libslide.torch.LazyAdam (sparse=True gradients) for the {big}",
                    "dense": "dense gradients for every table"}[self.mode] + \
            f"; {fused}torch.optim.{adam.__name__} for the hidden bias" + ("" if sampled or self.mode == "dense" else
                                                              " and the full output layer")
        if wd:
            opt_desc += f"; decoupled weight decay {wd} on weight rows, none on biases"
        self.config = {"lr": lr, "optimizer": opt_desc, "torch_optimizer": self.mode, "weight_decay": wd,
                       "output": (f"sampled softmax, batch labels U {a.negatives} uniform negatives shared by the "
                                  "batch") if sampled else "full softmax"}
        self.cand_sizes = []

    def _init_input_layer(self, nn, n_features):
        """W1 (He-uniform for the sparse input, as libslide initialises it) and a zero bias b1."""
        lim = (6.0 / n_features) ** 0.5
        self.W1 = nn.Parameter(self.torch.empty(n_features, HIDDEN).uniform_(-lim, lim))
        self.b1 = nn.Parameter(self.torch.zeros(HIDDEN))

    def _weights(self):
        return [self.W1, self.b1] + ([self.W2, self.b2] if hasattr(self, "W2") else [])

    def snapshot(self):
        """Copies of the weights and biases (--rollback); optimizer moments are not kept, as in libslide."""
        return [p.detach().clone() for p in self._weights()]

    @staticmethod
    def arrays(snap):
        """A snapshot as the flat list of float32 arrays EpochAverage takes (--average): views, no copies."""
        return [t.numpy() for t in snap]

    def from_arrays(self, flat):
        return [self.torch.from_numpy(a) for a in flat]

    def restore(self, snap):
        with self.torch.no_grad():
            for p, v in zip(self._weights(), snap):
                p.copy_(v)

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
                                sparse=train and self.mode in ("sparseadam", "lazyadam"))
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
            elif self.mode in ("sparseadam", "lazyadam"):
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


class TorchHeadTrainer(TorchTrainer):
    """torch-head: TorchTrainer's input layer (EmbeddingBag over the sparse features, 128 ReLU, RowAdam on
    the batch's input rows, the same learning rate) with libslide.torch.LSHSoftmax as the output layer at
    the library's defaults (sl.LSH(), sl.Adam()), or with --head-active neurons per batch: what a PyTorch
    user gets by swapping the softmax for the head. The head's weights live in the C library; no
    (labels x 128) torch tensor or gradient exists."""

    def __init__(self, X, Y, a):
        torch = require_torch()
        import torch.nn as nn

        import libslide as sl
        from libslide.torch import LSHSoftmax

        self.torch, self.F, self.X, self.Y, self.sampled = torch, torch.nn.functional, X, Y, True
        torch.set_num_threads(a.threads)
        torch.manual_seed(a.seed)
        self.version = f"torch {torch.__version__} + libslide {sl.__version__}"
        self.mode = getattr(a, "torch_optimizer", "rows")
        if self.mode not in ("rows", "lazyadam"):
            raise SystemExit(f"torch-head: --torch-optimizer {self.mode} is not supported (rows or lazyadam)")
        self.n_labels = Y.shape[1]
        lr = a.lr or DATASETS[a.dataset]["lr"]
        self._init_input_layer(nn, X.shape[1])
        self.row_opts = [RowAdam(torch, self.W1.data, lr)] if self.mode == "rows" else None
        self.opts = [_dense_adam(torch.optim.Adam, [self.b1], lr)[0]]  # the hidden bias as TorchTrainer's
        if self.mode == "lazyadam":
            self.opts.append(_lazy_adam(torch, [self.W1], [], lr, 0.0, a.threads))
        head_active = getattr(a, "head_active", None)  # None: the library's automatic count
        self.sampling = sampling = sl.LSH(active=head_active) if head_active else sl.LSH()
        self.head = LSHSoftmax(HIDDEN, self.n_labels, sampling=sampling, seed=a.seed, threads=a.threads)
        table_opt = "RowAdam" if self.mode == "rows" else "libslide.torch.LazyAdam (sparse=True gradients)"
        self.config = {"lr": lr, "optimizer": f"{table_opt} for the input table, torch.optim.Adam for the hidden "
                       "bias; the head's own sl.Adam() (defaults)", "torch_optimizer": self.mode,
                       "output": f"libslide.torch.LSHSoftmax, {sampling!r}" + ("" if head_active else " (defaults)")}
        self.cand_sizes = []

    def step(self, rows):
        h, in_leaf = self._hidden(self.X, rows, True)
        for o in self.opts:
            o.zero_grad(set_to_none=True)
        loss = self.head(h, self._labels(rows))
        loss.backward()
        for o in self.opts:
            o.step()
        if self.row_opts:
            with self.torch.no_grad():
                self.row_opts[0].step(in_leaf[0], in_leaf[1].grad)
        return loss.item()

    def _labels(self, rows):
        """The batch's rows of Y as a CSR indicator, cut as TorchTrainer cuts them (csr_batch; scipy's row
        slicing took ~0.25 ms per batch)."""
        lab, _, nlab = csr_batch(self.Y, rows)
        indptr = np.zeros(rows.size + 1, np.int64)
        np.cumsum(nlab, out=indptr[1:])
        return sp.csr_matrix((np.ones(lab.size, np.float32), lab, indptr), shape=(rows.size, self.n_labels))

    def topk(self, Xe, k):
        out = []
        with self.torch.no_grad():
            for s in range(0, Xe.shape[0], 4096):
                rows = np.arange(s, min(s + 4096, Xe.shape[0]), dtype=np.int64)
                out.append(self.head.topk(self._hidden(Xe, rows, False)[0], k)[1].numpy())
        return np.concatenate(out).astype(np.int32)

    def snapshot(self):
        from _slide_runner import snapshot_network

        return super().snapshot(), snapshot_network(self.head.net)

    def restore(self, snap):
        super().restore(snap[0])
        self.head.net._restore(snap[1])

    def scale_lr(self, factor):
        super().scale_lr(factor)
        self.head.set_learning_rate(self.head.net.optimizer.lr * factor)

    def extra(self):
        return {}
