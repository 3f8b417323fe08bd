"""The `slide` command: demo, train, evaluate, predict."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from .network import check_writable


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during training, after the model was (or was not) saved."""

    def __init__(self, message, code=130):
        super().__init__(message)
        self.code = code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt: between two C calls, so a batch or a
    save in progress completes first (no half-written temporary file is left behind)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs"


LIBSVM_SUFFIXES = (".svm", ".libsvm", ".svmlight")


def _load(sl, a, path, n_features=None, n_labels=None):
    """Reads a data file as XC or libsvm (--format; auto: libsvm for .svm/.libsvm/.svmlight, also .gz).
    libsvm files have no header, so their widths come from the training set or the model."""
    fmt = a.format
    if fmt == "auto":
        name = os.fspath(path).lower()
        name = name[:-3] if name.endswith(".gz") else name
        fmt = "libsvm" if name.endswith(LIBSVM_SUFFIXES) else "xc"
    if fmt == "libsvm":
        return sl.load_libsvm(path, n_features=n_features, n_labels=n_labels, feature_base=a.feature_base)
    return sl.load_xc(path)


def _add_format_args(p) -> None:
    p.add_argument("--format", choices=("auto", "xc", "libsvm"), default="auto",
                   help="data file format; auto (default): libsvm for .svm/.libsvm/.svmlight[.gz], else XC")
    p.add_argument("--feature-base", type=int, choices=(0, 1), default=1,
                   help="libsvm only: first feature id (default 1; labels are 0-based)")


# Named settings for the output layer's sampling and the optimizer, chosen with --preset; a flag given
# on the command line overrides the preset's value. Without --preset every setting is the library's
# default (LSH.defaults(), Adam.defaults()).
PRESETS = {
    "shared-simhash": {
        "about": "SimHash retrieval fills 5%% of the output layer, one active set per batch, no uniform "
                 "negatives, Adam lr 3e-3: the defaults of slide train and demo up to 0.3",
        "lsh": {"hash": "simhash", "active": 0.05, "batch_shared": True, "random_fraction": 0.0,
                "logq_correction": False},
        "adam": {"lr": 3e-3},
    },
    "shared-dwta": {
        "about": "DWTA, 16 tables of 32-id buckets, 0.2%% active, one active set per batch, touched neurons "
                 "re-hashed, rebuilds after 50, 150, 350, ... batches: bench/vs_torch.py's settings for "
                 "Amazon-670K-sized output layers",
        "lsh": {"hash": "dwta", "tables": 16, "bucket_size": 32, "active": 0.002, "batch_shared": True,
                "rehash_touched": True, "rebuild_growth": 2.0, "random_fraction": 0.0, "logq_correction": False},
        "adam": {},
    },
}

# command-line flag (argparse dest) -> LSH field
_LSH_FLAGS = {"hash": "hash", "k": "k", "tables": "tables", "bucket_size": "bucket_size", "active": "active",
              "rebuild_every": "rebuild_every", "random_fraction": "random_fraction"}
_ADAM_FLAGS = {"lr": "lr", "weight_decay": "weight_decay"}


def model_settings(sl, a):
    """(LSH of the output layer, its storage, Adam) from --preset and the flags that were given; every field
    left unset takes the library's default."""
    preset = PRESETS[a.preset] if getattr(a, "preset", None) else {"lsh": {}, "adam": {}}
    lsh, adam = dict(preset["lsh"]), dict(preset["adam"])
    lsh.update({field: getattr(a, flag) for flag, field in _LSH_FLAGS.items() if getattr(a, flag) is not None})
    if a.active_set is not None:
        lsh["batch_shared"] = a.active_set == "shared"
    adam.update({field: getattr(a, flag) for flag, field in _ADAM_FLAGS.items() if getattr(a, flag) is not None})
    return sl.LSH(**lsh), a.storage, sl.Adam(**adam)


def _net_from_args(sl, a, input_dim, n_labels):
    lsh, storage, adam = model_settings(sl, a)
    return sl.Network(
        input_dim=input_dim,
        layers=[
            sl.Layer(a.hidden, activation="relu"),
            sl.Layer(n_labels, activation="softmax", sampling=lsh, storage=storage),
        ],
        optimizer=adam,
        seed=a.seed,
        threads=a.threads,
    )


