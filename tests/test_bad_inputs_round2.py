"""Issue 16, second round of bad input: nothing lost, nothing overwritten, no silent nonsense.

One test (or a few) per numbered defect of the issue; each failed before its fix.
"""

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl
from conftest import write_xc


def small_net(**kw):
    layers = kw.pop("layers", [sl.Layer(8), sl.Layer(5, activation="softmax")])
    return sl.Network(input_dim=4, layers=layers, threads=1, **kw)


X3 = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]], np.float32)


def slide(*args, **kw):
    return subprocess.run([sys.executable, "-m", "libslide", *map(str, args)], capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.fixture(scope="module")
def tiny_xc(tmp_path_factory):
    X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=3000, n_test=300, n_features=500, n_labels=100, nnz_per_row=20,
                                            seed=5)
    d = tmp_path_factory.mktemp("xc2")
    return write_xc(d / "train.txt", X, Y), write_xc(d / "test.txt", Xt, Yt)


# ---------------------------------------------------------------- 1. NUL bytes in paths and names
def test_1_nul_in_a_path_is_refused_like_open_does(tmp_path):
    net = small_net()
    target = tmp_path / "m.slide"
    net.save(target)
    before = target.read_bytes()
    small_net(seed=9).save(tmp_path / "other.slide")
    with pytest.raises(ValueError, match="NUL"):
        small_net(seed=9).save(str(target) + "\0.bak")
    assert target.read_bytes() == before  # not replaced through the truncated path
    for call in (lambda: sl.load_xc(str(tmp_path / "x") + "\0y"), lambda: sl.load_libsvm("a\0b"),
                 lambda: sl.Network.load(str(target) + "\0"), lambda: sl.load_backend("p\0.so"),
                 lambda: sl.Network.load(os.fsencode(str(target)) + b"\0x")):
        with pytest.raises(sl.InvalidArgumentError, match="NUL"):
            call()


def test_1_nul_in_a_hash_name_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        small_net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH("simhash\0junk"))])


# ---------------------------------------------------------------- 2. SIGTERM during `slide train`
@pytest.mark.parametrize("checkpoint", [False, True])
def test_2_sigterm_saves_like_ctrl_c_and_leaves_no_temporary_file(tiny_xc, tmp_path, checkpoint):
    train, test = tiny_xc
    model = tmp_path / "m.slide"
    args = [sys.executable, "-m", "libslide", "train", "--train", train, "--test", test, "--hidden", "32",
            "--epochs", "1000", "--save", model, "--threads", "1", "--no-progress"]
    if checkpoint:
        args += ["--checkpoint-every", "1"]
    p = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stdout:  # wait until training runs (the first epoch's report)
            if line.startswith("  epoch 1:"):
                break
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "SIGTERM" in lines[-1] and "saved the model" in lines[-1], err
    assert sl.Network.load(model).steps > 0
    assert sorted(os.listdir(tmp_path)) == ["m.slide"]  # no m.slide.tmp.XXXXXX


# ---------------------------------------------------------------- 3. special files, modes, symlinks
def test_3_save_refuses_special_files(tmp_path):
    net = small_net()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/null", tmp_path):
        with pytest.raises(sl.SlideIOError, match="not a regular file|is a directory"):
            net.save(target)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["fifo"]


def test_3_save_keeps_the_mode_or_honours_the_umask(tmp_path):
    net = small_net()
    old = os.umask(0o077)
    try:
        net.save(tmp_path / "new.slide")
        assert stat.S_IMODE(os.stat(tmp_path / "new.slide").st_mode) == 0o600
        os.umask(0o022)
        net.save(tmp_path / "new2.slide")
        assert stat.S_IMODE(os.stat(tmp_path / "new2.slide").st_mode) == 0o644
        existing = tmp_path / "existing.slide"
        existing.write_bytes(b"")
        os.chmod(existing, 0o640)
        net.save(existing)
        assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640
    finally:
        os.umask(old)


