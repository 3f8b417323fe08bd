/*
 * The optimizer step: a per-row reduction of the batch's gradient contributions, then Adam or SGD (with
 * decoupled weight decay) on every row the batch touched.
 *
 * For each layer, the (row, sample, coefficient) contributions of the batch are grouped by row with a
 * counting sort (sort_pairs_by_row), so every touched row knows which samples touched it. Then, parallel
 * over touched rows, one thread sums the row's gradient in a private buffer, in sample order, and applies
 * the step to that row and its moments. No two threads write the same row, no gradient matrix exists,
 * untouched rows cost nothing, and the result does not depend on the thread count (a deterministic
 * reduction rather than Hogwild).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "adam_catch_up.h"
#include "error.h"
#include "kernels.h"
#include "matrix.h"
#include "network.h"
#include "optimizer.h"
#include "partition.h"
#include "rows.h"
#include "sampler.h"
#include "scratch.h"

/*
 * Loops with fewer elementary steps than this run on the calling thread: with OMP_WAIT_POLICY=PASSIVE
 * (the Python package's default) each parallel region wakes sleeping threads, which costs tens of
 * microseconds on a VM, more than such a loop takes.
 */
enum { SMALL_WORK = 1 << 20 };

/* Grows every update-phase buffer (network.h) to hold `entries` + 1 values. */
static int reserve_update(slide_network *net, size_t entries)
{
    if (entries + 1 <= net->pair_cap)
        return SLIDE_OK;
    const size_t cap = entries + entries / 2 + 64;
    /* On failure the buffers already grown keep their larger size; pair_cap stays the old, valid bound. */
#define SLIDE_GROW(buf)                                                                    \
    do {                                                                                   \
        void *q_ = realloc((buf), cap * sizeof *(buf));                                    \
        if (!q_)                                                                           \
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate %zu update entries", cap);   \
        (buf) = q_;                                                                        \
    } while (0)
    SLIDE_GROW(net->touched);
    SLIDE_GROW(net->pair_off);
    SLIDE_GROW(net->pair_sample);
    SLIDE_GROW(net->pair_coef);
    SLIDE_GROW(net->stage_row);
    SLIDE_GROW(net->stage_sample);
    SLIDE_GROW(net->stage_coef);
    SLIDE_GROW(net->part_row);
    SLIDE_GROW(net->part_count);
#undef SLIDE_GROW
    net->pair_cap = cap;
    return SLIDE_OK;
}

static void adam_scalar(float *w, float *m, float *v, float g, float lr_t, float b1, float b2, float eps_t)
{
    *m = b1 * *m + (1.0f - b1) * g;
    *v = b2 * *v + (1.0f - b2) * g * g;
    *w -= lr_t * *m / (sqrtf(*v) + eps_t);
}

/* The contributions of batch position s to layer l's weight rows: row idx[k] (k when idx is NULL), coef[k]. */
typedef struct {
    const int32_t *idx;
    const float *coef;
    uint32_t n;
    int skip_zero; /* zero coefficients contribute nothing and touch no row */
} slide_pair_src;

static inline slide_pair_src sample_pairs(const slide_network *net, uint32_t l, const slide_matrix *X,
                                          const int64_t *rows, uint32_t s)
{
    if (net->layers[l].neuron_major) {
        /* Rows are the active neurons: each is updated, zero delta or not (Adam's moments still move). */
        const slide_act *a = &net->acts[(size_t)s * net->n_layers + l];
        return (slide_pair_src){a->dense ? NULL : a->ids, a->delta, a->n, 0};
    }
    /* Input-major rows are the sample's non-zero inputs. */
    slide_vec x = slide_layer_input(net, l, X, rows, s);
    return (slide_pair_src){x.idx, x.val, x.nnz, 1};
}

/* sort_pairs_by_row deals rows to partitions in blocks of 2^PAIR_BLOCK_BITS ids. */
enum { PAIR_BLOCK_BITS = 8, PAIR_PARALLEL = 4096 };

/*
 * Groups layer l's gradient contributions by weight row: touched[0..n_touched) are the rows, pair_off their
 * ranges in pair_sample / pair_coef, each row's contributions in sample order. O(pairs), never O(layer).
 * One parallel region (serial below PAIR_PARALLEL pairs), as a counting sort over row partitions:
 *  1. over SLIDE_PARTS ranges of samples: count each range's pairs per partition;
 *  2. (single) partition-major staging offsets;
 *  3. over sample ranges: copy (row, sample, coef) into the staging arrays;
 *  4. over partitions: number the partition's rows in order of first touch (row_slot) and count their pairs;
 *  5. (single) where each partition's rows start in touched;
 *  6. over partitions: write touched and pair_off, and scatter the pairs to their rows' ranges.
 * Rows come out in (partition, first touch) order, which does not depend on the thread count. Tasks of
 * steps 4 and 6 write only their own partition's row_slot entries and their own staging range.
 */
static int sort_pairs_by_row(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, uint32_t n,
                             int nt, uint32_t *n_touched_out)
{
    enum { P = SLIDE_PARTS };
    size_t pairs = 0;
    for (uint32_t s = 0; s < n; s++)
        pairs += sample_pairs(net, l, X, rows, s).n; /* an upper bound when zeros are skipped */
    int rc = reserve_update(net, pairs);
    if (rc)
        return rc;

    int32_t *slot = net->layers[l].row_slot;
    size_t cnt[P][P]; /* [sample range][partition], then staging cursors */
    size_t part_start[P + 1];
    uint32_t part_rows[P], touched_start[P + 1];
#pragma omp parallel num_threads(nt) if (pairs >= PAIR_PARALLEL)
    {
#pragma omp for schedule(dynamic, 1)
        for (uint32_t c = 0; c < P; c++) {
            memset(cnt[c], 0, sizeof cnt[c]);
            for (uint32_t s = (uint32_t)((uint64_t)n * c / P); s < (uint64_t)n * (c + 1) / P; s++) {
                slide_pair_src src = sample_pairs(net, l, X, rows, s);
                for (uint32_t k = 0; k < src.n; k++)
                    if (!src.skip_zero || src.coef[k] != 0.0f)
                        cnt[c][slide_id_part(src.idx ? (size_t)src.idx[k] : k, PAIR_BLOCK_BITS)]++;
            }
        }
#pragma omp single
        slide_partition_offsets(cnt, part_start);
#pragma omp for schedule(dynamic, 1)
        for (uint32_t c = 0; c < P; c++) {
            size_t *cur = cnt[c];
            for (uint32_t s = (uint32_t)((uint64_t)n * c / P); s < (uint64_t)n * (c + 1) / P; s++) {
                slide_pair_src src = sample_pairs(net, l, X, rows, s);
                for (uint32_t k = 0; k < src.n; k++) {
                    if (src.skip_zero && src.coef[k] == 0.0f)
                        continue;
                    uint32_t r = src.idx ? (uint32_t)src.idx[k] : k;
                    size_t i = cur[slide_id_part(r, PAIR_BLOCK_BITS)]++;
                    net->stage_row[i] = r;
                    net->stage_sample[i] = s;
                    net->stage_coef[i] = src.coef[k];
                }
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (uint32_t p = 0; p < P; p++) {
            const size_t base = part_start[p];
            uint32_t nr = 0;
            for (size_t i = base; i < part_start[p + 1]; i++) {
                uint32_t r = net->stage_row[i];
                if (slot[r] < 0) {
                    slot[r] = (int32_t)nr;
                    net->part_row[base + nr] = r;
                    net->part_count[base + nr++] = 0;
                }
                net->part_count[base + (uint32_t)slot[r]]++;
            }
            part_rows[p] = nr;
        }
#pragma omp single
        {
            touched_start[0] = 0;
            for (uint32_t p = 0; p < P; p++)
                touched_start[p + 1] = touched_start[p] + part_rows[p];
        }
#pragma omp for schedule(dynamic, 1)
        for (uint32_t p = 0; p < P; p++) {
            const size_t base = part_start[p];
            uint32_t sum = (uint32_t)base;
            for (uint32_t j = 0; j < part_rows[p]; j++) {
                uint32_t m = net->part_count[base + j];
                net->part_count[base + j] = sum; /* now the row's cursor */
                net->pair_off[touched_start[p] + j] = sum;
                net->touched[touched_start[p] + j] = net->part_row[base + j];
                sum += m;
            }
            for (size_t i = base; i < part_start[p + 1]; i++) {
                uint32_t q = net->part_count[base + (uint32_t)slot[net->stage_row[i]]]++;
                net->pair_sample[q] = net->stage_sample[i];
                net->pair_coef[q] = net->stage_coef[i];
            }
        }
    }
    net->pair_off[touched_start[P]] = (uint32_t)part_start[P];
    *n_touched_out = touched_start[P];
    return SLIDE_OK;
}

/* slide_update_layer prefetches the block of the row this many places ahead in the touched list. */
enum { UPDATE_PREFETCH = 2 };

/*
 * Catch-up (slide_optimizer_config.catch_up) of row r, about to be updated at step net->step after k >= 1
 * batches without a gradient: what dense Adam (AdamW) would have done to it in those batches, in the closed
 * form of adam_catch_up.h. Biases are not decayed. row_step[r] is written by the one thread that updates
 * row r. cache: the calling thread's factor cache, started empty for this update.
 */
static void catch_up_row(const slide_network *net, slide_layer *L, uint32_t r, int adam,
                         slide_catch_up_slot *cache)
{
    const uint64_t last = L->row_step[r], step = net->step;
    L->row_step[r] = step;
    if (last + 1 >= step)
        return;
    const slide_catch_up f = *slide_catch_up_cached(cache, last, step, net->opt.lr, net->opt.beta1, net->opt.beta2,
                                                    net->opt.eps, net->opt.weight_decay, adam);
    const float decay_k = f.decay, move = f.move, eps_s = f.eps, mk = f.mk, vk = f.vk;
    if (!f.moments && decay_k == 1.0f)
        return;
    const size_t n = L->row_len;
    if (slide_is_bf16(L)) {
        slide_bf16 *w = slide_row_wh(L, r), *m = adam ? slide_row_mh(L, r) : NULL, *v = adam ? slide_row_vh(L, r) : NULL;
        for (size_t i = 0; i < n; i++) {
            float wi = slide_bf16_to_f32(w[i]) * decay_k;
            if (f.moments) {
                const float mi = slide_bf16_to_f32(m[i]), vi = slide_bf16_to_f32(v[i]);
                wi -= move * mi / (sqrtf(vi) + eps_s);
                m[i] = slide_bf16_from_f32(mi * mk);
                v[i] = slide_bf16_from_f32(vi * vk);
            }
            w[i] = slide_bf16_from_f32(wi);
        }
    } else {
        slide_catch_up_apply(slide_kernels_get(), slide_row_w(L, r), adam ? slide_row_m(L, r) : NULL,
                             adam ? slide_row_v(L, r) : NULL, n, &f);
    }
    if (L->neuron_major && f.moments) {
        L->bias[r] -= move * L->bias_m[r] / (sqrtf(L->bias_v[r]) + eps_s);
        L->bias_m[r] *= mk;
        L->bias_v[r] *= vk;
    }
}

/*
 * The optimizer step on row r given its weight gradient g and, for neuron-major rows, its bias gradient gb
 * (after the row's catch-up, when enabled); then releases the row's update slot.
 */
static inline void finish_row(const slide_network *net, const slide_kernels *K, slide_layer *L, uint32_t r,
                              const float *g, float gb, int adam, float lr_t, float b1, float b2, float eps_t,
                              float decay, slide_catch_up_slot *cache)
{
    if (L->row_step)
        catch_up_row(net, L, r, adam, cache);
    slide_row_update(K, L, r, g, adam, lr_t, b1, b2, eps_t, decay);
    if (L->neuron_major) {
        if (adam)
            adam_scalar(&L->bias[r], &L->bias_m[r], &L->bias_v[r], gb, lr_t, b1, b2, eps_t);
        else
            L->bias[r] -= lr_t * gb;
    }
    L->row_slot[r] = -1;
}

/*
 * Rows of batch-shared layer l (neuron-major, dense inputs: a previous layer's or a dense X), SLIDE_GRAD_ROWS at a time: every sample's
 * input feeds all of them at once (axpy_many_multi). Each row's sum is added in sample order, as one row at
 * a time would add it, so the grouping does not change the result.
 */
static void update_rows_grouped(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, uint32_t n,
                                uint32_t n_touched, int adam, float lr_t, float b1, float b2, float eps_t, float decay,
                                int nt)
{
    slide_layer *L = &net->layers[l];
    const slide_kernels *K = slide_kernels_get();
    const uint32_t NL = net->n_layers;
    const uint32_t n_groups = (n_touched + SLIDE_GRAD_ROWS - 1) / SLIDE_GRAD_ROWS;
#pragma omp parallel num_threads(nt)
    {
        slide_catch_up_slot cache[SLIDE_CATCH_UP_CACHE];
        slide_catch_up_cache_clear(cache);
#pragma omp for schedule(dynamic, 2)
        for (uint32_t gi = 0; gi < n_groups; gi++) {
            slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
            const uint32_t t0 = gi * SLIDE_GRAD_ROWS;
            const uint32_t ng = n_touched - t0 < SLIDE_GRAD_ROWS ? n_touched - t0 : SLIDE_GRAD_ROWS;
            for (uint32_t j = 0; j < ng && t0 + ng + j < n_touched; j++)
                slide_prefetch_block(L, net->touched[t0 + ng + j]);
            float *gs[SLIDE_GRAD_ROWS], gb[SLIDE_GRAD_ROWS] = {0};
            float coef[SLIDE_GRAD_ROWS][SLIDE_ROWS_BATCH];
            const float *cs[SLIDE_GRAD_ROWS], *src[SLIDE_ROWS_BATCH];
            for (uint32_t j = 0; j < ng; j++) {
                gs[j] = scr->grad + (size_t)j * L->row_len;
                memset(gs[j], 0, sizeof(float) * L->row_len);
                cs[j] = coef[j];
            }
            for (uint32_t p0 = 0; p0 < n; p0 += SLIDE_ROWS_BATCH) {
                const uint32_t m = n - p0 < SLIDE_ROWS_BATCH ? n - p0 : SLIDE_ROWS_BATCH;
                for (uint32_t k = 0; k < m; k++) {
                    const slide_act *a = &net->acts[(size_t)(p0 + k) * NL + l];
                    for (uint32_t j = 0; j < ng; j++) {
                        coef[j][k] = a->delta[t0 + j];
                        gb[j] += coef[j][k];
                    }
                    src[k] = slide_layer_input(net, l, X, rows, p0 + k).val;
                }
                K->axpy_many_multi(gs, cs, ng, src, m, L->row_len);
            }
            for (uint32_t j = 0; j < ng; j++)
                finish_row(net, K, L, net->touched[t0 + j], gs[j], gb[j], adam, lr_t, b1, b2, eps_t, decay, cache);
        }
    }
}

int slide_update_layer(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, uint32_t n,
                       int nt)
{
    slide_layer *L = &net->layers[l];
    const slide_kernels *K = slide_kernels_get();
    const uint32_t NL = net->n_layers;

    /*
     * Batch-shared layer: every sample computed the same neurons in the same order (sampler.shared.ids), so row k
     * of the set gets one contribution per sample, delta[k] of that sample: no sorting needed.
     */
    const int shared = slide_layer_batch_shared(L) && L->sampler.shared.n > 0;
    uint32_t n_touched = 0;
    if (shared) {
        int rc = reserve_update(net, L->sampler.shared.n);
        if (rc)
            return rc;
        n_touched = L->sampler.shared.n;
        memcpy(net->touched, L->sampler.shared.ids, sizeof(uint32_t) * n_touched);
    } else {
        int rc = sort_pairs_by_row(net, l, X, rows, n, nt, &n_touched);
        if (rc)
            return rc;
    }

    const int adam = net->opt.kind == SLIDE_OPT_ADAM;
    const float b1 = net->opt.beta1, b2 = net->opt.beta2;
    const double t = (double)net->step;
    const double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    /* Bias correction folded into the step: lr_t = lr * sqrt(c2) / c1, eps_t = eps * sqrt(c2). */
    const float lr_t = adam ? (float)(net->opt.lr * sqrt(c2) / c1) : net->opt.lr;
    const float eps_t = (float)(net->opt.eps * sqrt(c2));
    /* Decoupled weight decay on the rows this batch updates (biases are not decayed); exactly 1 without it. */
    const float decay = 1.0f - net->opt.lr * net->opt.weight_decay;

    /* Dense inputs: the previous layer's, or dense X for layer 0 (the PyTorch head's). */
    const int dense_in = l > 0 ? net->acts[l - 1].dense : X->kind == SLIDE_MATRIX_DENSE;
    if (shared && L->neuron_major && dense_in) {
        update_rows_grouped(net, l, X, rows, n, n_touched, adam, lr_t, b1, b2, eps_t, decay, nt);
    } else {
#pragma omp parallel num_threads(nt)
        {
            slide_catch_up_slot cache[SLIDE_CATCH_UP_CACHE];
            slide_catch_up_cache_clear(cache);
#pragma omp for schedule(dynamic, 16)
            for (uint32_t ti = 0; ti < n_touched; ti++) {
                slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
                if (ti + UPDATE_PREFETCH < n_touched)
                    slide_prefetch_block(L, net->touched[ti + UPDATE_PREFETCH]);
                float *g = scr->grad;
                memset(g, 0, sizeof(float) * L->row_len);
                float gb = 0.0f;
                const float *src[SLIDE_ROWS_BATCH];
                float coef[SLIDE_ROWS_BATCH];
                uint32_t m = 0;
                const uint32_t p_end = shared ? n : net->pair_off[ti + 1];
                for (uint32_t p = shared ? 0 : net->pair_off[ti]; p < p_end; p++) {
                    uint32_t s = shared ? p : net->pair_sample[p];
                    float c = shared ? net->acts[(size_t)s * NL + l].delta[ti] : net->pair_coef[p];
                    const float *x;
                    if (L->neuron_major) {
                        gb += c;
                        slide_vec in = slide_layer_input(net, l, X, rows, s);
                        if (in.idx) {
                            K->axpy_sparse(g, c, in.idx, in.val, in.nnz);
                            continue;
                        }
                        x = in.val;
                    } else {
                        x = net->acts[(size_t)s * NL + l].delta;
                    }
                    coef[m] = c;
                    src[m++] = x;
                    if (m == SLIDE_ROWS_BATCH) {
                        K->axpy_many(g, coef, src, m, L->row_len);
                        m = 0;
                    }
                }
                if (m)
                    K->axpy_many(g, coef, src, m, L->row_len);
                finish_row(net, K, L, net->touched[ti], g, gb, adam, lr_t, b1, b2, eps_t, decay, cache);
            }
        }
    }

    /* Incremental schedule: re-insert the neurons this batch changed, unless a full rebuild follows. */
    if (slide_sampler_rehash_due(L)) {
        int rc2 = slide_sampler_rehash(net, L, net->touched, n_touched);
        if (rc2)
            return rc2;
    }

    if (!L->neuron_major) {
        /* Fully computed layer: every unit's bias has a gradient, summed over the batch in sample order. */
        int64_t units = L->units;
        /* Small layers are summed by the calling thread: waking the team would cost more than the sums. */
#pragma omp parallel for num_threads(nt) schedule(static) if (units * (int64_t)n >= SMALL_WORK)
        for (int64_t u = 0; u < units; u++) {
            float gb = 0.0f;
            for (uint32_t s = 0; s < n; s++)
                gb += net->acts[(size_t)s * NL + l].delta[u];
            if (adam)
                adam_scalar(&L->bias[u], &L->bias_m[u], &L->bias_v[u], gb, lr_t, b1, b2, eps_t);
            else
                L->bias[u] -= lr_t * gb;
        }
    }
    return SLIDE_OK;
}
