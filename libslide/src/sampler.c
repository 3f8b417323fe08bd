/*
 * The sampler (see sampler.h): choosing the active neurons of a sample or a batch, and keeping the hash
 * tables in step with the weights they index.
 *
 * Selection reads the tables and writes only the caller's slide_act and its thread's scratch (or, for
 * the batch-shared set, the layer's sampler.shared and scratch slot 0, see slide_sampler_select_shared);
 * the tables change only in rebuild / rehash, which run between batches' forward passes, never alongside
 * a query.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "kernels.h"
#include "network.h"
#include "partition.h"
#include "rng.h"
#include "rows.h"
#include "sampler.h"
#include "scratch.h"

/* Neuron ids are dealt to the merge's partitions in blocks of 2^SHARED_BLOCK_BITS (see partition.h). */
enum { SHARED_BLOCK_BITS = 12 };

/* ------------------------------------------------------------------ setup */

static uint32_t ceil_log2(uint64_t x)
{
    uint32_t b = 0;
    while (((uint64_t)1 << b) < x)
        b++;
    return b;
}

/*
 * bucket_size 0 (auto): each table can hold the whole layer twice over, so random codes (about units /
 * buckets per bucket, Poisson-spread) overflow nothing; rounded up to a power of two, at least
 * SLIDE_AUTO_BUCKET_MIN, at most 65,536.
 */
static uint32_t auto_bucket_size(uint32_t units, uint32_t n_buckets)
{
    const uint64_t need = ((uint64_t)SLIDE_AUTO_BUCKET_SLACK * units + n_buckets - 1) / n_buckets;
    uint32_t cap = SLIDE_AUTO_BUCKET_MIN;
    while (cap < need && cap < 65536u)
        cap <<= 1;
    return cap;
}

/* The cap on active neurons: max_active, else active_fraction of the layer, else the automatic share. */
static uint32_t cap_of(const slide_layer *L, const slide_lsh_config *c)
{
    if (c->max_active)
        return c->max_active;
    /* Tolerance: 0.1f * 300 is 30.0000004 in float, which must still mean 30. */
    double cap = ceil((double)c->active_fraction * L->units - 1e-3);
    if (c->active_fraction == 0.0f) { /* auto */
        cap = ceil(SLIDE_AUTO_ACTIVE_FRACTION * L->units);
        cap = cap < SLIDE_AUTO_ACTIVE_MIN ? SLIDE_AUTO_ACTIVE_MIN : cap > SLIDE_AUTO_ACTIVE_MAX ? SLIDE_AUTO_ACTIVE_MAX : cap;
        cap = cap > L->units ? L->units : cap;
    }
    return cap < 1.0 ? 1u : (uint32_t)cap;
}

/*
 * The automatic fields (k, tables 0; batch_shared, random_fraction -1) for the kind of layer sampled: see
 * SLIDE_AUTO_OUTPUT_K in slide.h. Model files and the network's config then hold the resolved values.
 */
static void resolve_auto(const slide_layer *L, slide_lsh_config *c)
{
    const int output = L->activation == SLIDE_ACT_SOFTMAX;
    if (c->batch_shared == SLIDE_AUTO_BATCH_SHARED)
        c->batch_shared = output;
    if (c->random_fraction == SLIDE_AUTO_RANDOM_FRACTION)
        c->random_fraction = output ? 1.0f : 0.0f;
    if (c->tables == 0)
        c->tables = output ? SLIDE_AUTO_OUTPUT_TABLES : SLIDE_AUTO_HIDDEN_TABLES;
    if (c->rescore == 0)
        c->rescore = output ? 1 : SLIDE_AUTO_HIDDEN_RESCORE;
    if (c->k == 0) {
        uint32_t k = SLIDE_AUTO_OUTPUT_K;
        /* buckets of about two caps' worth of neurons: 2^k ~ units / (2 cap) (an invalid cap is refused next) */
        if (!output && c->active_fraction >= 0.0f && c->active_fraction <= 1.0f && c->max_active <= L->units) {
            const uint32_t cap = cap_of(L, c);
            k = 0;
            while (k < 16 && ((uint64_t)cap << (k + 2)) <= L->units)
                k++;
            k = k < 1 ? 1 : k;
        }
        c->k = k;
    }
}

