/*
 * The sampler's table upkeep (see sampler.h): building the hash tables from the weights, re-hashing the
 * neurons a batch changed, the rebuild schedule, and the lazy rebuild of tables that training does not
 * read. Runs between batches, never alongside a query (selection lives in sampler.c).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "config.h"
#include "error.h"
#include "kernels.h"
#include "network.h"
#include "rng.h"
#include "rows.h"
#include "sampler.h"
#include "scratch.h"

/* ------------------------------------------------------------------ tables */

/* Neurons hashed per parallel chunk during a rebuild: bounds the code buffer to chunk * L * 4 bytes. */
#define REBUILD_CHUNK 16384u

/* Weight row i of a hash_rows call: ids[i], or first + i when ids is NULL. */
static inline size_t row_of(const uint32_t *ids, uint32_t first, uint32_t i) { return ids ? ids[i] : (size_t)first + i; }

/*
 * Table codes of `count` weight rows, in parallel: row ids[i] (or first + i when ids is NULL) into
 * codes[i * tables ..]. The caller has sized the threads' scratch (slide_network_ensure_scratch).
 *
 * Built-in backends with block item hashing (hash_family.h) take SLIDE_HASH_ITEMS_BLOCK rows per pass
 * over their projections, which then stream from memory once per block instead of once per row; their
 * codes are bit for bit the row-by-row ones. Other backends (plugins) hash row by row.
 */
static int hash_rows(slide_network *net, const slide_layer *L, const uint32_t *ids, uint32_t first, uint32_t count,
                     uint32_t *codes, int nt)
{
    const slide_sampler *S = &L->sampler;
    const uint32_t tables = S->cfg.tables;
    const slide_kernels *K = slide_kernels_get();
    const slide_hash_items_block *block = slide_hash_items_block_of(S->hash);
    if (!block) {
        void (*hash_item)(const void *, const float *, uint32_t *, void *) =
            S->hash->hash_item ? S->hash->hash_item : S->hash->hash_dense;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64)
        for (uint32_t i = 0; i < count; i++) {
            slide_thread_scratch *s = &net->scratch[slide_thread_id()];
            /* Hash families take float rows: a bf16 row is widened into the thread's scratch first. */
            hash_item(S->hash_state, slide_row_f32_view(K, L, row_of(ids, first, i), s->wrow),
                      codes + (size_t)i * tables, s->hash_scratch);
        }
        return SLIDE_OK;
    }
    enum { B = SLIDE_HASH_ITEMS_BLOCK };
    /* Per thread: the backend's work, then (bf16 layers) the block's rows widened to float. */
    const size_t work_floats = block->work_floats(S->hash_state);
    const size_t widened = slide_is_bf16(L) ? (size_t)B * L->row_len : 0;
    const int64_t n_blocks = ((int64_t)count + B - 1) / B;
    int nomem = 0;
#pragma omp parallel num_threads(nt)
    {
        float *work = slide_aligned_alloc(sizeof(float) * (work_floats + widened));
        if (!work) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < n_blocks; b++) {
            if (!work)
                continue;
            const uint32_t i0 = (uint32_t)b * B, m = count - i0 < B ? count - i0 : B;
            const float *xs[B];
            for (uint32_t r = 0; r < m; r++)
                xs[r] = slide_row_f32_view(K, L, row_of(ids, first, i0 + r), work + work_floats + (size_t)r * L->row_len);
            block->hash(S->hash_state, xs, m, codes + (size_t)i0 * tables, work);
        }
        slide_aligned_free(work);
    }
    if (nomem)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate %zu KB per thread to hash weight rows",
                          sizeof(float) * (work_floats + widened) >> 10);
    return SLIDE_OK;
}

/*
 * prepare_items for a layer: backends see float rows, so a bf16 layer is widened into a temporary packed
 * copy (rows * row_len floats, freed before returning) for the duration of the call.
 */
static int prepare_items(const slide_layer *L, int nt)
{
    const slide_sampler *S = &L->sampler;
    if (!S->hash->prepare_items)
        return SLIDE_OK;
    if (!slide_is_bf16(L)) {
        S->hash->prepare_items(S->hash_state, L->params, L->rows, L->block);
        return SLIDE_OK;
    }
    float *tmp = slide_aligned_alloc(sizeof(float) * L->rows * L->row_len);
    if (!tmp)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate %zu MB to widen bfloat16 rows for the hash backend",
                          (sizeof(float) * L->rows * L->row_len) >> 20);
    const slide_kernels *K = slide_kernels_get();
    int64_t rows = (int64_t)L->rows;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        K->bf16_to_f32(tmp + (size_t)r * L->row_len, slide_row_wh(L, (size_t)r), L->row_len);
    S->hash->prepare_items(S->hash_state, tmp, L->rows, L->row_len);
    slide_aligned_free(tmp);
    return SLIDE_OK;
}

