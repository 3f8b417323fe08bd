/* Activations and per-thread scratch: allocation, growth, accounting (see scratch.h). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "network.h"
#include "scratch.h"

int slide_act_reserve(slide_act *a, uint32_t n, int with_ids, int with_delta)
{
    if (n <= a->cap && (!with_ids || a->ids) && (!with_delta || a->delta))
        return SLIDE_OK;
    uint32_t cap = n > a->cap ? n + n / 4 + 16 : a->cap;
    float *val = realloc(a->val, sizeof(float) * cap);
    if (val)
        a->val = val;
    float *delta = with_delta || a->delta ? realloc(a->delta, sizeof(float) * cap) : a->delta;
    if (delta)
        a->delta = delta;
    int32_t *ids = with_ids || a->ids ? realloc(a->ids, sizeof(int32_t) * cap) : a->ids;
    if (ids)
        a->ids = ids;
    if (!val || ((with_delta || a->delta) && !delta) || ((with_ids || a->ids) && !ids))
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate activations for %u neurons", n);
    a->cap = cap;
    return SLIDE_OK;
}

int slide_network_ensure_acts(slide_network *net, size_t samples)
{
    size_t want = samples * net->n_layers;
    if (want <= net->act_slots)
        return SLIDE_OK;
    slide_act *acts = realloc(net->acts, sizeof(slide_act) * want);
    if (!acts)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate activations for %zu samples", samples);
    memset(acts + net->act_slots, 0, sizeof(slide_act) * (want - net->act_slots));
    net->acts = acts;
    net->act_slots = want;
    return SLIDE_OK;
}

int slide_scratch_reserve_cand(slide_thread_scratch *s, size_t n)
{
    return slide_grow(&s->cand, &s->cand_cap, n, sizeof *s->cand, "candidates");
}

int slide_scratch_reserve_scores(slide_thread_scratch *s, size_t n)
{
    return slide_grow(&s->scores, &s->scores_cap, n, sizeof *s->scores, "scores");
}

static void scratch_free(slide_thread_scratch *s)
{
    free(s->scores);
    free(s->mark);
    free(s->hits);
    free(s->cand);
    free(s->codes);
    free(s->hash_scratch);
    slide_aligned_free(s->grad);
    slide_aligned_free(s->wrow);
    free(s->hist);
    memset(s, 0, sizeof *s);
}

/* The sizes every thread's scratch is allocated with (the largest over the network's layers). */
typedef struct {
    size_t max_units, max_tables, max_hash, max_row;
} scratch_shape;

static scratch_shape scratch_shape_of(const slide_network *net)
{
    scratch_shape sh = {0, 1, 1, 1};
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const slide_layer *L = &net->layers[l];
        if (L->row_len > sh.max_row)
            sh.max_row = L->row_len;
        if (!L->sampled)
            continue;
        if (L->units > sh.max_units)
            sh.max_units = L->units;
        if (L->sampler.cfg.tables > sh.max_tables)
            sh.max_tables = L->sampler.cfg.tables;
        size_t hb = L->sampler.hash->scratch_bytes(L->sampler.hash_state);
        if (hb > sh.max_hash)
            sh.max_hash = hb;
    }
    return sh;
}

int slide_network_ensure_scratch(slide_network *net, int threads)
{
    if (threads <= net->n_scratch)
        return SLIDE_OK;
    slide_thread_scratch *sc = realloc(net->scratch, sizeof *sc * (size_t)threads);
    if (!sc)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate thread scratch");
    net->scratch = sc;
    const scratch_shape sh = scratch_shape_of(net);
    const size_t max_units = sh.max_units, max_tables = sh.max_tables, max_hash = sh.max_hash,
                 max_row = sh.max_row;
    for (int t = net->n_scratch; t < threads; t++) {
        slide_thread_scratch *s = &sc[t];
        memset(s, 0, sizeof *s);
        s->mark = calloc(max_units ? max_units : 1, sizeof(uint32_t));
        s->hits = calloc(max_units ? max_units : 1, sizeof(uint16_t));
        s->codes = malloc(sizeof(uint32_t) * max_tables);
        s->hash_scratch = malloc(max_hash);
        s->hash_scratch_bytes = max_hash;
        s->grad = slide_aligned_alloc(sizeof(float) * SLIDE_GRAD_ROWS * max_row);
        s->wrow = slide_aligned_alloc(sizeof(float) * max_row);
        s->hist = malloc(sizeof(uint32_t) * (max_tables + 2));
        if (!s->mark || !s->hits || !s->codes || !s->hash_scratch || !s->grad || !s->wrow || !s->hist) {
            scratch_free(s);
            return slide_fail(SLIDE_E_NOMEM, "cannot allocate thread scratch");
        }
        net->n_scratch = t + 1;
    }
    return SLIDE_OK;
}

size_t slide_scratch_memory_bytes(const slide_network *net)
{
    size_t b = 0;
    for (size_t i = 0; i < net->act_slots; i++)
        b += (size_t)net->acts[i].cap * (sizeof(float) * (net->acts[i].delta ? 2 : 1) +
                                         (net->acts[i].ids ? sizeof(int32_t) : 0));
    /* Per thread: mark and hits over the largest sampled layer, gradient rows, codes, histogram, candidates. */
    const scratch_shape sh = scratch_shape_of(net);
    for (int t = 0; t < net->n_scratch; t++) {
        const slide_thread_scratch *s = &net->scratch[t];
        b += sh.max_units * (sizeof(uint32_t) + sizeof(uint16_t)) + sizeof(float) * (SLIDE_GRAD_ROWS + 1) * sh.max_row +
             sizeof(uint32_t) * (2 * sh.max_tables + 2) + s->cand_cap * sizeof(uint32_t) + s->hash_scratch_bytes +
             s->scores_cap * sizeof(float);
    }
    b += sizeof(uint32_t) * (net->rescore.pool_cap + net->rescore.n_cap + net->rescore.start_cap +
                             net->rescore.entry_cap) + sizeof(float) * net->rescore.score_cap;
    b += net->union_panel.col_cap * sizeof(int32_t) + net->union_panel.pos_cap * sizeof(uint32_t) +
         (net->union_panel.panel_cap + net->union_panel.work_cap) * sizeof(float) +
         (net->union_panel.xbase_cap + net->union_panel.ptrs_cap) * sizeof(void *);
    return b + net->preact_cap * sizeof(float) +
           (net->bp_sample_cap + net->bp_pos_cap + net->bp_hist_cap) * sizeof(uint32_t);
}

void slide_scratch_free_all(slide_network *net)
{
    for (size_t i = 0; i < net->act_slots; i++) {
        free(net->acts[i].ids);
        free(net->acts[i].val);
        free(net->acts[i].delta);
    }
    free(net->acts);
    for (int t = 0; t < net->n_scratch; t++)
        scratch_free(&net->scratch[t]);
    free(net->scratch);
    free(net->preact);
    free(net->union_panel.col);
    free(net->union_panel.pos);
    free(net->union_panel.panel);
    free(net->union_panel.work);
    free(net->union_panel.xbase);
    free(net->union_panel.ptrs);
    free(net->bp_sample);
    free(net->bp_pos);
    free(net->bp_hist);
    free(net->rescore.pool);
    free(net->rescore.score);
    free(net->rescore.n_pool);
    free(net->rescore.by_row_start);
    free(net->rescore.by_row);
}
