"""libslide against PyTorch on the same CPU, data, network, threads and training-time budget.

    python bench/vs_torch.py --dataset debdeps --minutes 5 --threads 2
    python bench/vs_torch.py --dataset amazon --minutes 5 --threads 2 --n-train 490449 --n-test 20000

Network: sparse input -> 128 ReLU -> softmax over all labels, trained with a uniform target over each
sample's labels (rows without labels contribute nothing), batch 128, shuffled every epoch with the same
seed for every implementation, weights initialised alike (uniform, He for the hidden layer,
+-1/sqrt(128) for the output layer as nn.Linear, zero biases). Implementations:

  torch-full       input layer: F.embedding_bag(mode="sum", per_sample_weights=values) over the CSR
                   indices + bias, ReLU; output: one dense (labels x 128) matrix and bias, logits for
                   every label; fused torch.optim.Adam on the output layer (every row moves every batch).
  torch-sampled    same input layer; per batch one candidate set = the batch's labels U --negatives (4,096)
                   uniform random labels, shared by the whole batch; logits = h @ W[cand].T + b[cand]; soft
                   targets over the candidates (no correction for the sampling).
                   Loss and gradient of both: softmax cross-entropy against the uniform target, formed in
                   place as (softmax - target) / batch and passed to backward (one pass over the logits).
                   --torch-optimizer (both torch implementations) chooses how the big tables are updated:
                   "rows" (default, fastest here): the batch's input rows and candidate output rows are
                   gathered into small dense leaves and updated by a lazy Adam on those rows (moments of
                   untouched rows do not decay, as in torch.optim.SparseAdam; libslide's Adam catches them up);
                   "sparseadam": sparse=True gradients + torch.optim.SparseAdam (slower: COO gradients
                   are coalesced and indexed; and it adds eps before the bias correction, an effective eps
                   ~30x larger in the first steps, which matters for the ~1e-7 gradients of the output
                   layer's negative rows); "lazyadam": sparse=True gradients + libslide.torch.LazyAdam
                   (AdamW on the touched rows in C, in place, no gathered copies; its catch-up moves a row
                   by the steps it missed, as dense Adam would); "dense": dense gradients + torch.optim.Adam
                   over whole tables (every weight moves every batch; ~15x slower on the amazon shape).
  libslide         output layer LSH-sampled, one active set per sample (debdeps: simhash, amazon: dwta;
                   k=6, 50 tables (--tables), bucket 128 (--bucket-size), active 5% / 0.5% (--active), tables
                   rebuilt every 50 batches),
                   libslide's lazy Adam; on debdeps a quarter of each set is uniformly random
                   (random_fraction=0.25, see bench/random_share.py).
  libslide-shared  the same with LSH(batch_shared=True): one active set per batch, on debdeps half of it
                   uniformly random (random_fraction=0.5); on amazon 16 tables of 32-id buckets and 0.2%
                   of the layer active (chosen with bench/amazon_settings.py), and it
                   re-hashes the neurons each batch touched and rebuilds the tables after 50, 150, 350, ...
                   batches (rehash_touched=True, rebuild_growth=2).
  libslide-defaults
                   the library's defaults and nothing else: sl.LSH() on the output layer, sl.Adam() (its
                   learning rate too, whatever --lr says): what a new user gets.
  libslide-bf16, libslide-shared-bf16 (only when named in --impls)
                   the same two with the output layer's weights and Adam moments stored as bfloat16.
  torch-head (only when named in --impls)
                   torch-sampled's input layer (EmbeddingBag, --torch-optimizer rows or lazyadam, --lr) with
                   libslide.torch.LSHSoftmax at the library's defaults (or --head-active neurons per batch) as
                   the output layer: libslide inside a PyTorch model.
  torch-sampled-equal (only when named in --impls; needs --head-active)
                   torch-sampled with --head-active uniform negatives instead of --negatives: the sampled
                   softmax at torch-head's neuron count, to tell the head's speed and learning at an equal count
                   from what fewer negatives alone give.

Protocol (MISSION.md "Benchmark protocol"): every implementation runs in its own subprocess (so peak
memory, ru_maxrss of the child, does not mix; it includes the data and, for torch, the torch runtime),
one after the other in one run, the order reversed on every other --repeats; repeat r uses seed --seed + r
(weights, data order, negatives) for every implementation. Each trains for --minutes of
training wall time (or --epochs, whichever ends first); the clock stops during evaluation. P@1 and P@5
are evaluated exactly (all outputs scored) at time 0, every --eval-every seconds of training and at the
end, on the same --eval-sample random test rows (seed --eval-seed) for all implementations. Early
stopping (--val-sample N): every checkpoint also scores P@1 on N other random test rows (disjoint from
the evaluation rows), and the model an implementation returns after its budget is the checkpoint with
the best validation P@1, as a training run that keeps its best checkpoint would return; its P@1 on the
evaluation rows is reported beside the final one. Target P@1 = the final (with --val-sample: the
best-validation) P@1 of --target-from (default torch-sampled; median over repeats) minus --target-slack
(default 0) unless --target-p1 is given; "time to target" is the
training time of the first checkpoint at or above it (resolution: --eval-every). PyTorch threads:
torch.set_num_threads(--threads); libslide: Network(threads=--threads); OMP_NUM_THREADS is set for both.
THP_MEM_ALLOC_ENABLE=1 is set for the children (unless already set): PyTorch then asks for transparent
huge pages for large tensors; without it, on this VM, every fresh 343 MB logits / gradient block of
torch-full on the amazon shape costs ~0.2 s of page faults.

Data: --dataset debdeps (--data dir with train.txt.gz / test.txt.gz) or --dataset amazon
(libslide.datasets.amazon670k_shape: 135,909 features, 670,091 labels; --n-train / --n-test, --data-seed;
generated once in the parent and handed to the children in a temporary .npz).
Writes bench/results/vs_torch_<dataset>.json and .png (P@1 against training wall time) and prints a
markdown table. Needs PyTorch for the torch-* implementations (pip install '.[bench]').

This file runs the protocol (processes, training loop, evaluation schedule, target, report); the pieces
live beside it: _data.py (per-dataset settings, data hand-off, evaluation rows, P@k), _torch_models.py
(torch-full, torch-sampled, RowAdam), _slide_runner.py (libslide), _plot.py (the figure) and _common.py
(machine description, result files, data sets shared with the other bench scripts).
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _common
from _data import (DATASETS, IMPLS, IMPLS_EXTRA, data_dir, eval_rows, load_data, popularity_baseline, precision_at_k,
                   save_npz, selected, time_to_target, val_rows)
from _plot import plot
from _slide_runner import LibslideTrainer
from _torch_models import TorchHeadTrainer, TorchTrainer, require_torch

from libslide.epoch_average import EpochAverage
from libslide.network import ROLLBACK_PATIENCE, PlateauRule


# ------------------------------------------------------------------------------------------------ worker
def worker(a):
    t_load = time.perf_counter()
    X, Y, Xt, Yt = load_data(a)
    rows_e, rows_v = eval_rows(Xt.shape[0], a), val_rows(Xt.shape[0], a)
    Xe, Ye = Xt[rows_e], Yt[rows_e]
    Xv, Yv = (Xt[rows_v], Yt[rows_v]) if rows_v is not None else (None, None)
    load_s = time.perf_counter() - t_load
    rss_data = _common.peak_rss_mib()
    impl = a.worker
    if impl == "torch-head":
        tr = TorchHeadTrainer(X, Y, a)
    elif impl == "torch-sampled-equal":
        tr = TorchTrainer(X, Y, argparse.Namespace(**{**vars(a), "negatives": a.head_active}), sampled=True)
    elif impl.startswith("torch"):
        tr = TorchTrainer(X, Y, a, sampled=impl == "torch-sampled")
    else:
        tr = LibslideTrainer(X, Y, a, shared=impl.startswith("libslide-shared"),
                             storage="bfloat16" if impl.endswith("-bf16") else a.storage,
                             defaults=impl == "libslide-defaults")
    rss_model = _common.peak_rss_mib()

    curve = []
    state = {"train_s": 0.0, "samples": 0, "epoch": 0, "batches": 0, "loss_sum": 0.0, "loss_n": 0}
    rule = PlateauRule(a.lr_plateau or None, a.rollback)  # --lr-plateau: Network.fit's own rule
    mean = EpochAverage() if a.average else None  # --average: Network.fit(average=True)

    def evaluate(averaged=1):
        t0 = time.perf_counter()
        ids = tr.topk(Xe, 5)
        r = precision_at_k(ids, Ye, (1, 5))
        eval_s = time.perf_counter() - t0
        loss = state["loss_sum"] / state["loss_n"] if state["loss_n"] else float("nan")
        state["loss_sum"], state["loss_n"] = 0.0, 0
        rec = {"train_s": state["train_s"], "samples": state["samples"], "epoch": state["epoch"],
               "P@1": r["P@1"], "P@5": r["P@5"], "train_loss": loss, "eval_s": eval_s}
        if averaged > 1:
            rec["averaged"] = averaged  # the mean of the live weights at the last `averaged` epoch ends
        if Xv is not None:
            rec["val_P@1"] = precision_at_k(tr.topk(Xv, 1), Yv, (1,))["P@1"]
        curve.append(rec)
        rec["lr_scale"] = rule.lr_scale
        val = f", validation P@1 {rec['val_P@1']:.4f}" if Xv is not None else ""
        val += f", lr x{rule.lr_scale:g}" if a.lr_plateau else ""
        val += f", mean of {averaged} epochs" if averaged > 1 else ""
        print(f"[{impl}] {rec['train_s']:7.1f} s, {rec['samples']:9,} samples, epoch {rec['epoch']}, "
              f"loss {loss:.3f}, P@1 {rec['P@1']:.4f}, P@5 {rec['P@5']:.4f}{val} (eval {eval_s:.1f} s)",
              flush=True)

    def epoch_end():
        """--lr-plateau, the rule of Network.fit(lr_plateau=f) for every implementation: after each epoch whose
        P@1 on the validation rows is not above the best of the earlier epochs, the learning rate is
        multiplied by f, down to PLATEAU_MIN_LR_SHARE of the starting rate; with --rollback, ROLLBACK_PATIENCE
        epochs in a row without a better one are undone (the best epoch's weights put back): fit's PlateauRule.
        With --average, fit(average=True)'s EpochAverage: when the mean of the weights at the last epoch
        ends beats the live weights on the validation rows, it is evaluated as a point of the curve at this
        training time (so the returned model, the best validation point, can be a mean); the rule and
        training see the live weights only. Untimed, like evaluate()."""
        val_p1 = lambda: precision_at_k(tr.topk(Xv, 1), Yv, (1,))["P@1"]  # noqa: E731
        p1 = val_p1()
        if mean is not None:
            live = tr.snapshot()
            mean.add(tr.arrays(live))
            if mean.count > 1:
                tr.restore(tr.from_arrays(mean.mean))
                if mean.settle(tr.arrays(live), p1, val_p1()):
                    evaluate(averaged=mean.count)
                tr.restore(live)
        improved, cut, undo = rule.step(p1)
        if cut:
            tr.scale_lr(a.lr_plateau)
            print(f"[{impl}] epoch {state['epoch']}: validation P@1 {p1:.4f} not above {rule.best:.4f}, "
                  f"lr x{rule.lr_scale:g}", flush=True)
        if improved and a.rollback:
            state["best_weights"] = tr.snapshot()
        if undo:
            tr.restore(state["best_weights"])
            if mean is not None:
                mean.reset()
            print(f"[{impl}] epoch {state['epoch']}: {ROLLBACK_PATIENCE} epochs without a better validation P@1 "
                  "undone (the best epoch's weights put back)", flush=True)

    evaluate()
    budget = a.minutes * 60.0
    rng = np.random.default_rng(a.seed)
    n, B = X.shape[0], a.batch
    next_ck = a.eval_every
    done = False
    while not done:
        order = rng.permutation(n).astype(np.int64)
        state["epoch"] += 1
        for s in range(0, n, B):
            rows = order[s:s + B]
            t0 = time.perf_counter()
            loss = tr.step(rows)
            state["train_s"] += time.perf_counter() - t0
            state["samples"] += rows.size
            state["batches"] += 1
            state["loss_sum"] += loss
            state["loss_n"] += 1
            if state["train_s"] >= budget:
                done = True
                break
            if state["train_s"] >= next_ck:
                evaluate()
                while next_ck <= state["train_s"]:
                    next_ck += a.eval_every
        if a.epochs is not None and state["epoch"] >= a.epochs:
            done = True
        if a.lr_plateau and not done:
            epoch_end()
    if curve[-1]["samples"] != state["samples"]:
        evaluate()
    chosen = selected(curve)
    result = {
        "impl": impl,
        "version": tr.version,
        "config": tr.config,
        "threads": a.threads,
        "train_s": state["train_s"],
        "samples": state["samples"],
        "epochs": state["samples"] / n,
        "samples_per_s": state["samples"] / state["train_s"],
        "final_P@1": curve[-1]["P@1"],
        "final_P@5": curve[-1]["P@5"],
        # early stopping (--val-sample): the model of the checkpoint with the best validation P@1
        "selected_P@1": chosen["P@1"],
        "selected_P@5": chosen["P@5"],
        "selected_train_s": chosen["train_s"],
        "curve": curve,
        "data_load_s": load_s,
        "rss_after_data_mib": rss_data,
        "rss_after_model_mib": rss_model,
        "peak_rss_mib": _common.peak_rss_mib(),
        **tr.extra(),
    }
    Path(a.worker_out).write_text(json.dumps(result, default=float))


# ------------------------------------------------------------------------------------------------ parent
def fmt_time(ts):
    reached = [t for t in ts if t is not None]
    if not reached:
        return "not reached"
    s = f"{statistics.median(reached):,.0f} s"
    return s if len(reached) == len(ts) else f"{s} ({len(reached)}/{len(ts)} runs)"


def parent(a):
    if any(i.startswith("torch") for i in a.impls) and importlib.util.find_spec("torch") is None:
        require_torch()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    out = Path(a.out or _common.RESULTS / f"vs_torch_{a.dataset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vs_torch_") as tmp:
        extra = []
        if a.dataset == "amazon":
            t0 = time.perf_counter()
            X, Y, Xt, Yt = _common.load_amazon_shape(n_train=a.n_train, n_test=a.n_test, seed=a.data_seed,
                                                     realistic=a.generator == "realistic")
            data_file = Path(tmp) / "amazon.npz"
            save_npz(data_file, X, Y, Xt, Yt)
            extra = ["--data-file", str(data_file)]
            print(f"amazon670k_shape: {X.shape[0]:,} train / {Xt.shape[0]:,} test, {X.shape[1]:,} features, "
                  f"{Y.shape[1]:,} labels, seed {a.data_seed} ({time.perf_counter() - t0:.1f} s)", flush=True)
            n_train, n_test = X.shape[0], Xt.shape[0]
            desc = (f"amazon670k_shape(n_train={a.n_train}, n_test={a.n_test}, seed={a.data_seed}, "
                    f"realistic={a.generator == 'realistic'})")
            baseline = popularity_baseline(Y, Yt[eval_rows(n_test, a)])
            del X, Y, Xt, Yt
        else:
            X, Y, Xt, Yt = load_data(a)
            n_train, n_test = X.shape[0], Xt.shape[0]
            baseline = popularity_baseline(Y, Yt[eval_rows(n_test, a)])
            desc = f"{a.dataset} ({data_dir(a)})"
            del X, Y, Xt, Yt
        runs = []
        for rep in range(a.repeats):
            order = a.impls if rep % 2 == 0 else a.impls[::-1]
            for impl in order:
                res_file = Path(tmp) / f"{impl}_{rep}.json"
                # every repeat its own seed (weights, data order, negatives), the same for every implementation
                cmd = [sys.executable, str(Path(__file__).resolve())] + sys.argv[1:] + extra + \
                    ["--seed", str(a.seed + rep), "--worker", impl, "--worker-out", str(res_file)]
                print(f"--- repeat {rep + 1}/{a.repeats}: {impl}", flush=True)
                proc = subprocess.run(cmd, env=env)
                if proc.returncode != 0 or not res_file.exists():
                    print(f"{impl} failed (exit {proc.returncode}); continuing", flush=True)
                    runs.append({"impl": impl, "repeat": rep, "failed": proc.returncode})
                    continue
                r = json.loads(res_file.read_text())
                r["repeat"] = rep
                r["seed"] = a.seed + rep
                runs.append(r)

    ok = [r for r in runs if "failed" not in r]
    target = a.target_p1
    target_src = "--target-p1"
    if target is None:
        key = "selected_P@1" if a.val_sample else "final_P@1"
        ts = [r[key] for r in ok if r["impl"] == a.target_from]
        target = statistics.median(ts) - a.target_slack if ts else None
        target_src = (f"{'best-validation' if a.val_sample else 'final'} P@1 of {a.target_from} (median over "
                      f"repeats)" + (f" minus {a.target_slack}" if a.target_slack else ""))
    for r in ok:
        r["time_to_target_s"] = time_to_target(r["curve"], target) if target is not None else None
    # after the children ran: machine() imports libslide, which sets OMP_WAIT_POLICY in this environment
    info = _common.machine(a.threads)
    results = {
        "command": _common.command_line(),
        "machine": _common.describe(info),
        "machine_info": info,
        "threads": a.threads,
        "dataset": a.dataset,
        "data": desc,
        "n_train": n_train,
        "eval_rows": int(min(a.eval_sample or n_test, n_test)),
        "eval_seed": a.eval_seed,
        "val_rows": a.val_sample or 0,
        "target_P@1": target,
        "most_frequent_labels": baseline,
        "target_source": target_src,
        "args": vars(a),
        "env": {k: env[k] for k in ("OMP_NUM_THREADS", "THP_MEM_ALLOC_ENABLE")},
        "runs": runs,
    }
    _common.write_json(out, results)
    png = out.with_suffix(".png")
    plot(dict(results, runs=ok), png)

    print(f"\n{results['command']}\n{results['data']}; P@1 exact on {results['eval_rows']:,} random test rows "
          f"(seed {a.eval_seed}); budget {a.minutes} min of training"
          f"{f' or {a.epochs} epochs' if a.epochs else ''}; target P@1 "
          f"{'-' if target is None else f'{target:.4f}'} = {target_src}; always predicting the most frequent "
          f"label: P@1 {baseline['P@1']:.4f}; medians over {a.repeats} repeat(s)\n")
    print("| implementation | samples/s | final P@1 | best-validation P@1 (at s) | time to target P@1 | "
          "peak memory MiB | threads | machine |")
    print("|---|---|---|---|---|---|---|---|")
    for impl in a.impls:
        rs = [r for r in ok if r["impl"] == impl]
        if not rs:
            print(f"| {impl} | failed | | | | | {a.threads} | {results['machine']} |")
            continue
        sel = (f"{statistics.median(r['selected_P@1'] for r in rs):.4f} "
               f"({statistics.median(r['selected_train_s'] for r in rs):.0f} s)") if a.val_sample else "-"
        print(f"| {impl} | {statistics.median(r['samples_per_s'] for r in rs):,.0f} | "
              f"{statistics.median(r['final_P@1'] for r in rs):.4f} | {sel} | "
              f"{fmt_time([r['time_to_target_s'] for r in rs])} | "
              f"{max(r['peak_rss_mib'] for r in rs):,.0f} | {a.threads} | {results['machine']} |")
    print(f"\nwrote {out} and {png}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="debdeps")
    p.add_argument("--generator", choices=["realistic", "easy"], default="realistic",
                   help="amazon: the realistic generator (P@1 ~0.35, default) or the easy one the 0.3 results used")
    _common.add_data_arg(p)
    p.add_argument("--n-train", type=int, default=490449,
                   help="amazon: generated training rows (default: as many as Amazon-670K has)")
    p.add_argument("--n-test", type=int, default=20000, help="amazon: generated test rows")
    p.add_argument("--data-seed", type=int, default=0, help="amazon: generator seed")
    p.add_argument("--impls", nargs="+", choices=IMPLS + IMPLS_EXTRA, default=IMPLS)
    p.add_argument("--minutes", type=float, default=5.0, help="training wall-time budget per implementation")
    p.add_argument("--epochs", type=int, default=None, help="stop after this many epochs if earlier")
    p.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between evaluations")
    p.add_argument("--eval-sample", type=int, default=None,
                   help="random test rows evaluated (all if larger; default debdeps 5000, amazon 2000: an exact "
                        "evaluation over 670,091 outputs takes ~5-10 ms per row)")
    p.add_argument("--eval-seed", type=int, default=0)
    p.add_argument("--val-sample", type=int, default=0,
                   help="early stopping: also score P@1 on this many other random test rows (seed --eval-seed + "
                        "1, disjoint from the evaluation rows) at every checkpoint; the model an implementation "
                        "returns is then the checkpoint with the best validation P@1 (reported beside the final "
                        "one), and the target comes from it (default 0: off)")
    p.add_argument("--target-p1", type=float, default=None,
                   help="default: --target-from's final (with --val-sample: best-validation) P@1 minus "
                        "--target-slack")
    p.add_argument("--target-from", choices=IMPLS + IMPLS_EXTRA, default="torch-sampled")
    p.add_argument("--target-slack", type=float, default=0.0)
    _common.add_threads_arg(p)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: debdeps 3e-3, amazon 1e-3)")
    p.add_argument("--active", type=float, default=None,
                   help="libslide LSH active fraction (default: debdeps 0.05, amazon 0.005 per sample and "
                        "0.002 batch-shared)")
    p.add_argument("--rehash-touched", type=int, choices=[0, 1], default=None,
                   help="libslide: re-hash the neurons each batch touched (default: 1 for amazon libslide-shared)")
    p.add_argument("--rebuild-growth", type=float, default=None,
                   help="libslide: rebuild period growth factor (default: 2 for amazon libslide-shared, else 1)")
    p.add_argument("--tables", type=int, default=None,
                   help="libslide: number of hash tables L (default 50; amazon batch-shared 16)")
    p.add_argument("--bucket-size", type=int, default=None,
                   help="libslide: ids kept per bucket (default 128; amazon batch-shared 32)")
    p.add_argument("--random-fraction", type=float, default=None,
                   help="libslide: random share of each active set (default for debdeps: 0.25 per-sample, 0.5 "
                        "shared; amazon: 0)")
    p.add_argument("--storage", choices=["float32", "bfloat16"], default="float32",
                   help="libslide, libslide-shared: storage of the output layer's weights and Adam moments "
                        "(the -bf16 implementations always use bfloat16)")
    p.add_argument("--lr-plateau", type=float, default=0.0, metavar="FACTOR",
                   help="with --val-sample: multiply every implementation's learning rate by FACTOR after each "
                        "epoch whose validation P@1 is not above the best of the earlier epochs (as "
                        "Network.fit(lr_plateau=FACTOR); 0: off)")
    p.add_argument("--rollback", action="store_true",
                   help="with --lr-plateau: after 2 epochs in a row without a better validation P@1, every "
                        "implementation gets back the weights and biases of its best epoch "
                        "(Network.fit(rollback=True)); moments stay")
    p.add_argument("--average", action="store_true",
                   help="with --lr-plateau: every implementation also offers the mean of its weights at the last "
                        "epoch ends as a candidate model, as Network.fit(average=True)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="decoupled (AdamW) weight decay on weight rows for every implementation: libslide's and "
                        "RowAdam's on the rows each batch updates, torch.optim.AdamW on dense tables; not with "
                        "--torch-optimizer sparseadam (SparseAdam has none)")
    p.add_argument("--negatives", type=int, default=4096, help="torch-sampled: uniform negatives per batch")
    p.add_argument("--head-active", type=int, default=None,
                   help="torch-head: output neurons per batch (sl.LSH(active=N); default: the library's automatic "
                        "count)")
    p.add_argument("--torch-optimizer", choices=["rows", "sparseadam", "lazyadam", "dense"], default="rows",
                   help="how torch updates the input table (and torch-sampled's output tables): lazy Adam on the "
                        "batch's rows (rows), sparse=True gradients + SparseAdam or + libslide.torch.LazyAdam, or "
                        "dense Adam; torch-head takes rows or lazyadam for its input table")
    p.add_argument("--repeats", type=int, default=1, help="runs per implementation; order reversed every other")
    p.add_argument("--seed", type=int, default=0, help="weights, shuffling and negatives (repeat r: SEED + r)")
    p.add_argument("--out", default=None, help="default bench/results/vs_torch_<dataset>.json")
    p.add_argument("--worker", choices=IMPLS + IMPLS_EXTRA, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    p.add_argument("--data-file", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.weight_decay and a.torch_optimizer == "sparseadam":
        p.error("--weight-decay needs --torch-optimizer rows or dense: torch.optim.SparseAdam has no weight decay")
    if a.rollback and not a.lr_plateau:
        p.error("--rollback needs --lr-plateau (it acts when the rate is cut)")
    if a.average and not a.lr_plateau:
        p.error("--average needs --lr-plateau (it runs at the rule's epoch ends)")
    if a.average and "torch-head" in a.impls:
        p.error("--average: torch-head keeps two kinds of snapshot; not supported")
    if "torch-sampled-equal" in a.impls and not a.head_active:
        p.error("torch-sampled-equal needs --head-active (its negatives per batch)")
    if a.lr_plateau and not a.val_sample:
        p.error("--lr-plateau needs --val-sample (it watches validation P@1)")
    if a.eval_sample is None:
        a.eval_sample = DATASETS[a.dataset]["eval_sample"]
    if a.worker:
        worker(a)
    else:
        parent(a)


if __name__ == "__main__":
    main()
