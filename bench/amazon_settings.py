"""LSH settings of libslide's batch-shared output layer on the Amazon-670K-shaped benchmark: training
throughput and P@1 against wall time and against samples seen, for several (tables, bucket size, active
fraction) settings.

    python bench/amazon_settings.py --minutes 2.5 --threads 2

Every setting is one run of

    python bench/vs_torch.py --dataset amazon --impls libslide-shared --tables T --bucket-size B --active A

with the same data (490,449 generated training points), network, learning rate, shuffling, evaluation rows
(--eval-seed) and protocol; the runs follow one another. Settings are "tables:bucket:active" strings.
What the table shows:
  samples/s       training samples per second of training wall time (evaluation excluded);
  P@1 at N s      exact P@1 on the evaluation rows after N seconds of training;
  P@1 at N M      P@1 after N million training samples, interpolated linearly between checkpoints: how
                  much the negatives a setting retrieves teach per sample, independent of its speed.
Writes bench/results/amazon_settings.json (every run's curve) and prints a markdown table.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import _common

HERE = Path(__file__).resolve().parent
DEFAULT_SETTINGS = ["50:128:0.005", "25:128:0.0025", "25:32:0.0025", "16:32:0.002", "16:32:0.0015"]


def parse_setting(text):
    try:
        t, b, a = text.split(":")
        return int(t), int(b), float(a)
    except ValueError:
        raise argparse.ArgumentTypeError(f"setting {text!r}: expected tables:bucket:active, e.g. 16:32:0.002")


def p1_at(curve, key, x):
    """P@1 at x (train_s or samples) interpolated between checkpoints; None outside [first checkpoint after
    the start, last checkpoint] (before the first one there is nothing to interpolate from)."""
    xs = np.array([c[key] for c in curve[1:]], float)
    ys = np.array([c["P@1"] for c in curve[1:]], float)
    if xs.size == 0 or x < xs[0] or x > xs[-1]:
        return None
    return float(np.interp(x, xs, ys))


def print_table(runs, minutes, eval_every):
    checkpoints_s = list(np.arange(eval_every, minutes * 60 + 1e-9, eval_every))
    million = [0.5, 1.0, 1.5, 2.0]
    head = ["tables", "bucket", "active", "samples/s"] + [f"P@1 at {t:.0f} s" for t in checkpoints_s] + \
        [f"P@1 at {m:g}M" for m in million]
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in runs:
        cells = [str(r["tables"]), str(r["bucket_size"]), f"{r['active'] * 100:g}%", f"{r['samples_per_s']:,.0f}"]
        for t in checkpoints_s:
            v = next((c["P@1"] for c in r["curve"] if abs(c["train_s"] - t) < 1), None)
            cells.append("-" if v is None else f"{v:.4f}")
        for m in million:
            v = p1_at(r["curve"], "samples", m * 1e6)
            cells.append("-" if v is None else f"{v:.4f}")
        print("| " + " | ".join(cells) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", nargs="+", type=parse_setting, default=[parse_setting(s) for s in DEFAULT_SETTINGS])
    p.add_argument("--minutes", type=float, default=2.5)
    _common.add_threads_arg(p)
    p.add_argument("--eval-every", type=float, default=30.0)
    p.add_argument("--eval-seed", type=int, default=0)
    _common.add_out_arg(p, "amazon_settings.json")
    p.add_argument("--table-from", metavar="JSON", help="only print the table of an earlier run's JSON")
    a = p.parse_args()
    if a.table_from:
        done = json.loads(Path(a.table_from).read_text())
        print_table(done["runs"], done["minutes"], a.eval_every)
        print(f"\n{done['machine']}, {done['threads']} threads; started {done['started']}; {done['command']}")
        return

    started = _common.utc_now()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for tables, bucket, active in a.settings:
            out = Path(tmp) / f"{tables}_{bucket}_{active}.json"
            cmd = [sys.executable, str(HERE / "vs_torch.py"), "--dataset", "amazon", "--impls", "libslide-shared",
                   "--minutes", str(a.minutes), "--threads", str(a.threads), "--eval-every", str(a.eval_every),
                   "--eval-seed", str(a.eval_seed), "--tables", str(tables), "--bucket-size", str(bucket),
                   "--active", str(active), "--out", str(out)]
            print(f"=== tables {tables}, bucket {bucket}, active {active}: {' '.join(cmd[1:])}", flush=True)
            subprocess.run(cmd, check=True)
            run = json.loads(out.read_text())["runs"][0]
            runs.append({"tables": tables, "bucket_size": bucket, "active": active, "samples_per_s":
                         run["samples_per_s"], "peak_rss_mib": run.get("peak_rss_mib"), "curve": run["curve"]})

    print_table(runs, a.minutes, a.eval_every)
    result = {**_common.result_header(a.threads), "started": started, "minutes": a.minutes,
              "eval_seed": a.eval_seed, "runs": runs}
    print(f"\n{result['machine']}; started {started} UTC; load average at the end "
          f"{result['machine_info']['load_average']}")
    _common.write_json(a.out, result)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
