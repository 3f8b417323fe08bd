/*
 * Partitioned counting sorts, shared by the batch-shared merge (sampler.c) and sort_pairs_by_row
 * (optimizer.c). Ids are dealt to SLIDE_PARTS partitions (a power of two) in blocks of 2^bits ids,
 * round-robin; a fixed number of partitions, whatever the thread count, keeps every result independent
 * of it.
 */
#ifndef SLIDE_PARTITION_H
#define SLIDE_PARTITION_H

#include <stddef.h>
#include <stdint.h>

enum { SLIDE_PARTS = 8 };

/* The partition of id when ids are dealt in blocks of 2^bits. */
static inline uint32_t slide_id_part(size_t id, unsigned bits)
{
    return (uint32_t)(id >> bits) & (SLIDE_PARTS - 1);
}

/*
 * cnt[c][p] counts the items of input range c that fall in partition p. Turns every count into the
 * cursor where range c starts writing partition p in a partition-major buffer (within a partition,
 * range 0 first), sets part_start[p] to where partition p begins, and returns the total.
 */
static inline size_t slide_partition_offsets(size_t cnt[SLIDE_PARTS][SLIDE_PARTS],
                                             size_t part_start[SLIDE_PARTS + 1])
{
    size_t total = 0;
    for (uint32_t p = 0; p < SLIDE_PARTS; p++) {
        part_start[p] = total;
        for (uint32_t c = 0; c < SLIDE_PARTS; c++) {
            size_t m = cnt[c][p];
            cnt[c][p] = total;
            total += m;
        }
    }
    part_start[SLIDE_PARTS] = total;
    return total;
}

#endif
