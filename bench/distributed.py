"""The LSH softmax head on 1 and on 2 processes (torch.distributed, gloo, 1 thread each) on the Amazon shape.

    python bench/distributed.py --samples 400000 --worlds 1 2

Same data, backbone, head settings and global batch for every world size (global batch 256: one process
takes it whole, two take 128 rows each). Each run trains on the same --samples training rows in the same
order, then scores P@1 exactly on --eval-sample test rows. The backbone (EmbeddingBag over the sparse
features -> ReLU, 128 wide, sparse gradients, SparseAdam) is wrapped in DistributedDataParallel; the head is
LSHSoftmax(process_group=...), each rank holding 1 / W of the 670,091 classes with its own tables and
optimizer state.

Measured per world size: samples/s of training (global), P@1, peak RSS per process, the head's output-layer
bytes per process (Network.memory_bytes), and bytes sent per step by each rank: the head's collectives as
counted by libslide.torch_sharding (all-gathers of h and labels, all-reduces of the normaliser, the loss and
dL/dh) and the backbone's DDP all-gather of its sparse gradient (rows touched x 128 floats + indices, as
gloo's sparse all-reduce gathers them), measured from the gradients of every step. Writes
bench/results/distributed.json; docs/distributed.md models 8-64 nodes from these per-step volumes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from _data import load_npz, save_npz  # noqa: E402

GLOBAL_BATCH = 256
HIDDEN = 128


def worker(rank, world, port, a, data_file, out):
    import datetime

    import torch
    import torch.distributed as dist

    import libslide as sl
    from libslide.torch import LSHSoftmax

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    X, Y, Xt, Yt = load_npz(data_file)
    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(X.shape[1], HIDDEN, mode="sum", sparse=True)
    torch.nn.init.uniform_(bag.weight, -(6.0 / X.shape[1]) ** 0.5, (6.0 / X.shape[1]) ** 0.5)
    bias = torch.nn.Parameter(torch.zeros(HIDDEN))

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bag, self.bias = bag, bias

        def forward(self, Xb):
            return torch.relu(self.bag(torch.from_numpy(Xb.indices.astype(np.int64)),
                                       torch.from_numpy(Xb.indptr[:-1].astype(np.int64)),
                                       per_sample_weights=torch.from_numpy(Xb.data.astype(np.float32))) + self.bias)

    backbone = torch.nn.parallel.DistributedDataParallel(Backbone()) if world > 1 else Backbone()
    head = LSHSoftmax(HIDDEN, Y.shape[1], sampling=sl.LSH(), optimizer=sl.Adam(lr=a.lr), seed=0, threads=1,
                      process_group=dist.group.WORLD if world > 1 else None)
    opt = torch.optim.SparseAdam([bag.weight], lr=a.lr)
    opt_b = torch.optim.Adam([bias], lr=a.lr)
    order = np.random.default_rng(0).permutation(X.shape[0])[:a.samples]
    per = GLOBAL_BATCH // world
    head_bytes, ddp_bytes, steps = 0, 0, 0
    dist.barrier()
    t0 = time.perf_counter()
    for s in range(0, order.size - GLOBAL_BATCH + 1, GLOBAL_BATCH):
        rows = order[s + per * rank:s + per * (rank + 1)]
        opt.zero_grad()
        opt_b.zero_grad()
        loss = head(backbone(X[rows]), Y[rows])
        if world > 1:
            head_bytes += head._pending["bytes_sent"]
        loss.backward()
        if world > 1:  # DDP all-gathers every rank's sparse gradient: (rows x 128 floats + int64 indices)
            g = bag.weight.grad.coalesce()
            ddp_bytes += (world - 1) * (g.indices().shape[1] * (HIDDEN * 4 + 8)) + (world - 1) * 4 * HIDDEN * 2
        opt.step()
        opt_b.step()
        steps += 1
    dist.barrier()
    seconds = time.perf_counter() - t0
    # P@1 on the same test rows for every world size; each rank scores a slice, hits summed
    rows = np.random.default_rng(1).choice(Xt.shape[0], min(a.eval_sample, Xt.shape[0]), replace=False)
    mine = rows[rank * rows.size // world:(rank + 1) * rows.size // world]
    hits = 0
    with torch.no_grad():
        for s in range(0, rows.size // world + 1, 1024):
            part = mine[s:s + 1024]
            h = backbone(Xt[part]) if part.size else torch.zeros((1, HIDDEN))
            _, ids = head.topk(h, k=1)
            if part.size:
                top = ids[:, 0].numpy().copy()
                hits += int(np.asarray(Yt[part][np.arange(part.size), top]).ravel().sum())
    total = torch.tensor([hits], dtype=torch.float64)
    dist.all_reduce(total)
    res = {"rank": rank, "world": world, "steps": steps, "seconds": seconds,
           "samples_per_s": steps * GLOBAL_BATCH / seconds, "P@1": float(total) / rows.size, "eval_rows": int(rows.size),
           "head_bytes_per_step": head_bytes / max(steps, 1), "ddp_bytes_per_step": ddp_bytes / max(steps, 1),
           "output_layer_bytes": head.net.memory_bytes(), "classes_held": head.net.output_dim,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    with open(os.path.join(out, f"w{world}_r{rank}.json"), "w") as f:
        json.dump(res, f)
    dist.destroy_process_group()


def scaling_model(res: dict) -> list[dict]:
    """Per-step communication of W nodes (one rank each, 128 rows per rank, as measured with 2 ranks) on 10 and
    100 Gb/s links, from the 2-rank per-step volumes: the head's collectives grow with the global batch
    (n = 128 W rows: h, labels, dL/dh) and the backbone's sparse-gradient all-gather with the other ranks'
    touched rows ((W - 1) x one rank's). Compute per rank is the measured 1-rank step time of 128 rows (the
    head's active set is split over the ranks, so its work per rank stays that of one rank's rows)."""
    two = res["runs"]["2"] if "2" in res["runs"] else res["runs"][2]
    one = res["runs"]["1"] if "1" in res["runs"] else res["runs"][1]
    head2 = two[0]["head_bytes_per_step"]          # W = 2: share (1/2) x ... of n = 256 rows
    ddp2 = two[0]["ddp_bytes_per_step"]            # W = 2: (W - 1) = 1 other rank's rows
    step1 = GLOBAL_BATCH / one[0]["samples_per_s"] / 2  # seconds per 128 rows on one process
    rows = []
    for w in (8, 16, 32, 64):
        # head bytes ~ share(W) * n(W) terms: scale the 2-rank volume by (n_W / n_2) * (share_W / share_2)
        head = head2 * (w / 2) * ((w - 1) / w) / 0.5
        ddp = ddp2 * (w - 1)
        for gbps in (10, 100):
            comm = (head + ddp) * 8 / (gbps * 1e9)
            rows.append({"nodes": w, "link_gbps": gbps, "head_MB_per_step": head / 1e6, "backbone_MB_per_step": ddp / 1e6,
                         "comm_ms": comm * 1e3, "compute_ms": step1 * 1e3,
                         "samples_per_s": 128 * w / (step1 + comm)})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=400_000, help="training rows per run (default %(default)s)")
    p.add_argument("--worlds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--n-train", type=int, default=490_449)
    p.add_argument("--n-test", type=int, default=153_025)
    p.add_argument("--eval-sample", type=int, default=5000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--out", default=str(_common.RESULTS / "distributed.json"))
    p.add_argument("--model-only", action="store_true", help="recompute the scaling model of an existing --out file")
    a = p.parse_args()
    if a.model_only:
        res = json.loads(Path(a.out).read_text())
        res["scaling_model"] = scaling_model(res)
        _common.write_json(Path(a.out), res)
        for r in res["scaling_model"]:
            print(r)
        return
    import multiprocessing as mp
    import socket

    header = _common.result_header(1)
    print(f"machine: {header['machine']}\ncommand: {header['command']}", flush=True)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="distributed_") as tmp:
        X, Y, Xt, Yt = _common.load_amazon_shape(n_train=a.n_train, n_test=a.n_test, seed=0, realistic=True)
        data_file = Path(tmp) / "amazon.npz"
        save_npz(data_file, X, Y, Xt, Yt)
        print(f"amazon670k_shape (realistic): {X.shape[0]:,} train, {X.shape[1]:,} features, {Y.shape[1]:,} labels",
              flush=True)
        del X, Y, Xt, Yt
        for world in a.worlds:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            ctx = mp.get_context("spawn")
            procs = [ctx.Process(target=worker, args=(r, world, port, a, str(data_file), tmp)) for r in range(world)]
            for pr in procs:
                pr.start()
            for pr in procs:
                pr.join()
            if any(pr.exitcode != 0 for pr in procs):
                raise SystemExit(f"world {world}: a rank failed ({[pr.exitcode for pr in procs]})")
            ranks = [json.loads((Path(tmp) / f"w{world}_r{r}.json").read_text()) for r in range(world)]
            runs[world] = ranks
            r0 = ranks[0]
            print(f"world {world}: {r0['samples_per_s']:,.0f} samples/s, P@1 {r0['P@1']:.4f}, head bytes/step/rank "
                  f"{r0['head_bytes_per_step'] / 1e6:.2f} MB, DDP bytes/step/rank {r0['ddp_bytes_per_step'] / 1e6:.2f} "
                  f"MB, output layer {max(r['output_layer_bytes'] for r in ranks) / 2**20:,.0f} MiB per process, "
                  f"peak RSS {max(r['peak_rss_mib'] for r in ranks):,.0f} MiB", flush=True)
    res = {**header, "args": vars(a), "global_batch": GLOBAL_BATCH, "runs": runs}
    res["scaling_model"] = scaling_model(res)
    _common.write_json(Path(a.out), res)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
