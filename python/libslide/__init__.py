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

__all__ = [
    "Adam", "SGD", "LSH", "Layer", "LayerView", "Network", "hash_backends", "load_backend", "load_xc",
    "datasets",
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


def load_xc(path):
    """Reads an Extreme Classification Repository file (gzip allowed) with the C reader.

    Returns (X, Y): X a float32 CSR matrix of features, Y a CSR label indicator. The feature data and
    indices are views of the reader's memory (no copy). Malformed files raise FormatError naming file,
    line and problem."""
    out = ffi.new("slide_dataset **")
    check(lib.slide_dataset_load_xc(os.fsencode(os.fspath(path)), out))
    handle = ffi.gc(out[0], lib.slide_dataset_free)
    xm = ffi.new("slide_matrix *")
    ym = ffi.new("slide_matrix *")
    check(lib.slide_dataset_features(handle, xm))
    check(lib.slide_dataset_labels(handle, ym))
    return _wrap(handle, xm, True), _wrap(handle, ym, False)
