"""P@1 per epoch of libslide's defaults and of single departures from them, on the real data sets: where
does the sampled softmax lose against computing every neuron, and what stops the fall after the best epoch?

    python bench/epochs.py --dataset debdeps --epochs 20 --threads 2
    python bench/epochs.py --dataset revdict --epochs 8 --threads 2 --configs defaults all-active wd0.3
    python bench/epochs.py --dataset debdeps --epochs 8 --seeds 0 1 2 --eval-sample 8797 --configs defaults lr1e-3 halve3

Network: sparse input -> 128 ReLU -> softmax over every label, batch 128, seed 0. Each configuration is
the library's defaults (`sl.LSH()`, `sl.Adam()`) with one change:

  defaults       nothing changed
  all-active     LSH(active=1.0): every output neuron computed (no sampling; the same optimizer)
  lr1e-3         Adam(lr=1e-3)
  active2048     LSH(active=2048): 2,048 neurons per batch
  active4096     LSH(active=4096): 4,096 neurons per batch
  per-sample     LSH(batch_shared=False): one set of uniform negatives per sample
  wd0.1, wd0.3   Adam(weight_decay=...): decoupled weight decay (biases not decayed)
  halve3         the learning rate halved after every epoch from the third on (set_learning_rate)
  plateau        one fit(validation_data=validation rows, lr_plateau=0.5) call over all epochs: the rate
                 halved after each epoch whose validation P@1 is not above the best so far
  plateau-rollback  the same with rollback=True: two epochs in a row without a better validation P@1 are
                 undone (the best epoch's weights come back)
  fit-no-average one fit(X, Y, epochs) call with every default: 2,000 training rows held out, the plateau
                 rule and rollback watching them (the test rows are only reported)
  fit-average    the same with average=True: the mean of the weights at the last epoch ends competes
                 with the live weights on the held-out rows

After every epoch P@1 is computed exactly (every output scored) on --eval-sample random test rows
(seed --eval-seed) and on --val-sample other test rows; the best epoch is chosen on the validation rows,
as bench/vs_torch.py does. With several --seeds (weights, data order, negatives) the table shows the
means over the seeds. Writes bench/results/epochs_<dataset>.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import _common
from _data import eval_rows, val_rows

import libslide as sl

CONFIGS = {
    "defaults": ({}, {}),
    "all-active": ({"active": 1.0}, {}),
    "all-active-lr1e-3": ({"active": 1.0}, {"lr": 1e-3}),
    "lr1e-3": ({}, {"lr": 1e-3}),
    "active2048": ({"active": 2048}, {}),
    "active4096": ({"active": 4096}, {}),
    "per-sample": ({"batch_shared": False}, {}),
    "wd0.1": ({}, {"weight_decay": 0.1}),
    "wd0.3": ({}, {"weight_decay": 0.3}),
    "halve3": ({}, {}),
    "plateau": ({}, {}),
    "plateau-rollback": ({}, {}),
    "fit-average": ({}, {}),
    "fit-no-average": ({}, {}),
}
# Configurations that change the learning rate between epochs: epoch -> factor of the initial rate.
SCHEDULES = {"halve3": lambda epoch: 0.5 ** max(0, epoch - 2)}


def print_table(results: dict) -> None:
    epochs = results["args"]["epochs"]
    marks = sorted(m for m in {1, 2, 3, 5, epochs // 2, epochs} if 0 < m <= epochs)
    print(f"\n{results['command']}\n{results['machine']}\n")
    print("| configuration | P@1 after epoch " + " / ".join(map(str, marks)) +
          " | returned (validation-chosen) P@1 (epoch) | samples/s |")
    print("|---|---|---|---|")
    for name, r in results["runs"].items():
        seeds = r.get("seeds", {"": r})  # result files of one seed hold the run itself
        mean = lambda f: sum(f(x) for x in seeds.values()) / len(seeds)  # noqa: E731
        at = " / ".join(f"{mean(lambda x: x['curve'][m - 1]['P@1']):.4f}" for m in marks)
        # fit runs report the model fit returned; the others the validation-chosen epoch
        ret = lambda x: x.get("returned_P@1", x["selected"]["P@1"])  # noqa: E731
        sel = mean(ret)
        ep = "/".join(str(x.get("returned_epoch", x["selected"]["epoch"])) +
                      (f"m{x['returned_averaged']}" if x.get("returned_averaged", 1) > 1 else "") for x in seeds.values())
        per_seed = " / ".join(f"{ret(x):.4f}" for x in seeds.values()) if len(seeds) > 1 else ""
        sel_s = f"{sel:.4f} ({per_seed}; epoch {ep})" if per_seed else f"{sel:.4f} ({ep})"
        print(f"| {name} | {at} | {sel_s} | {mean(lambda x: x['samples_per_s']):,.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["debdeps", "revdict"], default="debdeps")
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=["defaults", "all-active", "wd0.1", "wd0.3"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed; the table shows means")
    p.add_argument("--eval-sample", type=int, default=5000)
    p.add_argument("--val-sample", type=int, default=2000)
    p.add_argument("--eval-seed", type=int, default=1)
    _common.add_threads_arg(p)
    _common.add_out_arg(p, None)
    p.add_argument("--table", metavar="JSON", help="only print the table of an earlier result file")
    a = p.parse_args()
    if a.table:
        print_table(_common.read_json(a.table))
        return

    X, Y, Xt, Yt = _common.load_debdeps(_common.SHARED_DATA / a.dataset)
    rows = SimpleNamespace(eval_sample=a.eval_sample, eval_seed=a.eval_seed, val_sample=a.val_sample)
    re, rv = eval_rows(Xt.shape[0], rows), val_rows(Xt.shape[0], rows)
    Xe, Ye, Xv, Yv = Xt[re], Yt[re], Xt[rv], Yt[rv]
    results = {**_common.result_header(a.threads), "dataset": a.dataset, "args": vars(a), "runs": {}}
    for name in a.configs:
        lsh_kw, adam_kw = CONFIGS[name]
        results["runs"][name] = {"lsh": lsh_kw, "adam": adam_kw, "seeds": {}}
        for seed in a.seeds:
            results["runs"][name]["seeds"][str(seed)] = run(X, Y, Xe, Ye, Xv, Yv, name, seed, a)
    out = a.out or _common.RESULTS / f"epochs_{a.dataset}.json"
    _common.write_json(out, results)

    print_table(results)
    print(f"\nwrote {out}")


def run(X, Y, Xe, Ye, Xv, Yv, name, seed, a):
    """One configuration and seed: P@1 after every epoch and the validation-chosen epoch."""
    lsh_kw, adam_kw = CONFIGS[name]
    net = sl.Network(input_dim=X.shape[1],
                     layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax", sampling=sl.LSH(**lsh_kw))],
                     optimizer=sl.Adam(**adam_kw), seed=seed, threads=a.threads)
    if name.startswith("plateau"):
        return run_plateau(net, X, Y, Xe, Ye, Xv, Yv, seed, a, name)
    if name.startswith("fit-"):
        return run_fit(net, X, Y, Xe, Ye, seed, a, name)
    lr0 = net.optimizer.lr
    curve, train_s = [], 0.0
    for epoch in range(1, a.epochs + 1):
        if name in SCHEDULES:
            net.set_learning_rate(lr0 * SCHEDULES[name](epoch))
        t0 = time.perf_counter()
        # seed 0 keeps the data order of the earlier single-seed result files
        net.fit(X, Y, epochs=1, batch_size=128, progress=False, seed=epoch + 1000 * seed, holdout=0)
        train_s += time.perf_counter() - t0
        point = {"epoch": epoch, "train_s": round(train_s, 2),
                 "P@1": net.evaluate(Xe, Ye, ks=(1,))["P@1"], "val_P@1": net.evaluate(Xv, Yv, ks=(1,))["P@1"]}
        curve.append(point)
        print(f"[{name}, seed {seed}] epoch {epoch}: P@1 {point['P@1']:.4f}, validation {point['val_P@1']:.4f}, "
              f"{train_s:.0f} s", flush=True)
    return summary(curve, a.epochs * X.shape[0])


def summary(curve, samples):
    """A run's record: its curve, the validation-chosen epoch, the best test P@1 and the training speed."""
    best = max(curve, key=lambda r: (r["val_P@1"], -r["epoch"]))
    return {"curve": curve, "selected": best, "max_P@1": max(r["P@1"] for r in curve),
            "samples_per_s": samples / curve[-1]["train_s"]}


