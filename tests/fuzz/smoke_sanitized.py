"""Smoke test of the Python package for a build with AddressSanitizer and UndefinedBehaviorSanitizer.

Not collected by pytest (the file name does not start with test_). .ci/run installs the package with
-Db_sanitize=address,undefined into a separate venv and runs this script with the sanitizer runtimes
preloaded; any sanitizer report aborts the interpreter, so the step fails.

It covers every path a Python user drives through C: training with several hash backends and both
active-set modes, float32 and bfloat16 storage, Adam and SGD, exact and sampled prediction, metrics, diagnosis, save/load, the XC reader (plain,
gzip, malformed) and the typed errors.
"""

import gzip
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import libslide as sl


def main() -> int:
    X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=600, n_test=200, n_features=300, n_labels=120,
                                            nnz_per_row=12, seed=3)
    tmp = Path(tempfile.mkdtemp(prefix="slide-smoke-"))
    cases = [("dwta", False, "float32", "adam"), ("simhash", True, "float32", "adam"),
             ("wta", False, "float32", "adam"), ("minhash", True, "float32", "adam"),
             ("simhash-mips", False, "float32", "adam"), ("dwta", False, "bfloat16", "adam"),
             ("simhash", True, "bfloat16", "sgd"), ("simhash-mips", True, "bfloat16", "adam")]
    for hash_name, shared, storage, opt in cases:
        # bfloat16 on both sampled layers: a sparse-input first layer and a dense-input output layer.
        net = sl.Network(input_dim=X.shape[1],
                         layers=[sl.Layer(24, storage=storage,
                                          sampling=sl.LSH(hash_name, k=3, tables=4, bucket_size=8,
                                                          active=0.5, rebuild_every=3)),
                                 sl.Layer(Y.shape[1], activation="softmax", storage=storage,
                                          sampling=sl.LSH(hash_name, k=3, tables=6, bucket_size=16, active=0.2,
                                                          rebuild_every=2, rehash_touched=True,
                                                          batch_shared=shared,
                                                          random_fraction=0.3 if hash_name in ("dwta", "minhash")
                                                          else 0.0))],
                         optimizer=sl.Adam(lr=1e-2) if opt == "adam" else sl.SGD(lr=0.5), seed=1, threads=2)
        for start in range(0, 384, 64):
            net.train_batch(X, Y, rows=np.arange(start, start + 64))
        ids, scores = net.predict_topk(Xt, k=5, mode="exact")
        assert ids.shape == (Xt.shape[0], 5) and np.all((ids >= 0) & (ids < Y.shape[1]))
        sampled_ids, _ = net.predict_topk(Xt, k=5, mode="sampled")
        assert np.all((sampled_ids >= -1) & (sampled_ids < Y.shape[1]))
        net.evaluate(Xt, Yt, ks=(1, 5))
        net.diagnose(Xt, sample=50)
        path = tmp / f"{hash_name}-{storage}-{opt}.slide"
        net.save(path)
        again = sl.Network.load(path, threads=1)
        ids2, scores2 = again.predict_topk(Xt, k=5)
        np.testing.assert_array_equal(ids, ids2)
        np.testing.assert_allclose(scores, scores2, rtol=1e-5)
        assert np.all(np.isfinite(net.layers[1].weights))
        print(f"{hash_name:>13} batch_shared={shared} {storage} {opt}: trained, predicted, saved and reloaded")

    # Dense input, dense layers, SGD.
    dense = sl.Network(input_dim=16, layers=[sl.Layer(8), sl.Layer(4, activation="softmax")],
                       optimizer=sl.SGD(lr=0.1), seed=0, threads=1)
    Xd = np.random.default_rng(0).standard_normal((32, 16)).astype(np.float32)
    Yd = sp.csr_matrix((np.ones(32, np.float32), np.arange(32) % 4, np.arange(33)), shape=(32, 4))
    dense.fit(Xd, Yd, epochs=2, batch_size=8, progress=False)
    assert dense.predict(Xd).shape[0] == 32

    # XC reader: plain and gzip round trip, then malformed input raises FormatError.
    text = "3 5 4\n0,2 0:1 3:0.5\n1 1:2.5e-1 4:-3\n 2:1e10\n"
    (tmp / "ok.txt").write_text(text)
    with gzip.open(tmp / "ok.txt.gz", "wt") as f:
        f.write(text)
    for name in ("ok.txt", "ok.txt.gz"):
        Xr, Yr = sl.load_xc(tmp / name)
        assert Xr.shape == (3, 5) and Yr.shape == (3, 4) and Xr.nnz == 5 and Yr.nnz == 3
    for bad in ("3 5 4\n0,9 0:1\n", "2 5 4\n0 0:1 0:2\n1 1:1\n", "1 5 4\n0 1:nan\n", "x\n"):
        (tmp / "bad.txt").write_text(bad)
        try:
            sl.load_xc(tmp / "bad.txt")
        except sl.FormatError as e:
            assert "bad.txt" in str(e)
        else:
            raise AssertionError(f"malformed XC file was accepted: {bad!r}")
    # A damaged model file is refused with FormatError.
    data = bytearray((tmp / "dwta-float32-adam.slide").read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp / "damaged.slide").write_bytes(bytes(data))
    try:
        sl.Network.load(tmp / "damaged.slide")
    except sl.FormatError:
        pass
    else:
        raise AssertionError("damaged model file was accepted")
    print("XC reader and model loader: valid files load, malformed ones raise FormatError")
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    print("sanitized smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