int slide_sampler_setup(slide_layer *L, const slide_lsh_config *user, uint64_t seed, uint32_t index, int fresh)
{
    slide_sampler *S = &L->sampler;
    slide_lsh_config_init(&S->cfg);
    if (user->struct_size < offsetof(slide_lsh_config, hash) + sizeof(const char *))
        return slide_fail(SLIDE_E_INVALID, "layer %u: lsh config struct_size %zu is too small (call slide_lsh_config_init)",
                          index, user->struct_size);
    SLIDE_COPY_CONFIG(&S->cfg, user, SLIDE_STRUCT_LSH_CONFIG);
    slide_lsh_config *c = &S->cfg;
    const char *name = c->hash ? c->hash : "dwta";
    if (strcmp(name, "auto") == 0) /* SLIDE_AUTO_HASH_*: the tables' backend on a softmax layer, exact top-k elsewhere */
        name = L->activation == SLIDE_ACT_SOFTMAX ? SLIDE_AUTO_HASH_OUTPUT : SLIDE_AUTO_HASH_HIDDEN;
    if (strlen(name) >= SLIDE_HASH_NAME_MAX)
        return slide_fail(SLIDE_E_INVALID, "layer %u: hash backend name is too long", index);
    strcpy(S->hash_name, name);
    c->hash = S->hash_name;
    resolve_auto(L, c);
    int rc = slide_lsh_config_check(c, L->units, index);
    if (rc)
        return rc;
    S->exact = strcmp(name, "exact") == 0;
    if (S->exact) { /* the oracle reads no tables: keep the smallest ones the file layout needs */
        c->k = 1;
        c->tables = 1;
        c->bucket_size = 1;
        c->bucket_bits = 1;
        c->rehash_touched = 0;
    }
    S->hash = slide_hash_find(S->exact ? "simhash" : name);
    if (!S->hash) {
        char context[32];
        snprintf(context, sizeof context, "layer %u", index);
        return slide_fail_context(SLIDE_E_NOT_FOUND, context);
    }
    slide_hash_params hp = {.input_dim = L->in_dim, .k = c->k, .tables = c->tables, .bin_size = c->bin_size,
                            .seed = slide_seed3(seed, 0x4A54, index, 0)};
    rc = S->hash->create(&hp, &S->hash_state);
    if (rc)
        return rc;
    uint32_t code_bits = S->hash->code_bits(S->hash_state);
    uint32_t bits = c->bucket_bits;
    const int auto_size = c->bucket_size == 0;
    if (bits == 0) {
        /*
         * Default: one bucket per bucket_size neurons (SLIDE_AUTO_BUCKET_MIN with an automatic size), but
         * codes of <= 10 bits are never folded: folding merges unrelated codes (measured on Fashion-MNIST:
         * SimHash K=6 folded into 8 buckets cut LSH recall from 0.43 to 0.18). At most 1,024 buckets per
         * table then.
         */
        uint64_t per = auto_size ? SLIDE_AUTO_BUCKET_MIN : c->bucket_size;
        bits = ceil_log2((L->units + per - 1) / per);
        if (bits < 1)
            bits = 1;
        if (code_bits <= 10 && bits < code_bits)
            bits = code_bits;
    }
    if (bits > code_bits)
        bits = code_bits;
    if (bits > 24)
        bits = 24;
    c->bucket_bits = bits;
    /* The resolved size is what the network reports and model files store (they never hold 0). */
    if (auto_size)
        c->bucket_size = auto_bucket_size(L->units, 1u << bits);
    const uint64_t slots = (uint64_t)c->tables * ((uint64_t)1 << bits) * c->bucket_size;
    if (fresh && !S->exact && slots < L->units)
        return slide_fail(SLIDE_E_INVALID,
                          "layer %u: %u tables x %u buckets x %u ids = %llu slots cannot hold its %u neurons; "
                          "leave bucket_size unset for the automatic size (%u ids per bucket here) "
                          "or raise tables or k",
                          index, c->tables, 1u << bits, c->bucket_size, (unsigned long long)slots, L->units,
                          auto_bucket_size(L->units, 1u << bits));
    rc = slide_lsh_tables_init(&S->tables, c->tables, c->bucket_size, bits, code_bits, c->insertion,
                               slide_seed3(seed, 0x7AB, index, 0));
    if (rc)
        return rc;
    S->max_active = cap_of(L, c);
    S->n_random = (uint32_t)lround((double)c->random_fraction * S->max_active);
    S->draws_only = !S->exact && S->n_random >= S->max_active;
    if (c->rehash_touched && bits <= 15) {
        S->item_bucket = malloc(sizeof(uint16_t) * (size_t)L->units * c->tables);
        if (!S->item_bucket)
            return slide_fail(SLIDE_E_NOMEM, "layer %u: cannot allocate %u x %u bucket records", index, L->units,
                              c->tables);
        memset(S->item_bucket, 0xFF, sizeof(uint16_t) * (size_t)L->units * c->tables); /* SLIDE_BUCKET_UNKNOWN */
    }
    if (c->batch_shared) {
        S->shared.pos = malloc(sizeof(int32_t) * L->units);
        if (!S->shared.pos)
            return slide_fail(SLIDE_E_NOMEM, "layer %u: cannot allocate the shared active set", index);
        memset(S->shared.pos, 0xFF, sizeof(int32_t) * L->units);
        if (slide_sampler_counts_labels(L)) {
            S->label_count = calloc(L->units, sizeof(uint32_t));
            if (!S->label_count)
                return slide_fail(SLIDE_E_NOMEM, "layer %u: cannot allocate its label counts", index);
        }
    }
    S->period = c->rebuild_period;
    S->min_active = c->min_active ? c->min_active : S->max_active / 4;
    if (S->min_active > L->units)
        S->min_active = L->units;
    return SLIDE_OK;
}

void slide_sampler_free(slide_layer *L)
{
    slide_sampler *S = &L->sampler;
    free(S->shared.ids);
    free(S->shared.pos);
    free(S->shared.codes);
    free(S->shared.hist);
    free(S->shared.label_off);
    free(S->shared.label_batch);
    free(S->label_count);
    free(S->item_bucket);
    if (S->hash && S->hash_state)
        S->hash->destroy(S->hash_state);
    slide_lsh_tables_destroy(&S->tables);
}

