/*
 * Batch-shared mode (lsh.batch_shared): a sampled layer computes one active set, chosen for the whole batch
 * by slide_sampler_select_shared, so the batch's forward and backward passes run as blocks of rows against
 * chunks of samples. The set lives in the layer's sampler.shared for the duration of the batch.
 */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backprop.h"
#include "batch_shared.h"
#include "forward.h"
#include "kernels.h"
#include "network.h"
#include "rows.h"
#include "sampler.h"
#include "scratch.h"

/*
 * Batch-shared layers are computed rows outer, samples inner: a block of SLIDE_ROWS_BATCH rows of the set
 * stays in cache while a chunk of SHARED_SAMPLES samples uses it, so the set's weights are read
 * n / SHARED_SAMPLES times per batch instead of n times. Chunks run in parallel; every output element is computed by one
 * thread in a fixed order, so results do not depend on the thread count.
 */
enum { SHARED_SAMPLES = 16 };

/* Forward of batch-shared layer l for the whole batch: its active set is sampler.shared.ids for every sample. */
int slide_forward_shared_layer(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                               const int64_t *rows, int64_t n, int nt)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t NL = net->n_layers, m = L->sampler.shared.n;
    const slide_kernels *K = slide_kernels_get();
    for (int64_t s = 0; s < n; s++) {
        int rc = slide_act_reserve(&net->acts[(size_t)s * NL + l], m, 1, 1);
        if (rc)
            return rc;
    }
    const int64_t chunks = (n + SHARED_SAMPLES - 1) / SHARED_SAMPLES;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t s0 = c * SHARED_SAMPLES, s1 = s0 + SHARED_SAMPLES < n ? s0 + SHARED_SAMPLES : n;
        for (int64_t s = s0; s < s1; s++) {
            slide_act *a = &net->acts[(size_t)s * NL + l];
            memcpy(a->ids, L->sampler.shared.ids, sizeof(int32_t) * m);
            a->n = m;
            a->n_forced = 0; /* labels sit anywhere in the shared set: see sampler.shared.pos */
            a->n_fixed = L->sampler.shared.n_fixed;
            a->dense = 0;
        }
        /* Dense inputs: the whole chunk against each block of rows at once; sparse ones one at a time. */
        int dense_in = 1;
        const float *xs[SHARED_SAMPLES];
        for (int64_t s = s0; s < s1 && dense_in; s++) {
            slide_vec in = slide_layer_input(net, l, X, rows, (uint32_t)s);
            dense_in = !in.idx;
            xs[s - s0] = in.val;
        }
        slide_rows rowp;
        for (uint32_t k0 = 0; k0 < m; k0 += SLIDE_ROWS_BATCH) {
            const uint32_t mk = m - k0 < SLIDE_ROWS_BATCH ? m - k0 : SLIDE_ROWS_BATCH;
            for (uint32_t k = 0; k < mk; k++)
                slide_rows_set(&rowp, L, k, (size_t)L->sampler.shared.ids[k0 + k]);
            if (dense_in) {
                float *zs[SHARED_SAMPLES];
                for (int64_t s = s0; s < s1; s++)
                    zs[s - s0] = net->acts[(size_t)s * NL + l].val + k0;
                slide_rows_dot_many_multi(K, L, &rowp, mk, xs, zs, (size_t)(s1 - s0), L->in_dim);
                continue;
            }
            for (int64_t s = s0; s < s1; s++) {
                slide_vec in = slide_layer_input(net, l, X, rows, (uint32_t)s);
                float *z = net->acts[(size_t)s * NL + l].val + k0;
                for (uint32_t k = 0; k < mk; k++)
                    z[k] = slide_row_dot_sparse(K, L, (size_t)L->sampler.shared.ids[k0 + k], in.idx, in.val, in.nnz);
            }
        }
        const slide_sampler *S = &L->sampler;
        const uint32_t n_fixed = S->shared.n_fixed;
        const float off = L->activation == SLIDE_ACT_SOFTMAX ? slide_sampler_logq_offset(L, m, n_fixed) : 0.0f;
        for (int64_t s = s0; s < s1; s++) {
            slide_act *a = &net->acts[(size_t)s * NL + l];
            for (uint32_t k = 0; k < m; k++)
                a->val[k] += L->bias[a->ids[k]];
            if (off != 0.0f)
                for (uint32_t k = n_fixed; k < m; k++)
                    a->val[k] += off;
            if (S->label_count && Y) {
                /* Other rows' labels are negatives drawn with their frequency; the row's own are not. */
                const int64_t row = rows ? rows[s] : s;
                for (uint32_t k = 0; k < S->shared.n_labels; k++)
                    a->val[k] += S->shared.label_off[k];
                for (int64_t p = Y->indptr[row]; p < Y->indptr[row + 1]; p++) {
                    const int32_t k = S->shared.pos[Y->indices[p]];
                    a->val[k] -= S->shared.label_off[k];
                }
            }
            if (L->activation == SLIDE_ACT_RELU) {
                for (uint32_t k = 0; k < m; k++)
                    a->val[k] = a->val[k] > 0.0f ? a->val[k] : 0.0f;
            } else if (L->activation == SLIDE_ACT_SOFTMAX && !net->pending.shard_forward) {
                slide_softmax_inplace(a->val, m); /* a sharded step normalises over every shard's logits */
            }
        }
    }
    return SLIDE_OK;
}

