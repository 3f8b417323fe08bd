/*
 * Top-k prediction.
 *
 * Sampled mode runs each sample through the hash tables like training (without labels) and ranks the
 * retrieved output neurons. Exact mode computes every neuron. For a neuron-major (sampled) output
 * layer, exact scoring is blocked: a chunk of samples' hidden vectors stays in cache while each thread
 * streams its share of the output rows once per chunk, keeping a private top-k heap and an online
 * log-sum-exp per sample; the per-thread results are merged at the end of the chunk.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "error.h"
#include "forward.h"
#include "sampler.h"
#include "kernels.h"
#include "network.h"
#include "preact_batch.h"
#include "rows.h"
#include "rng.h"

#define PREDICT_CHUNK 256u

/*
 * Layer l is scored for a whole chunk at once (slide_preact_batch) instead of per sample: in exact mode
 * every neuron-major layer (each row then streams once per chunk, not once per sample), in sampled mode the
 * layers whose selection is exact.
 */
static int batch_scored(const slide_network *net, uint32_t l, int fwd)
{
    const slide_layer *L = &net->layers[l];
    if (fwd == SLIDE_FWD_EXACT)
        return L->neuron_major;
    return L->sampled && L->neuron_major && L->sampler.exact;
}

/* Min-heap of (score, id) of size <= k: heap[0] is the weakest kept entry. */
typedef struct topk {
    float *score;
    int32_t *id;
    uint32_t n, k;
} topk;

static void topk_push(topk *h, float s, int32_t id)
{
    if (h->n < h->k) {
        uint32_t i = h->n++;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (h->score[p] <= s)
                break;
            h->score[i] = h->score[p];
            h->id[i] = h->id[p];
            i = p;
        }
        h->score[i] = s;
        h->id[i] = id;
        return;
    }
    if (h->k == 0 || s <= h->score[0])
        return;
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->score[c + 1] < h->score[c])
            c++;
        if (h->score[c] >= s)
            break;
        h->score[i] = h->score[c];
        h->id[i] = h->id[c];
        i = c;
    }
    h->score[i] = s;
    h->id[i] = id;
}

/* Writes the heap best-first into out (k entries, padded with id -1 / score 0), scores mapped by exp(s - lse). */
static void topk_emit(topk *h, float lse, int32_t *out_ids, float *out_scores)
{
    uint32_t n = h->n;
    /* Heap-sort in place: repeatedly move the minimum to the end. */
    for (uint32_t end = n; end > 1; end--) {
        float s0 = h->score[0];
        int32_t i0 = h->id[0];
        float s = h->score[end - 1];
        int32_t id = h->id[end - 1];
        uint32_t i = 0;
        for (;;) {
            uint32_t c = 2 * i + 1;
            if (c >= end - 1)
                break;
            if (c + 1 < end - 1 && h->score[c + 1] < h->score[c])
                c++;
            if (h->score[c] >= s)
                break;
            h->score[i] = h->score[c];
            h->id[i] = h->id[c];
            i = c;
        }
        h->score[i] = s;
        h->id[i] = id;
        h->score[end - 1] = s0;
        h->id[end - 1] = i0;
    }
    for (uint32_t j = 0; j < h->k; j++) {
        if (j < n) {
            out_ids[j] = h->id[j];
            out_scores[j] = expf(h->score[j] - lse);
        } else {
            out_ids[j] = -1;
            out_scores[j] = 0.0f;
        }
    }
}

