"""Marshalling numpy / scipy.sparse inputs into borrowed ``slide_matrix`` views.

Arrays that already have the library's layout (C-contiguous float32 dense rows; CSR with float32 data
and int32 indices) are passed without copying. Only the CSR ``indptr`` is converted to int64 when it is
int32 (n + 1 integers). Every view returned here carries the Python objects it points into, so they
stay alive for as long as the view does.
"""

from __future__ import annotations

import math
import numbers
import operator
import os

import numpy as np

from ._api import ffi, lib
from ._errors import InvalidArgumentError

try:  # scipy is a dependency, but keep import errors readable
    import scipy.sparse as sp
except ImportError:  # pragma: no cover
    sp = None


class MatrixView:
    """A ``slide_matrix`` plus the arrays it borrows from."""

    __slots__ = ("c", "keep", "rows", "cols")

    def __init__(self, c, keep, rows, cols):
        self.c = c
        self.keep = keep
        self.rows = rows
        self.cols = cols


def _int64_indptr(indptr):
    return np.ascontiguousarray(indptr, dtype=np.int64)


def _csr_lengths(M, name):
    """Refuses a scipy CSR matrix whose indptr, indices and data disagree (before scipy or C reads them)."""
    indptr = np.asarray(M.indptr)
    nnz = int(indptr[-1]) if indptr.size else 0
    if indptr.size != M.shape[0] + 1 or M.indices.size < nnz or M.data.size < nnz or M.indices.size != M.data.size:
        raise InvalidArgumentError(
            f"{name}: CSR arrays disagree: {M.shape[0]} rows, indptr has {indptr.size} entries ending at {nnz}, "
            f"indices {M.indices.size} and data {M.data.size}")


def _csr_view(indptr, indices, data, shape, name, labels=False):
    indptr = _int64_indptr(indptr)
    indices = np.ascontiguousarray(indices)
    # C reads indptr[rows + 1] and nnz = indptr[rows] entries of indices and data: arrays that disagree
    # (a hand-edited scipy matrix) would be read past their end.
    if indptr.ndim != 1 or indptr.size != int(shape[0]) + 1:
        raise InvalidArgumentError(f"{name}: CSR indptr has {indptr.size} entries, {int(shape[0]) + 1} expected "
                                   f"for {int(shape[0])} rows")
    nnz = int(indptr[-1])
    if indptr[0] != 0 or nnz < 0 or (indptr.size > 1 and np.any(np.diff(indptr) < 0)):
        raise InvalidArgumentError(f"{name}: CSR indptr must start at 0 and be non-decreasing")
    if indices.ndim != 1 or indices.size < nnz or (data is not None and np.size(data) < nnz):
        raise InvalidArgumentError(
            f"{name}: CSR arrays disagree: indptr ends at {nnz} but indices has {indices.size} entries"
            + ("" if data is None else f" and data {np.size(data)}"))
    if indices.dtype != np.int32:
        if indices.size and (indices.min() < 0 or indices.max() > np.iinfo(np.int32).max):
            raise InvalidArgumentError(f"{name}: column ids must fit in int32")
        indices = indices.astype(np.int32)
    m = ffi.new("slide_matrix *")
    m.kind = lib.SLIDE_MATRIX_CSR
    m.rows, m.cols = int(shape[0]), int(shape[1])
    m.indptr = ffi.from_buffer("int64_t[]", indptr)
    m.indices = ffi.from_buffer("int32_t[]", indices)
    keep = [indptr, indices]
    if labels:
        m.values = ffi.NULL
    else:
        data = np.ascontiguousarray(data, dtype=np.float32)
        m.values = ffi.from_buffer("float[]", data)
        keep.append(data)
    return MatrixView(m, keep, int(shape[0]), int(shape[1]))


