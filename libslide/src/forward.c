/*
 * Forward pass of one sample: each layer computes its active neurons (the sampler's choice in sampled
 * layers, every neuron otherwise) from the previous layer's activations. Weights are only read; a call
 * writes only the sample's own slide_act slots and its thread's scratch, so samples run in parallel.
 */
#include <math.h>
#include <string.h>

#include "forward.h"
#include "kernels.h"
#include "network.h"
#include "rng.h"
#include "rows.h"
#include "sampler.h"
#include "scratch.h"

void slide_softmax_inplace(float *z, uint32_t n)
{
    if (n == 0)
        return;
    float mx = z[0];
    for (uint32_t i = 1; i < n; i++)
        mx = z[i] > mx ? z[i] : mx;
    const float inv = 1.0f / slide_kernels_get()->exp_sum(z, n, mx);
    for (uint32_t i = 0; i < n; i++)
        z[i] *= inv;
}

int slide_forward_sample(slide_network *net, slide_vec x, const int32_t *labels, uint32_t n_labels, int mode,
                         int skip_last, slide_act *acts, slide_thread_scratch *scr, uint64_t sample_seed)
{
    return slide_forward_layers(net, x, 0, net->n_layers - (skip_last ? 1u : 0u), labels, n_labels, mode, acts,
                                scr, sample_seed, NULL, 0);
}

int slide_forward_layers(slide_network *net, slide_vec x, uint32_t from, uint32_t to, const int32_t *labels,
                         uint32_t n_labels, int mode, slide_act *acts, slide_thread_scratch *scr,
                         uint64_t sample_seed, const float *pre_from, int selected_from)
{
    const slide_kernels *K = slide_kernels_get();
    slide_vec in = from == 0 ? x : slide_act_input(&acts[from - 1]);
    for (uint32_t l = from; l < to; l++) {
        const slide_layer *L = &net->layers[l];
        slide_act *a = &acts[l];
        int last = l + 1 == net->n_layers;
        const float *pre = l == from ? pre_from : NULL; /* bias included */
        int rc;
        if (L->sampled && mode != SLIDE_FWD_EXACT) {
            /* Batch-shared layers never come here while training: slide_forward_shared_layer computes them. */
            if (!(selected_from && l == from)) {
                rc = slide_sampler_select(L, in, (last && mode == SLIDE_FWD_TRAIN) ? labels : NULL,
                                          (last && mode == SLIDE_FWD_TRAIN) ? n_labels : 0, mode == SLIDE_FWD_TRAIN, a,
                                          scr, slide_forward_select_seed(sample_seed, l), pre);
                if (rc)
                    return rc;
            }
            /* Values the selection already computed (bias included): [p0, p1). Only sparse inputs have them. */
            const uint32_t p0 = a->n_forced, p1 = a->n_forced + a->n_prescored;
            if (pre) {
                for (uint32_t k = 0; k < a->n; k++)
                    a->val[k] = pre[a->ids[k]];
            } else if (in.idx) {
                for (uint32_t k = 0; k < a->n; k++)
                    if (k < p0 || k >= p1)
                        a->val[k] = slide_row_dot_sparse(K, L, (size_t)a->ids[k], in.idx, in.val, in.nnz) +
                                    L->bias[a->ids[k]];
            } else {
                slide_rows rows;
                for (uint32_t k0 = 0; k0 < a->n; k0 += SLIDE_ROWS_BATCH) {
                    uint32_t m = a->n - k0 < SLIDE_ROWS_BATCH ? a->n - k0 : SLIDE_ROWS_BATCH;
                    for (uint32_t k = 0; k < m; k++)
                        slide_rows_set(&rows, L, k, (size_t)a->ids[k0 + k]);
                    slide_rows_dot_many(K, L, &rows, m, in.val, in.nnz, a->val + k0);
                }
            }
            if (!pre && !in.idx)
                for (uint32_t k = 0; k < a->n; k++)
                    a->val[k] += L->bias[a->ids[k]];
            if (mode == SLIDE_FWD_TRAIN && L->activation == SLIDE_ACT_SOFTMAX) {
                const float off = slide_sampler_logq_offset(L, a->n, a->n_fixed);
                if (off != 0.0f)
                    for (uint32_t k = a->n_fixed; k < a->n; k++)
                        a->val[k] += off;
            }
        } else {
            rc = slide_act_reserve(a, L->units, 0, mode == SLIDE_FWD_TRAIN);
            if (rc)
                return rc;
            a->n = L->units;
            a->dense = 1;
            if (pre) {
                memcpy(a->val, pre, sizeof(float) * L->units);
            } else if (L->neuron_major) {
                if (in.idx) {
                    for (uint32_t j = 0; j < L->units; j++)
                        a->val[j] = slide_row_dot_sparse(K, L, j, in.idx, in.val, in.nnz);
                } else if (slide_is_bf16(L)) {
                    slide_rows rows;
                    for (uint32_t j0 = 0; j0 < L->units; j0 += SLIDE_ROWS_BATCH) {
                        uint32_t m = L->units - j0 < SLIDE_ROWS_BATCH ? L->units - j0 : SLIDE_ROWS_BATCH;
                        for (uint32_t k = 0; k < m; k++)
                            slide_rows_set(&rows, L, k, j0 + k);
                        slide_rows_dot_many(K, L, &rows, m, in.val, in.nnz, a->val + j0);
                    }
                } else {
                    K->dot_rows(L->params, L->block, L->units, in.val, in.nnz, a->val);
                }
                for (uint32_t j = 0; j < L->units; j++)
                    a->val[j] += L->bias[j];
            } else {
                memcpy(a->val, L->bias, sizeof(float) * L->units);
                const float *rows[SLIDE_ROWS_BATCH];
                float coef[SLIDE_ROWS_BATCH];
                uint32_t m = 0;
                if (in.idx) /* the sparse input's rows are scattered over the layer: ask for all of them first */
                    for (uint32_t i = 0; i < in.nnz; i++)
                        slide_prefetch(slide_row_w(L, (size_t)in.idx[i]), sizeof(float) * L->row_len, 0);
                for (uint32_t i = 0; i < in.nnz; i++) {
                    if (in.val[i] == 0.0f)
                        continue;
                    coef[m] = in.val[i];
                    rows[m++] = slide_row_w(L, in.idx ? (size_t)in.idx[i] : i);
                    if (m == SLIDE_ROWS_BATCH) {
                        K->axpy_many(a->val, coef, rows, m, L->units);
                        m = 0;
                    }
                }
                if (m)
                    K->axpy_many(a->val, coef, rows, m, L->units);
            }
        }
        if (L->activation == SLIDE_ACT_RELU) {
            for (uint32_t k = 0; k < a->n; k++)
                a->val[k] = a->val[k] > 0.0f ? a->val[k] : 0.0f;
        } else if (L->activation == SLIDE_ACT_SOFTMAX) {
            slide_softmax_inplace(a->val, a->n);
        }
        in = slide_act_input(a);
    }
    return SLIDE_OK;
}
