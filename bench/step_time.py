"""Time per training batch of a deep network with sampled hidden layers, and the time to create it: the
cost side of bench/wide.py without its hour of training and evaluation, for comparing selection modes
and library changes quickly.

    python bench/step_time.py --threads 2 --width 8192 --modes dense exact lsh --batches 16

Network: 784 pixels -> 3 x --width ReLU -> 10 softmax (as bench/wide.py), Adam lr 1e-3, batch 128, seed 0,
Fashion-MNIST's first 50,000 training images in one shuffled order. Modes:

  dense   no layer sampled (every neuron computed)
  exact   LSH(active=--fraction, hash="exact") on each hidden layer: each sample's highest pre-activations,
          all of them computed for the batch at once
  lsh     LSH(active=--fraction, hash="simhash") on each hidden layer: SimHash retrieval with the
          automatic hidden-layer table settings and rescoring (LSH(active=--fraction) alone is "exact"
          since 0.5)

For each mode: seconds to create the network (weights and, for lsh, the initial table builds), then the
wall time of each of --batches training batches (train_batch, the rows already marshalled); reports the
median ms per batch and samples/s, then the images per second of exact prediction (every neuron computed,
the evaluation of bench/wide.py) on 2,048 held-out images. Nothing here asserts a time. Needs the Debian package
dataset-fashion-mnist. Writes bench/results/step_time_<width>.json (or --out).
"""

import argparse
import time

import numpy as np

import _common

INPUT, CLASSES, N_HIDDEN, N_TRAIN, BATCH = 784, 10, 3, 50000, 128
PREDICT_IMAGES = 2048  # the first held-out training images, scored with every neuron computed


def sampling_of(sl, mode, fraction):
    return {"dense": None, "exact": sl.LSH(active=fraction, hash="exact"), "lsh": sl.LSH(active=fraction, hash="simhash")}[mode]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_threads_arg(p)
    p.add_argument("--width", type=int, default=8192, help="units per hidden layer")
    p.add_argument("--modes", nargs="+", choices=("dense", "exact", "lsh"), default=["exact", "lsh"])
    p.add_argument("--fraction", type=float, default=0.05, help="active share of each sampled hidden layer")
    p.add_argument("--batches", type=int, default=16)
    _common.add_out_arg(p, None)
    a = p.parse_args()
    if a.width < 1 or a.batches < 1 or not 0 < a.fraction <= 1:
        p.error("--width and --batches must be positive, --fraction in (0, 1]")
    import libslide as sl
    from libslide._inputs import features, labels

    X, y, _, _ = sl.datasets.load_fashion_mnist()
    xv, yv = features(X[:N_TRAIN], INPUT), labels(y[:N_TRAIN], N_TRAIN, CLASSES)
    order = np.random.default_rng(0).permutation(N_TRAIN)
    X_pred = np.ascontiguousarray(X[N_TRAIN:N_TRAIN + PREDICT_IMAGES], dtype=np.float32)
    res = {**_common.result_header(a.threads), "libslide": sl.__version__, "kernel_isa": sl.kernel_isa(),
           "settings": vars(a), "runs": []}
    print(res["machine"], flush=True)
    for mode in a.modes:
        t0 = time.perf_counter()
        layers = [sl.Layer(a.width, activation="relu", sampling=sampling_of(sl, mode, a.fraction))
                  for _ in range(N_HIDDEN)] + [sl.Layer(CLASSES, activation="softmax")]
        net = sl.Network(input_dim=INPUT, layers=layers, optimizer=sl.Adam(lr=1e-3), seed=0, threads=a.threads)
        create_s = time.perf_counter() - t0
        times = []
        for b in range(a.batches):
            rows = order[(b * BATCH) % (N_TRAIN - BATCH):][:BATCH]
            t = time.perf_counter()
            net.train_batch(xv, yv, rows=rows)
            times.append(time.perf_counter() - t)
        med = float(np.median(times))
        t = time.perf_counter()
        net.predict_topk(X_pred, k=1, mode="exact")
        predict_s = time.perf_counter() - t
        run = {"mode": mode, "create_s": create_s, "batch_ms": [1000 * t for t in times], "median_ms": 1000 * med,
               "samples_per_s": BATCH / med, "mean_active": [net.layers[i].mean_active for i in range(N_HIDDEN)],
               "predict_images": len(X_pred), "predict_exact_images_per_s": len(X_pred) / predict_s}
        res["runs"].append(run)
        print(f"{mode:6s} create {create_s:6.1f} s; median {run['median_ms']:7.1f} ms per batch of {BATCH} "
              f"({run['samples_per_s']:,.0f} samples/s); exact prediction "
              f"{run['predict_exact_images_per_s']:,.0f} images/s", flush=True)
        del net
    out = a.out or str(_common.RESULTS / f"step_time_{a.width}.json")
    print("wrote", _common.write_json(out, res))


if __name__ == "__main__":
    main()
