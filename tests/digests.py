"""Bit-exact fingerprints of training, for refactors that must not change a single bit.

Trains a fixed set of configurations for a fixed number of batches on generated data and hashes the
saved model file (weights, biases, optimizer moments, step count, tables), the exact and sampled top-5
predictions, and P@1. Every LSH and optimizer field is spelled out, so a change of library defaults does
not change these runs.

    python tests/digests.py --record tests/digests.json   # before a behaviour-preserving change
    python tests/digests.py --check tests/digests.json    # after it: exit 1 on any difference

A deliberate change of the numerics (a new optimizer rule, a new initialisation) re-records the file in
the same commit and says so. Kernels are chosen per CPU, so a record only applies on the instruction set
it names; tests/test_digests.py skips elsewhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile

import numpy as np


def _lsh(**kw):
    import libslide as sl

    base = dict(hash="dwta", k=6, tables=8, bucket_size=32, active=0.1, min_active=8, rebuild_every=5,
                insertion="fifo", bin_size=8, bucket_bits=None, rule="topk", threshold=2, rebuild_growth=1.0,
                rehash_touched=False, batch_shared=False, random_fraction=0.0, logq_correction=False, rescore=1)
    base.update(kw)
    return sl.LSH(**base)


def _configs():
    """name -> (hidden layers, output LSH or None, output storage, optimizer)."""
    import libslide as sl

    adam = sl.Adam(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, catch_up=False)
    return {
        "per_sample_simhash": ([], _lsh(hash="simhash", k=4), "float32", adam),
        "per_sample_dwta_random": ([], _lsh(random_fraction=0.25), "float32", adam),
        "shared_dwta": ([], _lsh(batch_shared=True), "float32", adam),
        "simhash_mips_rehash": ([], _lsh(hash="simhash-mips", k=4, rehash_touched=True, rebuild_every=7,
                                         rebuild_growth=2.0), "float32", adam),
        "shared_dwta_rehash_decay": ([], _lsh(batch_shared=True, rehash_touched=True, rule="threshold"),
                                     "float32", sl.Adam(lr=2e-3, weight_decay=0.1, catch_up=False)),
        "bf16_shared": ([], _lsh(batch_shared=True, random_fraction=0.5), "bfloat16", adam),
        "sampled_hidden_sgd": ([_lsh(hash="wta", k=3, active=0.25, rule="union")], _lsh(hash="minhash", k=3),
                               "float32", sl.SGD(lr=0.05, weight_decay=0.0, catch_up=False)),
        "sampled_hidden_rescore": ([_lsh(hash="simhash", k=3, tables=20, active=0.1, rescore=4)], None,
                                   "float32", adam),
        "dense_output": ([], None, "float32", adam),
        "shared_dwta_catch_up_logq": ([], _lsh(batch_shared=True, random_fraction=0.5, logq_correction=True),
                                      "float32", sl.Adam(lr=2e-3, weight_decay=0.1, catch_up=True)),
        "per_sample_uniform_catch_up_bf16": ([], _lsh(random_fraction=1.0, logq_correction=True), "bfloat16",
                                             sl.Adam(lr=2e-3, catch_up=True)),
        "dense_catch_up_sgd": ([], None, "float32", sl.SGD(lr=0.05, weight_decay=0.2, catch_up=True)),
    }


def _data():
    from libslide.datasets import make_extreme

    return make_extreme(n_train=1500, n_test=300, n_features=400, n_labels=300, seed=3)


def run(threads: int = 2) -> dict:
    import libslide as sl

    Xtr, Ytr, Xte, Yte = _data()
    out = {"isa": sl.kernel_isa(), "configs": {}}
    for name, (hidden, lsh, storage, opt) in _configs().items():
        layers = [sl.Layer(48, "relu", sampling=h) for h in hidden] or [sl.Layer(48, "relu")]
        layers.append(sl.Layer(Ytr.shape[1], "softmax", sampling=lsh, storage=storage))
        net = sl.Network(Xtr.shape[1], layers, optimizer=opt, seed=11, threads=threads)
        order = np.random.default_rng(5).permutation(Xtr.shape[0])
        for b in range(40):
            rows = order[(b * 64) % 1472:(b * 64) % 1472 + 64]
            net.train_batch(Xtr, Ytr, rows=rows)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.slide")
            net.save(path)
            with open(path, "rb") as f:
                model = hashlib.sha256(f.read()).hexdigest()
        exact = net.predict_topk(Xte, k=5, mode="exact")
        sampled = net.predict_topk(Xte, k=5, mode="sampled") if lsh is not None else exact
        h = lambda t: hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in t)).hexdigest()
        out["configs"][name] = {
            "model_file": model,
            "exact_top5": h(exact),
            "sampled_top5": h(sampled),
            "p1": round(float(net.evaluate(Xte, Yte, ks=(1,))["P@1"]), 6),
            "steps": net.steps,
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", metavar="JSON")
    g.add_argument("--check", metavar="JSON")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    got = run(a.threads)
    if a.record:
        with open(a.record, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"recorded {len(got['configs'])} configurations ({got['isa']}) in {a.record}")
        return 0
    with open(a.check) as f:
        want = json.load(f)
    if want["isa"] != got["isa"]:
        print(f"record is for {want['isa']}, this process uses {got['isa']}: not comparable")
        return 2
    bad = [(n, k) for n, c in want["configs"].items() for k, v in c.items() if got["configs"].get(n, {}).get(k) != v]
    for n, k in bad:
        print(f"DIFFERS {n}.{k}: recorded {want['configs'][n][k]}, now {got['configs'].get(n, {}).get(k)}")
    print("identical" if not bad else f"{len(bad)} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
