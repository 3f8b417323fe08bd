"""The `slide` command and a C program built with `python -m libslide config --cflags --libs`."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import libslide as sl
from conftest import write_xc

REPO = Path(__file__).resolve().parents[1]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def xc_files(tmp_path_factory, small_data):
    X, Y, Xt, Yt = small_data
    d = tmp_path_factory.mktemp("xc")
    return write_xc(d / "train.txt", X, Y), write_xc(d / "test.txt", Xt, Yt)


def slide_cmd():
    exe = shutil.which("slide", path=os.path.dirname(sys.executable)) or shutil.which("slide")
    return [exe] if exe else [sys.executable, "-m", "libslide"]


def test_demo_prints_accuracy_and_speed():
    r = run(slide_cmd() + ["demo", "--n-train", "3000", "--n-test", "500", "--features", "2000", "--labels",
                           "1000", "--epochs", "1", "--no-progress", "--threads", "2"])
    assert r.returncode == 0, r.stderr
    result = [l for l in r.stdout.splitlines() if l.startswith("result:")]
    assert result, r.stdout
    assert "P@1" in result[0] and "P@5" in result[0] and "samples/s" in result[0] and "active fraction" in result[0]
    assert "held out" not in r.stdout  # 3,000 rows: too few for the automatic hold-out
    r = run(slide_cmd() + ["demo", "--n-train", "10000", "--n-test", "500", "--features", "2000", "--labels",
                           "300", "--epochs", "1", "--no-progress", "--threads", "2"])
    assert r.returncode == 0, r.stderr
    assert "500 training rows held out (automatic hold-out), 9,500 left to train on" in r.stdout, r.stdout
    assert "validation P@1" in r.stdout and "test P@1" in r.stdout


def test_bench_reports_throughput_per_thread_count_and_the_kernels(tmp_path):
    out = tmp_path / "bench.json"
    r = run(slide_cmd() + ["bench", "--shape", "small", "--threads", "1", "2", "--batches", "3", "--warmup", "1",
                           "--n-train", "2000", "--active-set", "per-sample", "--json", str(out)])
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert [x["threads"] for x in res["results"]] == [1, 2]
    assert all(x["samples_per_s"] > 0 and x["memory_bytes"] > 0 for x in res["results"])
    assert res["results"][0]["speedup"] == 1.0
    assert res["kernels"] == sl.kernel_isa() and f"kernels {sl.kernel_isa()}" in r.stdout
    assert "threads 2:" in r.stdout


def test_kernel_isa_can_be_capped_by_the_environment():
    assert sl.kernel_isa() in ("scalar", "avx2", "avx512")
    r = run([sys.executable, "-c", "import libslide; print(libslide.kernel_isa())"],
            env={**os.environ, "SLIDE_ISA": "scalar"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "scalar"


def test_train_save_evaluate_predict(xc_files, tmp_path):
    train, test = xc_files
    model = tmp_path / "m.slide"
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--hidden", "64", "--epochs", "2",
                           "--active", "0.1", "--lr", "1e-2", "--save", str(model), "--no-progress"])
    assert r.returncode == 0, r.stderr
    p1 = float(r.stdout.split("result: P@1 ")[1].split()[0])
    assert p1 > 0.5, r.stdout
    r = run(slide_cmd() + ["evaluate", "--model", str(model), "--test", str(test), "--no-progress"])
    assert r.returncode == 0, r.stderr
    assert abs(float(r.stdout.split("P@1 ")[1].split()[0]) - p1) < 1e-4  # same model, same test set
    assert 0 < float(r.stdout.split("nDCG@5 ")[1].split()[0]) <= 1, r.stdout
    out = tmp_path / "pred.txt"
    r = run(slide_cmd() + ["predict", "--model", str(model), "--input", str(test), "--k", "3", "--output", str(out),
                           "--no-progress"])
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 2000 and len(lines[0].split()) == 3


def test_train_steers_on_held_out_rows_never_on_the_test_file(xc_files, tmp_path):
    train, test = xc_files
    n_train = sum(1 for _ in open(train)) - 1  # the XC header line
    model = tmp_path / "m.slide"
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--hidden", "64", "--epochs", "6",
                           "--active", "0.1", "--lr", "3e-2", "--validation-split", "0.25", "--lr-plateau", "0.5",
                           "--early-stopping", "1", "--save", str(model), "--no-progress"])
    assert r.returncode == 0, r.stderr
    held = round(0.25 * n_train)
    assert f"{held:,} training rows held out" in r.stdout and f"{n_train - held:,} left" in r.stdout, r.stdout
    epochs = [l for l in r.stdout.splitlines() if l.lstrip().startswith("epoch ")]
    assert epochs and all("validation P@1" in l and "test P@1" in l and "lr " in l for l in epochs), r.stdout
    # the reported result is the returned model's test P@1: the saved model evaluates to the same
    p1 = float(r.stdout.split("result: P@1 ")[1].split()[0])
    r2 = run(slide_cmd() + ["evaluate", "--model", str(model), "--test", str(test), "--no-progress"])
    assert abs(float(r2.stdout.split("P@1 ")[1].split()[0]) - p1) < 1e-4, (r.stdout, r2.stdout)
    # the rules that steer training refuse to run without held-out rows
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--lr-plateau", "0.5",
                           "--no-progress"])
    assert r.returncode == 2 and "give --validation-split F" in r.stderr and "8,000 rows" in r.stderr
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--validation-split", "0.25",
                           "--rollback", "--lr-plateau", "0", "--no-progress"])
    assert r.returncode == 2 and "--rollback needs the learning-rate plateau rule" in r.stderr
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--validation-split", "1.5"])
    assert r.returncode == 2 and "between 0 and 1" in r.stderr
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--average", "--no-progress"])
    assert r.returncode == 2 and "--average watch rows held out" in r.stderr
    # rules off: the held-out rows are only reported and the rate stays
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--hidden", "32", "--epochs", "2",
                           "--validation-split", "0.25", "--lr-plateau", "0", "--no-rollback", "--no-progress"])
    assert r.returncode == 0 and "reported only" in r.stdout, r.stdout + r.stderr
    epochs = [l for l in r.stdout.splitlines() if l.lstrip().startswith("epoch ")]
    assert len(epochs) == 2 and all("validation P@1" in l and " lr " not in l and "mean of" not in l
                                    for l in epochs), r.stdout


def test_train_with_bfloat16_storage_and_weight_decay(xc_files, tmp_path):
    train, test = xc_files
    model = tmp_path / "b.slide"
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--hidden", "64", "--epochs", "2",
                           "--active", "0.1", "--lr", "1e-2", "--storage", "bfloat16", "--weight-decay", "0.05",
                           "--save", str(model), "--no-progress"])
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("result: P@1 ")[1].split()[0]) > 0.5, r.stdout
    loaded = sl.Network.load(model)
    assert loaded.layers[1].storage == "bfloat16"
    assert loaded.optimizer.weight_decay == 0.05


def _to_libsvm(xc_path, out_path):
    """The same points as a libsvm file: no header, 1-based feature ids, 0-based labels."""
    lines = Path(xc_path).read_text().splitlines()[1:]
    out = []
    for line in lines:
        labels, _, feats = line.partition(" ")
        out.append(labels + "".join(f" {int(i) + 1}:{v}" for i, v in (t.split(":") for t in feats.split())))
    out_path.write_text("# converted\n" + "\n".join(out) + "\n")
    return out_path


def test_train_and_evaluate_libsvm_files(xc_files, tmp_path):
    train = _to_libsvm(xc_files[0], tmp_path / "train.svm")
    test = _to_libsvm(xc_files[1], tmp_path / "test.svm")
    model = tmp_path / "m.slide"
    r = run(slide_cmd() + ["train", "--train", str(train), "--test", str(test), "--hidden", "32", "--epochs", "1",
                           "--active", "0.1", "--lr", "1e-2", "--save", str(model), "--no-progress"])
    assert r.returncode == 0, r.stderr
    p1 = float(r.stdout.split("result: P@1 ")[1].split()[0])
    r = run(slide_cmd() + ["evaluate", "--model", str(model), "--test", str(xc_files[1]), "--no-progress"])
    assert r.returncode == 0, r.stderr
    assert abs(float(r.stdout.split("P@1 ")[1].split()[0]) - p1) < 1e-4  # XC and libsvm copies agree
    r = run(slide_cmd() + ["evaluate", "--model", str(model), "--test", str(test), "--format", "libsvm",
                           "--feature-base", "0", "--no-progress"])
    assert r.returncode == 1 and f"{test}:" in r.stderr and "out of range" in r.stderr


def test_train_reports_malformed_file(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 5 3\n0 1:1\n1 7:1\n")
    r = run(slide_cmd() + ["train", "--train", str(bad), "--test", str(bad), "--no-progress"])
    assert r.returncode == 1
    assert f"{bad}:3:" in r.stderr and "out of range" in r.stderr


def test_c_example_builds_with_config_flags_and_trains(xc_files, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    flags = run([sys.executable, "-m", "libslide", "config", "--cflags", "--libs"])
    assert flags.returncode == 0, flags.stderr
    exe = tmp_path / "train_xc"
    build = run([cc, str(REPO / "examples" / "train_xc.c"), "-o", str(exe)] + shlex.split(flags.stdout))
    assert build.returncode == 0, build.stderr
    train, test = xc_files
    r = run([str(exe), str(train), str(test), "2", "64", "0.1", "2", "1e-2", "dwta"])
    assert r.returncode == 0, r.stderr
    last = [l for l in r.stdout.splitlines() if l.startswith("epoch 2")][0]
    assert float(last.split("P@1 ")[1].split(",")[0]) > 0.3, r.stdout
