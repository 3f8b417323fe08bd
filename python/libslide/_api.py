"""The compiled cffi module and the one place where C status codes become Python exceptions."""

from __future__ import annotations

import os

# libgomp keeps idle threads spinning between parallel regions. A training batch opens several short
# regions, and on a machine whose cores are shared, spinning threads take the cores the working threads
# need: measured 2-3x lower throughput under load (see README, "Threads"). Passive waiting costs a futex
# wake per region instead; a short spin first (GOMP_SPINCOUNT=3000, a few microseconds) saves most of
# those wakes on an idle machine and cost nothing measurable with two busy processes on the cores
# (bench/omp_wait_policy.py). Set before libgomp loads; an explicit OMP_WAIT_POLICY is respected, and
# then GOMP_SPINCOUNT is left alone too (it would override that policy's own spin).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")

from . import _errors as E  # noqa: E402
from ._slide_cffi import ffi, lib  # noqa: E402

_BY_STATUS = {
    lib.SLIDE_E_INVALID: E.InvalidArgumentError,
    lib.SLIDE_E_NOMEM: E.SlideMemoryError,
    lib.SLIDE_E_IO: E.SlideIOError,
    lib.SLIDE_E_FORMAT: E.FormatError,
    lib.SLIDE_E_UNSUPPORTED: E.UnsupportedError,
    lib.SLIDE_E_BUSY: E.BusyError,
    lib.SLIDE_E_NUMERIC: E.NumericError,
    lib.SLIDE_E_NOT_FOUND: E.NotFoundError,
}


def check(status: int) -> None:
    """Raises the exception matching a C status, with the library's thread-local message."""
    if status == lib.SLIDE_OK:
        return
    message = ffi.string(lib.slide_last_error()).decode("utf-8", "replace")
    if not message:
        message = ffi.string(lib.slide_status_string(status)).decode()
    raise _BY_STATUS.get(status, E.SlideError)(message, status)


def new_struct(ctype: str):
    """A new C struct filled with the library's defaults by its ``<ctype>_init_v`` (the size passed)."""
    ptr = ffi.new(ctype + " *")
    check(getattr(lib, ctype + "_init_v")(ptr, ffi.sizeof(ctype)))
    return ptr


def c_string(value) -> str:
    return ffi.string(value).decode("utf-8", "replace")