def _active_arg(text):
    """An integer literal is a count of neurons (400), anything else a fraction of the layer (0.05, 1.0)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _fraction_arg(text):
    """A number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _auto_or_fraction(off):
    """An argparse type: 'auto', 0 (as ``off``) or a number strictly between 0 and 1."""
    def parse(text):
        if text == "auto":
            return text
        return off if text.strip() in ("0", "0.0") else _fraction_arg(text)
    return parse


def _add_model_args(p, hidden=128, epochs=5):
    import libslide as sl

    lsh, layer, adam = sl.LSH.defaults(), sl.Layer(1).resolved(), sl.Adam.defaults()
    lib = "library default"
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="named settings for the output layer's sampling and Adam; flags given as well override "
                        "them. " + "; ".join(f"{name}: {v['about']}" for name, v in PRESETS.items()) +
                        ". Default: none, every setting is the library's default")
    p.add_argument("--hidden", type=int, default=hidden, help="hidden ReLU units (default %(default)s)")
    p.add_argument("--hash", default=None, help=f"hash backend for the output layer ({lib} {lsh.hash})")
    p.add_argument("--k", type=int, default=None, help=f"hash codes per table ({lib} {lsh.k})")
    p.add_argument("--tables", type=int, default=None, help=f"number of hash tables L ({lib} {lsh.tables})")
    p.add_argument("--bucket-size", type=int, default=None, help=f"bucket capacity ({lib} "
                        f"{'sized to hold the layer' if lsh.bucket_size is None else lsh.bucket_size})")
    p.add_argument("--active", type=_active_arg, default=None,
                   help="active output neurons: a fraction of the layer written with a point or exponent (0.05; "
                        "1.0 = all), or a count written as an integer (400; 1 = a single neuron) "
                        f"({lib} {lsh.active})")
    p.add_argument("--rebuild-every", type=int, default=None,
                   help=f"rebuild tables every N batches ({lib} {lsh.rebuild_every})")
    p.add_argument("--active-set", choices=("shared", "per-sample"), default=None,
                   help="shared: one active set per batch (its labels + the neurons its samples retrieve most "
                        "often); per-sample: each sample its own (SLIDE's way). "
                        f"({lib} {'shared' if lsh.batch_shared else 'per-sample'})")
    p.add_argument("--random-fraction", type=float, default=None,
                   help=f"share of the active cap filled with uniformly random neurons ({lib} {lsh.random_fraction})")
    p.add_argument("--storage", choices=("float32", "bfloat16"), default=None,
                   help="storage of the output layer's weights and Adam moments; bfloat16 halves its memory "
                        f"({lib} {layer.storage})")
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs (default %(default)s)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: Network.fit's, 128)")
    p.add_argument("--lr", type=float, default=None, help=f"Adam learning rate ({lib} {adam.lr})")
    p.add_argument("--weight-decay", type=float, default=None,
                   help=f"decoupled (AdamW) weight decay on the rows each batch updates ({lib} {adam.weight_decay})")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: OpenMP's choice)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--eval-sample", type=int, default=None,
                   help="evaluate on a random subset of this many test rows (default: the whole test set)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _train_and_report(sl, a, X, Y, Xt, Yt, title):
    net = _net_from_args(sl, a, X.shape[1], Y.shape[1])
    print(f"{title}")
    print(f"  train {X.shape[0]:,} x {X.shape[1]:,} features, {Y.shape[1]:,} labels; test {Xt.shape[0]:,} points")
    print(f"  network {net!r}, {net.memory_bytes() / 2**20:,.0f} MiB, {net.threads} threads; {_machine()}")
    lsh, storage, adam = model_settings(sl, a)
    print(f"  settings{f' (--preset {a.preset})' if a.preset else ''}: {lsh!r}, {adam!r}"
          f"{f', storage {storage}' if storage else ''}; every other setting is the library's default")
    out_units = Y.shape[1]
    total_time, total_samples = 0.0, 0

    # The rules that steer training (lr plateau, rollback, early stopping) watch rows held out of the training
    # file (--validation-split, by default fit's automatic hold-out); the test file is only reported.
    holdout = getattr(a, "validation_split", "auto")
    steer = {"lr_plateau": getattr(a, "lr_plateau", "auto"), "rollback": getattr(a, "rollback", "auto"),
             "early_stopping": getattr(a, "early_stopping", None), "average": bool(getattr(a, "average", False))}
    n_held = sl.network.holdout_count(X.shape[0], holdout)
    if n_held:
        how = "automatic hold-out" if holdout == "auto" else f"--validation-split {holdout:g}"
        steered = steer["lr_plateau"] is not None or steer["early_stopping"]
        print(f"  validation: {n_held:,} training rows held out ({how}), {X.shape[0] - n_held:,} left to train on; "
              + ("they steer the learning rate and keep the best epoch" if steered else
                 "they choose the returned model among the epochs' weights and their means" if steer["average"]
                 else "reported only"))

    def report(rec):
        nonlocal total_time, total_samples
        total_time += rec["seconds"]
        total_samples += X.shape[0] - n_held
        frac = rec["mean_active"][-1] / out_units
        val = f"validation P@1 {rec['holdout_P@1']:.4f}  " if n_held else ""
        val += f"lr {rec['lr']:g}  " if "lr" in rec else ""
        if rec.get("averaged", 1) > 1:
            val += f"mean of epochs {rec['epoch'] - rec['averaged'] + 1}-{rec['epoch']}: {rec['average_P@1']:.4f}  "
        val += f"(rolled back to epoch {rec['best_epoch']})  " if rec.get("rolled_back") else ""
        print(f"  epoch {rec['epoch']}: loss {rec['loss']:.4f}  {rec['samples_per_s']:,.0f} samples/s "
              f"({rec['seconds']:.1f} s)  active output neurons {rec['mean_active'][-1]:,.0f} ({100 * frac:.2f}%)  "
              f"{val}test P@1 {rec['P@1']:.4f}  P@5 {rec['P@5']:.4f}  (n={rec['n']:,})", flush=True)

    save = getattr(a, "save", None)
    every = getattr(a, "checkpoint_every", None)
    try:
        batch = {} if a.batch is None else {"batch_size": a.batch}
        hist = net.fit(X, Y, epochs=a.epochs, **batch, validation_data=(Xt, Yt), holdout=holdout,
                       progress=not a.no_progress, seed=a.seed, eval_sample=a.eval_sample, callback=report,
                       checkpoint=save if every else None, checkpoint_every=every, **steer)
    except KeyboardInterrupt as exc:
        # The interrupted C call finished its batch before Python saw the signal: the model is consistent.
        what, code = ("terminated (SIGTERM)", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        if save:
            net.save(save)
            raise Interrupted(f"{what} at a batch boundary; saved the model to {save}", code) from None
        raise Interrupted(f"{what} at a batch boundary; nothing saved (use --save)", code) from None
    last = hist[-1]
    if "model_epoch" in last:  # fit returned the best validation model among epochs and their means
        e, k = last["model_epoch"], last["model_averaged"]
        if (e, k) != (last["epoch"], 1) or last.get("rolled_back"):
            what = f"the mean of the weights of epochs {e - k + 1}-{e}" if k > 1 else f"the weights of epoch {e}"
            print(f"  kept {what} (best validation P@1)")
            last = {**last, **net.evaluate(Xt, Yt, ks=(1, 5), sample=a.eval_sample, seed=a.seed)}
    elif last.get("best_epoch", last["epoch"]) != last["epoch"]:  # fit returned the best validation epoch's model
        rule = "early stopping" if steer["early_stopping"] else "rollback"
        print(f"  {rule}: kept the weights of epoch {last['best_epoch']} (best validation P@1)")
        last = {**last, **net.evaluate(Xt, Yt, ks=(1, 5), sample=a.eval_sample, seed=a.seed)}
    print(f"result: P@1 {last['P@1']:.4f}  P@5 {last['P@5']:.4f}  {total_samples / total_time:,.0f} samples/s  "
          f"active fraction {last['mean_active'][-1] / out_units:.4f}  ({a.threads or net.threads} threads)")
    return net


def cmd_demo(a) -> int:
    import libslide as sl

    t0 = time.perf_counter()
    X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=a.n_train, n_test=a.n_test, n_features=a.features,
                                            n_labels=a.labels, nnz_per_row=40, noise=a.noise, seed=a.seed)
    print(f"generated dataset in {time.perf_counter() - t0:.1f} s (libslide.datasets.make_extreme, seed {a.seed})")
    _train_and_report(sl, a, X, Y, Xt, Yt, "libslide demo: sparse input -> 128 ReLU -> LSH-sampled softmax")
    return 0


