/*
 * Batched rescoring. A rescoring layer scores each sample's pool (rescore x want candidates, ~1,600 at
 * 8,192 units and 5%) with exact dot products; one sample at a time, every candidate row comes from
 * memory, and a sparse input's gather touches most of a wide row's cache lines. Here the batch's
 * selections stop at their pools (slide_sampler_select_begin), the pools are inverted into per-neuron
 * lists, and each listed row is scored against every sample that wants it while it sits in cache; then
 * every sample finishes its choice (slide_sampler_select_finish). Each score is the value the
 * per-sample path computes (the same kernel on the same row and input), so the choice is the same.
 *
 * Writes: phase 1 and 3 write sample s's slots (acts, pool, score, n_pool) from the thread that runs s;
 * phase 2 writes score[e] for the entries e of its own neurons, each entry belonging to one neuron.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "forward.h"
#include "kernels.h"
#include "rescore_batch.h"
#include "rows.h"
#include "sampler.h"
#include "scratch.h"

/* Neurons per parallel task of the scoring pass. */
enum { ROWS_PER_TASK = 32 };

int slide_rescore_batch_applies(const slide_network *net, uint32_t l)
{
    const slide_layer *L = &net->layers[l];
    const slide_sampler *S = &L->sampler;
    /* SLIDE_RESCORE_BATCH=0 keeps the per-sample path, so tests can compare the two and benchmarks time them. */
    const char *env = getenv("SLIDE_RESCORE_BATCH");
    return L->sampled && !S->exact && !S->cfg.batch_shared && !S->draws_only && S->cfg.rescore > 1 &&
           !(env && strcmp(env, "0") == 0);
}

static int reserve(slide_network *net, size_t pools, size_t samples, size_t units)
{
    int rc = slide_grow(&net->rescore.pool, &net->rescore.pool_cap, pools, sizeof(uint32_t), "rescoring pool entries");
    if (!rc)
        rc = slide_grow(&net->rescore.score, &net->rescore.score_cap, pools, sizeof(float), "rescoring pool scores");
    if (!rc)
        rc = slide_grow(&net->rescore.n_pool, &net->rescore.n_cap, samples, sizeof(uint32_t), "rescoring pool sizes");
    if (!rc)
        rc = slide_grow(&net->rescore.by_row_start, &net->rescore.start_cap, units + 1, sizeof(uint32_t),
                        "rescoring row starts");
    return rc;
}

/* Records the first error of a parallel phase (its message too: slide_last_error is per thread). */
static void keep_error(int rc, int *err, char *msg, size_t len)
{
    if (!rc)
        return;
#pragma omp critical(slide_rescore_error)
    if (!*err) {
        *err = rc;
        snprintf(msg, len, "%s", slide_last_error());
    }
}

int slide_rescore_batch(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                        const int64_t *rows, int64_t n, uint64_t step, int nt)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t NL = net->n_layers, U = L->units;
    const int last = l + 1 == NL;
    const size_t cap = slide_sampler_pool_cap(L);
    int rc = reserve(net, (size_t)n * cap, (size_t)n, U);
    if (rc)
        return rc;
    uint32_t *pool = net->rescore.pool, *n_pool = net->rescore.n_pool;
    float *score = net->rescore.score;
    int err = SLIDE_OK;
    char msg[256] = "";

    /* Phase 1: every sample's selection up to its pool (sparse inputs), or whole (dense inputs). */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        slide_thread_scratch *ts = &net->scratch[slide_thread_id()];
        const slide_vec x = slide_layer_input(net, l, X, rows, (uint32_t)s);
        const int64_t row = rows ? rows[s] : s;
        const int32_t *labels = last ? Y->indices + Y->indptr[row] : NULL;
        const uint32_t n_labels = last ? (uint32_t)(Y->indptr[row + 1] - Y->indptr[row]) : 0;
        slide_act *a = &net->acts[(size_t)s * NL + l];
        const uint64_t seed = slide_forward_select_seed(slide_forward_train_seed(net->seed, step, s), l);
        n_pool[s] = 0;
        int r;
        if (x.idx) /* the per-sample path scores sparse inputs one neuron at a time: any order gives its bits */
            r = slide_sampler_select_begin(L, x, labels, n_labels, 1, a, ts, seed, pool + (size_t)s * cap, &n_pool[s]);
        else /* dense inputs are scored in groups whose arithmetic depends on the position: keep that path */
            r = slide_sampler_select(L, x, labels, n_labels, 1, a, ts, seed, NULL);
        keep_error(r, &err, msg, sizeof msg);
    }
    if (err)
        return slide_fail(err, "%s", msg);

    /* The pools by neuron: entry s * cap + i of pool j lands in j's list, lists in sample order. */
    uint32_t *start = net->rescore.by_row_start;
    memset(start, 0, sizeof(uint32_t) * (U + 1));
    size_t total = 0;
    for (int64_t s = 0; s < n; s++) {
        const uint32_t *p = pool + (size_t)s * cap;
        for (uint32_t i = 0; i < n_pool[s]; i++)
            start[p[i] + 1]++;
        total += n_pool[s];
    }
    if (total == 0)
        return SLIDE_OK;
    rc = slide_grow(&net->rescore.by_row, &net->rescore.entry_cap, total, sizeof(uint32_t), "rescoring entries");
    if (rc)
        return rc;
    uint32_t *by_row = net->rescore.by_row;
    for (uint32_t j = 0; j < U; j++)
        start[j + 1] += start[j];
    /* start[j] serves as j's cursor while filling; afterwards it has moved to start[j + 1], so shift back. */
    for (int64_t s = 0; s < n; s++) {
        const uint32_t *p = pool + (size_t)s * cap;
        for (uint32_t i = 0; i < n_pool[s]; i++)
            by_row[start[p[i]]++] = (uint32_t)((size_t)s * cap + i);
    }
    memmove(start + 1, start, sizeof(uint32_t) * U);
    start[0] = 0;

    /* Phase 2: each wanted row against the inputs of the samples that want it, the row staying in cache. */
    const slide_kernels *K = slide_kernels_get();
    const int64_t tasks = ((int64_t)U + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
        const uint32_t j_end = (uint32_t)(t + 1) * ROWS_PER_TASK < U ? (uint32_t)(t + 1) * ROWS_PER_TASK : U;
        for (uint32_t j = (uint32_t)t * ROWS_PER_TASK; j < j_end; j++)
            for (uint32_t e = start[j]; e < start[j + 1]; e++) {
                const uint32_t s = (uint32_t)(by_row[e] / cap);
                const slide_vec x = slide_layer_input(net, l, X, rows, s);
                /* As scores_of (sampler.c) for a sparse input: one neuron's dot, then its bias. */
                score[by_row[e]] = slide_row_dot_sparse(K, L, j, x.idx, x.val, x.nnz) + L->bias[j];
            }
    }

    /* Phase 3: every deferred sample keeps its best, as its own rescoring would. */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        if (!n_pool[s])
            continue;
        slide_thread_scratch *ts = &net->scratch[slide_thread_id()];
        const uint64_t seed = slide_forward_select_seed(slide_forward_train_seed(net->seed, step, s), l);
        int r = slide_sampler_select_finish(L, 1, &net->acts[(size_t)s * NL + l], ts, seed, pool + (size_t)s * cap,
                                            n_pool[s], score + (size_t)s * cap);
        keep_error(r, &err, msg, sizeof msg);
    }
    if (err)
        return slide_fail(err, "%s", msg);
    return SLIDE_OK;
}
