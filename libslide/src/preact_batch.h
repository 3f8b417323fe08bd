/*
 * Every pre-activation of one layer for a whole batch (preact_batch.c): what per-sample exact selection
 * (the "exact" oracle) needs, computed row by row so that each weight row is read from memory once per
 * batch instead of once per sample.
 */
#ifndef SLIDE_PREACT_BATCH_H
#define SLIDE_PREACT_BATCH_H

#include <stdint.h>

#include "matrix.h"
#include "network.h"

/* Training scores layer l through slide_preact_batch: a per-sample (not batch-shared) sampled layer whose
 * selection is exact. */
int slide_preact_batch_applies(const slide_network *net, uint32_t l);

/*
 * Fills net->preact[s * units + j] with w_j . x_s + b_j for every neuron j of layer l and every batch
 * position s < n, where x_s is layer l's input for s (row rows[s] of X for layer 0, else acts[s][l - 1],
 * which must be computed): the values of the exact forward pass to rounding (dense inputs and, when it pays,
 * sparse ones are scored by a register-blocked kernel in chunks, preact_batch.c), independent of the thread
 * count. Grows net->preact as needed; SLIDE_E_NOMEM when it cannot. Runs its own
 * parallel region on nt threads; the caller must not be inside one.
 */
int slide_preact_batch(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, int64_t n,
                       int nt);

#endif
