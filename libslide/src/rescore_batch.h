/*
 * Batched rescoring (rescore_batch.c): the per-sample selection of a sampled layer that rescores its
 * candidates (cfg.rescore > 1), done for a whole training batch so that each candidate row is read once
 * per batch for every sample that wants it, instead of once per sample.
 */
#ifndef SLIDE_RESCORE_BATCH_H
#define SLIDE_RESCORE_BATCH_H

#include <stdint.h>

#include "matrix.h"
#include "network.h"

/* Training selects layer l through slide_rescore_batch: a per-sample (not batch-shared) sampled layer with
 * hashed (not exact) selection and rescoring, unless the environment sets SLIDE_RESCORE_BATCH=0. */
int slide_rescore_batch_applies(const slide_network *net, uint32_t l);

/*
 * Chooses layer l's active set for every batch position s < n into net->acts[s * n_layers + l], exactly
 * as slide_sampler_select would in the training forward pass (the same candidates, scores from the same
 * kernels, the same choice and order, the same padding), and stores the rescored neurons' values; the
 * forward pass then continues with selected_from (forward.h). Samples with a sparse input have their pools
 * scored row by row; a dense input is selected by slide_sampler_select as before. The inputs of layer l
 * must be computed; step seeds the padding as in the forward pass. Runs its own parallel regions on nt
 * threads; the caller must not be inside one.
 */
int slide_rescore_batch(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                        const int64_t *rows, int64_t n, uint64_t step, int nt);

#endif
