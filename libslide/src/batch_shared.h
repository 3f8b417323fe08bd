/* Batch-shared layers' forward and backward over a whole batch (batch_shared.c). */
#ifndef SLIDE_BATCH_SHARED_H
#define SLIDE_BATCH_SHARED_H

#include <stdint.h>

#include "slide/slide.h"

/*
 * Forward of batch-shared layer l for the batch rows[0..n) of X: its active set is sampler.shared.ids for
 * every sample (chosen by slide_sampler_select_shared). Y gives each row's labels for the output layer's
 * in-batch label correction.
 */
int slide_forward_shared_layer(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                               const int64_t *rows, int64_t n, int nt);
/* slide_backprop_layer for batch-shared layer l (l > 0, dense previous layer) over the whole batch. */
void slide_backprop_shared_layer(slide_network *net, uint32_t l, int64_t n, int nt);
/* dL/dX of a batch-shared layer 0 over dense input: row s of grad (n x input_dim) for batch position s. */
void slide_input_gradient_shared(slide_network *net, int64_t n, int nt, float *grad);

#endif
