"""File readers: Extreme Classification Repository and libsvm files, parsed by the C library.

The returned scipy.sparse matrices are views of the reader's memory where the layouts agree (no copy);
they keep the C dataset alive. Also available as ``libslide.load_xc`` / ``libslide.load_libsvm``.
"""

from __future__ import annotations

import os

import numpy as np

from . import _inputs
from ._api import check, ffi, lib, new_struct
from ._errors import InvalidArgumentError

__all__ = ["load_xc", "load_libsvm"]


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
    check(lib.slide_dataset_load_xc(_inputs.path(path, "load_xc: path"), out))
    return _dataset_arrays(out)


def _width(value, name):
    """None (infer from the file: C's 0) or an explicit matrix width, whose range the C reader checks."""
    if value is None:
        return 0
    width = _inputs.integer(value, f"load_libsvm: {name}", -(2**63), 2**63 - 1)
    if width == 0:  # C would read 0 as "infer", not as an empty matrix
        raise InvalidArgumentError(f"load_libsvm: {name} must be None (infer from the file) or >= 1, got 0")
    return width


def load_libsvm(path, n_features=None, n_labels=None, feature_base=1, label_base=0):
    """Reads a libsvm / svmlight file with comma-separated multi-label lists (gzip allowed) with the C reader.

    Lines are ``l1,l2 f:v f:v ...`` (no header; a line starting with a blank has no labels); ``#`` starts
    a comment; lines holding only blanks or a comment are skipped; a ``qid:n`` token after the labels is
    ignored. ``feature_base`` (default 1, the libsvm convention) and ``label_base`` (default 0) say where
    ids start; they are subtracted when stored. ``n_features`` / ``n_labels`` fix the matrix widths and
    make larger ids an error; None infers them as the largest id + 1. Pass the training set's widths when
    loading its test set so both have the same columns. Returns (X, Y) as :func:`load_xc` does."""
    opt = new_struct("slide_libsvm_options")
    opt.n_features = _width(n_features, "n_features")
    opt.n_labels = _width(n_labels, "n_labels")
    opt.feature_base = _inputs.c_int(feature_base, "load_libsvm: feature_base")
    opt.label_base = _inputs.c_int(label_base, "load_libsvm: label_base")
    out = ffi.new("slide_dataset **")
    check(lib.slide_dataset_load_libsvm(_inputs.path(path, "load_libsvm: path"), opt, out))
    return _dataset_arrays(out)
