"""debdeps: how a random share of each active set (LSH(random_fraction=...)) changes early training.

    python bench/random_share.py --threads 2 --epochs 3 --fractions 0 0.05 0.1 0.25

Network and LSH as in bench/debdeps.py (33,150 -> 128 ReLU -> 17,836 softmax, SimHash k=6, 50 tables,
bucket 128, cap 5% of the outputs, Adam lr 3e-3, batch 128, per-sample active sets unless --shared).
For each fraction: trains --epochs epochs (one shuffled order per epoch, the same for every fraction) and,
every --eval-every samples, measures exact P@1 on a fixed random subset of --eval-sample test rows
(default 5,000 of 10,797, seed 0). Training time excludes evaluation. At the end: P@1 / P@5 on the whole
test set. Reports the lowest P@1 seen after the first 10,000 samples (the depth of the early collapse of
per-sample sets), the training time to reach --target, samples/s and mean active neurons.
Writes bench/results/random_share.json and .png (random_share_shared.* with --shared) and prints a
markdown table.
"""

import argparse
import time

import numpy as np

import _common
import libslide as sl
from libslide._inputs import features, labels


def p_at_1(net, Xe, Ye):
    top = net.predict_topk(Xe, k=1)[0][:, 0]
    return float(np.asarray(Ye[np.arange(Xe.shape[0]), top]).ravel().astype(bool).mean())


def run(a, fraction, X, Y, Xe, Ye, Xt, Yt):
    lsh = _common.retrieval_lsh("simhash", k=6, tables=50, bucket_size=128, active=a.active, batch_shared=a.shared,
                 random_fraction=fraction)
    net = sl.Network(input_dim=X.shape[1],
                     layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax", sampling=lsh)],
                     optimizer=sl.Adam(lr=a.lr), seed=0, threads=a.threads)
    xv, yv = features(X, net.input_dim), labels(Y, X.shape[0], net.output_dim)
    curve, seen, train_s, next_eval = [], 0, 0.0, a.eval_every
    net.reset_counters()
    for epoch in range(a.epochs):
        order = np.random.default_rng(100 + epoch).permutation(X.shape[0]).astype(np.int64)
        for s in range(0, order.size, 128):
            rows = order[s:s + 128]
            t0 = time.perf_counter()
            net.train_batch(xv, yv, rows=rows)
            train_s += time.perf_counter() - t0
            seen += rows.size
            if seen >= next_eval:
                curve.append({"samples": seen, "train_s": train_s, "P@1": p_at_1(net, Xe, Ye)})
                next_eval += a.eval_every
    final = net.evaluate(Xt, Yt, ks=(1, 5))
    after = [c["P@1"] for c in curve if c["samples"] >= 10_000]
    reach = next((c["train_s"] for c in curve if c["P@1"] >= a.target), None)
    return {"fraction": fraction, "curve": curve, "samples_per_s": seen / train_s,
            "mean_active": net.layers[-1].mean_active, "min_P@1_after_10k": min(after) if after else None,
            "train_s_to_target": reach, "final_P@1": final["P@1"], "final_P@5": final["P@5"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_data_arg(p)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.25])
    p.add_argument("--epochs", type=int, default=3)
    _common.add_threads_arg(p)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--active", type=float, default=0.05)
    p.add_argument("--shared", action="store_true", help="batch-shared active sets instead of per-sample")
    p.add_argument("--eval-every", type=int, default=5120)
    p.add_argument("--eval-sample", type=int, default=5000)
    p.add_argument("--target", type=float, default=0.6664,
                   help="P@1 level for the time-to-target column (default: torch full softmax's 5-epoch P@1 "
                        "minus 0.01 in docs/benchmarks.md)")
    _common.add_out_arg(p, None)
    a = p.parse_args()

    X, Y, Xt, Yt = _common.load_debdeps(a.data)
    pick = np.sort(np.random.default_rng(0).choice(Xt.shape[0], min(a.eval_sample, Xt.shape[0]), replace=False))
    Xe, Ye = Xt[pick], Yt[pick].tocsr()
    results = {**_common.result_header(a.threads), "runs": []}
    for fraction in a.fractions:
        r = run(a, fraction, X, Y, Xe, Ye, Xt, Yt)
        print(f"random_fraction {fraction}: min P@1 after 10k {r['min_P@1_after_10k']:.3f}, to {a.target}: "
              f"{r['train_s_to_target']}, final P@1 {r['final_P@1']:.4f}, {r['samples_per_s']:,.0f} samples/s",
              flush=True)
        results["runs"].append(r)
    out = _common.write_json(a.out or _common.RESULTS / f"random_share{'_shared' if a.shared else ''}.json", results)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for r in results["runs"]:
            xs = [c["samples"] for c in r["curve"]]
            ts = [c["train_s"] for c in r["curve"]]
            ys = [c["P@1"] for c in r["curve"]]
            axes[0].plot(xs, ys, label=f"random_fraction {r['fraction']}")
            axes[1].plot(ts, ys, label=f"random_fraction {r['fraction']}")
        axes[0].set_xlabel("training samples")
        axes[1].set_xlabel("training seconds (evaluation excluded)")
        for ax in axes:
            ax.set_ylabel(f"P@1 ({Xe.shape[0]:,} random test rows)")
            ax.axhline(a.target, color="grey", lw=0.8, ls="--")
            ax.legend()
        fig.suptitle(f"debdeps, {'batch-shared' if a.shared else 'per-sample'} active sets, {a.threads} threads")
        fig.tight_layout()
        fig.savefig(out.with_suffix(".png"), dpi=100)
    except ImportError:
        print("matplotlib is not installed: no plot")
    print(f"\n| random_fraction | lowest P@1 after 10k samples | train s to P@1 {a.target} | final P@1 | final P@5 "
          "| samples/s | active neurons |")
    print("|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        reach = "not reached" if r["train_s_to_target"] is None else f"{r['train_s_to_target']:.1f}"
        print(f"| {r['fraction']} | {r['min_P@1_after_10k']:.3f} | {reach} | {r['final_P@1']:.4f} | "
              f"{r['final_P@5']:.4f} | {r['samples_per_s']:,.0f} | {r['mean_active']:,.0f} |")


if __name__ == "__main__":
    main()
