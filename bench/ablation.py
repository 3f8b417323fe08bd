"""Does the hash matter? The same network with its output layer's active set chosen by each hash family, by
uniform sampling and by an oracle (exact top-k of every pre-activation: the best any retrieval could do), at
the same active count.

    python bench/ablation.py --datasets debdeps revdict amazon --modes shared per-sample \\
        --retrievals uniform dwta simhash exact simhash+uniform exact+uniform

Network: sparse input -> 128 ReLU -> softmax, Adam (library defaults but --lr), batch 128, the same shuffled
batches for every run. Active set per sample (per-sample mode) or per batch (shared mode): the labels, then
--active neurons (a count, or a share of the layer) chosen by the retrieval:
  uniform   uniformly random neurons (LSH(random_fraction=1)): a plain sampled softmax
  <hash>    the neurons the tables of that backend retrieve most often (random_fraction=0)
  exact     the oracle: hash "exact" computes every neuron and keeps the highest pre-activations
  X+uniform half of them retrieved by X (a backend or exact), half uniformly drawn
Equal sizes: the sampler's cap counts the labels when it retrieves and not when it only draws
(LSH(random_fraction=1) draws --active besides the labels), so uniform runs first and every other set
gets its measured mean size (labels included) as cap, a mixed set drawing half of uniform's draws; the
table shows each run's mean set size in training. --no-match gives every run the cap --active instead
(the ablation tables before 2026-12-06 were made that way: their retrieval sets were smaller by the
batch's labels).
--logq adds the logQ correction of the uniformly drawn part to every run. P@1 is exact (every label scored)
on --eval-sample test rows after every --eval-every epochs; recall is the diagnosed share of each sample's
exact top-k pre-activations that sampled inference finds (k = the active count). Results: one JSON file per
dataset (bench/results/ablation_<dataset>[_logq].json, or --out) and a markdown table.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import _common
import libslide as sl

HIDDEN, BATCH = 128, 128


def load(name):
    if name == "amazon":
        return sl.datasets.amazon670k_shape(realistic=True, scale=0.1, n_test=5000, seed=0)
    d = _common.SHARED_DATA / name
    X, Y = sl.load_xc(d / "train.txt.gz")
    Xt, Yt = sl.load_xc(d / "test.txt.gz")
    return X, Y, Xt, Yt


def sampling(retrieval, mode, active, logq, mixed_share=0.5):
    shared = mode == "shared"
    common = dict(active=active, batch_shared=shared, logq_correction=logq)
    if retrieval == "uniform":
        return sl.LSH(random_fraction=1.0, **common)
    if retrieval.endswith("+uniform"):
        return sl.LSH(hash=retrieval[:-len("+uniform")], random_fraction=mixed_share, **common)
    return sl.LSH(hash=retrieval, random_fraction=0.0, **common)


def uniform_draws(active, units):
    """How many neurons LSH(random_fraction=1, active=...) draws besides the labels: the sampler's cap, as
    cap_of in libslide/src/sampler.c computes it (the C library does not report it)."""
    return active if isinstance(active, int) else max(1, math.ceil(active * units - 1e-3))


def run_one(X, Y, Xe, Ye, a, retrieval, mode, active, mixed_share=0.5):
    lsh = sampling(retrieval, mode, active, a.logq, mixed_share)
    net = sl.Network(X.shape[1], [sl.Layer(HIDDEN, "relu"), sl.Layer(Y.shape[1], "softmax", sampling=lsh)],
                     optimizer=sl.Adam(lr=a.lr), seed=a.seed, threads=a.threads)
    order = np.random.default_rng(a.seed).permutation(X.shape[0])
    per_epoch = X.shape[0] // BATCH
    eval_at = max(1, int(round(a.eval_every * per_epoch)))
    curve, train_s, b = [], 0.0, 0
    total = int(round(a.epochs * per_epoch))
    while b < total:
        start = (b % per_epoch) * BATCH
        if b % per_epoch == 0 and b:
            order = np.random.default_rng(a.seed + b).permutation(X.shape[0])
        rows = order[start:start + BATCH]
        t0 = time.perf_counter()
        net.train_batch(X, Y, rows=rows)
        train_s += time.perf_counter() - t0
        b += 1
        if b % eval_at == 0 or b == total:
            p1 = net.evaluate(Xe, Ye, ks=(1,))["P@1"]
            curve.append({"epochs": round(b / per_epoch, 3), "samples": b * BATCH, "seconds": round(train_s, 2),
                          "P@1": round(p1, 4)})
    train_active = net.layers[-1].mean_active  # mean set size per training sample, labels included
    diag = net.diagnose(Xe, sample=min(500, Xe.shape[0]))[-1]
    return {"retrieval": retrieval, "mode": mode, "active": active, "random_fraction": lsh.random_fraction,
            "train_active": round(float(train_active), 1), "curve": curve,
            "best_P@1": max(p["P@1"] for p in curve), "last_P@1": curve[-1]["P@1"],
            "samples_per_s": round(curve[-1]["samples"] / max(train_s, 1e-9), 1),
            "recall": round(float(diag["recall"]), 4), "mean_active": round(float(diag["mean_active"]), 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["debdeps", "revdict", "amazon"])
    p.add_argument("--modes", nargs="+", default=["shared", "per-sample"], choices=["shared", "per-sample"])
    p.add_argument("--retrievals", nargs="+",
                   default=["uniform", "dwta", "simhash", "exact", "simhash+uniform", "exact+uniform"])
    p.add_argument("--active", type=float, default=0.05, help="active share of the output layer (float) or count")
    p.add_argument("--epochs", type=float, default=None, help="default: debdeps 6, revdict 6, amazon 8")
    p.add_argument("--eval-every", type=float, default=1.0, help="epochs between evaluations")
    p.add_argument("--eval-sample", type=int, default=5000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--logq", action="store_true", help="logQ correction of the uniformly drawn neurons")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-match", action="store_true",
                   help="give every retrieval the cap --active (before 2026-12-06: uniform then drew --active "
                        "besides the labels, the others filled --active including them)")
    p.add_argument("--out", default=None, help="results file per dataset, '{dataset}' replaced by its name "
                   "(default bench/results/ablation_{dataset}[_logq].json)")
    _common.add_threads_arg(p)
    a = p.parse_args()
    active = int(a.active) if a.active >= 1 else a.active
    default_epochs = {"debdeps": 6, "revdict": 6, "amazon": 8}
    for name in a.datasets:
        X, Y, Xt, Yt = load(name)
        ev = np.random.default_rng(1).choice(Xt.shape[0], min(a.eval_sample, Xt.shape[0]), replace=False)
        Xe, Ye = Xt[ev], Yt[ev]
        args = argparse.Namespace(**vars(a))
        args.epochs = a.epochs or default_epochs.get(name, 5)
        result = _common.result_header(a.threads)
        result.update({"dataset": name, "shape": [X.shape[0], X.shape[1], Y.shape[1]], "lr": a.lr,
                       "epochs": args.epochs, "logq": a.logq, "eval_rows": len(ev), "runs": []})
        for mode in a.modes:
            cap, share = active, 0.5
            for retrieval in sorted(a.retrievals, key=lambda r: r != "uniform"):  # uniform first
                r = run_one(X, Y, Xe, Ye, args, retrieval, mode, cap, share)  # uniform: cap is still --active
                result["runs"].append(r)
                if retrieval == "uniform" and not a.no_match:
                    # The other sets get the uniform set's measured mean size as their cap (which counts the
                    # labels), and a mixed set draws half of the uniform draws: equal sizes, equal halves.
                    cap = int(round(r["train_active"]))
                    share = uniform_draws(active, Y.shape[1]) / (2.0 * cap)
                print(f"{name:8s} {mode:10s} {retrieval:8s} best P@1 {r['best_P@1']:.4f} last {r['last_P@1']:.4f} "
                      f"recall {r['recall']:.3f} set {r['train_active']:,.0f} (inference {r['mean_active']:,.0f}) "
                      f"{r['samples_per_s']:,.0f} samples/s", flush=True)
        suffix = "_logq" if a.logq else ""
        out = _common.write_json(a.out.replace("{dataset}", name) if a.out else
                                 _common.RESULTS / f"ablation_{name}{suffix}.json", result)
        print(f"\n{name}: {X.shape[0]:,} train, {Y.shape[1]:,} labels, {args.epochs} epochs, lr {a.lr}, "
              f"active {a.active}, logq {a.logq} ({out})")
        print("| mode | retrieval | neurons per set (training mean) | best P@1 | last P@1 | recall of exact top-k | "
              "samples/s |\n|---|---|---|---|---|---|---|")
        for r in result["runs"]:
            print(f"| {r['mode']} | {r['retrieval']} | {r['train_active']:,.0f} | {r['best_P@1']:.4f} | "
                  f"{r['last_P@1']:.4f} | {r['recall']:.3f} | {r['samples_per_s']:,.0f} |")


if __name__ == "__main__":
    main()