size_t slide_sampler_memory_bytes(const slide_layer *L)
{
    const slide_sampler *S = &L->sampler;
    size_t b = 0;
    b += S->hash->memory_bytes(S->hash_state);
    b += slide_lsh_tables_memory_bytes(&S->tables);
    if (S->item_bucket)
        b += sizeof(uint16_t) * (size_t)L->units * S->cfg.tables;
    if (S->shared.pos) /* batch-shared: set positions, the set, the batch's query codes */
        b += sizeof(int32_t) * ((size_t)L->units + S->shared.cap) +
             sizeof(uint32_t) * (S->shared.codes_cap + S->shared.hist_cap);
    if (S->label_count)
        b += sizeof(uint32_t) * L->units + (sizeof(float) + sizeof(uint32_t)) * S->shared.cap;
    return b;
}

/* ------------------------------------------------------------------ active set selection */

#define SLIDE_CHOSEN 0xFFFFu /* hits[] value of a neuron already in the active set (> any count) */

/* Table codes of a layer input (sparse or dense query). */
static inline void hash_query(const slide_layer *L, slide_vec x, uint32_t *codes, void *scratch)
{
    const slide_sampler *S = &L->sampler;
    if (x.idx)
        S->hash->hash_sparse(S->hash_state, x.idx, x.val, x.nnz, codes, scratch);
    else
        S->hash->hash_dense(S->hash_state, x.val, codes, scratch);
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

/* ------------------------------------------------------------------ the exact oracle */

/* Every neuron's pre-activation w.x + b for input x, into scores[units] (the kernels forward uses). */
static void exact_scores(const slide_layer *L, slide_vec x, float *scores)
{
    const slide_kernels *K = slide_kernels_get();
    if (x.idx) {
        for (uint32_t j = 0; j < L->units; j++)
            scores[j] = slide_row_dot_sparse(K, L, j, x.idx, x.val, x.nnz);
    } else {
        slide_rows rows;
        for (uint32_t j0 = 0; j0 < L->units; j0 += SLIDE_ROWS_BATCH) {
            const uint32_t m = L->units - j0 < SLIDE_ROWS_BATCH ? L->units - j0 : SLIDE_ROWS_BATCH;
            for (uint32_t k = 0; k < m; k++)
                slide_rows_set(&rows, L, k, j0 + k);
            slide_rows_dot_many(K, L, &rows, m, x.val, x.nnz, scores + j0);
        }
    }
    for (uint32_t j = 0; j < L->units; j++)
        scores[j] += L->bias[j];
}

/* The pre-activations of the neurons ids[0..m) only, into scores[id] (scores is indexed by neuron id). */
static void scores_of(const slide_layer *L, slide_vec x, const uint32_t *ids, uint32_t m, float *scores)
{
    const slide_kernels *K = slide_kernels_get();
    if (x.idx) {
        for (uint32_t i = 0; i < m; i++)
            scores[ids[i]] = slide_row_dot_sparse(K, L, ids[i], x.idx, x.val, x.nnz) + L->bias[ids[i]];
        return;
    }
    slide_rows rows;
    float part[SLIDE_ROWS_BATCH];
    for (uint32_t i0 = 0; i0 < m; i0 += SLIDE_ROWS_BATCH) {
        const uint32_t b = m - i0 < SLIDE_ROWS_BATCH ? m - i0 : SLIDE_ROWS_BATCH;
        for (uint32_t k = 0; k < b; k++)
            slide_rows_set(&rows, L, k, ids[i0 + k]);
        slide_rows_dot_many(K, L, &rows, b, x.val, x.nnz, part);
        for (uint32_t k = 0; k < b; k++)
            scores[ids[i0 + k]] = part[k] + L->bias[ids[i0 + k]];
    }
}

/* a ranks before b: higher score, then lower id (a total order, so the selection is deterministic). */
static inline int ranks_before(const float *scores, uint32_t a, uint32_t b)
{
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
}

/* Reorders idx[0..m) so that its first `want` entries are the best by ranks_before (quickselect). */
static void select_best(uint32_t *idx, uint32_t m, uint32_t want, const float *scores)
{
    uint32_t lo = 0, hi = m; /* the boundary `want` lies in [lo, hi) */
    while (hi - lo > 1) {
        const uint32_t mid = lo + (hi - lo) / 2;
        uint32_t a = idx[lo], b = idx[mid], c = idx[hi - 1], pivot; /* median of three */
        if (ranks_before(scores, a, b))
            pivot = ranks_before(scores, b, c) ? b : ranks_before(scores, a, c) ? c : a;
        else
            pivot = ranks_before(scores, a, c) ? a : ranks_before(scores, b, c) ? c : b;
        /* Three-way partition of [lo, hi): better than pivot | pivot | worse. */
        uint32_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            const uint32_t v = idx[i];
            if (v != pivot && ranks_before(scores, v, pivot)) {
                idx[i++] = idx[lt];
                idx[lt++] = v;
            } else if (v != pivot) {
                idx[i] = idx[--gt];
                idx[gt] = v;
            } else {
                i++;
            }
        }
        if (want < lt)
            hi = lt;
        else if (want >= gt)
            lo = gt;
        else
            return;
    }
}

