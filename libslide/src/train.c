/*
 * Training: per-sample sparse forward and backward, then a per-row reduction and optimizer step.
 *
 * A batch runs in three phases:
 *  1. forward + backward, parallel over samples. Each sample selects its own active neurons in every
 *     sampled layer (LSH query + labels + random padding), computes only those, and back-propagates
 *     deltas into per-sample buffers. Weights are only read.
 *  2. for each layer, the (row, sample, coefficient) contributions of the batch are grouped by row with
 *     a counting sort, so every touched row knows which samples touched it.
 *  3. parallel over touched rows: one thread sums the row's gradient in a private buffer, in sample
 *     order, and applies Adam/SGD to that row and its moments. No two threads write the same row, no
 *     gradient matrix exists, untouched rows cost nothing, and the result does not depend on the thread
 *     count (a deterministic reduction rather than Hogwild).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "error.h"
#include "kernels.h"
#include "network.h"
#include "rows.h"
#include "rng.h"

/* Rows per dot_many / axpy_many call: the pointer and coefficient arrays live on the stack. */
enum { MANY = 64 };
_Static_assert(MANY <= SLIDE_ROWS_BATCH, "a slide_rows must hold MANY row pointers");
/*
 * Partitioned counting sorts (the batch-shared merge, sort_pairs_by_row): ids are dealt to SHARED_PARTS
 * partitions (a power of two) in blocks of 2^bits ids, round-robin; SHARED_BLOCK_BITS for neuron ids.
 */
enum { SHARED_PARTS = 8, SHARED_BLOCK_BITS = 12 };

static inline uint32_t id_part(size_t id, unsigned bits)
{
    return (uint32_t)(id >> bits) & (SHARED_PARTS - 1);
}

/*
 * cnt[c][p] counts the items of input range c that fall in partition p. Turns every count into the
 * cursor where range c starts writing partition p in a partition-major buffer (within a partition,
 * range 0 first), sets part_start[p] to where partition p begins, and returns the total.
 */
static size_t partition_offsets(size_t cnt[SHARED_PARTS][SHARED_PARTS], size_t part_start[SHARED_PARTS + 1])
{
    size_t total = 0;
    for (uint32_t p = 0; p < SHARED_PARTS; p++) {
        part_start[p] = total;
        for (uint32_t c = 0; c < SHARED_PARTS; c++) {
            size_t m = cnt[c][p];
            cnt[c][p] = total;
            total += m;
        }
    }
    part_start[SHARED_PARTS] = total;
    return total;
}
/*
 * Loops with fewer elementary steps than this run on the calling thread: with OMP_WAIT_POLICY=PASSIVE
 * (the Python package's default) each parallel region wakes sleeping threads, which costs tens of
 * microseconds on a VM, more than such a loop takes.
 */
enum { SMALL_WORK = 1 << 20 };

static inline slide_vec act_as_input(const slide_act *a)
{
    slide_vec v = {a->dense ? NULL : a->ids, a->val, a->n};
    return v;
}

/* ------------------------------------------------------------------ active set selection */

#define SLIDE_CHOSEN 0xFFFFu /* hits[] value of a neuron already in the active set (> any count) */

/* Table codes of a layer input (sparse or dense query). */
static inline void hash_query(const slide_layer *L, slide_vec x, uint32_t *codes, void *scratch)
{
    if (x.idx)
        L->sampler.hash->hash_sparse(L->sampler.hash_state, x.idx, x.val, x.nnz, codes, scratch);
    else
        L->sampler.hash->hash_dense(L->sampler.hash_state, x.val, codes, scratch);
}

/*
 * Adds one bucket's ids to the candidate list: a first sighting (mark != stamp) appends the id with one
 * hit; later sightings count up to max_count (chosen ids, whose hits are SLIDE_CHOSEN, are left alone
 * because SLIDE_CHOSEN > max_count). Returns the largest count seen.
 */
static inline uint32_t gather_bucket(const uint32_t *ids, uint32_t m, uint32_t *mark, uint32_t stamp,
                                     uint16_t *hits, uint16_t max_count, uint32_t *cand, uint32_t *nc,
                                     uint32_t max_hit)
{
    for (uint32_t i = 0; i < m; i++) {
        uint32_t id = ids[i];
        if (mark[id] != stamp) {
            mark[id] = stamp;
            hits[id] = 1;
            cand[(*nc)++] = id;
        } else if (hits[id] < max_count) {
            hits[id]++;
            max_hit = hits[id] > max_hit ? hits[id] : max_hit;
        }
    }
    return max_hit;
}

/*
 * Ranking by hit count keeps the `want` candidates with the most hits, ties broken in candidate order:
 * with hist[h] candidates of h hits, every candidate with >= cut hits is taken, then the first
 * `boundary` candidates with cut - 1 hits. Hit counts lie in [1, max_hit]; hist has max_hit + 2 counters.
 * Requires more candidates than `want`.
 */
static void hits_cut(const uint32_t *hist, uint32_t max_hit, uint32_t want, uint32_t *cut_out, uint32_t *boundary_out)
{
    uint32_t taken = 0, cut = max_hit + 1;
    while (cut > 1 && taken + hist[cut - 1] <= want) {
        taken += hist[cut - 1];
        cut--;
    }
    *cut_out = cut;
    *boundary_out = cut > 1 ? want - taken : 0;
}

/*
 * Appends to out, in order, the candidates of cand[0..nc) at or above the cut and the first `boundary`
 * ones just below it (see hits_cut), marking them CHOSEN. Returns how many were appended.
 */
static uint32_t take_above_cut(const uint32_t *cand, uint32_t nc, uint16_t *hits, uint32_t cut, uint32_t boundary,
                               int32_t *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < nc; i++) {
        uint32_t id = cand[i], h = hits[id];
        if (h >= cut || (h + 1 == cut && boundary > 0)) {
            if (h < cut)
                boundary--;
            hits[id] = SLIDE_CHOSEN;
            out[n++] = (int32_t)id;
        }
    }
    return n;
}

/*
 * Appends to out the candidates cand[0..nc) with the most hits, at most `want` of them (all when
 * nc <= want), ties broken in candidate order, and marks them CHOSEN. Candidate hit counts lie in
 * [1, max_hit]; hist must have room for max_hit + 2 counters. Returns how many were appended.
 */
