"""The batch-shared softmax's logQ correction of other rows' labels, against a hand computation.

A batch-shared output layer computes, for every row, the batch's labels plus uniform draws. A drawn neuron's
logit gets log(1/u) (u: the share of the neurons outside the labels that were drawn); another row's label j
gets -log(1 - (1 - q_j)(1 - u)), q_j = 1 - (1 - f_j)^(B-1) the chance that one of the other B - 1 rows has
it, f_j its label frequency over the rows trained so far; a row's own labels get nothing. Neurons outside
the labels have zero weights here, so every drawn logit is the same whichever neurons the draws take, and
the loss of a batch can be computed by hand.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import libslide as sl

UNITS, DIM, DRAWS = 40, 4, 10
LABELS = [[0], [1], [0], [2, 3]]  # label 0 on two rows, 3 and 4 only on the multi-label row


def network(logq=True):
    net = sl.Network(input_dim=DIM,
                     layers=[sl.Layer(UNITS, activation="softmax",
                                      sampling=sl.LSH(active=DRAWS, random_fraction=1.0, batch_shared=True,
                                                      logq_correction=logq))],
                     optimizer=sl.Adam(lr=1e-12), seed=3, threads=1)
    rng = np.random.default_rng(0)
    w = np.zeros((UNITS, DIM), np.float32)
    w[:4] = rng.normal(size=(4, DIM)).astype(np.float32)
    net.layers[0].weights = w
    return net, w


def batch():
    X = np.random.default_rng(1).normal(size=(len(LABELS), DIM)).astype(np.float32)
    indptr = np.cumsum([0] + [len(y) for y in LABELS])
    Y = sp.csr_matrix((np.ones(indptr[-1], np.float32), np.concatenate(LABELS), indptr),
                      shape=(len(LABELS), UNITS))
    return X, Y


def expected_loss(X, w, counts, rows_seen, correct_labels=True):
    """Mean over rows of the cross-entropy (uniform over the row's labels) of the corrected sampled softmax."""
    labels = sorted({j for y in LABELS for j in y})
    u = DRAWS / (UNITS - len(labels))
    n_other = len(LABELS) - 1
    total = 0.0
    for x, own in zip(X.astype(np.float64), LABELS):
        z = {j: float(w[j].astype(np.float64) @ x) for j in labels}
        for j in labels:
            if j in own or not correct_labels:
                continue
            f = counts.get(j, 0) / rows_seen if rows_seen else 0.0
            z[j] -= np.log(1.0 - (1.0 - f) ** n_other * (1.0 - u))
        drawn = np.full(DRAWS, np.log(1.0 / u))  # zero weights and bias, plus the draws' offset
        logits = np.concatenate([list(z.values()), drawn])
        lse = np.log(np.exp(logits - logits.max()).sum()) + logits.max()
        total += -np.mean([z[j] - lse for j in own])
    return total / len(LABELS)


def test_other_rows_labels_are_corrected_by_their_frequency():
    X, Y = batch()
    net, w = network()
    # First batch: no frequencies yet, so another row's label is corrected as a draw.
    first = net.train_batch(X, Y)["loss"]
    assert first == pytest.approx(expected_loss(X, w, {}, 0), rel=1e-5)
    # Second batch: label 0 was on 2 of 4 rows, labels 1, 2, 3 on 1 of 4.
    second = net.train_batch(X, Y)["loss"]
    counts = {0: 2, 1: 1, 2: 1, 3: 1}
    want = expected_loss(X, w, counts, 4)
    assert second == pytest.approx(want, rel=1e-5)
    # The frequencies matter: without them (or without correcting labels at all) the loss is clearly different.
    assert abs(want - expected_loss(X, w, {}, 0)) > 0.01
    assert abs(want - expected_loss(X, w, counts, 4, correct_labels=False)) > 0.01


def test_label_counts_survive_save_and_load(tmp_path):
    """A resumed network corrects with the counts it had: its next loss equals the uninterrupted network's."""
    X, Y = batch()
    net, _ = network()
    for _ in range(3):
        net.train_batch(X, Y)
    net.save(tmp_path / "m.slide")
    assert int.from_bytes((tmp_path / "m.slide").read_bytes()[8:12], "little") == 6  # the version with counts
    again = sl.Network.load(tmp_path / "m.slide", threads=1)
    assert again.train_batch(X, Y)["loss"] == net.train_batch(X, Y)["loss"]
    fresh, _ = network()  # the same weights (to ~1e-11) without counts: a clearly different loss
    assert abs(fresh.train_batch(X, Y)["loss"] - again.train_batch(X, Y)["loss"]) > 0.01


def test_without_logq_correction_nothing_is_added():
    X, Y = batch()
    net, w = network(logq=False)
    u = DRAWS / (UNITS - 4)
    # No correction: drawn logits are 0, labels uncorrected.
    labels = [0, 1, 2, 3]
    total = 0.0
    for x, own in zip(X.astype(np.float64), LABELS):
        z = np.array([w[j] @ x for j in labels] + [0.0] * DRAWS)
        lse = np.log(np.exp(z).sum())
        total += -np.mean([z[labels.index(j)] - lse for j in own])
    assert u < 1
    assert net.train_batch(X, Y)["loss"] == pytest.approx(total / len(LABELS), rel=1e-5)
