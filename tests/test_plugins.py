"""Hash backend plugins: compiled here from tests/plugin/*.c against the installed headers, then loaded.

A pip-installed package does not ship the test plugins, so this module builds them with the system C
compiler (skipped when there is none), exactly as a third party would: public headers only, not linked
to libslide.
"""

import os
import shlex
import shutil
import subprocess

import numpy as np
import pytest

import libslide as sl
from conftest import most_frequent_p1
from libslide import build_flags

PLUGIN_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugin")


def _compiler():
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    return shlex.split(cc) if cc else None


@pytest.fixture(scope="module")
def plugins(tmp_path_factory):
    """Paths of the compiled plugins: {"example": ..., "bad_version": ..., "no_entry": ...}."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler to build the test plugins")
    out = tmp_path_factory.mktemp("plugins")
    paths = {}
    for name in ("example", "bad_version", "no_entry"):
        so = str(out / f"{name}_plugin.so")
        cmd = cc + ["-shared", "-fPIC", "-O2", f"-I{build_flags.include_dir()}",
                    os.path.join(PLUGIN_SRC, f"{name}_plugin.c"), "-o", so]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stderr}"
        paths[name] = so
    return paths


@pytest.fixture(scope="module")
def example_backend(plugins):
    """Loads the example plugin once per process (registrations last for the process)."""
    if "example-srp" not in sl.hash_backends():
        before = sl.hash_backends()
        names = sl.load_backend(plugins["example"])
        assert names == before + ["example-srp"]
    return "example-srp"


def test_include_dir_has_the_plugin_header():
    assert os.path.isfile(os.path.join(build_flags.include_dir(), "slide", "hash_plugin.h"))
    assert f"-I{build_flags.include_dir()}" in build_flags.cflags()


def test_builtin_backends_are_listed_first():
    assert sl.hash_backends()[:5] == ["dwta", "simhash", "wta", "minhash", "simhash-mips"]


def test_loaded_plugin_is_listed_and_not_loaded_twice(plugins, example_backend):
    assert example_backend in sl.hash_backends()
    n = len(sl.hash_backends())
    with pytest.raises(sl.InvalidArgumentError, match="backend name 'example-srp' is already registered"):
        sl.load_backend(plugins["example"])
    assert len(sl.hash_backends()) == n


def test_bad_plugins_are_refused_with_clear_messages(plugins, tmp_path):
    n = len(sl.hash_backends())
    with pytest.raises(sl.UnsupportedError, match="version") as e:
        sl.load_backend(plugins["bad_version"])
    assert "plugin API version 999, libslide supports 1" in str(e.value)
    assert plugins["bad_version"] in str(e.value)
    with pytest.raises(sl.InvalidArgumentError, match="no entry point slide_hash_plugin_entry"):
        sl.load_backend(plugins["no_entry"])
    with pytest.raises(sl.SlideIOError, match="cannot load"):
        sl.load_backend(tmp_path / "missing.so")
    assert len(sl.hash_backends()) == n


def test_network_trains_with_the_plugin_backend(small_data, example_backend):
    X, Y, Xt, Yt = small_data
    net = sl.Network(
        input_dim=X.shape[1],
        layers=[sl.Layer(64, activation="relu"),
                sl.Layer(Y.shape[1], activation="softmax",
                         sampling=sl.LSH(example_backend, k=5, tables=24, bucket_size=64, active=0.1,
                                         rebuild_every=20))],
        optimizer=sl.Adam(lr=1e-2), seed=0, threads=2)
    hist = net.fit(X, Y, epochs=3, batch_size=128, validation_data=(Xt, Yt), progress=False, seed=0)
    base = most_frequent_p1(Y, Yt)
    p1 = hist[-1]["P@1"]
    assert p1 > base + 0.3, f"example-srp: P@1 {p1:.3f} vs most-frequent {base:.3f}"
    assert hist[-1]["loss"] < hist[0]["loss"]
    ids, _ = net.predict_topk(Xt, k=5, mode="sampled")
    assert np.all((ids >= 0).sum(axis=1) <= 0.1 * Y.shape[1])
