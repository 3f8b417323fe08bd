/*
 * Back-propagation of one sample: the output layer's delta from its softmax and labels, then each layer's
 * delta into the previous layer's. A call writes only the sample's own slide_act deltas; weights are only
 * read. Batch-shared layers are back-propagated a chunk of samples at a time in batch_shared.c.
 */
#include <math.h>
#include <string.h>

#include "backprop.h"
#include "kernels.h"
#include "network.h"
#include "rows.h"
#include "scratch.h"

/* delta of the output layer from softmax probabilities; returns the sample's cross-entropy. */
double slide_output_delta(const slide_layer *L, slide_act *a, const int32_t *labels, uint32_t n_labels,
                          float scale)
{
    if (n_labels == 0) {
        memset(a->delta, 0, sizeof(float) * a->n);
        return 0.0;
    }
    float t = 1.0f / (float)n_labels;
    double loss = 0.0;
    int shared = slide_layer_batch_shared(L) && !a->dense;
    if (!a->dense && !shared && a->n_forced == 0) {
        memset(a->delta, 0, sizeof(float) * a->n);
        return 0.0;
    }
    for (uint32_t k = 0; k < a->n; k++)
        a->delta[k] = a->val[k] * scale;
    if (shared) {
        /* Every label of the batch is in the shared set (slide_sampler_select_shared puts them first). */
        for (uint32_t i = 0; i < n_labels; i++) {
            int32_t k = L->sampler.shared.pos[labels[i]];
            a->delta[k] -= t * scale;
            loss -= t * log((double)a->val[k] + 1e-30);
        }
    } else if (a->dense) {
        for (uint32_t i = 0; i < n_labels; i++) {
            uint32_t y = (uint32_t)labels[i];
            a->delta[y] -= t * scale;
            loss -= t * log((double)a->val[y] + 1e-30);
        }
    } else {
        /* slide_sampler_select placed the distinct labels first: ids[0 .. n_forced). */
        t = 1.0f / (float)a->n_forced;
        for (uint32_t k = 0; k < a->n_forced; k++) {
            a->delta[k] -= t * scale;
            loss -= t * log((double)a->val[k] + 1e-30);
        }
    }
    return loss;
}

/* Back-propagates layer l's delta into layer l-1's delta (which must be a ReLU or linear layer). */
void slide_backprop_layer(const slide_layer *L, const slide_act *a, slide_act *prev, int prev_relu)
{
    const slide_kernels *K = slide_kernels_get();
    float *dx = prev->delta;
    if (L->neuron_major) {
        memset(dx, 0, sizeof(float) * prev->n);
        if (prev->dense) {
            slide_rows rows;
            float coef[SLIDE_ROWS_BATCH];
            uint32_t m = 0;
            for (uint32_t k = 0; k < a->n; k++) {
                if (a->delta[k] == 0.0f)
                    continue;
                coef[m] = a->delta[k];
                slide_rows_set(&rows, L, m++, a->dense ? k : (size_t)a->ids[k]);
                if (m == SLIDE_ROWS_BATCH) {
                    slide_rows_axpy_many(K, L, dx, coef, &rows, m, prev->n);
                    m = 0;
                }
            }
            if (m)
                slide_rows_axpy_many(K, L, dx, coef, &rows, m, prev->n);
        } else {
            for (uint32_t k = 0; k < a->n; k++) {
                size_t j = a->dense ? k : (size_t)a->ids[k];
                float d = a->delta[k];
                if (d == 0.0f)
                    continue;
                if (!slide_is_bf16(L)) {
                    K->axpy_gather(dx, d, slide_row_w(L, j), prev->ids, prev->n);
                    continue;
                }
                for (uint32_t i = 0; i < prev->n; i++)
                    dx[i] += d * slide_row_get(L, j, (size_t)prev->ids[i]);
            }
        }
    } else {
        /* Input-major layers are fully computed: a->delta covers every unit. */
        for (uint32_t i = 0; i < prev->n; i++) {
            if (prev->val[i] == 0.0f && prev_relu) {
                dx[i] = 0.0f;
                continue;
            }
            size_t r = prev->dense ? i : (size_t)prev->ids[i];
            dx[i] = K->dot(slide_row_w(L, r), a->delta, L->units);
        }
    }
    if (prev_relu)
        slide_relu_gate_delta(prev);
}
