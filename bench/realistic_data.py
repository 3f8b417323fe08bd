"""How hard is a generated Amazon-670K-shaped problem? Label statistics, baselines and a network's P@1.

    python bench/realistic_data.py --realistic --scale 0.1 --epochs 8            # calibration shape
    python bench/realistic_data.py --realistic --epochs 3 --active 0.005         # full shape (slow)
    python bench/realistic_data.py --scale 0.1 --epochs 3                        # default mode
    python bench/realistic_data.py --realistic --scale 0.1 --set missing=0.3 --epochs 0   # other Realism

Data: libslide.datasets.amazon670k_shape(realistic=..., scale=..., n_test=--n-test, seed=--seed);
``--set field=value`` overrides fields of libslide.datasets.Realism. Prints (and with --json writes):

- generation time and the process's peak RSS right after generation (the data and the Python runtime);
- label statistics of the training split: labels per row, non-zeros per row, training points per label
  (mean, median, fraction with none and with 1-5), rows of the most frequent label;
- on --eval-sample random test rows (seed 1): P@1 of always predicting the most frequent training label,
  and of nearest label centroid (centroid = sum of the label's L2-normalised training rows, score =
  cosine, exact over all labels);
- with --epochs > 0: the network of the benchmarks, X -> 128 ReLU -> softmax over all labels, output
  sampled with LSH(random_fraction=1.0, active=--active, batch_shared=True), Adam(lr=--lr), batch 128,
  seed 0, --threads threads; exact P@1 / P@5 over all labels on the same rows after every epoch, and
  the best epoch.
"""

import argparse
import json
import resource
import time

import numpy as np
import scipy.sparse as sp

import libslide as sl
from libslide import datasets


def centroid_p1(X, Y, Xe, Ye, chunk=500):
    C = (Y.T @ X).tocsr().astype(np.float64)
    norms = np.sqrt(np.asarray(C.multiply(C).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    Ct = (sp.diags(1.0 / norms) @ C).T.tocsc()
    hits = 0.0
    for s in range(0, Xe.shape[0], chunk):
        top = (Xe[s:s + chunk] @ Ct).toarray().argmax(axis=1)
        hits += np.asarray(Ye[s:s + chunk][np.arange(top.size), top]).sum()
    return hits / Xe.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--realistic", action="store_true")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="Realism overrides")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--n-train", type=int, default=None, help="default: amazon670k_shape's (scaled)")
    p.add_argument("--n-test", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-sample", type=int, default=3000)
    p.add_argument("--no-centroid", action="store_true")
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--active", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()

    realistic = False
    if a.realistic:
        fields = {}
        for item in a.set:
            k, v = item.split("=")
            fields[k] = int(v) if k in ("labels_per_topic", "topic_features") else float(v)
        realistic = datasets.Realism(**fields)
    out = {"args": vars(a), "realism": str(realistic)}

    t0 = time.perf_counter()
    X, Y, Xt, Yt = datasets.amazon670k_shape(n_train=a.n_train, n_test=a.n_test, seed=a.seed,
                                             realistic=realistic, scale=a.scale)
    out["generation_s"] = time.perf_counter() - t0
    out["peak_rss_mib_after_generation"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = np.bincount(Y.indices, minlength=Y.shape[1])
    out.update(shape=[X.shape[0], X.shape[1], Y.shape[1]], labels_per_row=Y.nnz / Y.shape[0],
               nnz_per_row=X.nnz / X.shape[0], points_per_label_mean=float(counts.mean()),
               points_per_label_median=float(np.median(counts)), labels_without_points=float(np.mean(counts == 0)),
               labels_with_1_5_points=float(np.mean((counts >= 1) & (counts <= 5))),
               top_label_rows=int(counts.max()))
    print(f"{realistic or 'default mode'}, scale {a.scale}: {X.shape[0]:,} train x {X.shape[1]:,} features x "
          f"{Y.shape[1]:,} labels; generated in {out['generation_s']:.1f} s, peak RSS "
          f"{out['peak_rss_mib_after_generation']:.0f} MiB")
    print(f"labels/row {out['labels_per_row']:.2f}, non-zeros/row {out['nnz_per_row']:.1f}, training points per "
          f"label: mean {out['points_per_label_mean']:.2f}, median {out['points_per_label_median']:.0f}, "
          f"none {out['labels_without_points']:.3f}, 1-5 {out['labels_with_1_5_points']:.3f}; "
          f"most frequent label on {out['top_label_rows']:,} rows", flush=True)

    ev = np.random.default_rng(1).choice(Xt.shape[0], min(a.eval_sample, Xt.shape[0]), replace=False)
    Xe, Ye = Xt[ev], Yt[ev]
    out["most_frequent_p1"] = float(np.asarray(Ye[:, int(counts.argmax())].todense()).mean())
    msg = f"on {Xe.shape[0]:,} test rows: most-frequent-label P@1 {out['most_frequent_p1']:.4f}"
    if not a.no_centroid:
        out["centroid_p1"] = float(centroid_p1(X, Y, Xe, Ye))
        msg += f", nearest-centroid P@1 {out['centroid_p1']:.4f}"
    print(msg, flush=True)

    if a.epochs > 0:
        net = sl.Network(X.shape[1], [
            sl.Layer(128, "relu"),
            sl.Layer(Y.shape[1], "softmax",
                     sampling=sl.LSH(random_fraction=1.0, active=a.active, batch_shared=True))],
            optimizer=sl.Adam(lr=a.lr), seed=0, threads=a.threads)
        hist = net.fit(X, Y, epochs=a.epochs, batch_size=128, validation_data=(Xe, Ye), progress=False, holdout=0,
                       callback=lambda r: print(f"  epoch {r['epoch']}: loss {r['loss']:.3f}, {r['seconds']:.0f} s, "
                                                f"P@1 {r['P@1']:.4f}, P@5 {r['P@5']:.4f}", flush=True))
        out["epochs"] = [{k: r[k] for k in ("epoch", "loss", "seconds", "P@1", "P@5")} for r in hist]
        best = max(hist, key=lambda r: r["P@1"])
        out["best_p1"], out["best_epoch"] = best["P@1"], best["epoch"]
        print(f"best P@1 {best['P@1']:.4f} at epoch {best['epoch']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
