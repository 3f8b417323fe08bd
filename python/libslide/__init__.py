"""libslide: train neural networks by computing only the neurons that matter.

Locality-sensitive hash tables over each sampled layer's weights retrieve, per sample, the neurons likely
to have the largest activations; forward, backward and the optimizer touch only those.

    import libslide as sl
    X, Y = sl.load_xc("train.txt")
    net = sl.Network(input_dim=X.shape[1],
                     layers=[sl.Layer(128, activation="relu"),
                             sl.Layer(Y.shape[1], activation="softmax",
                                      sampling=sl.LSH("dwta", k=6, tables=50, bucket_size=128, active=0.005))],
                     optimizer=sl.Adam(lr=1e-3), seed=0, threads=2)
    net.fit(X, Y, epochs=3, batch_size=128, validation_data=(Xt, Yt))
"""

from __future__ import annotations

import os

import numpy as np

from . import datasets
from ._api import c_string, check, ffi, lib
from ._errors import (
    BusyError,
    FormatError,
    InvalidArgumentError,
    NotFoundError,
    NumericError,
    SlideError,
    SlideIOError,
    SlideMemoryError,
    UnsupportedError,
)
from .network import SGD, LSH, Adam, Layer, LayerView, Network, hash_backends, load_backend

__version__ = c_string(lib.slide_version_string())


def kernel_isa() -> str:
    """Instruction set of the numeric kernels in use: "scalar", "avx2" or "avx512" (the environment variable
    SLIDE_ISA, read once at the first call into the library, can cap it)."""
    return c_string(lib.slide_kernel_isa())


__all__ = [
    "Adam", "SGD", "LSH", "Layer", "LayerView", "Network", "hash_backends", "kernel_isa", "load_backend", "load_xc",
    "load_libsvm", "datasets",
    "SlideError", "InvalidArgumentError", "FormatError", "SlideIOError", "SlideMemoryError",
    "UnsupportedError", "BusyError", "NumericError", "NotFoundError", "__version__",
]


class _Owner:
    """numpy base object exposing C dataset memory; keeps the dataset alive while any array uses it."""

    def __init__(self, handle, ptr, n, typestr, itemsize):
        self.handle = handle
        self.__array_interface__ = {
            "data": (int(ffi.cast("uintptr_t", ptr)) if n else 0, False),
            "shape": (n,),
            "strides": (itemsize,) if n else None,
            "typestr": typestr,
            "version": 3,
        }


def _wrap(handle, m, values: bool):
    import scipy.sparse as sp

    rows, cols = int(m.rows), int(m.cols)
    indptr = np.asarray(_Owner(handle, m.indptr, rows + 1, "<i8", 8)) if rows >= 0 else None
    nnz = int(indptr[-1])
    if nnz == 0:
        indices = np.zeros(0, np.int32)
        data = np.zeros(0, np.float32)
    else:
        indices = np.asarray(_Owner(handle, m.indices, nnz, "<i4", 4))
        data = np.asarray(_Owner(handle, m.values, nnz, "<f4", 4)) if values else np.ones(nnz, np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(rows, cols), copy=False)


def _dataset_arrays(out):
    """(X, Y) views of a freshly loaded C dataset, which the arrays keep alive."""
    handle = ffi.gc(out[0], lib.slide_dataset_free)
    xm = ffi.new("slide_matrix *")
    ym = ffi.new("slide_matrix *")
    check(lib.slide_dataset_features(handle, xm))
    check(lib.slide_dataset_labels(handle, ym))
    return _wrap(handle, xm, True), _wrap(handle, ym, False)


def load_xc(path):
    """Reads an Extreme Classification Repository file (gzip allowed) with the C reader.

    Returns (X, Y): X a float32 CSR matrix of features, Y a CSR label indicator. The feature data and
    indices are views of the reader's memory (no copy). Malformed files raise FormatError naming file,
    line and problem."""
    out = ffi.new("slide_dataset **")
    check(lib.slide_dataset_load_xc(os.fsencode(os.fspath(path)), out))
    return _dataset_arrays(out)


def _width(value, name):
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 2**31 - 1:
        raise InvalidArgumentError(f"load_libsvm: {name} = {value!r} must be None or an integer in [1, 2147483647]")
    return int(value)


def load_libsvm(path, n_features=None, n_labels=None, feature_base=1, label_base=0):
    """Reads a libsvm / svmlight file with comma-separated multi-label lists (gzip allowed) with the C reader.

    Lines are ``l1,l2 f:v f:v ...`` (no header; a line starting with a blank has no labels); ``#`` starts
    a comment; lines holding only blanks or a comment are skipped; a ``qid:n`` token after the labels is
    ignored. ``feature_base`` (default 1, the libsvm convention) and ``label_base`` (default 0) say where
    ids start; they are subtracted when stored. ``n_features`` / ``n_labels`` fix the matrix widths and
    make larger ids an error; None infers them as the largest id + 1. Pass the training set's widths when
    loading its test set so both have the same columns. Returns (X, Y) as :func:`load_xc` does."""
    opt = ffi.new("slide_libsvm_options *")
    lib.slide_libsvm_options_init(opt)
    opt.n_features = _width(n_features, "n_features")
    opt.n_labels = _width(n_labels, "n_labels")
    for name, base in (("feature_base", feature_base), ("label_base", label_base)):
        if isinstance(base, bool) or base not in (0, 1):
            raise InvalidArgumentError(f"load_libsvm: {name} = {base!r} must be 0 or 1")
    opt.feature_base = int(feature_base)
    opt.label_base = int(label_base)
    out = ffi.new("slide_dataset **")
    check(lib.slide_dataset_load_libsvm(os.fsencode(os.fspath(path)), opt, out))
    return _dataset_arrays(out)
