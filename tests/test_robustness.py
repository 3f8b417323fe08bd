"""Failures never lose work: NaN stops training cleanly, Ctrl-C saves at a batch boundary, a killed save
leaves the previous model intact, and concurrent use of one network is refused instead of corrupting it."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import libslide as sl
from conftest import write_xc


def small_net(X, Y, threads=1, seed=0):
    return sl.Network(input_dim=X.shape[1],
                      layers=[sl.Layer(32), sl.Layer(Y.shape[1], activation="softmax",
                                                     sampling=sl.LSH("simhash", k=4, tables=8, active=0.1))],
                      optimizer=sl.Adam(lr=1e-2), seed=seed, threads=threads)


def test_nan_stops_training_and_keeps_the_checkpoint(small_data, tmp_path):
    X, Y, _, _ = small_data
    net = small_net(X, Y)
    ckpt = tmp_path / "ckpt.slide"
    net.fit(X[:1024], Y[:1024], epochs=1, progress=False, checkpoint=ckpt, checkpoint_every=4)
    good = sl.Network.load(ckpt)
    net.layers[1].weights[...] = 3e38  # logits overflow: the loss becomes NaN
    net.layers[1].bias[...] = 3e38
    with pytest.raises(sl.NumericError, match=r"epoch 1, batch 1: .*not finite"):
        net.fit(X[:1024], Y[:1024], epochs=1, progress=False, checkpoint=ckpt, checkpoint_every=1)
    reloaded = sl.Network.load(ckpt)  # the good checkpoint was not overwritten
    np.testing.assert_array_equal(reloaded.layers[1].weights, good.layers[1].weights)


def test_ctrl_c_saves_at_a_batch_boundary(tmp_path):
    X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=60000, n_test=500, n_features=5000, n_labels=2000, seed=1)
    train, test = write_xc(tmp_path / "train.txt", X, Y), write_xc(tmp_path / "test.txt", Xt, Yt)
    model = tmp_path / "m.slide"
    cmd = [sys.executable, "-m", "libslide", "train", "--train", str(train), "--test", str(test), "--epochs", "50",
           "--save", str(model), "--checkpoint-every", "20", "--no-progress", "--threads", "1"]
    # A shell's background job inherits SIGINT ignored, and Python then never raises KeyboardInterrupt:
    # give the child the default disposition, as an interactive terminal would.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not model.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert model.exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    last = err.strip().splitlines()[-1]
    assert last == f"slide: interrupted at a batch boundary; saved the model to {model}", err
    net = sl.Network.load(model)
    assert net.output_dim == 2000


SAVER = textwrap.dedent("""
    import sys
    import libslide as sl
    net = sl.Network(input_dim=20000, layers=[sl.Layer(256), sl.Layer(20000, activation="softmax",
                     sampling=sl.LSH("simhash"))], seed=int(sys.argv[2]), threads=1)
    print("ready", flush=True)
    while True:
        net.save(sys.argv[1])
""")


def test_killed_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "model.slide"
    first = sl.Network(input_dim=20000, layers=[sl.Layer(256), sl.Layer(20000, activation="softmax",
                       sampling=sl.LSH("simhash"))], seed=1, threads=1)
    first.save(path)
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = np.random.default_rng(0)
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, str(script), str(path), "2"], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.05, 0.6)))  # somewhere inside a ~70 MB write
        proc.kill()
        proc.wait()
        net = sl.Network.load(path)  # never a torn file: the old model or a complete new one
        assert net.output_dim == 20000


def test_one_network_from_two_threads_is_refused(small_data):
    X, Y, _, _ = small_data
    net = small_net(X, Y, threads=1)
    errors, done = [], threading.Event()

    def hammer():
        while not done.is_set():
            try:
                net.train_batch(X, Y, rows=np.arange(512))
            except sl.BusyError as exc:
                errors.append(exc)

    workers = [threading.Thread(target=hammer) for _ in range(2)]
    for w in workers:
        w.start()
    time.sleep(2.0)
    done.set()
    for w in workers:
        w.join()
    assert errors, "concurrent calls on one network were not detected"
    # train_batch is a begin and an apply: the other thread is caught inside either call, or between them
    # (its own begin then finds this thread's step pending)
    for exc in errors:
        assert "in use by another thread" in str(exc) or "a training step is pending" in str(exc), exc
        assert isinstance(exc, RuntimeError)
    assert any("in use by another thread" in str(exc) for exc in errors)


def test_separate_networks_train_in_parallel_threads(small_data):
    X, Y, Xt, _ = small_data
    rows = np.arange(2048)
    sequential = small_net(X, Y, seed=3)
    for start in range(0, rows.size, 256):
        sequential.train_batch(X, Y, rows=rows[start:start + 256])
    nets = [small_net(X, Y, seed=3) for _ in range(2)]

    def train(net):
        for start in range(0, rows.size, 256):
            net.train_batch(X, Y, rows=rows[start:start + 256])

    workers = [threading.Thread(target=train, args=(n,)) for n in nets]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for net in nets:
        np.testing.assert_array_equal(net.layers[1].weights, sequential.layers[1].weights)