static uint32_t take_top_by_hits(const uint32_t *cand, uint32_t nc, uint16_t *hits, uint32_t max_hit,
                                 uint32_t want, uint32_t *hist, int32_t *out)
{
    if (nc <= want)
        return take_above_cut(cand, nc, hits, 0, 0, out);
    if (want == 0)
        return 0;
    memset(hist, 0, sizeof(uint32_t) * (max_hit + 2));
    for (uint32_t i = 0; i < nc; i++)
        hist[hits[cand[i]]]++;
    uint32_t cut, boundary;
    hits_cut(hist, max_hit, want, &cut, &boundary);
    return take_above_cut(cand, nc, hits, cut, boundary, out);
}

/*
 * Pads out[0..n) with neurons not chosen yet (retrieved-but-unselected ones included) up to `target`:
 * random draws first; when the target is close to the layer size draws stall, so a scan from a random
 * start finishes. Returns the new count.
 */
static uint32_t pad_random(uint32_t units, uint32_t target, slide_rng *rng, uint32_t *mark, uint32_t stamp,
                           uint16_t *hits, int32_t *out, uint32_t n)
{
    for (uint32_t tries = 0; n < target && tries < 4 * target + 64; tries++) {
        uint32_t id = slide_rng_below(rng, units);
        if (mark[id] != stamp || hits[id] != SLIDE_CHOSEN) {
            mark[id] = stamp;
            hits[id] = SLIDE_CHOSEN;
            out[n++] = (int32_t)id;
        }
    }
    for (uint32_t i = 0, id = slide_rng_below(rng, units); n < target && i < units; i++) {
        if (mark[id] != stamp || hits[id] != SLIDE_CHOSEN) {
            mark[id] = stamp;
            hits[id] = SLIDE_CHOSEN;
            out[n++] = (int32_t)id;
        }
        id = id + 1 == units ? 0 : id + 1;
    }
    return n;
}

static uint32_t next_stamp(slide_thread_scratch *scr, uint32_t units)
{
    if (++scr->stamp == 0) { /* wrapped: clear stale marks once every 2^32 samples */
        memset(scr->mark, 0, sizeof(uint32_t) * units);
        scr->stamp = 1;
    }
    return scr->stamp;
}

/*
 * Fills a->ids with: the labels (training output layer), then the retrieved neurons ranked by how many
 * tables returned them, up to the layer's cap less its random share, then random neurons: the random
 * share, and more up to min_active.
 */
static int select_active(const slide_layer *L, slide_vec x, const int32_t *labels, uint32_t n_labels, int training,
                         slide_act *a, slide_thread_scratch *scr, uint64_t sample_seed)
{
    /* The random share serves training only (negatives); predictions give its slots to retrieval. */
    const uint32_t n_random = training ? L->sampler.n_random : 0;
    /* mark[id] == stamp: id was seen for this sample; hits[id] then counts the tables that returned it,
     * or is SLIDE_CHOSEN once id is in the active set (labels, selected candidates, padding). */
    uint32_t room = L->sampler.max_active > L->sampler.min_active ? L->sampler.max_active : L->sampler.min_active;
    int rc = slide_act_reserve(a, room + n_labels, 1, 1);
    if (rc)
        return rc;
    uint32_t stamp = next_stamp(scr, L->units);
    uint32_t *mark = scr->mark;
    uint16_t *hits = scr->hits;
    uint32_t n = 0;
    for (uint32_t i = 0; i < n_labels; i++) {
        uint32_t y = (uint32_t)labels[i];
        if (mark[y] != stamp) {
            mark[y] = stamp;
            hits[y] = SLIDE_CHOSEN;
            a->ids[n++] = (int32_t)y;
        }
    }
    a->n_forced = n;

    hash_query(L, x, scr->codes, scr->hash_scratch);
    rc = slide_scratch_reserve_cand(scr, (size_t)L->sampler.cfg.tables * L->sampler.cfg.bucket_size);
    if (rc)
        return rc;
    /* Counts stop at `tables`: with incremental re-hashing a bucket may hold an id twice. */
    uint32_t nc = 0;
    for (uint32_t t = 0; t < L->sampler.cfg.tables; t++) {
        const uint32_t *ids;
        uint32_t m = slide_lsh_tables_bucket(&L->sampler.tables, t, scr->codes[t], &ids);
        gather_bucket(ids, m, mark, stamp, hits, (uint16_t)L->sampler.cfg.tables, scr->cand, &nc, 1);
    }

    /* Retrieval fills the cap minus the slots reserved for random neurons. */
    uint32_t want = L->sampler.max_active > n + n_random ? L->sampler.max_active - n - n_random : 0;
    if (L->sampler.cfg.rule == SLIDE_SAMPLE_THRESHOLD) {
        /* Keep only neurons returned by >= threshold tables (in retrieval order), then rank as TOPK. */
        uint32_t kept = 0;
        for (uint32_t i = 0; i < nc; i++)
            if (hits[scr->cand[i]] >= L->sampler.cfg.threshold)
                scr->cand[kept++] = scr->cand[i];
        nc = kept;
    }
    if (L->sampler.cfg.rule == SLIDE_SAMPLE_UNION && nc > want)
        nc = want; /* retrieval order: the first `want` */
    n += take_top_by_hits(scr->cand, nc, hits, L->sampler.cfg.tables, want, scr->hist, a->ids + n);
    /* n + n_random <= n_labels + room (the reservation above): n <= max(n_labels, max_active - n_random). */
    uint32_t target = n + n_random > L->sampler.min_active ? n + n_random : L->sampler.min_active;
    if (n < target) {
        slide_rng rng = {sample_seed};
        n = pad_random(L->units, target, &rng, mark, stamp, hits, a->ids, n);
    }
    a->n = n;
    a->dense = 0;
    return SLIDE_OK;
}

/* ------------------------------------------------------------------ forward */

static void softmax_inplace(float *z, uint32_t n)
{
    if (n == 0)
        return;
    float mx = z[0];
    for (uint32_t i = 1; i < n; i++)
        mx = z[i] > mx ? z[i] : mx;
    float sum = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = expf(z[i] - mx);
        sum += z[i];
    }
    float inv = 1.0f / sum;
    for (uint32_t i = 0; i < n; i++)
        z[i] *= inv;
}