int slide_sampler_refresh(slide_network *net)
{
    for (uint32_t l = 0; l < net->n_layers; l++) {
        slide_layer *L = &net->layers[l];
        if (L->sampled && L->sampler.stale) {
            int rc = slide_sampler_rebuild(net, L);
            if (rc)
                return rc;
            L->sampler.stale = 0;
        }
    }
    return SLIDE_OK;
}

int slide_sampler_rebuild(slide_network *net, slide_layer *L)
{
    slide_sampler *S = &L->sampler;
    if (!L->sampled)
        return SLIDE_OK;
    int nt = slide_network_threads_for_call(net);
    int rc = slide_network_ensure_scratch(net, nt);
    if (rc)
        return rc;
    uint32_t tables = S->cfg.tables;
    uint32_t *codes = malloc(sizeof(uint32_t) * (size_t)REBUILD_CHUNK * tables);
    uint32_t *order = malloc(sizeof(uint32_t) * L->units);
    if (!codes || !order) {
        free(codes);
        free(order);
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate rebuild buffers");
    }
    /*
     * Neurons are offered in a fresh random order each rebuild: a full FIFO bucket keeps its last
     * `capacity` arrivals, which would otherwise always be the highest neuron ids.
     */
    for (uint32_t i = 0; i < L->units; i++)
        order[i] = i;
    slide_rng rng = {slide_seed3(net->seed, 0x0DE2, (uint64_t)(L - net->layers), S->rebuilds)};
    slide_shuffle_u32(&rng, order, L->units);
    slide_lsh_tables_clear(&S->tables);
    rc = prepare_items(L, nt);
    if (rc) {
        free(codes);
        free(order);
        return rc;
    }
    for (uint32_t base = 0; base < L->units; base += REBUILD_CHUNK) {
        uint32_t count = L->units - base < REBUILD_CHUNK ? L->units - base : REBUILD_CHUNK;
        rc = hash_rows(net, L, order + base, 0, count, codes, nt);
        if (rc)
            break;
        /* Each table is filled by one thread in `order`, so contents do not depend on the thread count. */
#pragma omp parallel for num_threads(nt) schedule(static)
        for (uint32_t t = 0; t < tables; t++) {
            uint16_t *known = S->item_bucket ? S->item_bucket + (size_t)t * L->units : NULL;
            for (uint32_t i = 0; i < count; i++) {
                uint32_t code = codes[(size_t)i * tables + t];
                slide_lsh_tables_insert(&S->tables, t, code, order[base + i]);
                if (known)
                    known[order[base + i]] = (uint16_t)slide_lsh_bucket(&S->tables, code);
            }
        }
    }
    free(codes);
    free(order);
    if (rc)
        return rc;
    S->rebuilds++;
    S->batches_since_rebuild = 0;
    return SLIDE_OK;
}

int slide_sampler_record_buckets(slide_network *net, slide_layer *L)
{
    slide_sampler *S = &L->sampler;
    if (!L->sampled || !S->item_bucket)
        return SLIDE_OK;
    int nt = slide_network_threads_for_call(net);
    int rc = slide_network_ensure_scratch(net, nt);
    if (rc)
        return rc;
    uint32_t tables = S->cfg.tables;
    uint32_t *codes = malloc(sizeof(uint32_t) * (size_t)REBUILD_CHUNK * tables);
    if (!codes)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate bucket record buffers");
    for (uint32_t base = 0; base < L->units; base += REBUILD_CHUNK) {
        uint32_t count = L->units - base < REBUILD_CHUNK ? L->units - base : REBUILD_CHUNK;
        rc = hash_rows(net, L, NULL, base, count, codes, nt);
        if (rc)
            break;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (uint32_t t = 0; t < tables; t++)
            for (uint32_t i = 0; i < count; i++)
                S->item_bucket[(size_t)t * L->units + base + i] =
                    (uint16_t)slide_lsh_bucket(&S->tables, codes[(size_t)i * tables + t]);
    }
    free(codes);
    return rc;
}