/*
 * The oracle's retrieval: the `want` neurons with the highest pre-activation for x among those not chosen
 * yet (mark[id] == stamp with hits[id] == SLIDE_CHOSEN), into out. Reads mark and hits only; uses scr's
 * scores and cand as scratch. Returns how many were written.
 */
static int exact_top(const slide_layer *L, slide_vec x, const uint32_t *mark, uint32_t stamp, const uint16_t *hits,
                     uint32_t want, slide_thread_scratch *scr, const float *pre, int32_t *out, uint32_t *n_out)
{
    int rc = pre ? SLIDE_OK : slide_scratch_reserve_scores(scr, L->units);
    if (!rc)
        rc = slide_scratch_reserve_cand(scr, L->units);
    if (rc)
        return rc;
    if (!pre) {
        exact_scores(L, x, scr->scores);
        pre = scr->scores;
    }
    uint32_t m = 0;
    for (uint32_t j = 0; j < L->units; j++)
        if (!(mark[j] == stamp && hits[j] == SLIDE_CHOSEN))
            scr->cand[m++] = j;
    if (want < m)
        select_best(scr->cand, m, want, pre);
    const uint32_t n = want < m ? want : m;
    for (uint32_t i = 0; i < n; i++)
        out[i] = (int32_t)scr->cand[i];
    *n_out = n;
    return SLIDE_OK;
}

/* The rescoring pool: the want * rescore candidates with the most hits, compacted into the front of scr->cand
 * (take_top_by_hits writes at or before what it reads) and marked CHOSEN. Returns its size. */
static uint32_t rescore_pool(const slide_layer *L, uint32_t nc, uint32_t want, uint16_t *hits, slide_thread_scratch *scr)
{
    const uint64_t pool_wanted = (uint64_t)want * L->sampler.cfg.rescore;
    const uint32_t pool_cap = pool_wanted < nc ? (uint32_t)pool_wanted : nc;
    return take_top_by_hits(scr->cand, nc, hits, L->sampler.cfg.tables, pool_cap, scr->hist, (int32_t *)scr->cand);
}

/*
 * Rescoring (cfg.rescore = r > 1): of the nc > want candidates in scr->cand, the want * r with the most
 * table hits get their exact pre-activation and the `want` highest are appended to out and marked CHOSEN;
 * the other rescored candidates go back to one hit (seen, not chosen). Hit counts estimate a neuron's angle
 * to x, not w.x + b, which also depends on |w| and the bias: rescoring turns a recall-oriented candidate
 * list into the neurons that fire hardest at the cost of want * r dot products.
 */
static int rescore_top(const slide_layer *L, slide_vec x, uint32_t nc, uint32_t want, uint16_t *hits,
                       slide_thread_scratch *scr, int32_t *out)
{
    int rc = slide_scratch_reserve_scores(scr, L->units);
    if (rc)
        return rc;
    const uint32_t pool = rescore_pool(L, nc, want, hits, scr);
    scores_of(L, x, scr->cand, pool, scr->scores);
    if (want < pool)
        select_best(scr->cand, pool, want, scr->scores);
    for (uint32_t i = want; i < pool; i++)
        hits[scr->cand[i]] = 1;
    for (uint32_t i = 0; i < want; i++)
        out[i] = (int32_t)scr->cand[i];
    return SLIDE_OK;
}

/*
 * The tail of every selection: a->ids[0..n) are chosen (marked CHOSEN with `stamp`); records n as the fixed
 * part and pads with random neurons: the random share, and at least min_active besides the labels.
 * Retrieval may return nothing (empty or crowded buckets, a strict threshold), and a softmax over the
 * labels alone has no negatives to learn from. Both terms are <= n_labels + room (select_begin's reservation).
 */
static void finish_padding(const slide_layer *L, uint32_t n, uint32_t n_random, slide_act *a, uint32_t *mark,
                           uint32_t stamp, uint16_t *hits, uint64_t sample_seed)
{
    const slide_sampler *S = &L->sampler;
    a->n_fixed = n;
    const uint32_t floor_n = a->n_forced + S->min_active;
    uint32_t target = n + n_random > floor_n ? n + n_random : floor_n;
    if (n < target) {
        slide_rng rng = {sample_seed};
        n = pad_random(L->units, target, &rng, mark, stamp, hits, a->ids, n);
    }
    a->n = n;
    a->dense = 0;
}

/*
 * slide_sampler_select, and its first half for batched rescoring: with `pool` non-NULL, a selection that
 * would rescore stops before scoring, copies its pool to pool[0..*n_pool) and leaves a with the labels only.
 */
