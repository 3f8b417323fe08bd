"""One epoch on a generated Amazon-670K-shaped data set: throughput, P@1 and peak memory.

    python bench/amazon_shape.py --threads 2 --n-train 100000 --hash dwta

Data: libslide.datasets.amazon670k_shape (135,909 features, 670,091 labels, ~75 non-zeros and 1-5
labels per point). Network: 135,909 -> 128 ReLU -> 670,091 softmax, output LSH-sampled, Adam.
Evaluation: exact top-5 over all 670,091 outputs on the whole generated test split (or --eval-sample
random rows). Peak memory is the process's maximum resident set size (ru_maxrss), data included.
Writes bench/results/amazon_shape_<hash>.json (amazon_shape_<hash>_shared.json with --shared).
"""

import argparse
import time

import _common
import libslide as sl
from _common import peak_rss_mib as rss_mib


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=100000)
    p.add_argument("--n-test", type=int, default=20000)
    p.add_argument("--hash", default="dwta")
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--tables", type=int, default=50)
    p.add_argument("--active", type=float, default=0.005)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    _common.add_threads_arg(p)
    p.add_argument("--shared", action="store_true", help="batch-shared active set (LSH(batch_shared=True))")
    p.add_argument("--eval-sample", type=int, default=None)
    _common.add_out_arg(p, None)
    a = p.parse_args()

    t0 = time.perf_counter()
    X, Y, Xt, Yt = _common.load_amazon_shape(n_train=a.n_train, n_test=a.n_test, seed=0)
    gen_s = time.perf_counter() - t0
    print(f"data: {X.shape[0]:,} train / {Xt.shape[0]:,} test, {X.shape[1]:,} features, {Y.shape[1]:,} labels, "
          f"{X.nnz / X.shape[0]:.1f} nnz and {Y.nnz / Y.shape[0]:.2f} labels per point ({gen_s:.1f} s); "
          f"RSS so far {rss_mib():,.0f} MiB", flush=True)
    rss_data = rss_mib()
    net = sl.Network(
        input_dim=X.shape[1],
        layers=[sl.Layer(128), sl.Layer(Y.shape[1], activation="softmax",
                                        sampling=_common.retrieval_lsh(a.hash, k=a.k, tables=a.tables, bucket_size=128,
                                                        active=a.active, batch_shared=a.shared))],
        optimizer=sl.Adam(lr=a.lr), seed=0, threads=a.threads)
    print(f"network: {net!r}, memory_bytes {net.memory_bytes() / 2**20:,.0f} MiB", flush=True)
    records = []

    def show(r):
        print(f"epoch {r['epoch']}: {r['samples_per_s']:,.0f} samples/s ({r['seconds']:.1f} s), "
              f"active {r['mean_active'][-1]:,.0f}, loss {r['loss']:.3f}, P@1 {r['P@1']:.4f}, P@5 {r['P@5']:.4f} "
              f"(n={r['n']:,}), peak RSS {rss_mib():,.0f} MiB", flush=True)
        records.append(dict(r, peak_rss_mib=rss_mib()))

    net.fit(X, Y, epochs=a.epochs, batch_size=a.batch, validation_data=(Xt, Yt), eval_sample=a.eval_sample,
            progress=False, seed=0, holdout=0, callback=show)
    result = {
        **_common.result_header(a.threads),
        "args": vars(a),
        "data_rss_mib": rss_data,
        "network_memory_bytes": net.memory_bytes(),
        "peak_rss_mib": rss_mib(),
        "epochs": records,
    }
    out = _common.write_json(a.out or _common.RESULTS / f"amazon_shape_{a.hash}{'_shared' if a.shared else ''}.json",
                             result)
    print(f"peak RSS {rss_mib():,.0f} MiB; wrote {out}")


if __name__ == "__main__":
    main()