def features(X, input_dim=None, name="X") -> MatrixView:
    """A view of a feature matrix: numpy 2-D (float32 preferred) or any scipy.sparse matrix/array."""
    if isinstance(X, MatrixView):
        view = X
    elif sp is not None and sp.issparse(X):
        if X.ndim != 2:
            raise InvalidArgumentError(f"{name} must be 2-D, got shape {X.shape}")
        if X.format != "csr":
            X = X.tocsr()
        _csr_lengths(X, name)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        view = _csr_view(X.indptr, X.indices, X.data, X.shape, name)
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise InvalidArgumentError(f"{name} must be a 2-D array or a scipy.sparse matrix, got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InvalidArgumentError(f"{name} must hold numbers, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        m = ffi.new("slide_matrix *")
        m.kind = lib.SLIDE_MATRIX_DENSE
        m.rows, m.cols = arr.shape
        m.values = ffi.from_buffer("float[]", arr) if arr.size else ffi.NULL
        view = MatrixView(m, [arr], arr.shape[0], arr.shape[1])
    if input_dim is not None and view.cols != input_dim:
        raise InvalidArgumentError(f"{name} has {view.cols} columns, the network expects {input_dim}")
    return view


def labels(Y, n_rows=None, n_labels=None, name="Y") -> MatrixView:
    """A view of multi-label targets: a CSR indicator (any sparse matrix), a 1-D int array (one label per
    row), or a sequence of int arrays (labels of each row)."""
    if isinstance(Y, MatrixView):
        view = Y
    elif sp is not None and sp.issparse(Y):
        if Y.ndim != 2:
            raise InvalidArgumentError(f"{name} must be 2-D, got shape {Y.shape}")
        if Y.format != "csr":
            Y = Y.tocsr()
        # An indicator matrix: a stored zero is not a label (eliminate_zeros), and an entry stored twice is one
        # label (sum_duplicates). Both copy only when needed.
        _csr_lengths(Y, name)
        if (Y.nnz and not np.all(Y.data[:Y.nnz])) or not Y.has_canonical_format:
            Y = Y.copy()
            Y.sum_duplicates()
            Y.eliminate_zeros()
        view = _csr_view(Y.indptr, Y.indices, None, Y.shape, name, labels=True)
    else:
        if isinstance(Y, np.ndarray) and Y.ndim == 1 and np.issubdtype(Y.dtype, np.integer):
            indices = Y  # cast to int32 below, after the range check (2**32 + 3 must not become 3)
            indptr = np.arange(len(Y) + 1, dtype=np.int64)
        elif isinstance(Y, np.ndarray) and Y.ndim == 2:
            raise InvalidArgumentError(
                f"{name}: a dense 2-D label array is ambiguous; pass a scipy.sparse indicator matrix or a list of "
                "int arrays")
        else:
            try:
                rows = [np.asarray(r).reshape(-1) for r in Y]
            except TypeError as exc:
                raise InvalidArgumentError(f"{name} must be a sparse indicator matrix or a list of int arrays") from exc
            for i, r in enumerate(rows):
                # an empty row ([] is float64 to numpy) has no labels, whatever its dtype
                if r.size and not (np.issubdtype(r.dtype, np.integer) and r.dtype != np.bool_):
                    raise InvalidArgumentError(f"{name} row {i}: labels must be integers, got dtype {r.dtype}")
            rows = [r if r.size else np.zeros(0, np.int64) for r in rows]
            lens = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
            indptr = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum(lens, out=indptr[1:])
            if rows and any(r.dtype == np.uint64 for r in rows):  # uint64 with int64 would promote to float64
                rows = [r if r.dtype == np.uint64 else r.astype(np.uint64) if r.size == 0 or r.min() >= 0
                        else r for r in rows]
            indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            if indices.dtype.kind == "f":  # uint64 mixed with negative signed ids
                raise InvalidArgumentError(f"{name}: label ids must be in [0, {n_labels or 2**31 - 1}), got negative ids "
                                           "mixed with uint64 ones")
        if n_labels is None:
            n_labels = int(indices.max()) + 1 if indices.size else 1
            if n_labels > np.iinfo(np.int32).max:
                raise InvalidArgumentError(f"{name}: label ids must fit in int32, got {int(indices.max())}")
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n_labels):
            raise InvalidArgumentError(
                f"{name}: label ids must be in [0, {n_labels}), got range [{indices.min()}, {indices.max()}]")
        indices = indices.astype(np.int32, copy=False)
        view = _csr_view(indptr, indices, None, (len(indptr) - 1, n_labels), name, labels=True)
    if n_labels is not None and view.cols != n_labels:
        raise InvalidArgumentError(f"{name} has {view.cols} label columns, the output layer has {n_labels}")
    if n_rows is not None and view.rows != n_rows:
        raise InvalidArgumentError(f"{name} has {view.rows} rows but X has {n_rows}")
    return view


