/*
 * Batch pre-activations of one neuron-major layer. The per-sample oracle computes w_j . x for every row j
 * and one sample at a time: a layer of 8,192 x 8,192 floats streams 256 MiB per sample. Here the loop over
 * rows is outside: a block of rows is brought into cache once and scored against every sample's input,
 * so the layer streams once per batch. Dense inputs go through the register-blocked dense kernel in chunks
 * of columns (each loaded row slice feeds four samples); sparse ones through a dense panel of the batch
 * (below) or one gather per nonzero. Blocks go to threads; each (s, j) is written by one thread only.
 */
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "error.h"
#include "kernels.h"
#include "preact_batch.h"
#include "rows.h"

/*
 * Sparse inputs through a dense panel. One gathered multiply-add (dot_sparse) costs several dense ones
 * (register-blocked dot_many_multi). When a batch's sparse inputs share most of their positions, as the
 * ReLU outputs of an exact-selection layer do (at 8,192 units and 5%: about 3,000 positions in the union
 * of 128 samples' 410), the batch is laid out densely over the union of its positions, zeros filled in,
 * and every row is scored against it with the dense kernel: union x n multiply-adds per row instead of
 * the sum of the samples' nonzeros, gathered. The panel is used when union x n <= gather_cost x nonzeros
 * (the kernel table's exchange rate, kernels.h). The added zeros change no sum of finite values; the
 * summation order (over the union in chunks, in vector lanes) depends on the batch's union, so scores
 * match the per-sample gather to rounding, not bit for bit.
 */
enum {
    PANEL_CHUNK = 512 /* union positions per pass: a 64-row slice (128 KiB) and the batch's slice of the panel
                         (n x 2 KiB) stay in L2 while every row of the slice meets every sample */
};

/*
 * Lays out the n sparse inputs over their union when the panel pays: sets *width to the union's size and
 * xbase[s] to sample s's row of the panel; *width 0 keeps the gathers.
 */
static int panel_build(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, int64_t n,
                       const float **xbase, size_t *width)
{
    const slide_layer *L = &net->layers[l];
    *width = 0;
    /* SLIDE_PREACT_PANEL=0 never uses the panel, =1 always does (for sparse inputs), so tests can compare the
     * two and benchmarks time them; otherwise the cost model decides. */
    const char *env = getenv("SLIDE_PREACT_PANEL");
    const int forced = env && strcmp(env, "1") == 0;
    if (env && strcmp(env, "0") == 0)
        return SLIDE_OK;
    int rc = slide_grow(&net->union_panel.col, &net->union_panel.col_cap, L->in_dim, sizeof(int32_t),
                        "panel columns");
    if (rc)
        return rc;
    int32_t *col = net->union_panel.col; /* 1 for a position in the union, then its column */
    memset(col, 0, L->in_dim * sizeof *col);
    size_t nnz = 0, u = 0;
    for (int64_t s = 0; s < n; s++) {
        const slide_vec x = slide_layer_input(net, l, X, rows, (uint32_t)s);
        nnz += x.nnz;
        for (uint32_t i = 0; i < x.nnz; i++) {
            u += (size_t)(col[x.idx[i]] == 0);
            col[x.idx[i]] = 1;
        }
    }
    if (u == 0 || (!forced && u * (size_t)n > (size_t)slide_kernels_get()->gather_cost * nnz))
        return SLIDE_OK;
    const size_t ld = (u + 15) & ~(size_t)15; /* each sample's row starts on a 64-byte multiple of the first */
    if ((rc = slide_grow(&net->union_panel.pos, &net->union_panel.pos_cap, u, sizeof(uint32_t), "panel columns")) ||
        (rc = slide_grow(&net->union_panel.panel, &net->union_panel.panel_cap, (size_t)n * ld, sizeof(float),
                         "panel of sparse inputs")))
        return rc;
    uint32_t *pos = net->union_panel.pos;
    for (uint32_t i = 0, c = 0; i < L->in_dim; i++)
        if (col[i]) {
            col[i] = (int32_t)c;
            pos[c++] = i;
        }
    float *panel = net->union_panel.panel;
    memset(panel, 0, (size_t)n * ld * sizeof *panel);
    for (int64_t s = 0; s < n; s++) {
        const slide_vec x = slide_layer_input(net, l, X, rows, (uint32_t)s);
        xbase[s] = panel + (size_t)s * ld;
        for (uint32_t i = 0; i < x.nnz; i++)
            panel[(size_t)s * ld + (size_t)col[x.idx[i]]] += x.val[i]; /* += : a repeated position sums */
    }
    *width = u;
    return SLIDE_OK;
}

/*
 * Every row of layer l against the batch's inputs in chunks of PANEL_CHUNK columns, with the register-blocked
 * dense kernel: pre[s * U + j] = w_j . x_s, bias not added. The inputs span `width` columns; sample s's
 * values start at xbase[s]. pos maps a column to its input position (the union of sparse inputs), or is
 * NULL for dense inputs (column = position), whose float rows are then read in place. The summation order
 * (chunks, lanes) is fixed by the columns, so the result does not depend on the thread count.
 */
