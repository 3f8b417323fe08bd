"""Exceptions raised by libslide. Every C status maps to one class; all derive from SlideError."""

from __future__ import annotations


class SlideError(Exception):
    """Base class of every libslide error. ``status`` holds the C status code (0 for Python-side checks)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class InvalidArgumentError(SlideError, ValueError):
    """An argument has the wrong shape, dtype, range or value."""


class FormatError(SlideError, ValueError):
    """A data or model file is malformed; the message names file, line and problem."""


class SlideIOError(SlideError, OSError):
    """A file could not be opened, read or written."""


class SlideMemoryError(SlideError, MemoryError):
    """An allocation failed or would exceed a size limit."""


class UnsupportedError(SlideError, NotImplementedError):
    """The feature is not available in this build or on this CPU."""


class BusyError(SlideError, RuntimeError):
    """The network is being used by another thread."""


class NumericError(SlideError, ArithmeticError):
    """Training produced NaN or Inf; the offending batch was not applied."""


class NotFoundError(SlideError, LookupError):
    """A named item (for example a hash backend) does not exist."""