def row_ids(rows, n_rows, name="rows"):
    """int64 row ids (a view when already int64 and contiguous), checked against n_rows."""
    r = np.ascontiguousarray(rows, dtype=np.int64)
    if r.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D")
    if r.size and (r.min() < 0 or r.max() >= n_rows):
        raise InvalidArgumentError(f"{name} must be in [0, {n_rows})")
    return r


# ---------------------------------------------------------------- argument checks
# One family for the whole package, all raising InvalidArgumentError (also a ValueError). Ranges of
# network settings are the C library's business (slide_network_create names the field and the value);
# these helpers check types, the ranges of purely Python arguments (epochs, make_extreme sizes, ...) and
# that a value fits the C field it goes into.

UINT32_MAX = 2**32 - 1


def integer(value, name, minimum=None, maximum=None) -> int:
    """``value`` as an int: a Python or numpy integer (not a bool), within [minimum, maximum] when given."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be an integer, got a bool ({value!r})")
    try:
        v = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an integer, got {type(value).__name__} ({value!r})") from None
    if maximum is None:
        if minimum is not None and v < minimum:
            raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {v!r}")
    elif (minimum is not None and v < minimum) or v > maximum:
        raise InvalidArgumentError(f"{name} must be an integer in [{minimum}, {maximum}], got {v!r}")
    return int(v)


def positive_int(value, name, minimum=1) -> int:
    """An integer >= ``minimum`` (default 1)."""
    return integer(value, name, minimum)


def c_uint32(value, name, minimum=0) -> int:
    """An integer that fits a uint32_t field of a C config struct. ``minimum=1`` for fields whose 0 means
    "the library's default" in C, so that an explicit 0 is not silently read as "unset"."""
    return integer(value, name, minimum, UINT32_MAX)


def c_int(value, name) -> int:
    """An integer that fits an int field of a C struct (the range itself is checked by the library)."""
    return integer(value, name, -(2**31), 2**31 - 1)


def real(value, name, lo=None, hi=None, lo_open=False, hi_open=False) -> float:
    """``value`` as a float: a Python or numpy real number (not a bool). With ``lo`` / ``hi`` it must also be
    finite and within the interval (for Python-side arguments; C checks the ranges of network settings)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if lo is None and hi is None:
        return v
    if not math.isfinite(v):
        raise InvalidArgumentError(f"{name} must be finite, got {v}")
    too_low = lo is not None and (v <= lo if lo_open else v < lo)
    too_high = hi is not None and (v >= hi if hi_open else v > hi)
    if too_low or too_high:
        lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise InvalidArgumentError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {v}")
    return v


def flag(value, name) -> int:
    """A bool (Python or numpy; the integers 0 and 1 too) as the 0 / 1 of a C int field."""
    if not (isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1))):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")
    return 1 if value else 0


def choice(value, options: dict, name):
    """The C value of one of the names in ``options`` (for example an activation name)."""
    if not isinstance(value, str) or value not in options:
        raise InvalidArgumentError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return options[value]


def text(value, name) -> str:
    """A str for a C string: no NUL byte, which C would read as its end (as Python's open() refuses one)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {type(value).__name__} ({value!r})")
    if "\0" in value:
        raise InvalidArgumentError(f"{name} must not contain a NUL byte, got {value!r}")
    return value


def path(value, name="path") -> bytes:
    """A file path (str, bytes or os.PathLike) as the bytes C receives; refuses an embedded NUL byte, which
    would silently cut the path short in C (Python's open() raises ValueError for the same path)."""
    try:
        raw = os.fsencode(os.fspath(value))
    except TypeError:
        raise InvalidArgumentError(f"{name} must be a path (str, bytes or os.PathLike), got "
                                   f"{type(value).__name__} ({value!r})") from None
    if b"\0" in raw:
        raise InvalidArgumentError(f"{name} must not contain a NUL byte, got {value!r}")
    return raw
