"""debdeps (Debian package descriptions -> dependencies): P@1/P@5 per epoch, speed, active neurons.

    python bench/debdeps.py --threads 2 --epochs 5 --configs simhash dwta dense

Network: 33,150 -> 128 ReLU -> 17,836 softmax. "simhash"/"dwta": output layer LSH-sampled with that
backend (k=6, 50 tables, bucket 128, 5% active), Adam lr 3e-3; "<backend>-shared": the same with one
active set per batch (the batch's labels plus its most retrieved neurons, up to 5%). "dense": every
output neuron computed, same optimizer. Evaluation after every epoch: exact top-5 over all outputs on the whole test file
(10,797 points). Writes bench/results/debdeps.json and prints a markdown table.
"""

import argparse

import _common
import libslide as sl


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_data_arg(p)
    p.add_argument("--configs", nargs="+", default=["simhash", "simhash-shared", "dwta", "dwta-shared", "dense"],
                   help="backend names, optionally with -shared (batch-shared active set), or dense")
    p.add_argument("--epochs", type=int, default=5)
    _common.add_threads_arg(p)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--active", type=float, default=0.05)
    _common.add_out_arg(p, "debdeps.json")
    a = p.parse_args()

    X, Y, Xt, Yt = _common.load_debdeps(a.data)
    results = {**_common.result_header(a.threads), "runs": {}}
    for name in a.configs:
        backend, shared = (name[:-7], True) if name.endswith("-shared") else (name, False)
        sampling = None if name == "dense" else _common.retrieval_lsh(backend, k=6, tables=50, bucket_size=128, active=a.active,
                                                       batch_shared=shared)
        net = sl.Network(input_dim=X.shape[1],
                         layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax", sampling=sampling)],
                         optimizer=sl.Adam(lr=a.lr), seed=0, threads=a.threads)
        hist = net.fit(X, Y, epochs=a.epochs, batch_size=128, validation_data=(Xt, Yt), progress=False, seed=0,
                       holdout=0, callback=lambda r, n=name: print(
                           f"{n:8s} epoch {r['epoch']}: P@1 {r['P@1']:.4f} P@5 {r['P@5']:.4f} "
                           f"{r['samples_per_s']:,.0f} samples/s {r['seconds']:.1f} s/epoch "
                           f"active {r['mean_active'][-1]:,.0f}", flush=True))
        results["runs"][name] = hist
    _common.write_json(a.out, results)
    print("\n| output layer | epoch | P@1 | P@5 | samples/s | s/epoch | active output neurons |")
    print("|---|---|---|---|---|---|---|")
    for name, hist in results["runs"].items():
        for r in hist:
            print(f"| {name} | {r['epoch']} | {r['P@1']:.4f} | {r['P@5']:.4f} | {r['samples_per_s']:,.0f} | "
                  f"{r['seconds']:.1f} | {r['mean_active'][-1]:,.0f} |")


if __name__ == "__main__":
    main()