int slide_sampler_rehash(slide_network *net, slide_layer *L, const uint32_t *ids, uint32_t n)
{
    slide_sampler *S = &L->sampler;
    if (!L->sampled || n == 0)
        return SLIDE_OK;
    int nt = slide_network_threads_for_call(net);
    uint32_t tables = S->cfg.tables;
    uint32_t *codes = malloc(sizeof(uint32_t) * (size_t)n * tables);
    if (!codes)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate %u x %u rehash codes", n, tables);
    int rc = hash_rows(net, L, ids, 0, n, codes, nt);
    if (rc) {
        free(codes);
        return rc;
    }
    /*
     * Only neurons whose bucket changed are re-inserted (all of them when item_bucket is off); a neuron
     * that moved keeps its stale entry until the next rebuild, and queries deduplicate ids.
     */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint32_t t = 0; t < tables; t++) {
        uint16_t *known = S->item_bucket ? S->item_bucket + (size_t)t * L->units : NULL;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t code = codes[(size_t)i * tables + t];
            if (known) {
                uint16_t b = (uint16_t)slide_lsh_bucket(&S->tables, code);
                if (known[ids[i]] == b)
                    continue;
                known[ids[i]] = b;
            }
            slide_lsh_tables_insert_unique(&S->tables, t, code, ids[i]);
        }
    }
    free(codes);
    return SLIDE_OK;
}

int slide_network_rebuild_tables(slide_network *net)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    int rc = slide_network_claim(net, "slide_network_rebuild_tables");
    if (rc)
        return rc;
    for (uint32_t l = 0; l < net->n_layers && rc == SLIDE_OK; l++)
        rc = slide_sampler_rebuild(net, &net->layers[l]);
    slide_network_release(net);
    return rc;
}

int slide_network_table_stats(slide_network *net, uint32_t layer, slide_table_stats *out)
{
    if (!net || !out)
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", net ? "out" : "net");
    if (out->struct_size < offsetof(slide_table_stats, tables) + sizeof(uint32_t))
        return slide_fail(SLIDE_E_INVALID, "table stats struct_size %zu is too small", out->struct_size);
    if (layer >= net->n_layers)
        return slide_fail(SLIDE_E_INVALID, "layer %u out of range [0, %u)", layer, net->n_layers);
    slide_layer *L = &net->layers[layer];
    if (!L->sampled)
        return slide_fail(SLIDE_E_INVALID, "layer %u is fully computed: it has no hash tables", layer);
    if (L->sampler.exact)
        return slide_fail(SLIDE_E_INVALID, "layer %u uses the exact oracle: it reads no hash tables", layer);
    int rc = slide_network_claim(net, "slide_network_table_stats");
    if (rc)
        return rc;
    slide_sampler *S = &L->sampler;
    if (S->stale) { /* as slide_sampler_refresh, for this layer only */
        rc = slide_sampler_rebuild(net, L);
        if (!rc)
            S->stale = 0;
    }
    uint8_t *seen = rc ? NULL : malloc(L->units);
    if (!rc && !seen)
        rc = slide_fail(SLIDE_E_NOMEM, "cannot allocate %u bytes of occupancy marks", L->units);
    if (rc) {
        slide_network_release(net);
        return rc;
    }
    const slide_lsh_tables *T = &S->tables;
    slide_lsh_occupancy occ;
    slide_lsh_tables_occupancy(T, L->units, seen, &occ);
    free(seen);
    slide_network_release(net);
    const double n_b = (double)T->tables * T->n_buckets;
    slide_table_stats full = {
        .struct_size = sizeof full,
        .tables = T->tables,
        .buckets = T->n_buckets,
        .bucket_capacity = T->capacity,
        .units = L->units,
        .present = occ.present,
        .present_share = (double)occ.present / L->units,
        .entries_per_neuron = (double)occ.held / L->units,
        .mean_fill = (double)occ.held / (n_b * T->capacity),
        .max_fill = (double)occ.max_held / T->capacity,
        .full_share = (double)occ.full / n_b,
        .dropped = occ.dropped,
        .table_bytes = slide_lsh_tables_memory_bytes(T),
    };
    /* Never write past the caller's struct: an older caller's struct is a prefix of this one. */
    out->struct_size = slide_copy_out(SLIDE_STRUCT_TABLE_STATS, out, &full, out->struct_size);
    return SLIDE_OK;
}

int slide_sampler_rehash_due(const slide_layer *L)
{
    const slide_sampler *S = &L->sampler;
    return L->sampled && S->cfg.rehash_touched && !S->draws_only && !S->exact &&
           (double)(S->batches_since_rebuild + 1) < S->period;
}

int slide_sampler_end_batch(slide_network *net, slide_layer *L)
{
    slide_sampler *S = &L->sampler;
    int rc = SLIDE_OK;
    if (S->exact || S->draws_only) {
        /* Training reads no tables: they are rebuilt when a prediction needs them (slide_sampler_refresh). */
        S->stale = S->draws_only;
        return SLIDE_OK;
    }
    if ((double)++S->batches_since_rebuild >= S->period) {
        rc = slide_sampler_rebuild(net, L);
        S->period *= S->cfg.rebuild_growth;
    }
    return rc;
}