/* slide_backprop_layer for batch-shared layer l (l > 0, dense previous layer) over the whole batch. */
/*
 * dest[s] += sum over the batch-shared set of layer l of delta(s, k) * W[ids[k]], blocked like the forward
 * pass. dest[s] is grad + s * stride when grad is not NULL (the input gradient of layer 0), else the
 * previous layer's delta (zeroed first); a ReLU previous layer masks it.
 */
static void shared_delta_into(slide_network *net, uint32_t l, int64_t n, int nt, float *grad, size_t stride)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t NL = net->n_layers, m = L->sampler.shared.n;
    const int prev_relu = !grad && net->layers[l - 1].activation == SLIDE_ACT_RELU;
    const slide_kernels *K = slide_kernels_get();
    const int64_t chunks = (n + SHARED_SAMPLES - 1) / SHARED_SAMPLES;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t s0 = c * SHARED_SAMPLES, s1 = s0 + SHARED_SAMPLES < n ? s0 + SHARED_SAMPLES : n;
        float *ys[SHARED_SAMPLES];
        for (int64_t s = s0; s < s1; s++) {
            ys[s - s0] = grad ? grad + (size_t)s * stride : net->acts[(size_t)s * NL + l - 1].delta;
            memset(ys[s - s0], 0, sizeof(float) * L->in_dim);
        }
        slide_rows rowp;
        const float *cs[SHARED_SAMPLES];
        for (uint32_t k0 = 0; k0 < m; k0 += SLIDE_ROWS_BATCH) {
            const uint32_t mk = m - k0 < SLIDE_ROWS_BATCH ? m - k0 : SLIDE_ROWS_BATCH;
            for (uint32_t k = 0; k < mk; k++)
                slide_rows_set(&rowp, L, k, (size_t)L->sampler.shared.ids[k0 + k]);
            for (int64_t s = s0; s < s1; s++) /* the whole chunk from the block at once */
                cs[s - s0] = net->acts[(size_t)s * NL + l].delta + k0;
            slide_rows_axpy_many_multi(K, L, ys, cs, (size_t)(s1 - s0), &rowp, mk, L->in_dim);
        }
        if (prev_relu)
            for (int64_t s = s0; s < s1; s++)
                slide_relu_gate_delta(&net->acts[(size_t)s * NL + l - 1]);
    }
}

void slide_backprop_shared_layer(slide_network *net, uint32_t l, int64_t n, int nt)
{
    shared_delta_into(net, l, n, nt, NULL, 0);
}

void slide_input_gradient_shared(slide_network *net, int64_t n, int nt, float *grad)
{
    shared_delta_into(net, 0, n, nt, grad, net->input_dim);
}