static int panel_score(slide_network *net, uint32_t l, int64_t n, const float *const *xbase, size_t width,
                       const uint32_t *pos, int nt, float *pre)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t U = L->units;
    const size_t per_thread = (size_t)SLIDE_ROWS_BATCH * PANEL_CHUNK + (size_t)n * SLIDE_ROWS_BATCH;
    int rc = slide_grow(&net->union_panel.work, &net->union_panel.work_cap, (size_t)nt * per_thread, sizeof(float),
                        "panel work");
    if (!rc)
        rc = slide_grow(&net->union_panel.ptrs, &net->union_panel.ptrs_cap, (size_t)nt * 2 * (size_t)n,
                        sizeof(void *), "panel pointers");
    if (rc)
        return rc;
    const slide_kernels *K = slide_kernels_get();
    const int in_place = !pos && !slide_is_bf16(L);
    const int64_t blocks = ((int64_t)U + SLIDE_ROWS_BATCH - 1) / SLIDE_ROWS_BATCH;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; b++) {
#ifdef _OPENMP
        const int t = omp_get_thread_num();
#else
        const int t = 0;
#endif
        float *slice = net->union_panel.work + (size_t)t * per_thread; /* [64 x PANEL_CHUNK] rows' columns */
        float *part = slice + (size_t)SLIDE_ROWS_BATCH * PANEL_CHUNK; /* [n x 64] this chunk's scores */
        const float **xs = (const float **)net->union_panel.ptrs + (size_t)t * 2 * (size_t)n;
        float **outs = (float **)(net->union_panel.ptrs + (size_t)t * 2 * (size_t)n + (size_t)n);
        const float *slice_rows[SLIDE_ROWS_BATCH];
        const uint32_t j0 = (uint32_t)b * SLIDE_ROWS_BATCH;
        const uint32_t m = U - j0 < SLIDE_ROWS_BATCH ? U - j0 : SLIDE_ROWS_BATCH;
        for (int64_t s = 0; s < n; s++)
            outs[s] = part + (size_t)s * SLIDE_ROWS_BATCH;
        for (size_t c0 = 0; c0 < width; c0 += PANEL_CHUNK) {
            const size_t len = width - c0 < PANEL_CHUNK ? width - c0 : PANEL_CHUNK;
            for (uint32_t k = 0; k < m; k++) {
                float *dst = slice + (size_t)k * PANEL_CHUNK;
                slice_rows[k] = in_place ? slide_row_w(L, j0 + k) + c0 : dst;
                if (in_place)
                    continue;
                if (slide_is_bf16(L)) {
                    const slide_bf16 *w = slide_row_wh(L, j0 + k);
                    for (size_t i = 0; i < len; i++)
                        dst[i] = slide_bf16_to_f32(w[pos ? pos[c0 + i] : c0 + i]);
                } else {
                    const float *w = slide_row_w(L, j0 + k);
                    for (size_t i = 0; i < len; i++)
                        dst[i] = w[pos[c0 + i]];
                }
            }
            for (int64_t s = 0; s < n; s++)
                xs[s] = xbase[s] + c0;
            K->dot_many_multi(slice_rows, m, xs, outs, (size_t)n, len);
            for (int64_t s = 0; s < n; s++) {
                float *p = pre + (size_t)s * U + j0;
                const float *q = part + (size_t)s * SLIDE_ROWS_BATCH;
                for (uint32_t k = 0; k < m; k++)
                    p[k] = c0 ? p[k] + q[k] : q[k];
            }
        }
    }
    return SLIDE_OK;
}

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
    /* Base pointer of each sample's values in the panel (sparse inputs) or in place (dense inputs). */
    if ((rc = slide_grow(&net->union_panel.xbase, &net->union_panel.xbase_cap, (size_t)n, sizeof(float *),
                         "panel pointers")))
        return rc;
    const float **xbase = net->union_panel.xbase;
    if (n > 0 && !slide_layer_input(net, l, X, rows, 0).idx) { /* dense (all samples come from X or one layer) */
        for (int64_t s = 0; s < n; s++)
            xbase[s] = slide_layer_input(net, l, X, rows, (uint32_t)s).val;
        rc = panel_score(net, l, n, xbase, L->in_dim, NULL, nt, pre);
    } else {
        size_t width;
        if ((rc = panel_build(net, l, X, rows, n, xbase, &width)) != SLIDE_OK)
            return rc;
        if (width) {
            rc = panel_score(net, l, n, xbase, width, net->union_panel.pos, nt, pre);
        } else {
            /* Sparse inputs gathered: each row stays in L1/L2 while every sample reads it. */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
            for (int64_t j = 0; j < (int64_t)U; j++)
                for (int64_t s = 0; s < n; s++) {
                    const slide_vec x = slide_layer_input(net, l, X, rows, (uint32_t)s);
                    pre[(size_t)s * U + (size_t)j] = slide_row_dot_sparse(K, L, (size_t)j, x.idx, x.val, x.nnz);
                }
        }
    }
    if (rc)
        return rc;
    for (int64_t s = 0; s < n; s++)
        for (uint32_t j = 0; j < U; j++)
            pre[(size_t)s * U + j] += L->bias[j];
    return SLIDE_OK;
}