def _bench_setup(sl, a):
    """(X, Y, LSH, learning rate, description) of the network `slide bench` times."""
    if a.shape == "amazon":
        X, Y, _, _ = sl.datasets.amazon670k_shape(n_train=a.n_train, n_test=1, seed=a.seed)
        # bench/vs_torch.py's settings: batch-shared sets use 16 tables of 32-id buckets and 0.2% of the
        # layer, re-hash the neurons each batch touched and rebuild after 50, 150, 350, ... batches;
        # per-sample sets use 50 tables of 128, 0.5%, and rebuild every 50 batches
        if a.active_set == "shared":
            lsh = sl.LSH(**PRESETS["shared-dwta"]["lsh"])
        else:
            lsh = sl.LSH("dwta", k=6, tables=50, bucket_size=128, active=0.005)
        return X, Y, lsh, 1e-3, "Amazon-670K shape (libslide.datasets.amazon670k_shape)"
    X, Y, _, _ = sl.datasets.make_extreme(n_train=a.n_train, n_test=1, n_features=20000, n_labels=10000,
                                          nnz_per_row=40, seed=a.seed)
    lsh = sl.LSH(**{**PRESETS["shared-simhash"]["lsh"], "batch_shared": a.active_set == "shared"})
    return X, Y, lsh, PRESETS["shared-simhash"]["adam"]["lr"], "small (make_extreme: 20,000 features, 10,000 labels)"


