/*
 * Batch pre-activations of one neuron-major layer. The per-sample oracle computes w_j . x for every row j
 * and one sample at a time: a layer of 8,192 x 8,192 floats streams 256 MiB per sample. Here the loop over
 * rows is outside: a block of rows is brought into cache once and scored against every sample's input,
 * so the layer streams once per batch. Blocks go to threads; each (s, j) is written by one thread only.
 */
#include "alloc.h"
#include "error.h"
#include "kernels.h"
#include "preact_batch.h"
#include "rows.h"

int slide_preact_batch_applies(const slide_network *net, uint32_t l)
{
    const slide_layer *L = &net->layers[l];
    return L->sampled && L->neuron_major && L->sampler.exact && !L->sampler.cfg.batch_shared;
}

int slide_preact_batch(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, int64_t n,
                       int nt)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t U = L->units;
    int rc = slide_grow(&net->preact, &net->preact_cap, (size_t)n * U, sizeof *net->preact, "batch pre-activations");
    if (rc)
        return rc;
    const slide_kernels *K = slide_kernels_get();
    float *pre = net->preact;
    const int64_t blocks = ((int64_t)U + SLIDE_ROWS_BATCH - 1) / SLIDE_ROWS_BATCH;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; b++) {
        const uint32_t j0 = (uint32_t)b * SLIDE_ROWS_BATCH;
        const uint32_t m = U - j0 < SLIDE_ROWS_BATCH ? U - j0 : SLIDE_ROWS_BATCH;
        slide_rows R;
        for (uint32_t k = 0; k < m; k++)
            slide_rows_set(&R, L, k, j0 + k);
        /* Dense inputs: the block (m rows) stays in cache while every sample passes through it. */
        for (int64_t s = 0; s < n; s++) {
            const slide_vec x = slide_layer_input(net, l, X, rows, (uint32_t)s);
            if (x.idx)
                continue;
            if (slide_is_bf16(L))
                slide_rows_dot_many(K, L, &R, m, x.val, x.nnz, pre + (size_t)s * U + j0);
            else
                K->dot_rows(slide_row_w(L, j0), L->block, m, x.val, x.nnz, pre + (size_t)s * U + j0);
        }
        /* Sparse inputs gather from one row at a time: that row stays in L1/L2 across the samples. */
        for (uint32_t k = 0; k < m; k++)
            for (int64_t s = 0; s < n; s++) {
                const slide_vec x = slide_layer_input(net, l, X, rows, (uint32_t)s);
                if (x.idx)
                    pre[(size_t)s * U + j0 + k] = slide_row_dot_sparse(K, L, j0 + k, x.idx, x.val, x.nnz);
            }
        for (int64_t s = 0; s < n; s++)
            for (uint32_t k = 0; k < m; k++)
                pre[(size_t)s * U + j0 + k] += L->bias[j0 + k];
    }
    return SLIDE_OK;
}
