"""Learning-rate sweep for the PyTorch side of bench/vs_torch.py, so the races compare libslide's defaults
against PyTorch at its best learning rate rather than at one we picked.

    python bench/torch_lr.py --dataset debdeps --lrs 1e-3 3e-3 1e-2 --minutes 2 --threads 2

Each learning rate is one vs_torch.py run (same data, network, threads, evaluation and validation rows,
early stopping on the validation rows) of --impls; the score of a run is its best-validation checkpoint's
validation P@1 (the evaluation rows are not used to choose). Writes bench/results/torch_lr_<dataset>.json
with every run's summary and the chosen learning rate per implementation, and prints a table. The sweep
budget (--minutes) is shorter than the races': a learning rate that wins at 2 minutes is the one we use at
4, which favours larger rates when a set is still rising at the end of the race (revdict); the table says
which rates were tried so anyone can extend it.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _common


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="debdeps")
    p.add_argument("--impls", nargs="+", default=["torch-sampled", "torch-full"])
    p.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 3e-3, 1e-2])
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=float, default=10.0)
    p.add_argument("--eval-sample", type=int, default=5000)
    p.add_argument("--val-sample", type=int, default=2000)
    p.add_argument("--eval-seed", type=int, default=1)
    p.add_argument("--out", default=None, help="default bench/results/torch_lr_<dataset>.json")
    a = p.parse_args()

    here = Path(__file__).resolve().parent
    rows = []
    with tempfile.TemporaryDirectory(prefix="torch_lr_") as tmp:
        for lr in a.lrs:
            out = Path(tmp) / f"lr_{lr:g}.json"
            cmd = [sys.executable, str(here / "vs_torch.py"), "--dataset", a.dataset, "--impls", *a.impls,
                   "--lr", str(lr), "--minutes", str(a.minutes), "--threads", str(a.threads),
                   "--eval-every", str(a.eval_every), "--eval-sample", str(a.eval_sample),
                   "--val-sample", str(a.val_sample), "--eval-seed", str(a.eval_seed), "--out", str(out)]
            print("$", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True)
            res = json.loads(out.read_text())
            for r in res["runs"]:
                if "failed" in r:
                    rows.append({"impl": r["impl"], "lr": lr, "failed": r["failed"]})
                    continue
                best = max(r["curve"], key=lambda c: (c["val_P@1"], -c["train_s"]))
                rows.append({"impl": r["impl"], "lr": lr, "samples_per_s": r["samples_per_s"],
                             "best_val_P@1": best["val_P@1"], "at_s": best["train_s"],
                             "selected_P@1": r["selected_P@1"], "final_P@1": r["final_P@1"]})
            machine = res["machine"]

    chosen = {}
    for impl in a.impls:
        ok = [r for r in rows if r["impl"] == impl and "failed" not in r]
        if ok:
            chosen[impl] = max(ok, key=lambda r: r["best_val_P@1"])["lr"]
    result = {"command": _common.command_line(), "machine": machine, "threads": a.threads,
              "dataset": a.dataset, "args": vars(a), "runs": rows, "chosen_lr": chosen}
    out = Path(a.out or _common.RESULTS / f"torch_lr_{a.dataset}.json")
    _common.write_json(out, result)

    print(f"\n{result['command']}\n{machine}, {a.threads} threads, {a.minutes} min per run\n")
    print("| implementation | lr | samples/s | best validation P@1 (at s) | its evaluation P@1 | final P@1 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "failed" in r:
            print(f"| {r['impl']} | {r['lr']:g} | failed | | | |")
            continue
        mark = " (chosen)" if chosen.get(r["impl"]) == r["lr"] else ""
        print(f"| {r['impl']} | {r['lr']:g}{mark} | {r['samples_per_s']:,.0f} | {r['best_val_P@1']:.4f} "
              f"({r['at_s']:.0f} s) | {r['selected_P@1']:.4f} | {r['final_P@1']:.4f} |")


if __name__ == "__main__":
    main()
