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
    net.fit(X, Y, epochs=3, batch_size=128, validation_data=(Xt, Yt))  # holds out 2,000 rows to steer it
"""

from __future__ import annotations

from . import datasets
from ._api import c_string, lib
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
from .io import load_libsvm, load_xc
from .network import SGD, LSH, Adam, Layer, LayerView, Network, TableStats, hash_backends, holdout_split, load_backend

__version__ = c_string(lib.slide_version_string())


def kernel_isa() -> str:
    """Instruction set of the numeric kernels in use: "scalar", "avx2" or "avx512" (the environment variable
    SLIDE_ISA, read once at the first call into the library, can cap it)."""
    return c_string(lib.slide_kernel_isa())


__all__ = [
    "Adam", "SGD", "LSH", "Layer", "LayerView", "Network", "TableStats", "hash_backends", "holdout_split", "kernel_isa",
    "load_backend",
    "load_xc", "load_libsvm", "datasets",
    "SlideError", "InvalidArgumentError", "FormatError", "SlideIOError", "SlideMemoryError",
    "UnsupportedError", "BusyError", "NumericError", "NotFoundError", "__version__",
]
