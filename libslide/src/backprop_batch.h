/*
 * Back-propagation through a per-sample sampled layer into a sparse previous layer for a whole batch at
 * once, row by row (backprop_batch.c).
 */
#ifndef SLIDE_BACKPROP_BATCH_H
#define SLIDE_BACKPROP_BATCH_H

#include <stdint.h>

#include "network.h"

/*
 * Layer l (l >= 1) back-propagates through slide_backprop_sparse_batch: a per-sample (not batch-shared),
 * float32, neuron-major sampled layer whose previous layer's activations are sparse for every sample s < n.
 */
int slide_backprop_sparse_batch_applies(const slide_network *net, uint32_t l, int64_t n);

/*
 * For every sample s < n: acts[s][l - 1].delta[i] = sum over the sample's active neurons j of layer l of
 * delta_j * w_j[prev_ids[i]], zeroed where the previous layer is ReLU and its value is <= 0 -- what
 * slide_backprop_layer computes, with each sample's sum taken in ascending neuron order (independent of
 * the thread count). Runs its own parallel region on nt threads. SLIDE_E_NOMEM when its buffers cannot grow.
 */
int slide_backprop_sparse_batch(slide_network *net, uint32_t l, int64_t n, int nt);

#endif