def test_3_save_through_a_symlink_replaces_its_target(tmp_path):
    net = small_net()
    (tmp_path / "d").mkdir()
    real = tmp_path / "d" / "real.slide"
    real.write_bytes(b"old")
    link = tmp_path / "link.slide"
    link.symlink_to(real)
    net.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sl.Network.load(real).input_dim == 4
    assert sorted(os.listdir(tmp_path / "d")) == ["real.slide"] and sorted(os.listdir(tmp_path)) == ["d", "link.slide"]


def test_15_loading_a_fifo_or_a_directory_says_so(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(sl.SlideIOError, match="not a regular file"):
        sl.Network.load(fifo)  # used to block in fopen
    with pytest.raises(sl.SlideIOError, match="is a directory"):
        sl.Network.load(tmp_path)


# ---------------------------------------------------------------- 4. NaN / inf in inference
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_4_non_finite_inputs_are_refused_in_inference_naming_the_row(bad):
    net = small_net()
    X = X3.copy()
    X[2, 1] = bad
    Xs = sp.csr_matrix(X3)
    Xs.data[-1] = bad
    for call in (lambda: net.predict_topk(X), lambda: net.evaluate(X, [[0], [1], [2]]), lambda: net.diagnose(X),
                 lambda: net.predict_topk(X, mode="sampled"), lambda: net.train_batch(X, [[0], [1], [2]])):
        with pytest.raises(sl.InvalidArgumentError, match="X row 2, column 1: value is not finite"):
            call()
    with pytest.raises(sl.InvalidArgumentError, match="X row 2: value of feature 3 is not finite"):
        net.predict_topk(Xs)
    # rows not asked for are not checked
    assert net.predict_topk(X, rows=[0, 1])[0].shape == (2, 5)


# ---------------------------------------------------------------- 5. label ids >= 2^32
@pytest.mark.parametrize("Y", [np.array([0, 2**32 + 3, 1], np.int64), [[0], [2**32 + 3], [1]],
                               [np.array([0], np.uint64), np.array([2**63], np.uint64), np.array([1], np.uint64)],
                               np.array([0, 2**63, 1], np.uint64)])
def test_5_huge_label_ids_are_refused_not_wrapped(Y):
    net = small_net()
    with pytest.raises(sl.InvalidArgumentError, match=r"label ids must be in \[0, 5\)"):
        net.train_batch(X3, Y)
    with pytest.raises(sl.InvalidArgumentError, match="label ids must"):
        net.evaluate(X3, Y)


# ---------------------------------------------------------------- 6. explicit zeros, duplicates
def test_6_explicit_zeros_in_a_label_matrix_are_not_labels():
    net = small_net()
    Y = sp.csr_matrix((np.array([1, 0, 1, 1], np.float32), np.array([0, 1, 1, 2]), np.array([0, 2, 3, 4])),
                      shape=(3, 5))
    ids, _ = net.predict_topk(X3, k=5)
    clean = sp.csr_matrix((np.ones(3, np.float32), np.array([0, 1, 2]), np.array([0, 1, 2, 3])), shape=(3, 5))
    assert net.evaluate(X3, Y, ks=(5,)) == net.evaluate(X3, clean, ks=(5,))
    assert net.evaluate(X3, Y, ks=(5,))["P@5"] == pytest.approx(0.2)
    before = net.layers[1].weights.copy()
    net2 = small_net()
    net.train_batch(X3, Y)
    net2.train_batch(X3, clean)
    assert np.array_equal(net.layers[1].weights, net2.layers[1].weights)
    assert not np.array_equal(before, net.layers[1].weights)


def test_6_duplicate_labels_are_refused_or_merged_consistently():
    net = small_net(layers=[sl.Layer(8), sl.Layer(5, activation="softmax", sampling=sl.LSH())])
    with pytest.raises(sl.InvalidArgumentError, match="Y row 1: label id 3 appears more than once"):
        net.train_batch(X3, [[0], [3, 1, 3], [2]])
    with pytest.raises(sl.InvalidArgumentError, match="Y row 1: label id 3 appears more than once"):
        net.evaluate(X3, [[0], [3, 3], [2]])
    # a scipy matrix storing an entry twice holds one label there (scipy's own reading: sum_duplicates)
    dup = sp.csr_matrix((np.ones(4, np.float32), np.array([0, 3, 3, 2]), np.array([0, 1, 3, 4])), shape=(3, 5))
    once = sp.csr_matrix((np.ones(3, np.float32), np.array([0, 3, 2]), np.array([0, 1, 2, 3])), shape=(3, 5))
    assert net.evaluate(X3, dup) == net.evaluate(X3, once)
    # a perfect prediction scores nDCG 1, whatever the layer
    ids, _ = net.predict_topk(X3, k=2)
    perfect = [list(r) for r in ids]
    assert net.evaluate(X3, perfect, ks=(2,))["nDCG@2"] == pytest.approx(1.0)


def test_6_long_label_rows_are_checked_for_duplicates():
    net = sl.Network(4, [sl.Layer(300, activation="softmax")], threads=1)
    row = list(range(200)) + [150]
    with pytest.raises(sl.InvalidArgumentError, match="label id 150 appears more than once"):
        net.train_batch(X3[:1], [row])
    net.train_batch(X3[:1], [list(range(200))])


# ---------------------------------------------------------------- 9. bad output paths found before training
def test_9_bad_save_paths_are_found_before_training(tiny_xc, tmp_path):
    train, test = tiny_xc
    for save in (tmp_path / "nodir" / "m.slide", tmp_path):
        t0 = time.perf_counter()
        r = slide("train", "--train", train, "--test", test, "--epochs", "50", "--save", save, "--no-progress")
        assert r.returncode == 1 and "epoch 1" not in r.stdout, r.stdout
        assert "does not exist" in r.stderr or "is a directory" in r.stderr, r.stderr
        assert time.perf_counter() - t0 < 60


def test_9_fit_checks_validation_data_and_checkpoint_first():
    net = small_net()
    calls = []
    with pytest.raises(sl.InvalidArgumentError, match="validation X has 7 columns"):
        net.fit(X3, [[0], [1], [2]], validation_data=(np.ones((3, 7)), [[0], [1], [2]]), progress=False,
                callback=calls.append)
    with pytest.raises(sl.SlideIOError, match="does not exist"):
        net.fit(X3, [[0], [1], [2]], checkpoint="/nonexistent-dir/m.slide", progress=False)
    assert net.steps == 0 and not calls


# ---------------------------------------------------------------- 10. empty label rows
def test_10_empty_label_rows_in_a_list_are_fine():
    net = small_net()
    net.train_batch(X3, [[0], [], [1]])
    net.train_batch(X3, [[], [], []])
    with pytest.raises(sl.InvalidArgumentError, match="row 1: labels must be integers, got dtype float64"):
        net.train_batch(X3, [[0], [1.5], [1]])


# ---------------------------------------------------------------- 11. typed errors, not tracebacks
def test_11_typed_errors_for_python_arguments():
    net = small_net()
    assert set(net.evaluate(X3, [[0], [1], [2]], ks=5)) == {"P@5", "nDCG@5", "n"}
    for call, match in ((lambda: net.evaluate(X3, [[0], [1], [2]], ks="a"), "ks"),
                        (lambda: net.evaluate(X3, [[0], [1], [2]], ks=0), "ks"),
                        (lambda: net.evaluate(X3, [[0], [1], [2]], sample=-1), "sample"),
                        (lambda: net.diagnose(X3, sample=-1), "sample"),
                        (lambda: net.fit(X3, [[0], [1], [2]], eval_sample=-1, progress=False), "eval_sample"),
                        (lambda: sl.Network(2**32, [sl.Layer(5, activation="softmax")]), "input_dim"),
                        (lambda: sl.Network(4, [sl.Layer(2**32, activation="softmax")]), "units")):
        with pytest.raises(sl.InvalidArgumentError, match=match):
            call()
    net.fit(X3, [[0], [1], [2]], seed=-1, progress=False)  # any integer seed, as Network(seed=-1)


def test_11_cli_errors_are_one_line(tiny_xc, tmp_path):
    train, test = tiny_xc
    model = tmp_path / "m.slide"
    r = slide("train", "--train", train, "--test", test, "--epochs", "1", "--hidden", "16", "--seed", "-1",
              "--save", model, "--no-progress")
    assert r.returncode == 0, r.stderr
    for args in (("train", "--train", train, "--test", test, "--epochs", "1", "--eval-sample", "-3", "--no-progress"),
                 ("predict", "--model", model, "--input", test, "--output", tmp_path),
                 ("bench", "--shape", "small", "--n-train", "500", "--batches", "1", "--warmup", "0",
                  "--json", tmp_path)):
        r = slide(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("slide: error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr


# ---------------------------------------------------------------- 12. threads
def test_12_thread_count_is_capped_at_creation_like_the_setter():
    with pytest.raises(sl.InvalidArgumentError, match=r"threads must be in \[0, 4096\], got 5000"):
        sl.Network(4, [sl.Layer(5, activation="softmax")], threads=5000)
    net = small_net()
    with pytest.raises(sl.InvalidArgumentError, match="5000"):
        net.threads = 5000


# ---------------------------------------------------------------- 13. CSR arrays that disagree
def test_13_csr_arrays_whose_lengths_disagree_are_refused():
    net = small_net()
    A = sp.csr_matrix(X3)
    A.data = A.data[:2].copy()
    with pytest.raises(sl.InvalidArgumentError, match="CSR arrays disagree"):
        net.predict_topk(A)
    B = sp.csr_matrix(X3)
    B.indices = B.indices[:3].copy()
    with pytest.raises(sl.InvalidArgumentError, match="CSR arrays disagree"):
        net.train_batch(B, [[0], [1], [2]])
    Y = sp.csr_matrix((np.ones(3, np.float32), np.array([0, 1, 2]), np.array([0, 1, 2, 3])), shape=(3, 5))
    Y.indices = Y.indices[:1].copy()
    with pytest.raises(sl.InvalidArgumentError, match="CSR arrays disagree"):
        net.train_batch(X3, Y)


# ---------------------------------------------------------------- 7. small sampled softmax; --active 1.0
def test_7_a_small_sampled_softmax_never_trains_on_its_labels_alone():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 10)).astype(np.float32)
    y = X[:, :5].argmax(1).astype(np.int64)
    for lsh in (sl.LSH("simhash"), sl.LSH("simhash", batch_shared=False, random_fraction=0.0),
                sl.LSH("simhash", rule="threshold", threshold=50, batch_shared=False, random_fraction=0.0)):
        net = sl.Network(10, [sl.Layer(5, "softmax", sampling=lsh)], seed=1, threads=1)
        hist = net.fit(X, y, epochs=3, progress=False)
        assert min(r["loss"] for r in hist) > 0.1  # a softmax over the label alone has loss 0
        assert net.layers[-1].mean_active >= 2


def test_7_cli_active_one_point_zero_is_the_whole_layer():
    from libslide import cli

    a = cli.build_parser().parse_args(["train", "--train", "x", "--test", "y", "--active", "1.0"])
    lsh, _, _ = cli.model_settings(sl, a)
    assert lsh.active == 1.0 and isinstance(lsh.active, float)
    b = cli.build_parser().parse_args(["train", "--train", "x", "--test", "y", "--active", "1"])
    assert cli.model_settings(sl, b)[0].active == 1  # an integer literal counts neurons, as LSH(active=1)
    net = sl.Network(4, [sl.Layer(40, "softmax", sampling=lsh)], threads=1)  # --active 1.0's LSH
    net.train_batch(X3, [[0], [1], [2]])
    assert net.layers[-1].mean_active == 40


# ---------------------------------------------------------------- 8. long rows in data files
@pytest.mark.parametrize("order", ["descending", "shuffled"])
def test_8_duplicate_check_is_not_quadratic_on_long_rows(tmp_path, order):
    n = 400_000
    ids = np.arange(n)[::-1] if order == "descending" else np.random.default_rng(1).permutation(n)
    path = tmp_path / "long.txt"
    path.write_text(f"1 {n} 1\n0 " + " ".join(f"{i}:1" for i in ids) + "\n")
    t0 = time.perf_counter()
    X, _ = sl.load_xc(path)
    assert X.nnz == n
    assert time.perf_counter() - t0 < 5  # quadratic: ~0.5 s here, 28 s at 3M ids
    dup = np.append(ids, ids[n // 2])
    path.write_text(f"1 {n} 1\n0 " + " ".join(f"{i}:1" for i in dup) + "\n")
    with pytest.raises(sl.FormatError, match=f"duplicate feature id {ids[n // 2]}"):
        sl.load_xc(path)


# ---------------------------------------------------------------- 14. exact resume of simhash-mips
def test_14_resume_is_exact_for_simhash_mips_with_rehash_touched(tmp_path):
    X, Y, _, _ = sl.datasets.make_extreme(n_train=2000, n_test=10, n_features=300, n_labels=200, nnz_per_row=20,
                                          seed=2)

    def make():
        lsh = sl.LSH("simhash-mips", rehash_touched=True, batch_shared=False, random_fraction=0.0,
                     rebuild_every=1000)
        return sl.Network(300, [sl.Layer(32), sl.Layer(200, "softmax", sampling=lsh)], seed=3, threads=1)

    a, b = make(), make()
    batches = [np.arange(i * 64, (i + 1) * 64) for i in range(30)]
    for rows in batches[:10]:
        a.train_batch(X, Y, rows=rows)
        b.train_batch(X, Y, rows=rows)
    b.save(tmp_path / "m.slide")
    assert (tmp_path / "m.slide").read_bytes()[8] == 5  # format 5 keeps the item scale
    b = sl.Network.load(tmp_path / "m.slide", threads=1)
    for rows in batches[10:]:
        a.train_batch(X, Y, rows=rows)
        b.train_batch(X, Y, rows=rows)
    assert np.array_equal(a.layers[1].weights, b.layers[1].weights)


def test_11_messages_name_the_bad_value_and_show_bytes_escaped(tmp_path):
    net = small_net()
    with pytest.raises(sl.InvalidArgumentError, match="learning rate must be a positive finite number, got -0.5"):
        net.set_learning_rate(-0.5)
    with pytest.raises(sl.InvalidArgumentError, match="lr must be a finite number > 0, got -0.001"):
        small_net(optimizer=sl.Adam(lr=-0.001))
    with pytest.raises(sl.InvalidArgumentError, match=r"tables must be in \[1, 4096\], got 5000"):
        small_net(layers=[sl.Layer(5, activation="softmax", sampling=sl.LSH(tables=5000))])
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf1 6 4\n0 1:1\n")
    with pytest.raises(sl.FormatError, match="byte-order mark"):
        sl.load_xc(bom)
    bom.write_bytes(b"\xef\xbb\xbf0 1:1\n")
    with pytest.raises(sl.FormatError, match=r"'\\xEF\\xBB\\xBF0'"):
        sl.load_libsvm(bom)


# ---------------------------------------------------------------- 15. gzip followed by garbage
def test_15_gzip_with_trailing_garbage_is_refused_and_members_are_concatenated(tmp_path):
    import gzip

    text = "2 6 4\n0,2 0:1.5 3:2\n1 5:1\n"
    p = tmp_path / "d.txt.gz"
    p.write_bytes(gzip.compress(text.encode()) + b"garbage!!")
    with pytest.raises(sl.FormatError, match="trailing data after the end of the gzip stream"):
        sl.load_xc(p)
    p.write_bytes(gzip.compress(text.encode()) + b"\0" * 8)
    with pytest.raises(sl.FormatError, match="trailing data"):
        sl.load_xc(p)
    svm = tmp_path / "d.svm.gz"
    svm.write_bytes(gzip.compress(b"0 1:1\n") + b"\x1f\x00junk")
    with pytest.raises(sl.FormatError, match="trailing data"):
        sl.load_libsvm(svm)
    p.write_bytes(gzip.compress(text[:12].encode()) + gzip.compress(text[12:].encode()))  # as `cat a.gz b.gz`
    X, Y = sl.load_xc(p)
    assert X.shape == (2, 6) and Y.nnz == 3