static int select_begin(const slide_layer *L, slide_vec x, const int32_t *labels, uint32_t n_labels, int training,
                        slide_act *a, slide_thread_scratch *scr, uint64_t sample_seed, const float *pre, uint32_t *pool,
                        uint32_t *n_pool)
{
    const slide_sampler *S = &L->sampler;
    /* The random share serves training only (negatives); predictions give its slots to retrieval. */
    const uint32_t n_random = training ? S->n_random : 0;
    /* mark[id] == stamp: id was seen for this sample; hits[id] then counts the tables that returned it,
     * or is SLIDE_CHOSEN once id is in the active set (labels, selected candidates, padding). */
    uint32_t room = S->max_active > S->min_active ? S->max_active : S->min_active;
    int rc = slide_act_reserve(a, room + n_labels, 1, 1);
    if (rc)
        return rc;
    a->n_prescored = 0;
    if (n_pool)
        *n_pool = 0;
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

    /* Retrieval fills the cap minus the slots reserved for random neurons (nothing to query without it). */
    const uint32_t want = S->max_active > n + n_random ? S->max_active - n - n_random : 0;
    if (S->exact) {
        uint32_t got = 0;
        rc = exact_top(L, x, mark, stamp, hits, want, scr, pre, a->ids + n, &got);
        if (rc)
            return rc;
        for (uint32_t i = 0; i < got; i++) {
            mark[a->ids[n + i]] = stamp;
            hits[a->ids[n + i]] = SLIDE_CHOSEN;
        }
        n += got;
    } else if (want > 0) {
        hash_query(L, x, scr->codes, scr->hash_scratch);
        rc = slide_scratch_reserve_cand(scr, (size_t)S->cfg.tables * S->cfg.bucket_size);
        if (rc)
            return rc;
        /* Counts stop at `tables`: with incremental re-hashing a bucket may hold an id twice. */
        uint32_t nc = 0;
        for (uint32_t t = 0; t < S->cfg.tables; t++) {
            const uint32_t *ids;
            uint32_t m = slide_lsh_tables_bucket(&S->tables, t, scr->codes[t], &ids);
            gather_bucket(ids, m, mark, stamp, hits, (uint16_t)S->cfg.tables, scr->cand, &nc, 1);
        }
        if (S->cfg.rule == SLIDE_SAMPLE_THRESHOLD) {
            /* Keep only neurons returned by >= threshold tables (in retrieval order), then rank as TOPK. */
            uint32_t kept = 0;
            for (uint32_t i = 0; i < nc; i++)
                if (hits[scr->cand[i]] >= S->cfg.threshold)
                    scr->cand[kept++] = scr->cand[i];
            nc = kept;
        }
        if (S->cfg.rule == SLIDE_SAMPLE_UNION && nc > want)
            nc = (uint64_t)want * S->cfg.rescore < nc ? want * S->cfg.rescore : nc; /* retrieval order */
        if (S->cfg.rescore > 1 && nc > want && pool) {
            *n_pool = rescore_pool(L, nc, want, hits, scr);
            memcpy(pool, scr->cand, sizeof(uint32_t) * *n_pool);
            a->n = n;
            a->dense = 0;
            return SLIDE_OK;
        }
        if (S->cfg.rescore > 1 && nc > want) {
            rc = rescore_top(L, x, nc, want, hits, scr, a->ids + n);
            if (rc)
                return rc;
            n += want;
        } else {
            n += take_top_by_hits(scr->cand, nc, hits, S->cfg.tables, want, scr->hist, a->ids + n);
        }
    }
    finish_padding(L, n, n_random, a, mark, stamp, hits, sample_seed);
    return SLIDE_OK;
}

/*
 * Fills a->ids with: the labels (training output layer), then the retrieved neurons ranked by how many
 * tables returned them (with rescoring, the best by exact pre-activation among the most-hit ones), up to
 * the layer's cap less its random share, then random neurons: the random share, and more up to min_active.
 */
int slide_sampler_select(const slide_layer *L, slide_vec x, const int32_t *labels, uint32_t n_labels, int training,
                         slide_act *a, slide_thread_scratch *scr, uint64_t sample_seed, const float *pre)
{
    return select_begin(L, x, labels, n_labels, training, a, scr, sample_seed, pre, NULL, NULL);
}

uint32_t slide_sampler_pool_cap(const slide_layer *L)
{
    const slide_sampler *S = &L->sampler;
    const uint64_t cap = (uint64_t)S->max_active * S->cfg.rescore;
    return cap < L->units ? (uint32_t)cap : L->units;
}

int slide_sampler_select_begin(const slide_layer *L, slide_vec x, const int32_t *labels, uint32_t n_labels,
                               int training, slide_act *a, slide_thread_scratch *scr, uint64_t sample_seed,
                               uint32_t *pool, uint32_t *n_pool)
{
    return select_begin(L, x, labels, n_labels, training, a, scr, sample_seed, NULL, pool, n_pool);
}

