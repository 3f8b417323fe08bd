/* Back-propagation of one sample (backprop.c). */
#ifndef SLIDE_BACKPROP_H
#define SLIDE_BACKPROP_H

#include <stdint.h>

#include "network.h"
#include "scratch.h"

/*
 * The output layer's delta in a from its softmax probabilities (labels[0..n_labels) are the sample's,
 * scale is 1 / batch size); returns the sample's cross-entropy.
 */
double slide_output_delta(const slide_layer *L, slide_act *a, const int32_t *labels, uint32_t n_labels, float scale);
/* A ReLU layer's delta becomes d loss / d pre-activation: zero where the unit did not fire (val <= 0). */
static inline void slide_relu_gate_delta(slide_act *a)
{
    for (uint32_t i = 0; i < a->n; i++)
        if (a->val[i] <= 0.0f)
            a->delta[i] = 0.0f;
}

/* Back-propagates layer L's delta (a) into the previous layer's delta (prev: a ReLU or linear layer). */
void slide_backprop_layer(const slide_layer *L, const slide_act *a, slide_act *prev, int prev_relu);

#endif
