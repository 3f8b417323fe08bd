"""The LSH softmax head split over processes with torch.distributed: each rank holds 1/W of the classes.

    pip install '.[torch]'
    torchrun --standalone --nproc-per-node 2 examples/torch_distributed.py              # generated data
    torchrun --standalone --nproc-per-node 2 examples/torch_distributed.py train.txt test.txt 5
    (several hosts: torchrun --nnodes N --node-rank R --rdzv-endpoint HOST:PORT --nproc-per-node P ...)

The backbone (EmbeddingBag over sparse features -> ReLU) is replicated and wrapped in
DistributedDataParallel (sparse embedding gradients, torch.optim.SparseAdam); the head is
LSHSoftmax(process_group=...): rank r keeps classes [r*C/W, (r+1)*C/W), its tables and its optimizer state,
and one step exchanges h, the labels, two per-row scalars and dL/dh (libslide/torch_sharding.py). Every rank
reads the data and trains on its own slice of each global batch. Rank 0 prints P@1 on the test set after
every epoch; the checkpoint directory holds one file per rank and a manifest.
"""

import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

import libslide as sl
from libslide.torch import LSHSoftmax


class Backbone(torch.nn.Module):
    def __init__(self, n_features, hidden=128):
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(n_features, hidden, mode="sum", sparse=True)
        torch.nn.init.uniform_(self.bag.weight, -(6.0 / n_features) ** 0.5, (6.0 / n_features) ** 0.5)
        self.bias = torch.nn.Parameter(torch.zeros(hidden))

    def forward(self, indices, offsets, weights):
        return torch.relu(self.bag(indices, offsets, per_sample_weights=weights) + self.bias)


def csr_inputs(X):
    return (torch.from_numpy(X.indices.astype(np.int64)), torch.from_numpy(X.indptr[:-1].astype(np.int64)),
            torch.from_numpy(X.data.astype(np.float32)))


def precision_at_1(backbone, head, X, Y, rank, world, batch=2048):
    """Every rank scores its slice of the test set; the hits are summed over the ranks."""
    lo, hi = rank * X.shape[0] // world, (rank + 1) * X.shape[0] // world
    hits = 0
    with torch.no_grad():
        for s in range(lo, hi, batch):
            rows = np.arange(s, min(s + batch, hi))
            _, ids = head.topk(backbone(*csr_inputs(X[rows])), k=1)
            top = ids[:, 0].numpy().copy()  # scipy indexing wants a writable array
            hits += int(np.asarray(Y[rows][np.arange(rows.size), top]).ravel().sum())
        # topk is a collective: ranks with fewer batches must still take part
        n_batches = torch.tensor([(hi - lo + batch - 1) // batch])
        dist.all_reduce(n_batches, op=dist.ReduceOp.MAX)
        for _ in range((hi - lo + batch - 1) // batch, int(n_batches)):
            head.topk(torch.zeros((1, head.in_features)), k=1)
    total = torch.tensor([hits], dtype=torch.float64)
    dist.all_reduce(total)
    return float(total) / X.shape[0]


def main():
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if len(sys.argv) >= 3:
        X, Y = sl.load_xc(sys.argv[1])
        Xt, Yt = sl.load_xc(sys.argv[2])
        epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    else:
        X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=20000, n_test=5000, seed=0)
        epochs = 3
    torch.manual_seed(0)  # the same backbone on every rank
    backbone = torch.nn.parallel.DistributedDataParallel(Backbone(X.shape[1]))
    head = LSHSoftmax(128, Y.shape[1], sampling=sl.LSH(), optimizer=sl.Adam(), process_group=dist.group.WORLD,
                      threads=torch.get_num_threads())
    opt = torch.optim.SparseAdam([backbone.module.bag.weight], lr=2e-3)
    opt_bias = torch.optim.Adam([backbone.module.bias], lr=2e-3)
    global_batch = 128 * world
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([0, epoch]).permutation(X.shape[0])  # the same order on every rank
        t0 = time.perf_counter()
        for s in range(0, X.shape[0] - global_batch + 1, global_batch):
            rows = order[s + 128 * rank:s + 128 * (rank + 1)]
            opt.zero_grad()
            opt_bias.zero_grad()
            loss = head(backbone(*csr_inputs(X[rows])), Y[rows])
            loss.backward()  # dL/dh from every shard; DDP averages the backbone's gradients
            opt.step()
            opt_bias.step()
        seconds = time.perf_counter() - t0
        p1 = precision_at_1(backbone, head, Xt, Yt, rank, world)
        if rank == 0:
            print(f"epoch {epoch}: loss {loss.item():.3f}, {X.shape[0] / seconds:,.0f} samples/s over {world} "
                  f"ranks, test P@1 {p1:.4f}", flush=True)
    head.save("torch_distributed_checkpoint")
    if rank == 0:
        print(f"head: classes split as {head}; checkpoint in torch_distributed_checkpoint/")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
