"""Shared fixtures: small generated data sets and XC files written into tmp_path. Nothing is downloaded."""

import numpy as np
import pytest

import libslide as sl


def write_xc(path, X, Y):
    """Writes (X, Y) in the Extreme Classification Repository format, for reader and CLI tests."""
    X = X.tocsr()
    Y = Y.tocsr()
    with open(path, "w") as f:
        f.write(f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}\n")
        for i in range(X.shape[0]):
            labs = ",".join(str(j) for j in Y.indices[Y.indptr[i]:Y.indptr[i + 1]])
            feats = " ".join(f"{j}:{v:.6g}" for j, v in zip(X.indices[X.indptr[i]:X.indptr[i + 1]],
                                                              X.data[X.indptr[i]:X.indptr[i + 1]]))
            f.write(f"{labs} {feats}\n")
    return path


@pytest.fixture(scope="session")
def small_data():
    """A learnable 300-label problem: (X, Y, Xt, Yt) as CSR matrices."""
    return sl.datasets.make_extreme(n_train=8000, n_test=2000, n_features=2000, n_labels=300, nnz_per_row=30,
                                    noise=0.3, seed=3)


def most_frequent_p1(Y, Yt):
    top = int(np.asarray(Y.sum(axis=0)).ravel().argmax())
    return float(np.asarray(Yt[:, top].todense()).ravel().mean())