/* While training, a batch-shared layer has one active set for the whole batch (prediction does not). */
static inline int is_batch_shared(const slide_layer *L)
{
    return L->sampled && L->sampler.cfg.batch_shared;
}

int slide_forward_sample(slide_network *net, slide_vec x, const int32_t *labels, uint32_t n_labels, int mode,
                         int skip_last, slide_act *acts, slide_thread_scratch *scr, uint64_t sample_seed)
{
    return slide_forward_layers(net, x, 0, net->n_layers - (skip_last ? 1u : 0u), labels, n_labels, mode, acts,
                                scr, sample_seed);
}

int slide_forward_layers(slide_network *net, slide_vec x, uint32_t from, uint32_t to, const int32_t *labels,
                         uint32_t n_labels, int mode, slide_act *acts, slide_thread_scratch *scr,
                         uint64_t sample_seed)
{
    const slide_kernels *K = slide_kernels_get();
    slide_vec in = from == 0 ? x : act_as_input(&acts[from - 1]);
    for (uint32_t l = from; l < to; l++) {
        const slide_layer *L = &net->layers[l];
        slide_act *a = &acts[l];
        int last = l + 1 == net->n_layers;
        int rc;
        if (L->sampled && mode != SLIDE_FWD_EXACT) {
            /* Batch-shared layers never come here while training: forward_shared_layer computes them. */
            rc = select_active(L, in, (last && mode == SLIDE_FWD_TRAIN) ? labels : NULL,
                               (last && mode == SLIDE_FWD_TRAIN) ? n_labels : 0, mode == SLIDE_FWD_TRAIN, a, scr,
                               slide_seed3(sample_seed, l, 0x9AD, 0));
            if (rc)
                return rc;
            if (in.idx) {
                for (uint32_t k = 0; k < a->n; k++)
                    a->val[k] = slide_row_dot_sparse(K, L, (size_t)a->ids[k], in.idx, in.val, in.nnz);
            } else {
                slide_rows rows;
                for (uint32_t k0 = 0; k0 < a->n; k0 += MANY) {
                    uint32_t m = a->n - k0 < MANY ? a->n - k0 : MANY;
                    for (uint32_t k = 0; k < m; k++)
                        slide_rows_set(&rows, L, k, (size_t)a->ids[k0 + k]);
                    slide_rows_dot_many(K, L, &rows, m, in.val, in.nnz, a->val + k0);
                }
            }
            for (uint32_t k = 0; k < a->n; k++)
                a->val[k] += L->bias[a->ids[k]];
        } else {
            rc = slide_act_reserve(a, L->units, 0, mode == SLIDE_FWD_TRAIN);
            if (rc)
                return rc;
            a->n = L->units;
            a->dense = 1;
            if (L->neuron_major) {
                if (in.idx) {
                    for (uint32_t j = 0; j < L->units; j++)
                        a->val[j] = slide_row_dot_sparse(K, L, j, in.idx, in.val, in.nnz);
                } else if (slide_is_bf16(L)) {
                    slide_rows rows;
                    for (uint32_t j0 = 0; j0 < L->units; j0 += MANY) {
                        uint32_t m = L->units - j0 < MANY ? L->units - j0 : MANY;
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
                const float *rows[MANY];
                float coef[MANY];
                uint32_t m = 0;
                if (in.idx) /* the sparse input's rows are scattered over the layer: ask for all of them first */
                    for (uint32_t i = 0; i < in.nnz; i++)
                        slide_prefetch(slide_row_w(L, (size_t)in.idx[i]), sizeof(float) * L->row_len, 0);
                for (uint32_t i = 0; i < in.nnz; i++) {
                    if (in.val[i] == 0.0f)
                        continue;
                    coef[m] = in.val[i];
                    rows[m++] = slide_row_w(L, in.idx ? (size_t)in.idx[i] : i);
                    if (m == MANY) {
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
            softmax_inplace(a->val, a->n);
        }
        in = act_as_input(a);
    }
    return SLIDE_OK;
}

/* ------------------------------------------------------------------ backward */

/* delta of the output layer from softmax probabilities; returns the sample's cross-entropy. */
static double output_delta(const slide_layer *L, slide_act *a, const int32_t *labels, uint32_t n_labels,
                           float scale)
{
    if (n_labels == 0) {
        memset(a->delta, 0, sizeof(float) * a->n);
        return 0.0;
    }
    float t = 1.0f / (float)n_labels;
    double loss = 0.0;
    int shared = is_batch_shared(L) && !a->dense;
    if (!a->dense && !shared && a->n_forced == 0) {
        memset(a->delta, 0, sizeof(float) * a->n);
        return 0.0;
    }
    for (uint32_t k = 0; k < a->n; k++)
        a->delta[k] = a->val[k] * scale;
    if (shared) {
        /* Every label of the batch is in the shared set (select_shared puts them first). */
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
        /* select_active placed the distinct labels first: ids[0 .. n_forced). */
        t = 1.0f / (float)a->n_forced;
        for (uint32_t k = 0; k < a->n_forced; k++) {
            a->delta[k] -= t * scale;
            loss -= t * log((double)a->val[k] + 1e-30);
        }
    }
    return loss;
}

/* Back-propagates layer l's delta into layer l-1's delta (which must be a ReLU or linear layer). */
static void backprop_layer(const slide_layer *L, const slide_act *a, slide_act *prev, int prev_relu)
{
    const slide_kernels *K = slide_kernels_get();
    float *dx = prev->delta;
    if (L->neuron_major) {
        memset(dx, 0, sizeof(float) * prev->n);
        if (prev->dense) {
            slide_rows rows;
            float coef[MANY];
            uint32_t m = 0;
            for (uint32_t k = 0; k < a->n; k++) {
                if (a->delta[k] == 0.0f)
                    continue;
                coef[m] = a->delta[k];
                slide_rows_set(&rows, L, m++, a->dense ? k : (size_t)a->ids[k]);
                if (m == MANY) {
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
        for (uint32_t i = 0; i < prev->n; i++)
            if (prev->val[i] <= 0.0f)
                dx[i] = 0.0f;
}

/* ------------------------------------------------------------------ update */

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

/* The input of layer l for batch position s. */
static inline slide_vec layer_input(const slide_network *net, uint32_t l, const slide_matrix *X,
                                    const int64_t *rows, uint32_t s)
{
    if (l == 0)
        return slide_matrix_row(X, rows ? rows[s] : (int64_t)s);
    return act_as_input(&net->acts[(size_t)s * net->n_layers + l - 1]);
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
    slide_vec x = layer_input(net, l, X, rows, s);
    return (slide_pair_src){x.idx, x.val, x.nnz, 1};
}

/* sort_pairs_by_row deals rows to partitions in blocks of 2^PAIR_BLOCK_BITS ids. */
enum { PAIR_BLOCK_BITS = 8, PAIR_PARALLEL = 4096 };

/*
 * Groups layer l's gradient contributions by weight row: touched[0..n_touched) are the rows, pair_off their
 * ranges in pair_sample / pair_coef, each row's contributions in sample order. O(pairs), never O(layer).
 * One parallel region (serial below PAIR_PARALLEL pairs), as a counting sort over row partitions:
 *  1. over SHARED_PARTS ranges of samples: count each range's pairs per partition;
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
    enum { P = SHARED_PARTS };
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
                        cnt[c][id_part(src.idx ? (size_t)src.idx[k] : k, PAIR_BLOCK_BITS)]++;
            }
        }
#pragma omp single
        partition_offsets(cnt, part_start);
#pragma omp for schedule(dynamic, 1)
        for (uint32_t c = 0; c < P; c++) {
            size_t *cur = cnt[c];
            for (uint32_t s = (uint32_t)((uint64_t)n * c / P); s < (uint64_t)n * (c + 1) / P; s++) {
                slide_pair_src src = sample_pairs(net, l, X, rows, s);
                for (uint32_t k = 0; k < src.n; k++) {
                    if (src.skip_zero && src.coef[k] == 0.0f)
                        continue;
                    uint32_t r = src.idx ? (uint32_t)src.idx[k] : k;
                    size_t i = cur[id_part(r, PAIR_BLOCK_BITS)]++;
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

/* update_layer prefetches the block of the row this many places ahead in the touched list. */
enum { UPDATE_PREFETCH = 2 };

/*
 * The optimizer step on row r given its weight gradient g and, for neuron-major rows, its bias gradient gb;
 * then releases the row's update slot.
 */
static inline void finish_row(const slide_kernels *K, slide_layer *L, uint32_t r, const float *g, float gb, int adam,
                              float lr_t, float b1, float b2, float eps_t, float decay)
{
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
 * Rows of batch-shared layer l (neuron-major, dense inputs), SLIDE_GRAD_ROWS at a time: every sample's
 * input feeds all of them at once (axpy_many_multi). Each row's sum is added in sample order, as one row at
 * a time would add it, so the grouping does not change the result.
 */
static void update_rows_grouped(slide_network *net, uint32_t l, uint32_t n, uint32_t n_touched, int adam, float lr_t,
                                float b1, float b2, float eps_t, float decay, int nt)
{
    slide_layer *L = &net->layers[l];
    const slide_kernels *K = slide_kernels_get();
    const uint32_t NL = net->n_layers;
    const uint32_t n_groups = (n_touched + SLIDE_GRAD_ROWS - 1) / SLIDE_GRAD_ROWS;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8)
    for (uint32_t gi = 0; gi < n_groups; gi++) {
        slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
        const uint32_t t0 = gi * SLIDE_GRAD_ROWS;
        const uint32_t ng = n_touched - t0 < SLIDE_GRAD_ROWS ? n_touched - t0 : SLIDE_GRAD_ROWS;
        for (uint32_t j = 0; j < ng && t0 + ng + j < n_touched; j++)
            slide_prefetch_block(L, net->touched[t0 + ng + j]);
        float *gs[SLIDE_GRAD_ROWS], gb[SLIDE_GRAD_ROWS] = {0};
        float coef[SLIDE_GRAD_ROWS][MANY];
        const float *cs[SLIDE_GRAD_ROWS], *src[MANY];
        for (uint32_t j = 0; j < ng; j++) {
            gs[j] = scr->grad + (size_t)j * L->row_len;
            memset(gs[j], 0, sizeof(float) * L->row_len);
            cs[j] = coef[j];
        }
        for (uint32_t p0 = 0; p0 < n; p0 += MANY) {
            const uint32_t m = n - p0 < MANY ? n - p0 : MANY;
            for (uint32_t k = 0; k < m; k++) {
                const slide_act *a = &net->acts[(size_t)(p0 + k) * NL + l];
                for (uint32_t j = 0; j < ng; j++) {
                    coef[j][k] = a->delta[t0 + j];
                    gb[j] += coef[j][k];
                }
                src[k] = net->acts[(size_t)(p0 + k) * NL + l - 1].val;
            }
            K->axpy_many_multi(gs, cs, ng, src, m, L->row_len);
        }
        for (uint32_t j = 0; j < ng; j++)
            finish_row(K, L, net->touched[t0 + j], gs[j], gb[j], adam, lr_t, b1, b2, eps_t, decay);
    }
}

static int update_layer(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, uint32_t n,
                        int nt)
{
    slide_layer *L = &net->layers[l];
    const slide_kernels *K = slide_kernels_get();
    const uint32_t NL = net->n_layers;

    /*
     * Batch-shared layer: every sample computed the same neurons in the same order (shared_ids), so row k
     * of the set gets one contribution per sample, delta[k] of that sample: no sorting needed.
     */
    const int shared = is_batch_shared(L) && L->sampler.shared.n > 0;
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

    if (shared && L->neuron_major && l > 0 && net->acts[l - 1].dense) {
        update_rows_grouped(net, l, n, n_touched, adam, lr_t, b1, b2, eps_t, decay, nt);
    } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
        for (uint32_t ti = 0; ti < n_touched; ti++) {
            slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
            if (ti + UPDATE_PREFETCH < n_touched)
                slide_prefetch_block(L, net->touched[ti + UPDATE_PREFETCH]);
            float *g = scr->grad;
            memset(g, 0, sizeof(float) * L->row_len);
            float gb = 0.0f;
            const float *src[MANY];
            float coef[MANY];
            uint32_t m = 0;
            const uint32_t p_end = shared ? n : net->pair_off[ti + 1];
            for (uint32_t p = shared ? 0 : net->pair_off[ti]; p < p_end; p++) {
                uint32_t s = shared ? p : net->pair_sample[p];
                float c = shared ? net->acts[(size_t)s * NL + l].delta[ti] : net->pair_coef[p];
                const float *x;
                if (L->neuron_major) {
                    gb += c;
                    slide_vec in = layer_input(net, l, X, rows, s);
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
                if (m == MANY) {
                    K->axpy_many(g, coef, src, m, L->row_len);
                    m = 0;
                }
            }
            if (m)
                K->axpy_many(g, coef, src, m, L->row_len);
            finish_row(K, L, net->touched[ti], g, gb, adam, lr_t, b1, b2, eps_t, decay);
        }
    }

    /* Incremental schedule: re-insert the neurons this batch changed, unless a full rebuild follows. */
    if (L->sampled && L->sampler.cfg.rehash_touched && (double)(L->sampler.batches_since_rebuild + 1) < L->sampler.period) {
        int rc2 = slide_layer_rehash(net, L, net->touched, n_touched);
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

/* ------------------------------------------------------------------ batch */

/*
 * Batch-shared layers are computed rows outer, samples inner: a block of MANY rows of the set stays in
 * cache while a chunk of SHARED_SAMPLES samples uses it, so the set's weights are read n / SHARED_SAMPLES
 * times per batch instead of n times. Chunks run in parallel; every output element is computed by one
 * thread in a fixed order, so results do not depend on the thread count.
 */
enum { SHARED_SAMPLES = 16 };

/* Forward of batch-shared layer l for the whole batch: its active set is shared_ids for every sample. */
static int forward_shared_layer(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows,
                                int64_t n, int nt)
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
            a->n_forced = 0; /* labels sit anywhere in the shared set: see shared_pos */
            a->dense = 0;
        }
        /* Dense inputs: the whole chunk against each block of rows at once; sparse ones one at a time. */
        int dense_in = 1;
        const float *xs[SHARED_SAMPLES];
        for (int64_t s = s0; s < s1 && dense_in; s++) {
            slide_vec in = layer_input(net, l, X, rows, (uint32_t)s);
            dense_in = !in.idx;
            xs[s - s0] = in.val;
        }
        slide_rows rowp;
        for (uint32_t k0 = 0; k0 < m; k0 += MANY) {
            const uint32_t mk = m - k0 < MANY ? m - k0 : MANY;
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
                slide_vec in = layer_input(net, l, X, rows, (uint32_t)s);
                float *z = net->acts[(size_t)s * NL + l].val + k0;
                for (uint32_t k = 0; k < mk; k++)
                    z[k] = slide_row_dot_sparse(K, L, (size_t)L->sampler.shared.ids[k0 + k], in.idx, in.val, in.nnz);
            }
        }
        for (int64_t s = s0; s < s1; s++) {
            slide_act *a = &net->acts[(size_t)s * NL + l];
            for (uint32_t k = 0; k < m; k++)
                a->val[k] += L->bias[a->ids[k]];
            if (L->activation == SLIDE_ACT_RELU) {
                for (uint32_t k = 0; k < m; k++)
                    a->val[k] = a->val[k] > 0.0f ? a->val[k] : 0.0f;
            } else if (L->activation == SLIDE_ACT_SOFTMAX) {
                softmax_inplace(a->val, m);
            }
        }
    }
    return SLIDE_OK;
}

/* backprop_layer for batch-shared layer l (l > 0, dense previous layer) over the whole batch. */
static void backprop_shared_layer(slide_network *net, uint32_t l, int64_t n, int nt)
{
    const slide_layer *L = &net->layers[l];
    const uint32_t NL = net->n_layers, m = L->sampler.shared.n;
    const int prev_relu = net->layers[l - 1].activation == SLIDE_ACT_RELU;
    const slide_kernels *K = slide_kernels_get();
    const int64_t chunks = (n + SHARED_SAMPLES - 1) / SHARED_SAMPLES;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t s0 = c * SHARED_SAMPLES, s1 = s0 + SHARED_SAMPLES < n ? s0 + SHARED_SAMPLES : n;
        for (int64_t s = s0; s < s1; s++) {
            slide_act *prev = &net->acts[(size_t)s * NL + l - 1];
            memset(prev->delta, 0, sizeof(float) * prev->n);
        }
        slide_rows rowp;
        float *ys[SHARED_SAMPLES];
        const float *cs[SHARED_SAMPLES];
        for (uint32_t k0 = 0; k0 < m; k0 += MANY) {
            const uint32_t mk = m - k0 < MANY ? m - k0 : MANY;
            for (uint32_t k = 0; k < mk; k++)
                slide_rows_set(&rowp, L, k, (size_t)L->sampler.shared.ids[k0 + k]);
            for (int64_t s = s0; s < s1; s++) { /* the whole chunk from the block at once */
                ys[s - s0] = net->acts[(size_t)s * NL + l - 1].delta;
                cs[s - s0] = net->acts[(size_t)s * NL + l].delta + k0;
            }
            slide_rows_axpy_many_multi(K, L, ys, cs, (size_t)(s1 - s0), &rowp, mk, L->in_dim);
        }
        if (prev_relu)
            for (int64_t s = s0; s < s1; s++) {
                slide_act *prev = &net->acts[(size_t)s * NL + l - 1];
                for (uint32_t i = 0; i < prev->n; i++)
                    if (prev->val[i] <= 0.0f)
                        prev->delta[i] = 0.0f;
            }
    }
}

/* Forward of layers [from, to) for every sample of the batch, in parallel. */
static int forward_segment(slide_network *net, const slide_matrix *X, const slide_matrix *Y, const int64_t *rows,
                           int64_t n, uint32_t from, uint32_t to, uint64_t step, int nt, char *err_msg,
                           size_t err_len)
{
    int err = SLIDE_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        int my_err;
#pragma omp atomic read
        my_err = err;
        if (my_err)
            continue;
        int64_t row = rows ? rows[s] : s;
        const int32_t *labels = Y->indices + Y->indptr[row];
        uint32_t n_labels = (uint32_t)(Y->indptr[row + 1] - Y->indptr[row]);
        int src = slide_forward_layers(net, slide_matrix_row(X, row), from, to, labels, n_labels, SLIDE_FWD_TRAIN,
                                       &net->acts[(size_t)s * net->n_layers], &net->scratch[slide_thread_id()],
                                       slide_seed3(net->seed, step, (uint64_t)s, 0xF0));
        if (src) {
#pragma omp critical(slide_train_error)
            if (!err) {
                err = src;
                snprintf(err_msg, err_len, "%s", slide_last_error());
            }
        }
    }
    return err;
}

/*
 * Chooses layer l's batch-shared active set: all labels of the batch (output layer), then the neurons
 * returned most often over all samples' queries (collision counts summed over the batch), up to the
 * cap less its random share, then random neurons (the random share, and more up to min_active). Hashing
 * and the merge of the retrieved buckets run in
 * parallel; the merge is O(batch * L * bucket_size) per partition, never O(layer).
 */
static int select_shared(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                         const int64_t *rows, int64_t n, uint64_t step, int nt)
{
    slide_layer *L = &net->layers[l];
    const uint32_t T = L->sampler.cfg.tables;
    const uint16_t MAXHIT = 0xFFFE;
    const int last = l + 1 == net->n_layers;
    size_t need = (size_t)n * T;
    if (need > L->sampler.shared.codes_cap) {
        uint32_t *c = realloc(L->sampler.shared.codes, sizeof(uint32_t) * need);
        if (!c)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate shared-set codes");
        L->sampler.shared.codes = c;
        L->sampler.shared.codes_cap = need;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        slide_thread_scratch *scr = &net->scratch[slide_thread_id()];
        slide_vec in = layer_input(net, l, X, rows, (uint32_t)s);
        hash_query(L, in, L->sampler.shared.codes + (size_t)s * T, scr->hash_scratch);
    }

    slide_thread_scratch *scr = &net->scratch[0];
    uint32_t stamp = next_stamp(scr, L->units);
    uint32_t *mark = scr->mark;
    uint16_t *hits = scr->hits;
    size_t n_labels = 0;
    if (last)
        for (int64_t s = 0; s < n; s++) {
            int64_t row = rows ? rows[s] : s;
            n_labels += (size_t)(Y->indptr[row + 1] - Y->indptr[row]);
        }
    size_t cap = n_labels + (L->sampler.max_active > L->sampler.min_active ? L->sampler.max_active : L->sampler.min_active);
    if (cap > L->units)
        cap = L->units;
    if (cap > L->sampler.shared.cap) {
        int32_t *ids = realloc(L->sampler.shared.ids, sizeof(int32_t) * cap);
        if (!ids)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate the shared active set");
        L->sampler.shared.ids = ids;
        L->sampler.shared.cap = (uint32_t)cap;
    }
    int rc;
    uint32_t ns = 0;
    if (last)
        for (int64_t s = 0; s < n; s++) {
            int64_t row = rows ? rows[s] : s;
            for (int64_t p = Y->indptr[row]; p < Y->indptr[row + 1]; p++) {
                uint32_t y = (uint32_t)Y->indices[p];
                if (mark[y] != stamp) {
                    mark[y] = stamp;
                    hits[y] = SLIDE_CHOSEN;
                    L->sampler.shared.ids[ns++] = (int32_t)y;
                }
            }
        }
    /*
     * Parallel merge over SHARED_PARTS fixed partitions of the neuron ids (blocks of 2^SHARED_BLOCK_BITS
     * ids dealt round-robin). Pass 1 (parallel over SHARED_PARTS contiguous ranges of the queries) counts
     * each range's retrieved ids per partition; pass 2 copies them into a partition-major buffer, each
     * partition's ids in query order; pass 3 (parallel over partitions) counts hits, so tasks write
     * disjoint parts of mark / hits. Candidates end up in (partition, first sighting) order, which does
     * not depend on the thread count. Memory: two arrays of the batch's retrieved ids.
     */
    size_t cnt[SHARED_PARTS][SHARED_PARTS]; /* [query range][partition], then copy cursors */
    uint32_t part_n[SHARED_PARTS], part_max[SHARED_PARTS];
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (uint32_t c = 0; c < SHARED_PARTS; c++) {
        size_t *my = cnt[c];
        memset(my, 0, sizeof cnt[c]);
        for (size_t q = need * c / SHARED_PARTS; q < need * (c + 1) / SHARED_PARTS; q++) {
            const uint32_t *ids;
            uint32_t m = slide_lsh_tables_bucket(&L->sampler.tables, (uint32_t)(q % T), L->sampler.shared.codes[q], &ids);
            for (uint32_t i = 0; i < m; i++)
                my[id_part(ids[i], SHARED_BLOCK_BITS)]++;
        }
    }
    size_t part_start[SHARED_PARTS + 1];
    const size_t total = partition_offsets(cnt, part_start);
    rc = slide_scratch_reserve_cand(scr, 2 * total + 1);
    if (rc)
        return rc;
    uint32_t *retrieved = scr->cand + total; /* the upper half; candidates go to the lower half */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (uint32_t c = 0; c < SHARED_PARTS; c++) {
        size_t *cur = cnt[c];
        for (size_t q = need * c / SHARED_PARTS; q < need * (c + 1) / SHARED_PARTS; q++) {
            const uint32_t *ids;
            uint32_t m = slide_lsh_tables_bucket(&L->sampler.tables, (uint32_t)(q % T), L->sampler.shared.codes[q], &ids);
            for (uint32_t i = 0; i < m; i++)
                retrieved[cur[id_part(ids[i], SHARED_BLOCK_BITS)]++] = ids[i];
        }
    }
    /* Pass 3 also makes each partition's histogram of hit counts (hist_p[0 .. part_max[p]]). */
    const size_t hist_len = (total < MAXHIT ? total : MAXHIT) + 2; /* no count exceeds the retrieved ids */
    if (hist_len * (SHARED_PARTS + 1) > L->sampler.shared.hist_cap) {
        uint32_t *h = realloc(L->sampler.shared.hist, sizeof(uint32_t) * hist_len * (SHARED_PARTS + 1));
        if (!h)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate hit histograms");
        L->sampler.shared.hist = h;
        L->sampler.shared.hist_cap = hist_len * (SHARED_PARTS + 1);
    }
    uint32_t *hist = L->sampler.shared.hist; /* [0, hist_len): the batch's; then one per partition */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (uint32_t p = 0; p < SHARED_PARTS; p++) {
        uint32_t n_part = 0, *cand = scr->cand + part_start[p], *hist_p = hist + hist_len * (p + 1);
        part_max[p] = gather_bucket(retrieved + part_start[p], (uint32_t)(part_start[p + 1] - part_start[p]), mark,
                                    stamp, hits, MAXHIT, cand, &n_part, 1);
        part_n[p] = n_part;
        memset(hist_p, 0, sizeof(uint32_t) * (part_max[p] + 1));
        for (uint32_t i = 0; i < n_part; i++)
            hist_p[hits[cand[i]]]++;
    }
    /*
     * Ranking over the partitions' candidates in (partition, first sighting) order, as take_top_by_hits
     * would rank their concatenation: the batch's histogram gives the cut, the boundary ties go to the
     * earliest partitions, and each partition then appends its share in parallel.
     */
    uint32_t nc = 0, max_hit = 1;
    for (uint32_t p = 0; p < SHARED_PARTS; p++) {
        nc += part_n[p];
        max_hit = part_max[p] > max_hit ? part_max[p] : max_hit;
    }
    uint32_t want = L->sampler.max_active > ns + L->sampler.n_random ? L->sampler.max_active - ns - L->sampler.n_random : 0;
    uint32_t cut = 0, boundary = 0; /* cut 0 takes every candidate */
    if (nc > want) {
        memset(hist, 0, sizeof(uint32_t) * (max_hit + 2));
        for (uint32_t p = 0; p < SHARED_PARTS; p++)
            for (uint32_t h = 0; h <= part_max[p]; h++)
                hist[h] += hist[hist_len * (p + 1) + h];
        hits_cut(hist, max_hit, want, &cut, &boundary);
    }
    uint32_t quota[SHARED_PARTS], out_off[SHARED_PARTS], out = ns;
    for (uint32_t p = 0; p < SHARED_PARTS; p++) {
        const uint32_t *hist_p = hist + hist_len * (p + 1);
        uint32_t above = 0;
        if (cut == 0)
            above = part_n[p];
        else
            for (uint32_t h = cut; h <= part_max[p]; h++)
                above += hist_p[h];
        uint32_t ties = cut > 1 && cut - 1 <= part_max[p] ? hist_p[cut - 1] : 0;
        quota[p] = ties < boundary ? ties : boundary;
        boundary -= quota[p];
        out_off[p] = out;
        out += above + quota[p];
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (uint32_t p = 0; p < SHARED_PARTS; p++)
        take_above_cut(scr->cand + part_start[p], part_n[p], hits, cut, quota[p], L->sampler.shared.ids + out_off[p]);
    ns = out;
    size_t target = ns + L->sampler.n_random > L->sampler.min_active ? ns + L->sampler.n_random : L->sampler.min_active;
    if (target > cap)
        target = cap;
    if (ns < target) {
        slide_rng rng = {slide_seed3(net->seed, step, l, 0x5A4ED)};
        ns = pad_random(L->units, (uint32_t)target, &rng, mark, stamp, hits, L->sampler.shared.ids, ns);
    }
    L->sampler.shared.n = ns;
    for (uint32_t i = 0; i < ns; i++)
        L->sampler.shared.pos[L->sampler.shared.ids[i]] = (int32_t)i;
    return SLIDE_OK;
}

/* Restores shared_pos to all -1 (touching only the set's entries). */
static void clear_shared(slide_network *net)
{
    for (uint32_t l = 0; l < net->n_layers; l++) {
        slide_layer *L = &net->layers[l];
        if (!L->sampler.shared.pos)
            continue;
        for (uint32_t i = 0; i < L->sampler.shared.n; i++)
            L->sampler.shared.pos[L->sampler.shared.ids[i]] = -1;
        L->sampler.shared.n = 0;
    }
}

static int check_sample(const slide_network *net, const slide_matrix *X, const slide_matrix *Y, int64_t row,
                        char *msg, size_t msg_len)
{
    if (row < 0 || row >= X->rows || row >= Y->rows) {
        snprintf(msg, msg_len, "row id %lld out of range [0, %lld)", (long long)row,
                 (long long)(X->rows < Y->rows ? X->rows : Y->rows));
        return SLIDE_E_INVALID;
    }
    if (X->kind == SLIDE_MATRIX_CSR) {
        int64_t b = X->indptr[row], e = X->indptr[row + 1];
        if (e < b || e - b > UINT32_MAX) {
            snprintf(msg, msg_len, "X row %lld: indptr is not non-decreasing", (long long)row);
            return SLIDE_E_INVALID;
        }
        for (int64_t i = b; i < e; i++) {
            if (X->indices[i] < 0 || X->indices[i] >= (int64_t)net->input_dim) {
                snprintf(msg, msg_len, "X row %lld: feature id %d out of range [0, %u)", (long long)row,
                         X->indices[i], net->input_dim);
                return SLIDE_E_INVALID;
            }
            if (!isfinite(X->values[i])) {
                snprintf(msg, msg_len, "X row %lld: value of feature %d is not finite", (long long)row, X->indices[i]);
                return SLIDE_E_INVALID;
            }
        }
    } else {
        const float *v = X->values + (size_t)row * (size_t)X->cols;
        for (int64_t i = 0; i < X->cols; i++)
            if (!isfinite(v[i])) {
                snprintf(msg, msg_len, "X row %lld, column %lld: value is not finite", (long long)row, (long long)i);
                return SLIDE_E_INVALID;
            }
    }
    int64_t b = Y->indptr[row], e = Y->indptr[row + 1];
    uint32_t n_out = net->layers[net->n_layers - 1].units;
    if (e < b) {
        snprintf(msg, msg_len, "Y row %lld: indptr is not non-decreasing", (long long)row);
        return SLIDE_E_INVALID;
    }
    for (int64_t i = b; i < e; i++)
        if (Y->indices[i] < 0 || (uint32_t)Y->indices[i] >= n_out) {
            snprintf(msg, msg_len, "Y row %lld: label id %d out of range [0, %u)", (long long)row, Y->indices[i],
                     n_out);
            return SLIDE_E_INVALID;
        }
    return SLIDE_OK;
}

int slide_network_train_batch(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                              const int64_t *rows, int64_t n, slide_batch_stats *stats)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    int rc = slide_matrix_check(X, "X", net->input_dim, 0);
    if (!rc)
        rc = slide_matrix_check(Y, "Y", net->layers[net->n_layers - 1].units, 1);
    if (rc)
        return rc;
    if (n <= 0 || n > (1 << 24))
        return slide_fail(SLIDE_E_INVALID, "batch size %lld out of range [1, 2^24]", (long long)n);
    if (!rows && (n > X->rows || n > Y->rows))
        return slide_fail(SLIDE_E_INVALID, "batch of %lld rows but X has %lld and Y %lld", (long long)n,
                          (long long)X->rows, (long long)Y->rows);
    if (stats && stats->struct_size < offsetof(slide_batch_stats, loss) + sizeof(double))
        return slide_fail(SLIDE_E_INVALID, "stats struct_size %zu is too small", stats->struct_size);
    rc = slide_network_claim(net, "slide_network_train_batch");
    if (rc)
        return rc;

    const int nt = slide_network_threads_for_call(net);
    const uint32_t NL = net->n_layers;
    rc = slide_network_ensure_scratch(net, nt);
    if (!rc)
        rc = slide_network_ensure_acts(net, (size_t)n);
    if (rc) {
        slide_network_release(net);
        return rc;
    }
    const uint64_t step = net->step + 1;
    const float scale = 1.0f / (float)n;
    double loss = 0.0, active_out = 0.0;
    int err = SLIDE_OK;
    char err_msg[256] = "";
    uint64_t *layer_active = calloc(NL, sizeof(uint64_t));
    if (!layer_active) {
        slide_network_release(net);
        return slide_fail(SLIDE_E_NOMEM, "out of memory");
    }

    /* Phase 0: validate every sample before computing anything, so a bad row leaves the network untouched. */
    /* A sample's check costs about its non-zeros, and the cache misses it takes are the forward pass's. */
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= 64)
    for (int64_t s = 0; s < n; s++) {
        char my_msg[256];
        if (check_sample(net, X, Y, rows ? rows[s] : s, my_msg, sizeof my_msg) != SLIDE_OK) {
#pragma omp critical(slide_train_error)
            if (!err) {
                err = SLIDE_E_INVALID;
                snprintf(err_msg, sizeof err_msg, "%s", my_msg);
            }
        }
    }

    /* Phase 1: forward in segments: a batch-shared layer needs all of its inputs before its set is chosen. */
    uint32_t from = 0;
    for (uint32_t l = 0; l < NL && !err; l++) {
        if (!is_batch_shared(&net->layers[l]))
            continue;
        if (l > from)
            err = forward_segment(net, X, Y, rows, n, from, l, step, nt, err_msg, sizeof err_msg);
        if (!err && (err = select_shared(net, l, X, Y, rows, n, step, nt)) != SLIDE_OK)
            snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
        if (!err && (err = forward_shared_layer(net, l, X, rows, n, nt)) != SLIDE_OK)
            snprintf(err_msg, sizeof err_msg, "%s", slide_last_error());
        from = l + 1;
    }
    if (!err && from < NL)
        err = forward_segment(net, X, Y, rows, n, from, NL, step, nt, err_msg, sizeof err_msg);

    /* Loss and output deltas, per sample. */
    if (!err) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) reduction(+ : loss)
        for (int64_t s = 0; s < n; s++) {
            int64_t row = rows ? rows[s] : s;
            const int32_t *labels = Y->indices + Y->indptr[row];
            uint32_t n_labels = (uint32_t)(Y->indptr[row + 1] - Y->indptr[row]);
            loss += output_delta(&net->layers[NL - 1], &net->acts[(size_t)s * NL + NL - 1], labels, n_labels,
                                 scale);
        }
        for (int64_t s = 0; s < n; s++)
            for (uint32_t l = 0; l < NL; l++)
                layer_active[l] += net->acts[(size_t)s * NL + l].n;
        active_out = (double)layer_active[NL - 1];
    }

    /* Back-propagation, layer by layer: batch-shared layers in blocks, the others per sample. */
    for (uint32_t l = NL - 1; l > 0 && !err; l--) {
        slide_layer *L = &net->layers[l];
        if (is_batch_shared(L) && L->neuron_major && net->acts[l - 1].dense) {
            backprop_shared_layer(net, l, n, nt);
            continue;
        }
        const int prev_relu = net->layers[l - 1].activation == SLIDE_ACT_RELU;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
        for (int64_t s = 0; s < n; s++)
            backprop_layer(L, &net->acts[(size_t)s * NL + l], &net->acts[(size_t)s * NL + l - 1], prev_relu);
    }

    if (!err && !isfinite(loss)) {
        err = SLIDE_E_NUMERIC;
        snprintf(err_msg, sizeof err_msg, "loss is not finite at step %llu; the batch was not applied",
                 (unsigned long long)step);
    }
    if (err) {
        clear_shared(net);
        free(layer_active);
        slide_network_release(net);
        return slide_fail(err, "%s", err_msg);
    }

    net->step = step;
    for (uint32_t l = 0; l < NL && !rc; l++)
        rc = update_layer(net, l, X, rows, (uint32_t)n, nt);
    clear_shared(net);
    for (uint32_t l = 0; l < NL; l++) {
        slide_layer *L = &net->layers[l];
        L->samples_seen += (uint64_t)n;
        L->active_total += layer_active[l];
        if (rc || !L->sampled)
            continue;
        if ((double)++L->sampler.batches_since_rebuild >= L->sampler.period) {
            rc = slide_layer_rebuild(net, L);
            L->sampler.period *= L->sampler.cfg.rebuild_growth;
        }
    }
    free(layer_active);
    if (stats) {
        slide_batch_stats full = {sizeof full, loss / (double)n, active_out / (double)n};
        size_t sz = stats->struct_size < sizeof full ? stats->struct_size : sizeof full;
        memcpy(stats, &full, sz);
        stats->struct_size = sz;
    }
    slide_network_release(net);
    return rc;
}