def cmd_bench(a) -> int:
    import libslide as sl
    from libslide._inputs import features, labels

    if a.json:
        check_writable(a.json, "--json")
    threads = a.threads or list(range(1, (os.cpu_count() or 1) + 1))
    if min(threads) < 1 or a.batches < 1 or a.warmup < 0:
        print("slide bench: --threads, --batches must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    X, Y, lsh, lr, desc = _bench_setup(sl, a)
    xv, yv = features(X, X.shape[1]), labels(Y, X.shape[0], Y.shape[1])
    print(f"libslide {sl.__version__} bench: {desc}, {X.shape[0]:,} generated rows in "
          f"{time.perf_counter() - t0:.1f} s; kernels {sl.kernel_isa()}; {os.cpu_count()} CPUs")
    print(f"network {X.shape[1]:,} -> {a.hidden} ReLU -> {Y.shape[1]:,} softmax, {a.active_set} active sets, "
          f"batch {a.batch}; {a.warmup} warm-up batches, then {a.batches} timed (table rebuilds included)")
    order = np.random.default_rng(a.seed).permutation(X.shape[0]).astype(np.int64)
    results, base = [], None
    for nt in threads:
        net = sl.Network(input_dim=X.shape[1],
                         layers=[sl.Layer(a.hidden), sl.Layer(Y.shape[1], activation="softmax", sampling=lsh)],
                         optimizer=sl.Adam(lr=lr), seed=a.seed, threads=nt)
        pos = 0

        def batch():
            nonlocal pos
            if pos + a.batch > order.size:
                pos = 0
            net.train_batch(xv, yv, rows=order[pos:pos + a.batch])
            pos += a.batch

        for _ in range(a.warmup):
            batch()
        net.reset_counters()
        t1 = time.perf_counter()
        for _ in range(a.batches):
            batch()
        rate = a.batches * a.batch / (time.perf_counter() - t1)
        base = base or rate
        active = net.layers[-1].mean_active
        results.append({"threads": nt, "samples_per_s": rate, "speedup": rate / base, "mean_active": active,
                        "memory_bytes": net.memory_bytes()})
        print(f"threads {nt}: {rate:,.0f} samples/s ({rate / base:.2f}x of {threads[0]} thread(s)), "
              f"{active:,.0f} active output neurons, network {net.memory_bytes() / 2**20:,.0f} MiB", flush=True)
        del net
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": " ".join(["slide"] + sys.argv[1:]), "kernels": sl.kernel_isa(),
                       "cpus": os.cpu_count(), "dataset": desc, "active_set": a.active_set, "batch": a.batch,
                       "results": results}, f, indent=2)
    return 0


