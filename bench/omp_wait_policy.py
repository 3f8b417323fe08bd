"""Training throughput under libgomp's wait policies: ACTIVE (spin), PASSIVE (sleep at once), and PASSIVE
with a bounded spin (GOMP_SPINCOUNT).

    python bench/omp_wait_policy.py --threads 2 --repeats 3
    python bench/omp_wait_policy.py --job amazon --policies ACTIVE PASSIVE PASSIVE:30000 --repeats 3
    python bench/omp_wait_policy.py --job amazon --burn 2 --repeats 3      # with 2 busy processes running

libslide's Python package sets OMP_WAIT_POLICY=PASSIVE and GOMP_SPINCOUNT=3000 unless OMP_WAIT_POLICY is
already set. This script runs the same short training job in fresh subprocesses, alternating the --policies
("POLICY" or "POLICY:SPINCOUNT"; GOMP_SPINCOUNT is removed from the environment for plain "POLICY"), and
reports samples/s and the load average seen. Jobs: "debdeps" (33,150 -> 128 ReLU -> 17,836
SimHash-sampled softmax, 150 batches of 128) and "amazon" (20,000 generated Amazon-670K-shaped rows,
135,909 -> 128 ReLU -> 670,091 softmax with bench/vs_torch.py's batch-shared LSH settings, 20 untimed
and 300 timed batches). --burn N keeps N busy-looping processes running during the measurements, to
stand for other work on the cores. Writes bench/results/omp_wait_policy_<job>.json
(omp_wait_policy_<job>_burn<N>.json with --burn N), or --out.
"""

import argparse
import os
import subprocess
import sys

import _common

JOBS = {}
JOBS["debdeps"] = r"""
import sys, time
import numpy as np
import libslide as sl
X, Y = sl.load_xc(sys.argv[1] + "/train.txt.gz")
net = sl.Network(input_dim=X.shape[1], layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax",
                 sampling=sl.LSH("simhash", active=0.05, batch_shared=False, random_fraction=0.0, logq_correction=False))], optimizer=sl.Adam(lr=3e-3), seed=0, threads=int(sys.argv[2]))
rows = np.arange(X.shape[0])
t = time.perf_counter()
for s in range(0, 128 * 150, 128):
    net.train_batch(X, Y, rows=rows[s:s + 128])
print(128 * 150 / (time.perf_counter() - t))
"""
JOBS["amazon"] = r"""
import sys, time
import numpy as np
import libslide as sl
X, Y, _, _ = sl.datasets.amazon670k_shape(n_train=20000, n_test=1, seed=0)
lsh = sl.LSH("dwta", k=6, tables=16, bucket_size=32, active=0.002, batch_shared=True, rehash_touched=True,
             rebuild_growth=2.0, random_fraction=0.0, logq_correction=False)
net = sl.Network(input_dim=X.shape[1], layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax",
                 sampling=lsh)], optimizer=sl.Adam(lr=1e-3), seed=0, threads=int(sys.argv[2]))
rows = np.random.default_rng(0).permutation(X.shape[0])
for s in range(0, 128 * 20, 128):
    net.train_batch(X, Y, rows=rows[s:s + 128])
t = time.perf_counter()
for s in range(128 * 20, 128 * 320, 128):
    net.train_batch(X, Y, rows=rows[s % 19968:s % 19968 + 128])
print(128 * 300 / (time.perf_counter() - t))
"""
BURN = "while True: pass"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_data_arg(p)
    _common.add_threads_arg(p)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--job", choices=sorted(JOBS), default="debdeps")
    p.add_argument("--policies", nargs="+", default=["ACTIVE", "PASSIVE"],
                   help='"POLICY" or "POLICY:GOMP_SPINCOUNT", e.g. PASSIVE:30000')
    p.add_argument("--burn", type=int, default=0, help="busy-looping processes kept running meanwhile")
    _common.add_out_arg(p, None)
    a = p.parse_args()
    # imports libslide, which sets OMP_WAIT_POLICY and GOMP_SPINCOUNT when unset; every child below gets
    # both from its --policies entry instead
    header = _common.result_header(a.threads)
    runs = []
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(a.burn)]
    try:
        for r in range(a.repeats):
            for spec in a.policies:
                policy, _, spin = spec.partition(":")
                env = dict(os.environ, OMP_WAIT_POLICY=policy)
                env.pop("GOMP_SPINCOUNT", None)
                if spin:
                    env["GOMP_SPINCOUNT"] = spin
                out = subprocess.run([sys.executable, "-c", JOBS[a.job], a.data, str(a.threads)], env=env,
                                     check=True, capture_output=True, text=True).stdout
                load = _common.load_average_1min()
                runs.append({"repeat": r, "policy": spec, "samples_per_s": float(out.strip().splitlines()[-1]),
                             "load_average_1min": load})
                print(f"{spec:14s} {runs[-1]['samples_per_s']:8,.0f} samples/s  (load average {load:.2f})",
                      flush=True)
    finally:
        for b in burners:
            b.kill()
    result = {**header, "job": a.job, "burn": a.burn, "runs": runs}
    out = a.out or _common.RESULTS / f"omp_wait_policy_{a.job}{f'_burn{a.burn}' if a.burn else ''}.json"
    print(f"wrote {_common.write_json(out, result)}")


if __name__ == "__main__":
    main()
