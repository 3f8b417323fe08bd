#include "lsh_table.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "slide/slide.h"

int slide_lsh_tables_init(slide_lsh_tables *t, uint32_t tables, uint32_t capacity, uint32_t bucket_bits,
                          uint32_t code_bits, int insertion, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    if (bucket_bits > code_bits)
        bucket_bits = code_bits;
    if (bucket_bits > 24)
        return slide_fail(SLIDE_E_INVALID, "bucket_bits = %u exceeds 24", bucket_bits);
    t->tables = tables;
    t->capacity = capacity;
    t->bucket_bits = bucket_bits;
    t->code_bits = code_bits;
    t->insertion = (uint32_t)insertion;
    t->n_buckets = 1u << bucket_bits;
    size_t n_b = (size_t)tables * t->n_buckets;
    if (n_b > SIZE_MAX / sizeof(uint32_t) / (capacity + 1u))
        return slide_fail(SLIDE_E_NOMEM, "hash tables of %u x %u buckets x %u ids overflow", tables,
                          t->n_buckets, capacity);
    t->slots = calloc(n_b * capacity, sizeof(uint32_t)); /* zeroed: model files store every slot */
    t->counts = calloc(n_b, sizeof(uint32_t));
    t->table_rng = malloc(sizeof(slide_rng) * tables);
    if (!t->slots || !t->counts || !t->table_rng) {
        slide_lsh_tables_destroy(t);
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate %zu MB of hash tables",
                          n_b * (capacity + 1u) * sizeof(uint32_t) >> 20);
    }
    for (uint32_t i = 0; i < tables; i++)
        t->table_rng[i].s = slide_seed3(seed, 0x7AB1E, i, 0);
    return SLIDE_OK;
}

void slide_lsh_tables_destroy(slide_lsh_tables *t)
{
    free(t->slots);
    free(t->counts);
    free(t->table_rng);
    memset(t, 0, sizeof *t);
}

void slide_lsh_tables_clear(slide_lsh_tables *t)
{
    memset(t->counts, 0, sizeof(uint32_t) * (size_t)t->tables * t->n_buckets);
}

size_t slide_lsh_tables_memory_bytes(const slide_lsh_tables *t)
{
    return (size_t)t->tables * t->n_buckets * (t->capacity + 1u) * sizeof(uint32_t) +
           sizeof(slide_rng) * t->tables;
}

void slide_lsh_tables_insert(slide_lsh_tables *t, uint32_t table, uint32_t code, uint32_t id)
{
    size_t b = (size_t)table * t->n_buckets + slide_lsh_bucket(t, code);
    uint32_t seen = t->counts[b];
    uint32_t *bucket = t->slots + b * t->capacity;
    if (seen < t->capacity) {
        bucket[seen] = id;
    } else if (t->insertion == SLIDE_INSERT_RESERVOIR) {
        /* Keep each of the seen+1 offered ids with probability capacity / (seen + 1). */
        uint32_t r = (uint32_t)(slide_rng_next(&t->table_rng[table]) % ((uint64_t)seen + 1));
        if (r < t->capacity)
            bucket[r] = id;
    } else {
        bucket[seen % t->capacity] = id; /* FIFO: overwrite the oldest entry */
    }
    if (seen < UINT32_MAX)
        t->counts[b] = seen + 1;
}

void slide_lsh_tables_insert_unique(slide_lsh_tables *t, uint32_t table, uint32_t code, uint32_t id)
{
    size_t b = (size_t)table * t->n_buckets + slide_lsh_bucket(t, code);
    uint32_t held = t->counts[b] < t->capacity ? t->counts[b] : t->capacity;
    const uint32_t *bucket = t->slots + b * t->capacity;
    uint32_t found = 0;
    for (uint32_t i = 0; i < held; i++) /* no early exit: the compiler vectorizes the scan */
        found |= bucket[i] == id;
    if (!found)
        slide_lsh_tables_insert(t, table, code, id);
}

void slide_lsh_tables_occupancy(const slide_lsh_tables *t, uint32_t units, uint8_t *seen, slide_lsh_occupancy *out)
{
    memset(out, 0, sizeof *out);
    memset(seen, 0, units);
    const size_t n_b = (size_t)t->tables * t->n_buckets;
    for (size_t b = 0; b < n_b; b++) {
        const uint32_t count = t->counts[b];
        const uint32_t held = count < t->capacity ? count : t->capacity;
        const uint32_t *ids = t->slots + b * t->capacity;
        out->held += held;
        out->dropped += count - held;
        out->full += held == t->capacity;
        out->max_held = held > out->max_held ? held : out->max_held;
        for (uint32_t i = 0; i < held; i++)
            if (ids[i] < units)
                seen[ids[i]] = 1;
    }
    for (uint32_t i = 0; i < units; i++)
        out->present += seen[i];
}