def cmd_train(a) -> int:
    import libslide as sl

    if a.checkpoint_every and not a.save:
        print("slide: --checkpoint-every needs --save PATH", file=sys.stderr)
        return 2
    if a.rollback is True and a.lr_plateau is None:
        print("slide: --rollback needs the learning-rate plateau rule (it acts when the rate is cut; "
              "--lr-plateau 0 turns that off)", file=sys.stderr)
        return 2
    if a.save:
        check_writable(a.save, "--save")  # before loading and training, not after
    t0 = time.perf_counter()
    X, Y = _load(sl, a, a.train)
    explicit_rule = a.early_stopping or a.rollback is True or a.average is True or a.lr_plateau not in ("auto", None)
    if explicit_rule and not sl.network.holdout_count(X.shape[0], a.validation_split):
        print(f"slide: --early-stopping, --lr-plateau, --rollback and --average watch rows held out of the training "
              f"file, and "
              f"{a.train} keeps none ({X.shape[0]:,} rows; the automatic hold-out needs "
              f"{sl.network.HOLDOUT_AUTO_MIN_ROWS:,}): give --validation-split F (the test file never steers "
              f"training)", file=sys.stderr)
        return 2
    Xt, Yt = _load(sl, a, a.test, X.shape[1], Y.shape[1])
    if Xt.shape[1] != X.shape[1] or Yt.shape[1] != Y.shape[1]:
        print(f"slide: {a.test} has {Xt.shape[1]} features / {Yt.shape[1]} labels, {a.train} has "
              f"{X.shape[1]} / {Y.shape[1]}", file=sys.stderr)
        return 2
    print(f"loaded data in {time.perf_counter() - t0:.1f} s")
    net = _train_and_report(sl, a, X, Y, Xt, Yt, f"libslide train: {a.train}")
    if a.save and not a.checkpoint_every:
        net.save(a.save)
        print(f"saved model to {a.save}")
    return 0


def cmd_evaluate(a) -> int:
    import libslide as sl

    net = sl.Network.load(a.model, threads=a.threads)
    Xt, Yt = _load(sl, a, a.test, net.input_dim, net.layers[-1].units)
    t0 = time.perf_counter()
    res = net.evaluate(Xt, Yt, ks=tuple(range(1, a.k + 1)), mode=a.mode, sample=a.eval_sample,
                       progress=not a.no_progress)
    secs = time.perf_counter() - t0
    print("  ".join(f"{k} {v:.4f}" for k, v in res.items() if k.startswith("P@")) +
          f"  (n={res['n']:,}, {a.mode}, {res['n'] / secs:,.0f} samples/s)")
    print("  ".join(f"{k} {v:.4f}" for k, v in res.items() if k.startswith("nDCG@")))
    return 0


def print_diagnosis(diag) -> None:
    total, dense = sum(d["madds"] for d in diag), sum(d["madds_dense"] for d in diag)
    print("| layer | units | sampled | active mean | active p50 / p90 / max | recall@active | multiply-adds (% of dense) |")
    print("|---|---|---|---|---|---|---|")
    for d in diag:
        print(f"| {d['layer']} | {d['units']:,} | {'yes' if d['sampled'] else 'no'} | {d['mean_active']:,.1f} | "
              f"{d['p50_active']:,.0f} / {d['p90_active']:,.0f} / {d['max_active']:,.0f} | {d['recall']:.3f} | "
              f"{d['madds']:,.0f} ({100 * d['madds_fraction']:.2f}%) |")
    print(f"whole network: {total:,.0f} multiply-adds per sample, {100 * total / dense:.2f}% of dense "
          f"(n={diag[0]['n']:,} samples)")


def cmd_diagnose(a) -> int:
    import libslide as sl

    net = sl.Network.load(a.model, threads=a.threads)
    X, _ = _load(sl, a, a.test, net.input_dim)
    print_diagnosis(net.diagnose(X, sample=a.sample, seed=a.seed))
    return 0