int slide_sampler_select_finish(const slide_layer *L, int training, slide_act *a, slide_thread_scratch *scr,
                                uint64_t sample_seed, uint32_t *pool, uint32_t n_pool, const float *scores)
{
    const slide_sampler *S = &L->sampler;
    const uint32_t n_random = training ? S->n_random : 0;
    uint32_t n = a->n_forced;
    const uint32_t want = S->max_active > n + n_random ? S->max_active - n - n_random : 0;
    int rc = slide_scratch_reserve_scores(scr, L->units);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n_pool; i++)
        scr->scores[pool[i]] = scores[i];
    /* As rescore_top from here: the same pool in the same order gives the same choice in the same order. */
    if (want < n_pool)
        select_best(pool, n_pool, want, scr->scores);
    /*
     * The marks of select_begin belonged to another sample of this thread by now: mark the chosen ids again
     * under a fresh stamp. Padding only asks whether an id is CHOSEN, which this reproduces (the rest of the
     * pool went back to "seen", i.e. not chosen, in rescore_top).
     */
    const uint32_t stamp = next_stamp(scr, L->units);
    for (uint32_t i = 0; i < n; i++) {
        scr->mark[a->ids[i]] = stamp;
        scr->hits[a->ids[i]] = SLIDE_CHOSEN;
    }
    for (uint32_t i = 0; i < want; i++) {
        scr->mark[pool[i]] = stamp;
        scr->hits[pool[i]] = SLIDE_CHOSEN;
        a->ids[n + i] = (int32_t)pool[i];
        a->val[n + i] = scr->scores[pool[i]];
    }
    n += want;
    a->n_prescored = want;
    finish_padding(L, n, n_random, a, scr->mark, stamp, scr->hits, sample_seed);
    return SLIDE_OK;
}

float slide_sampler_logq_offset(const slide_layer *L, uint32_t n, uint32_t n_fixed)
{
    if (!L->sampler.cfg.logq_correction || n <= n_fixed || n_fixed >= L->units)
        return 0.0f;
    /* The draws are uniform without replacement over the units - n_fixed neurons outside the fixed part. */
    return (float)log((double)(L->units - n_fixed) / (double)(n - n_fixed));
}

int slide_sampler_counts_labels(const slide_layer *L)
{
    return L->sampled && L->activation == SLIDE_ACT_SOFTMAX && L->sampler.cfg.batch_shared &&
           L->sampler.cfg.logq_correction;
}

/*
 * label_off of the batch's distinct labels. A label j enters a row's softmax as a negative when another of
 * the batch's n - 1 rows has it (probability q_j = 1 - (1 - f_j)^(n-1), f_j its frequency so far) or when
 * the uniform draws take it (probability u, as for any neuron outside the fixed part); its logit gets
 * -log(1 - (1 - q_j)(1 - u)), as the drawn neurons get -log u. Before any count (f_j = 0) that is the draws'
 * offset; a label in most batches gets about 0. No draws: no correction, as for the drawn part.
 */
static void label_offsets(slide_layer *L, uint64_t n)
{
    slide_sampler *S = &L->sampler;
    const uint32_t m = S->shared.n, n_fixed = S->shared.n_fixed;
    const double u = m > n_fixed && n_fixed < L->units ? (double)(m - n_fixed) / (double)(L->units - n_fixed) : 1.0;
    const double others = n > 0 ? (double)(n - 1) : 0.0;
    const double rows = (double)S->label_rows;
    for (uint32_t k = 0; k < S->shared.n_labels; k++) {
        double off = 0.0;
        if (u < 1.0) {
            double f = rows > 0 ? (double)S->label_count[S->shared.ids[k]] / rows : 0.0;
            double miss = others > 0 ? pow(1.0 - (f < 1.0 ? f : 1.0), others) : 1.0; /* 1 - q_j */
            off = -log(1.0 - miss * (1.0 - u));
        }
        S->shared.label_off[k] = (float)off;
    }
}

void slide_sampler_count_batch(slide_layer *L, int64_t n)
{
    slide_sampler *S = &L->sampler;
    if (!S->label_count)
        return;
    for (uint32_t k = 0; k < S->shared.n_labels; k++) {
        uint32_t *c = &S->label_count[S->shared.ids[k]];
        *c = *c > UINT32_MAX - S->shared.label_batch[k] ? UINT32_MAX : *c + S->shared.label_batch[k];
    }
    S->label_rows += (uint64_t)n;
}

/* ------------------------------------------------------------------ batch-shared selection */

/*
 * The oracle's batch-shared retrieval, after the batch's labels (*ns of them, marked CHOSEN with scratch 0's
 * current stamp): each sample's `want` highest pre-activations, computed in parallel into S->shared.codes,
 * then the neurons found in the most samples' lists, ties to the first sighting in sample order (the rule of
 * the hashed merge), appended to S->shared.ids. Costs a full dense layer: an ablation, not a training mode.
 */