def run_plateau(net, X, Y, Xe, Ye, Xv, Yv, seed, a, name):
    """The library's own schedule: fit watches the validation rows and halves the rate on a plateau (and with
    "rollback" undoes epochs that did not beat the best)."""
    curve = []

    def after_epoch(rec):
        curve.append({"epoch": rec["epoch"], "train_s": round(sum(r["seconds"] for r in hist) + rec["seconds"], 2),
                      "P@1": net.evaluate(Xe, Ye, ks=(1,))["P@1"], "val_P@1": rec["P@1"], "lr": rec["lr"]})
        hist.append(rec)
        print(f"[{name}, seed {seed}] epoch {rec['epoch']}: P@1 {curve[-1]['P@1']:.4f}, validation {rec['P@1']:.4f}, "
              f"lr {rec['lr']:.2e}", flush=True)

    hist = []
    net.fit(X, Y, epochs=a.epochs, batch_size=128, progress=False, seed=1000 * seed, validation_data=(Xv, Yv),
            holdout=0, lr_plateau=0.5, rollback="rollback" in name, callback=after_epoch)
    return summary(curve, a.epochs * X.shape[0])


def run_fit(net, X, Y, Xe, Ye, seed, a, name):
    """The library's default path: one fit call that holds out training rows and steers on them. The curve's
    P@1 is each epoch's live weights on the test rows, reported only; val_P@1 is the held-out rows' P@1 that
    fit steers on; "returned_P@1" is the test P@1 of the model fit returns (with the average, the best on the
    held-out rows among every epoch's weights and means)."""
    curve, train_s = [], 0.0

    def after_epoch(rec):
        nonlocal train_s
        train_s += rec["seconds"]
        curve.append({"epoch": rec["epoch"], "train_s": round(train_s, 2), "P@1": rec["P@1"],
                      "val_P@1": rec["holdout_P@1"], "lr": rec["lr"], "rolled_back": bool(rec.get("rolled_back"))})
        mean = (f", mean of {rec['averaged']} epochs {rec['average_P@1']:.4f}" if rec.get("averaged", 1) > 1 else "")
        print(f"[{name}, seed {seed}] epoch {rec['epoch']}: P@1 {rec['P@1']:.4f}, held-out {rec['holdout_P@1']:.4f}"
              f"{mean}, lr {rec['lr']:.2e}{', rolled back' if rec.get('rolled_back') else ''}", flush=True)

    hist = net.fit(X, Y, epochs=a.epochs, progress=False, seed=seed, validation_data=(Xe, Ye), callback=after_epoch,
                   average=name == "fit-average")
    out = summary(curve, a.epochs * (X.shape[0] - hist[0]["holdout_n"]))
    out["returned_P@1"] = net.evaluate(Xe, Ye, ks=(1,))["P@1"]
    last = hist[-1]
    out["returned_epoch"] = last.get("model_epoch", last["best_epoch"])
    out["returned_averaged"] = last.get("model_averaged", 1)
    print(f"[{name}, seed {seed}] returned epoch {out['returned_epoch']} (mean of {out['returned_averaged']}): "
          f"P@1 {out['returned_P@1']:.4f}", flush=True)
    return out


if __name__ == "__main__":
    main()
