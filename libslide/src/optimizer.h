/* The optimizer step (optimizer.c): per-row reduction of the batch's gradients, then Adam or SGD. */
#ifndef SLIDE_OPTIMIZER_H
#define SLIDE_OPTIMIZER_H

#include <stdint.h>

#include "slide/slide.h"

/*
 * Applies the batch rows[0..n) (NULL: 0..n-1) of X to layer l's weights and biases, with the step count
 * net->step; forward and backward must have filled net->acts. Re-hashes the touched rows when the
 * sampler's schedule asks for it. Runs its own parallel regions on nt threads.
 */
int slide_update_layer(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, uint32_t n,
                       int nt);

#endif