static int shared_exact(slide_network *net, uint32_t l, const slide_matrix *X, const int64_t *rows, int64_t n, int nt,
                        uint32_t want, uint32_t *ns)
{
    slide_layer *L = &net->layers[l];
    slide_sampler *S = &L->sampler;
    if (want == 0)
        return SLIDE_OK;
    const size_t need = (size_t)n * want;
    if (need > S->shared.codes_cap) {
        uint32_t *c = realloc(S->shared.codes, sizeof(uint32_t) * need);
        if (!c)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate the oracle's lists");
        S->shared.codes = c;
        S->shared.codes_cap = need;
    }
    uint32_t *got = calloc((size_t)n, sizeof(uint32_t));
    if (!got)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate the oracle's list sizes");
    slide_thread_scratch *scr0 = &net->scratch[0];
    const uint32_t stamp = scr0->stamp;
    int err = SLIDE_OK;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int64_t s = 0; s < n; s++) {
        slide_thread_scratch *ts = &net->scratch[slide_thread_id()];
        slide_vec in = slide_layer_input(net, l, X, rows, (uint32_t)s);
        /* Reads scratch 0's mark / hits (the labels) only; scores and cand are the calling thread's own. */
        int r = exact_top(L, in, scr0->mark, stamp, scr0->hits, want, ts, NULL,
                          (int32_t *)(S->shared.codes + (size_t)s * want), &got[s]);
        if (r) {
#pragma omp critical(slide_exact_error)
            err = r;
        }
    }
    if (!err)
        err = slide_scratch_reserve_cand(scr0, L->units);
    uint32_t max_hit = 1, nc = 0;
    for (int64_t s = 0; s < n && !err; s++)
        max_hit = gather_bucket(S->shared.codes + (size_t)s * want, got[s], scr0->mark, stamp, scr0->hits, 0xFFFE,
                                scr0->cand, &nc, max_hit);
    free(got);
    if (err)
        return err;
    if (max_hit + 2 > S->shared.hist_cap) {
        uint32_t *h = realloc(S->shared.hist, sizeof(uint32_t) * (max_hit + 2));
        if (!h)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate hit histograms");
        S->shared.hist = h;
        S->shared.hist_cap = max_hit + 2;
    }
    *ns += take_top_by_hits(scr0->cand, nc, scr0->hits, max_hit, want, S->shared.hist, S->shared.ids + *ns);
    return SLIDE_OK;
}

/*
 * Chooses layer l's batch-shared active set: all labels of the batch (output layer), then the neurons
 * returned most often over all samples' queries (collision counts summed over the batch), up to the
 * cap less its random share, then random neurons (the random share, and more up to min_active). Hashing
 * and the merge of the retrieved buckets run in
 * parallel; the merge is O(batch * L * bucket_size) per partition, never O(layer).
 */