int slide_network_predict_topk(slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n,
                               uint32_t k, int mode, int32_t *out_ids, float *out_scores)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    int rc = slide_matrix_check(X, "X", net->input_dim, 0);
    if (rc)
        return rc;
    if (n < 0 || (!rows && n > X->rows))
        return slide_fail(SLIDE_E_INVALID, "n = %lld out of range for X with %lld rows", (long long)n, (long long)X->rows);
    if (k == 0 || k > 100000)
        return slide_fail(SLIDE_E_INVALID, "k must be in [1, 100000], got %u", k);
    if (mode != SLIDE_PREDICT_EXACT && mode != SLIDE_PREDICT_SAMPLED)
        return slide_fail(SLIDE_E_INVALID, "unknown predict mode %d", mode);
    if (n > 0 && (!out_ids || !out_scores))
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", out_ids ? "out_scores" : "out_ids");
    rc = slide_check_rows(net, X, rows, n);
    if (rc)
        return rc;
    rc = slide_network_claim(net, "slide_network_predict_topk");
    if (rc)
        return rc;

    const int nt = slide_network_threads_for_call(net);
    const uint32_t NL = net->n_layers;
    const slide_layer *out = &net->layers[NL - 1];
    const int blocked = mode == SLIDE_PREDICT_EXACT && out->neuron_major;
    const uint32_t in_dim = out->in_dim;
    const slide_kernels *K = slide_kernels_get();
    rc = slide_network_ensure_scratch(net, nt);
    if (!rc && mode == SLIDE_PREDICT_SAMPLED)
        rc = slide_sampler_refresh(net); /* tables that training did not read lag the weights */
    if (!rc)
        rc = slide_network_ensure_acts(net, PREDICT_CHUNK);
    float *hbuf = NULL, *heap_s = NULL, *lse_m = NULL, *lse_s = NULL, *zbuf = NULL;
    int32_t *heap_i = NULL;
    uint32_t *heap_n = NULL;
    if (!rc && blocked) {
        size_t slots = (size_t)nt * PREDICT_CHUNK;
        hbuf = slide_aligned_alloc(sizeof(float) * PREDICT_CHUNK * in_dim);
        heap_s = malloc(sizeof(float) * slots * k);
        heap_i = malloc(sizeof(int32_t) * slots * k);
        heap_n = malloc(sizeof(uint32_t) * slots);
        lse_m = malloc(sizeof(float) * slots);
        lse_s = malloc(sizeof(float) * slots);
        zbuf = malloc(sizeof(float) * (size_t)nt * PREDICT_CHUNK);
        if (!hbuf || !heap_s || !heap_i || !heap_n || !lse_m || !lse_s || !zbuf)
            rc = slide_fail(SLIDE_E_NOMEM, "cannot allocate prediction buffers for k = %u", k);
    }
    int err = SLIDE_OK;
    char err_msg[256] = "";
    int64_t chunk_rows[PREDICT_CHUNK];

    const uint32_t computed = blocked ? NL - 1 : NL; /* layers the per-sample forward computes */
    const int fwd = mode == SLIDE_PREDICT_EXACT ? SLIDE_FWD_EXACT : SLIDE_FWD_SAMPLED;
    for (int64_t base = 0; base < n && !rc && !err; base += PREDICT_CHUNK) {
        uint32_t cn = (uint32_t)(n - base < PREDICT_CHUNK ? n - base : PREDICT_CHUNK);
        for (uint32_t s = 0; s < cn; s++)
            chunk_rows[s] = rows ? rows[base + s] : base + s;
        /*
         * Forward in segments: a layer scored for the whole chunk at once (every neuron of a neuron-major
         * layer in exact mode, an exact-selection layer in sampled mode) starts a segment whose first layer
         * reads those pre-activations; the rest runs per sample.
         */
        uint32_t from = 0;
        const float *pre = NULL;
        for (uint32_t l = 0; l <= computed && !err && !rc; l++) {
            const int split = l < computed && batch_scored(net, l, fwd);
            if (l < computed && !split)
                continue;
            if (l > from) {
                const uint32_t units_from = net->layers[from].units;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
                for (uint32_t s = 0; s < cn; s++) {
                    slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
                    slide_act *acts = &net->acts[(size_t)s * NL];
                    int src = slide_forward_layers(net, slide_matrix_row(X, chunk_rows[s]), from, l, NULL, 0, fwd,
                                                   acts, scr, slide_seed3(net->seed, 0x9ED1C7, (uint64_t)(base + s), 0),
                                                   pre ? pre + (size_t)s * units_from : NULL, 0);
                    if (src) {
#pragma omp critical(slide_predict_error)
                        if (!err) {
                            err = src;
                            snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
                        }
                    }
                }
            }
            if (split && !err) {
                rc = slide_preact_batch(net, l, X, chunk_rows, cn, nt);
                pre = net->preact;
                from = l;
            }
        }
        if (err || rc)
            continue;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
        for (uint32_t s = 0; s < cn; s++) {
            slide_act *acts = &net->acts[(size_t)s * NL];
            if (blocked) {
                if (NL > 1)
                    memcpy(hbuf + (size_t)s * in_dim, acts[NL - 2].val, sizeof(float) * in_dim);
                continue;
            }
            /* Output probabilities are in acts[NL-1]; rank them. */
            const slide_act *a = &acts[NL - 1];
            float hs[64];
            int32_t hi[64];
            float *ps = k <= 64 ? hs : malloc(sizeof(float) * k);
            int32_t *pi = k <= 64 ? hi : malloc(sizeof(int32_t) * k);
            if (!ps || !pi) {
#pragma omp critical(slide_predict_error)
                if (!err) {
                    err = SLIDE_E_NOMEM;
                    snprintf(err_msg, sizeof err_msg, "out of memory");
                }
            } else {
                topk h = {ps, pi, 0, k};
                for (uint32_t j = 0; j < a->n; j++)
                    topk_push(&h, logf(a->val[j] + 1e-38f), a->dense ? (int32_t)j : a->ids[j]);
                topk_emit(&h, 0.0f, out_ids + (size_t)(base + s) * k, out_scores + (size_t)(base + s) * k);
            }
            if (k > 64) {
                free(ps);
                free(pi);
            }
        }
        if (err || !blocked)
            continue;

        /* Blocked exact scoring of a neuron-major output layer. */
#pragma omp parallel num_threads(nt)
        {
            int tid = slide_thread_id();
            int nth = 1;
#ifdef _OPENMP
            nth = omp_get_num_threads();
#endif
            size_t slot0 = (size_t)tid * PREDICT_CHUNK;
            float *z = zbuf + slot0;
            for (uint32_t s = 0; s < cn; s++) {
                heap_n[slot0 + s] = 0;
                lse_m[slot0 + s] = -FLT_MAX;
                lse_s[slot0 + s] = 0.0f;
            }
            uint32_t lo = (uint32_t)((uint64_t)out->units * (uint64_t)tid / (uint64_t)nth);
            uint32_t hi = (uint32_t)((uint64_t)out->units * (uint64_t)(tid + 1) / (uint64_t)nth);
            float *wide = net->scratch[tid].wrow;
            for (uint32_t j = lo; j < hi; j++) {
                if (NL > 1) {
                    /* A bf16 row is widened once and then scored against every sample of the chunk. */
                    K->dot_rows(hbuf, in_dim, cn, slide_row_f32_view(K, out, j, wide), in_dim, z);
                } else {
                    for (uint32_t s = 0; s < cn; s++) {
                        slide_vec x = slide_matrix_row(X, rows ? rows[base + s] : base + (int64_t)s);
                        z[s] = x.idx ? slide_row_dot_sparse(K, out, j, x.idx, x.val, x.nnz)
                                     : slide_row_dot(K, out, j, x.val, x.nnz);
                    }
                }
                float b = out->bias[j];
                K->lse_update(lse_m + slot0, lse_s + slot0, z, b, cn);
                for (uint32_t s = 0; s < cn; s++) {
                    float zz = z[s] + b;
                    size_t sl = slot0 + s;
                    if (heap_n[sl] == k && zz <= heap_s[sl * k])
                        continue; /* cheaper than a call for the common case: not in the top-k */
                    topk h = {heap_s + sl * k, heap_i + sl * k, heap_n[sl], k};
                    topk_push(&h, zz, (int32_t)j);
                    heap_n[sl] = h.n;
                }
            }
#pragma omp barrier
            /* Merge per-thread results for each sample. */
#pragma omp for schedule(static)
            for (uint32_t s = 0; s < cn; s++) {
                size_t m0 = s; /* thread 0's slot for sample s */
                float mx = lse_m[m0], sum = lse_s[m0];
                topk h = {heap_s + m0 * k, heap_i + m0 * k, heap_n[m0], k};
                for (int t = 1; t < nth; t++) {
                    size_t sl = (size_t)t * PREDICT_CHUNK + s;
                    if (lse_s[sl] > 0.0f) {
                        float m2 = lse_m[sl], s2 = lse_s[sl];
                        if (m2 > mx) {
                            sum = sum * expf(mx - m2) + s2;
                            mx = m2;
                        } else {
                            sum += s2 * expf(m2 - mx);
                        }
                    }
                    for (uint32_t e = 0; e < heap_n[sl]; e++)
                        topk_push(&h, heap_s[sl * k + e], heap_i[sl * k + e]);
                }
                float lse = mx + logf(sum);
                topk_emit(&h, lse, out_ids + (size_t)(base + s) * k, out_scores + (size_t)(base + s) * k);
            }
        }
    }
    slide_aligned_free(hbuf);
    free(heap_s);
    free(heap_i);
    free(heap_n);
    free(lse_m);
    free(lse_s);
    free(zbuf);
    slide_network_release(net);
    if (!rc && err)
        rc = slide_fail(err, "%s", err_msg);
    return rc;
}
