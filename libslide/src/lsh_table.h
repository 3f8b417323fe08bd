/*
 * L hash tables of fixed-capacity buckets holding neuron ids, stored in one arena.
 *
 * Layout: slots[(t * n_buckets + b) * capacity + i] for table t, bucket b, entry i < min(count, capacity);
 * counts[t * n_buckets + b] is the number of ids ever offered to the bucket since the last clear (FIFO
 * and reservoir insertion both need it). Memory = L * n_buckets * (capacity + 1) * 4 bytes.
 *
 * Thread safety: insert() on different tables may run concurrently; query-side reads may run
 * concurrently with each other but not with inserts.
 */
#ifndef SLIDE_LSH_TABLE_H
#define SLIDE_LSH_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

typedef struct slide_lsh_tables {
    uint32_t tables, capacity, bucket_bits, code_bits, insertion;
    uint32_t n_buckets;
    uint32_t *slots;
    uint32_t *counts;
    slide_rng *table_rng; /* [tables]: reservoir draws, one stream per table */
} slide_lsh_tables;

/* bucket_bits <= code_bits: codes wider than the bucket index are folded by multiplicative hashing. */
int slide_lsh_tables_init(slide_lsh_tables *t, uint32_t tables, uint32_t capacity, uint32_t bucket_bits,
                          uint32_t code_bits, int insertion, uint64_t seed);
void slide_lsh_tables_destroy(slide_lsh_tables *t);
void slide_lsh_tables_clear(slide_lsh_tables *t);
size_t slide_lsh_tables_memory_bytes(const slide_lsh_tables *t);

/* What the tables hold (see slide_table_stats). */
typedef struct slide_lsh_occupancy {
    uint64_t held;        /* ids held in all buckets */
    uint64_t dropped;     /* offers beyond capacity since the last clear */
    uint64_t full;        /* buckets holding `capacity` ids */
    uint32_t max_held;    /* ids in the fullest bucket */
    uint32_t present;     /* distinct ids in [0, units) held by at least one table */
} slide_lsh_occupancy;

/* Counts what the tables hold; `seen` is caller scratch of units bytes (overwritten). */
void slide_lsh_tables_occupancy(const slide_lsh_tables *t, uint32_t units, uint8_t *seen, slide_lsh_occupancy *out);

static inline uint32_t slide_lsh_bucket(const slide_lsh_tables *t, uint32_t code)
{
    if (t->code_bits <= t->bucket_bits)
        return code;
    return (uint32_t)((code * 0x9E3779B1u) >> (32 - t->bucket_bits));
}

/* Offers neuron `id` to table `table`'s bucket for `code`. */
void slide_lsh_tables_insert(slide_lsh_tables *t, uint32_t table, uint32_t code, uint32_t id);
/*
 * The same, unless the bucket already holds `id` (then nothing changes). Used when re-hashing neurons
 * between rebuilds: a neuron whose code did not move must not crowd its bucket with copies of itself.
 */
void slide_lsh_tables_insert_unique(slide_lsh_tables *t, uint32_t table, uint32_t code, uint32_t id);

/* The ids stored in table `table`'s bucket for `code`; returns their count. */
static inline uint32_t slide_lsh_tables_bucket(const slide_lsh_tables *t, uint32_t table, uint32_t code,
                                               const uint32_t **ids)
{
    size_t b = (size_t)table * t->n_buckets + slide_lsh_bucket(t, code);
    uint32_t n = t->counts[b];
    *ids = t->slots + b * t->capacity;
    return n < t->capacity ? n : t->capacity;
}

#endif