int slide_sampler_select_shared(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                                const int64_t *rows, int64_t n, uint64_t step, int nt)
{
    slide_layer *L = &net->layers[l];
    slide_sampler *S = &L->sampler;
    const uint32_t T = S->cfg.tables;
    const uint16_t MAXHIT = 0xFFFE;
    const int last = l + 1 == net->n_layers;
    size_t need = (size_t)n * T;
    if (need > S->shared.codes_cap) {
        uint32_t *c = realloc(S->shared.codes, sizeof(uint32_t) * need);
        if (!c)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate shared-set codes");
        S->shared.codes = c;
        S->shared.codes_cap = need;
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
    size_t cap = n_labels + (S->max_active > S->min_active ? S->max_active : S->min_active);
    if (cap > L->units)
        cap = L->units;
    if (cap > S->shared.cap) {
        int32_t *ids = realloc(S->shared.ids, sizeof(int32_t) * cap);
        if (!ids)
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate the shared active set");
        S->shared.ids = ids;
        if (S->label_count) {
            float *off = realloc(S->shared.label_off, sizeof(float) * cap);
            if (off)
                S->shared.label_off = off;
            uint32_t *cnt = realloc(S->shared.label_batch, sizeof(uint32_t) * cap);
            if (cnt)
                S->shared.label_batch = cnt;
            if (!off || !cnt)
                return slide_fail(SLIDE_E_NOMEM, "cannot allocate the shared set's label counts");
        }
        S->shared.cap = (uint32_t)cap;
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
                    S->shared.pos[y] = (int32_t)ns;
                    if (S->label_count)
                        S->shared.label_batch[ns] = 0;
                    S->shared.ids[ns++] = (int32_t)y;
                }
                if (S->label_count)
                    S->shared.label_batch[S->shared.pos[y]]++;
            }
        }
    const uint32_t n_labels_set = ns; /* distinct labels of the batch */
    S->shared.n_labels = ns;
    S->shared.n = ns; /* pos is set for these: slide_sampler_clear_shared must reset it if a step fails */
    /* Retrieval fills the cap less the random share; without a share there is nothing to query. */
    const uint32_t want_retrieved = S->max_active > ns + S->n_random ? S->max_active - ns - S->n_random : 0;
    if (S->exact) {
        rc = shared_exact(net, l, X, rows, n, nt, want_retrieved, &ns);
        if (rc)
            return rc;
    } else if (want_retrieved > 0) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
        for (int64_t s = 0; s < n; s++) {
            slide_thread_scratch *ts = &net->scratch[slide_thread_id()];
            slide_vec in = slide_layer_input(net, l, X, rows, (uint32_t)s);
            hash_query(L, in, S->shared.codes + (size_t)s * T, ts->hash_scratch);
        }
        /*
         * Parallel merge over SLIDE_PARTS fixed partitions of the neuron ids (blocks of 2^SHARED_BLOCK_BITS
         * ids dealt round-robin). Pass 1 (parallel over SLIDE_PARTS contiguous ranges of the queries) counts
         * each range's retrieved ids per partition; pass 2 copies them into a partition-major buffer, each
         * partition's ids in query order; pass 3 (parallel over partitions) counts hits, so tasks write
         * disjoint parts of mark / hits. Candidates end up in (partition, first sighting) order, which does
         * not depend on the thread count. Memory: two arrays of the batch's retrieved ids.
         */
        size_t cnt[SLIDE_PARTS][SLIDE_PARTS]; /* [query range][partition], then copy cursors */
        uint32_t part_n[SLIDE_PARTS], part_max[SLIDE_PARTS];
    #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (uint32_t c = 0; c < SLIDE_PARTS; c++) {
            size_t *my = cnt[c];
            memset(my, 0, sizeof cnt[c]);
            for (size_t q = need * c / SLIDE_PARTS; q < need * (c + 1) / SLIDE_PARTS; q++) {
                const uint32_t *ids;
                uint32_t m = slide_lsh_tables_bucket(&S->tables, (uint32_t)(q % T), S->shared.codes[q], &ids);
                for (uint32_t i = 0; i < m; i++)
                    my[slide_id_part(ids[i], SHARED_BLOCK_BITS)]++;
            }
        }
        size_t part_start[SLIDE_PARTS + 1];
        const size_t total = slide_partition_offsets(cnt, part_start);
        rc = slide_scratch_reserve_cand(scr, 2 * total + 1);
        if (rc)
            return rc;
        uint32_t *retrieved = scr->cand + total; /* the upper half; candidates go to the lower half */
    #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (uint32_t c = 0; c < SLIDE_PARTS; c++) {
            size_t *cur = cnt[c];
            for (size_t q = need * c / SLIDE_PARTS; q < need * (c + 1) / SLIDE_PARTS; q++) {
                const uint32_t *ids;
                uint32_t m = slide_lsh_tables_bucket(&S->tables, (uint32_t)(q % T), S->shared.codes[q], &ids);
                for (uint32_t i = 0; i < m; i++)
                    retrieved[cur[slide_id_part(ids[i], SHARED_BLOCK_BITS)]++] = ids[i];
            }
        }
        /* Pass 3 also makes each partition's histogram of hit counts (hist_p[0 .. part_max[p]]). */
        const size_t hist_len = (total < MAXHIT ? total : MAXHIT) + 2; /* no count exceeds the retrieved ids */
        if (hist_len * (SLIDE_PARTS + 1) > S->shared.hist_cap) {
            uint32_t *h = realloc(S->shared.hist, sizeof(uint32_t) * hist_len * (SLIDE_PARTS + 1));
            if (!h)
                return slide_fail(SLIDE_E_NOMEM, "cannot allocate hit histograms");
            S->shared.hist = h;
            S->shared.hist_cap = hist_len * (SLIDE_PARTS + 1);
        }
        uint32_t *hist = S->shared.hist; /* [0, hist_len): the batch's; then one per partition */
    #pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (uint32_t p = 0; p < SLIDE_PARTS; p++) {
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
        for (uint32_t p = 0; p < SLIDE_PARTS; p++) {
            nc += part_n[p];
            max_hit = part_max[p] > max_hit ? part_max[p] : max_hit;
        }
        uint32_t want = S->max_active > ns + S->n_random ? S->max_active - ns - S->n_random : 0;
        uint32_t cut = 0, boundary = 0; /* cut 0 takes every candidate */
        if (nc > want) {
            memset(hist, 0, sizeof(uint32_t) * (max_hit + 2));
            for (uint32_t p = 0; p < SLIDE_PARTS; p++)
                for (uint32_t h = 0; h <= part_max[p]; h++)
                    hist[h] += hist[hist_len * (p + 1) + h];
            hits_cut(hist, max_hit, want, &cut, &boundary);
        }
        uint32_t quota[SLIDE_PARTS], out_off[SLIDE_PARTS], out = ns;
        for (uint32_t p = 0; p < SLIDE_PARTS; p++) {
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
        for (uint32_t p = 0; p < SLIDE_PARTS; p++)
            take_above_cut(scr->cand + part_start[p], part_n[p], hits, cut, quota[p], S->shared.ids + out_off[p]);
        ns = out;
    }
    S->shared.n_fixed = ns;
    /* At least min_active neurons besides the batch's labels (see slide_sampler_select). */
    const size_t floor_n = n_labels_set + (size_t)S->min_active;
    size_t target = ns + S->n_random > floor_n ? ns + S->n_random : floor_n;
    if (target > cap)
        target = cap;
    if (ns < target) {
        slide_rng rng = {slide_seed3(net->seed, step, l, 0x5A4ED)};
        ns = pad_random(L->units, (uint32_t)target, &rng, mark, stamp, hits, S->shared.ids, ns);
    }
    S->shared.n = ns;
    for (uint32_t i = 0; i < ns; i++)
        S->shared.pos[S->shared.ids[i]] = (int32_t)i;
    if (S->label_count)
        label_offsets(L, (uint64_t)n);
    return SLIDE_OK;
}

/* Restores sampler.shared.pos to all -1 (touching only the set's entries). */
void slide_sampler_clear_shared(slide_network *net)
{
    for (uint32_t l = 0; l < net->n_layers; l++) {
        slide_layer *L = &net->layers[l];
        slide_sampler *S = &L->sampler;
        if (!S->shared.pos)
            continue;
        for (uint32_t i = 0; i < S->shared.n; i++)
            S->shared.pos[S->shared.ids[i]] = -1;
        S->shared.n = 0;
    }
}