def cmd_predict(a) -> int:
    import libslide as sl

    if a.output:
        check_writable(a.output, "--output")
    net = sl.Network.load(a.model, threads=a.threads)
    X, _ = _load(sl, a, a.input, net.input_dim)
    ids, scores = net.predict_topk(X, k=a.k, mode=a.mode, progress=not a.no_progress)
    out = open(a.output, "w") if a.output else sys.stdout
    try:
        for row_ids, row_scores in zip(ids, scores):
            out.write(" ".join(f"{i}:{s:.5f}" for i, s in zip(row_ids, row_scores) if i >= 0) + "\n")
    finally:
        if a.output:
            out.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slide", description="LSH-sampled neural network training (libslide)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="generate an extreme-classification dataset, train, print P@1 and speed")
    _add_model_args(d, epochs=3)
    d.add_argument("--n-train", type=int, default=50000)
    d.add_argument("--n-test", type=int, default=10000)
    d.add_argument("--features", type=int, default=20000)
    d.add_argument("--labels", type=int, default=10000)
    d.add_argument("--noise", type=float, default=0.5, help="fraction of noise features per row")
    d.set_defaults(func=cmd_demo)

    b = sub.add_parser("bench", help="training throughput on generated data at each thread count")
    b.add_argument("--shape", choices=("amazon", "small"), default="amazon",
                   help="amazon: 135,909 features, 670,091 labels, DWTA 0.5%% active (default); small: 20,000 "
                        "features, 10,000 labels, SimHash 5%% active")
    b.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: 1 .. CPUs)")
    b.add_argument("--active-set", choices=("shared", "per-sample"), default="shared")
    b.add_argument("--batches", type=int, default=100, help="timed batches per thread count (default %(default)s)")
    b.add_argument("--warmup", type=int, default=20, help="untimed batches first (default %(default)s)")
    b.add_argument("--batch", type=int, default=128)
    b.add_argument("--hidden", type=int, default=128)
    b.add_argument("--n-train", type=int, default=20000, help="generated rows (default %(default)s)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--json", help="also write the results to this file")
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="train on Extreme Classification Repository or libsvm files")
    t.add_argument("--train", required=True, help="training file (XC or libsvm format, .gz allowed)")
    t.add_argument("--test", required=True, help="test file, evaluated after every epoch")
    t.add_argument("--save", help="write the trained model here (also on Ctrl-C)")
    t.add_argument("--checkpoint-every", type=int, default=None,
                   help="also save to --save every N batches (atomic: the previous file stays valid)")
    t.add_argument("--validation-split", type=_auto_or_fraction(0), default="auto", metavar="F",
                   help="hold out this fraction of the training rows (drawn with --seed) as validation rows, "
                        "watched by the rules below; 'auto' (default): 2,000 rows (at most 5%%) of a file of "
                        "10,000 rows or more, none of a smaller one; 0: none")
    t.add_argument("--early-stopping", type=int, default=None, metavar="K",
                   help="stop once validation P@1 has not improved for K epochs and keep the best epoch's weights")
    t.add_argument("--lr-plateau", type=_auto_or_fraction(None), default="auto", metavar="F",
                   help="multiply the learning rate by F after each epoch without a better validation P@1; "
                        "'auto' (default): 0.5 when there are validation rows; 0: off (docs/benchmarks.md)")
    t.add_argument("--rollback", action=argparse.BooleanOptionalAction, default="auto",
                   help="after 2 epochs in a row without a better validation P@1, undo them (training goes on "
                        "from the best epoch's weights, and the best epoch's model is returned); default: on "
                        "with the plateau rule and validation rows")
    t.add_argument("--average", action=argparse.BooleanOptionalAction, default=False,
                   help="also score the mean of the weights at the ends of the last epochs on the validation rows "
                        "(it restarts whenever the live weights score as well) and return the best of every epoch's "
                        "weights and means; training and the rules are unchanged; default off (docs/benchmarks.md)")
    _add_model_args(t)
    _add_format_args(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="P@k and nDCG@k of a saved model on a test file")
    e.add_argument("--model", required=True)
    e.add_argument("--test", required=True)
    e.add_argument("--k", type=int, default=5)
    e.add_argument("--mode", choices=("exact", "sampled"), default="exact")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--eval-sample", type=int, default=None)
    e.add_argument("--no-progress", action="store_true")
    _add_format_args(e)
    e.set_defaults(func=cmd_evaluate)

    g = sub.add_parser("diagnose", help="active neurons, LSH recall and multiply-adds per layer of a saved model")
    g.add_argument("--model", required=True)
    g.add_argument("--test", required=True, help="XC or libsvm file whose rows are diagnosed")
    g.add_argument("--sample", type=int, default=1000, help="random rows to diagnose (default %(default)s)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=None)
    _add_format_args(g)
    g.set_defaults(func=cmd_diagnose)

    r = sub.add_parser("predict", help="top-k predictions of a saved model, one line per input row")
    r.add_argument("--model", required=True)
    r.add_argument("--input", required=True, help="XC or libsvm file (labels are ignored)")
    r.add_argument("--output", help="write here instead of stdout")
    r.add_argument("--k", type=int, default=5)
    r.add_argument("--mode", choices=("exact", "sampled"), default="exact")
    r.add_argument("--threads", type=int, default=None)
    r.add_argument("--no-progress", action="store_true")
    _add_format_args(r)
    r.set_defaults(func=cmd_predict)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from libslide import SlideError

    # SIGTERM (kill, a batch scheduler's time limit) is handled like Ctrl-C: training stops at a batch
    # boundary and `slide train --save` saves. Only in the main thread, where Python allows handlers.
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.func(args)
    except SlideError as exc:
        print(f"slide: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file of the command line that cannot be written or read
        print(f"slide: error: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"slide: {exc}", file=sys.stderr)
        return exc.code
    except Terminated:
        print("slide: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("slide: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
