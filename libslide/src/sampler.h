/*
 * The sampler: everything that decides which neurons of a sampled layer a sample (or, in batch-shared
 * mode, a whole batch) computes, and the upkeep of the hash tables that decision reads.
 *
 * State. Each sampled layer embeds one slide_sampler (slide_layer.sampler; zero in fully computed layers):
 * the hash backend, the bucket store beneath it (lsh_table.h), the caps derived from the config, the
 * rebuild schedule, and the batch-shared set of the batch in progress.
 */
#ifndef SLIDE_SAMPLER_H
#define SLIDE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "hash_family.h"
#include "lsh_table.h"
#include "slide/slide.h"

/* Longest hash backend name a layer stores, terminator included (also the model file's name field). */
#define SLIDE_HASH_NAME_MAX 64
/* item_bucket value of a neuron not inserted since the record was made. */
#define SLIDE_BUCKET_UNKNOWN 0xFFFFu

typedef struct slide_sampler {
    slide_lsh_config cfg; /* the layer's LSH config with defaults filled in; cfg.hash points at hash_name */
    char hash_name[SLIDE_HASH_NAME_MAX];
    const slide_hash_family *hash;
    void *hash_state;
    slide_lsh_tables tables;
    uint32_t max_active;   /* cap on active neurons per sample */
    uint32_t min_active;   /* pad with random neurons up to this many */
    uint32_t n_random;     /* slots of the cap reserved for uniformly random neurons (<= max_active) */
    uint64_t rebuilds;
    uint64_t batches_since_rebuild;
    double period;         /* batches until the next rebuild; grows by cfg.rebuild_growth per rebuild */

    /*
     * Batch-shared active set (cfg.batch_shared, training only): ids, and id -> position in it. Written by
     * the selection of the batch in progress, read by every sample's forward, backward and update, and
     * cleared (pos back to all -1) before the batch returns.
     */
    struct {
        int32_t *ids;
        uint32_t n, cap;
        int32_t *pos;     /* [units], -1 outside the set; reset after every batch */
        uint32_t *codes;  /* [batch * tables] query codes of the batch */
        size_t codes_cap;
        uint32_t *hist;   /* hit-count histograms of the merge: the batch's, then one per partition */
        size_t hist_cap;
    } shared;
    /*
     * rehash_touched only (NULL otherwise, or when buckets need more than 15 bits): item_bucket[t * units
     * + id] is the bucket of table t that neuron id was last inserted into, SLIDE_BUCKET_UNKNOWN before
     * its first insertion. A re-hash then re-inserts only neurons whose bucket changed. Table t's entries
     * are written only by the thread filling table t.
     */
    uint16_t *item_bucket;
} slide_sampler;

#endif
