"""Training throughput with libgomp's default (spinning) wait policy against OMP_WAIT_POLICY=PASSIVE.

    python bench/omp_wait_policy.py --threads 2 --repeats 3

libslide's Python package sets OMP_WAIT_POLICY=PASSIVE unless the variable is already set. This script
runs the same short training job (debdeps, 33,150 -> 128 ReLU -> 17,836 SimHash-sampled softmax, 150
batches of 128) in fresh subprocesses, alternating ACTIVE (libgomp's spin-then-sleep default behaviour,
forced) and PASSIVE, and reports samples/s and the load average seen. Run it on an idle machine and on
a busy one: the difference is largest when other processes compete for the cores.
Writes bench/results/omp_wait_policy.json.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

JOB = r"""
import sys, time
import numpy as np
import libslide as sl
X, Y = sl.load_xc(sys.argv[1] + "/train.txt.gz")
net = sl.Network(input_dim=X.shape[1], layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax",
                 sampling=sl.LSH("simhash", active=0.05))], optimizer=sl.Adam(lr=3e-3), seed=0, threads=int(sys.argv[2]))
rows = np.arange(X.shape[0])
t = time.perf_counter()
for s in range(0, 128 * 150, 128):
    net.train_batch(X, Y, rows=rows[s:s + 128])
print(128 * 150 / (time.perf_counter() - t))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "debdeps"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "results" / "omp_wait_policy.json"))
    a = p.parse_args()
    runs = []
    for r in range(a.repeats):
        for policy in ("ACTIVE", "PASSIVE"):
            env = dict(os.environ, OMP_WAIT_POLICY=policy)
            out = subprocess.run([sys.executable, "-c", JOB, a.data, str(a.threads)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            load = os.getloadavg()[0]
            runs.append({"repeat": r, "policy": policy, "samples_per_s": float(out.strip().splitlines()[-1]),
                         "load_average_1min": load})
            print(f"{policy:8s} {runs[-1]['samples_per_s']:8,.0f} samples/s  (load average {load:.2f})", flush=True)
    result = {"command": " ".join(["python"] + sys.argv), "threads": a.threads, "runs": runs}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
