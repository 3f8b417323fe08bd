"""bfloat16 against float32 storage of the sampled output layer: accuracy, speed and memory.

    python bench/bf16.py --threads 2 --epochs 5

debdeps (/work/shared/data/debdeps): 33,150 features -> 128 ReLU -> 17,836 softmax, the output layer
LSH-sampled with SimHash (k=6, 50 tables, bucket 128, 5% active), Adam lr 3e-3, batch 128, the settings
of bench/debdeps.py. For each active-set mode (per-sample, batch-shared) the same network (same seed, same
data order) is trained with float32 and with bfloat16 output-layer storage, the two runs back to back.
After every epoch: P@1 and P@5 by exact top-5 over all outputs on the whole test file (10,797 points).
Also net.memory_bytes() of both, and of the Amazon-670K-shaped network (135,909 -> 128 -> 670,091, Adam;
built only, not trained). The load average is recorded around every run (the machine may be shared).
Writes bench/results/bf16.json and prints markdown tables.
"""

import argparse

import _common
import libslide as sl


def amazon_memory(storage, threads):
    """memory_bytes of the Amazon-670K-shaped network with the given output storage (no data needed)."""
    net = sl.Network(input_dim=135909,
                     layers=[sl.Layer(128), sl.Layer(670091, activation="softmax", storage=storage,
                                                     sampling=_common.retrieval_lsh("dwta", k=6, tables=50, bucket_size=128,
                                                                     active=0.005))],
                     optimizer=sl.Adam(lr=1e-3), seed=0, threads=threads)
    return net.memory_bytes()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_data_arg(p)
    p.add_argument("--epochs", type=int, default=5)
    _common.add_threads_arg(p)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--active", type=float, default=0.05)
    p.add_argument("--hash", default="simhash")
    p.add_argument("--modes", nargs="+", default=["per-sample", "shared"], choices=["per-sample", "shared"])
    p.add_argument("--no-amazon", action="store_true", help="skip the Amazon-670K-shaped memory figure")
    _common.add_out_arg(p, "bf16.json")
    a = p.parse_args()

    X, Y, Xt, Yt = _common.load_debdeps(a.data)
    results = {**_common.result_header(a.threads), "runs": {}, "amazon_shape": {}}
    for mode in a.modes:
        for storage in ("float32", "bfloat16"):
            name = f"{mode}/{storage}"
            net = sl.Network(input_dim=X.shape[1],
                             layers=[sl.Layer(128),
                                     sl.Layer(Y.shape[1], activation="softmax", storage=storage,
                                              sampling=_common.retrieval_lsh(a.hash, k=6, tables=50, bucket_size=128,
                                                              active=a.active, batch_shared=mode == "shared"))],
                             optimizer=sl.Adam(lr=a.lr), seed=0, threads=a.threads)
            load_before = _common.load_average_1min()
            hist = net.fit(X, Y, epochs=a.epochs, batch_size=128, validation_data=(Xt, Yt), progress=False, seed=0,
                           holdout=0, callback=lambda r, n=name: print(
                               f"{n:20s} epoch {r['epoch']}: P@1 {r['P@1']:.4f} P@5 {r['P@5']:.4f} "
                               f"{r['samples_per_s']:,.0f} samples/s {r['seconds']:.1f} s/epoch", flush=True))
            results["runs"][name] = {"mode": mode, "storage": storage, "memory_bytes": net.memory_bytes(),
                                     "load_before": load_before, "load_after": _common.load_average_1min(),
                                     "epochs": hist}
    if not a.no_amazon:
        for storage in ("float32", "bfloat16"):
            results["amazon_shape"][storage] = amazon_memory(storage, a.threads)
    results["finished_utc"] = _common.utc_now()
    _common.write_json(a.out, results)

    print(f"\n{results['machine']}, {results['started_utc']} - {results['finished_utc']} UTC")
    print("\n| active sets | storage | P@1 by epoch | best P@1 | P@1 / P@5 (last epoch) | samples/s (mean) "
          "| memory_bytes | load avg before / after |")
    print("|---|---|---|---|---|---|---|---|")
    for name, run in results["runs"].items():
        h = run["epochs"]
        sps = sum(r["samples_per_s"] for r in h) / len(h)
        by_epoch = " / ".join(format(r["P@1"], ".3f") for r in h)
        print(f"| {run['mode']} | {run['storage']} | {by_epoch} | "
              f"{max(r['P@1'] for r in h):.3f} | {h[-1]['P@1']:.4f} / {h[-1]['P@5']:.4f} | {sps:,.0f} | "
              f"{run['memory_bytes'] / 2**20:,.1f} MiB | {run['load_before']:.2f} / {run['load_after']:.2f} |")
    if results["amazon_shape"]:
        m = results["amazon_shape"]
        print(f"\nAmazon-670K shape, memory_bytes: float32 {m['float32'] / 2**20:,.0f} MiB, "
              f"bfloat16 {m['bfloat16'] / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
