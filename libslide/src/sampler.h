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
#include "matrix.h"
#include "scratch.h"
#include "slide/slide.h"

/* Defined in network.h, which embeds a slide_sampler in every layer. */
typedef struct slide_layer slide_layer;

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
    /*
     * exact: hash "exact", the oracle: selection computes every neuron's pre-activation and keeps the highest
     * (a one-bit, one-table SimHash is kept only so tables and model files have their usual shape).
     * draws_only: training never reads the tables (no retrieval share: random_fraction = 1), so they are
     * not rebuilt while training; `stale` then says they lag the weights and slide_sampler_refresh rebuilds
     * them before a sampled prediction or a diagnosis.
     */
    int exact, draws_only, stale;
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
        uint32_t n_fixed; /* leading ids chosen with certainty (batch labels, retrieved); the rest are draws */
        int32_t *pos;     /* [units], -1 outside the set; reset after every batch */
        uint32_t *codes;  /* [batch * tables] query codes of the batch */
        size_t codes_cap;
        uint32_t *hist;   /* hit-count histograms of the merge: the batch's, then one per partition */
        size_t hist_cap;
        /*
         * In-batch label correction (softmax output with logq_correction): the batch's distinct labels are
         * ids[0 .. n_labels); label_off[k] is added to label k's logit in every sample that does not have
         * it as a label (see slide_sampler_label_offsets), label_batch[k] counts the batch's rows with it.
         */
        uint32_t n_labels;
        float *label_off;
        uint32_t *label_batch;
    } shared;
    /*
     * Label frequencies seen in training (same layers): label_count[j] rows had label j among label_rows
     * training rows, over the batches applied so far. They estimate how likely a label is to enter a batch
     * as another row's label. Saved in model files, so a resumed run corrects as the uninterrupted one.
     */
    uint32_t *label_count;
    uint64_t label_rows;
    /*
     * rehash_touched only (NULL otherwise, or when buckets need more than 15 bits): item_bucket[t * units
     * + id] is the bucket of table t that neuron id was last inserted into, SLIDE_BUCKET_UNKNOWN before
     * its first insertion. A re-hash then re-inserts only neurons whose bucket changed. Table t's entries
     * are written only by the thread filling table t.
     */
    uint16_t *item_bucket;
} slide_sampler;

/* ---- setup and teardown (network creation / free) */

/*
 * Fills L->sampler from the user's LSH config (defaults for fields an older, shorter struct lacks): checks
 * it, creates the hash backend and empty tables, derives the caps. L's shape must be set; seed and index
 * (the layer's position) seed the backend and the tables. fresh (network creation, not loading): refuse tables
 * whose slots cannot hold the layer; a model file keeps the tables it was saved with.
 */
int slide_sampler_setup(slide_layer *L, const slide_lsh_config *user, uint64_t seed, uint32_t index, int fresh);
/* Frees what slide_sampler_setup and the batch-shared selection allocated (safe on a zero sampler). */
void slide_sampler_free(slide_layer *L);
/* Bytes held by a sampled layer's sampler: backend, tables, bucket records, batch-shared buffers. */
size_t slide_sampler_memory_bytes(const slide_layer *L);

/* ---- selection */

/*
 * One sample's active set of sampled layer L (input x; labels forced in first) into a; the order of the
 * choice is described at the definition. `training` enables the random share; sample_seed seeds the
 * padding. Reads the tables; writes only a and scr, so samples run in parallel. pre: NULL, or every
 * pre-activation of L for x (indexed by neuron id, bias included; slide_preact_batch), which the exact
 * oracle then reads instead of computing them.
 */
int slide_sampler_select(const slide_layer *L, slide_vec x, const int32_t *labels, uint32_t n_labels, int training,
                         slide_act *a, slide_thread_scratch *scr, uint64_t sample_seed, const float *pre);
/*
 * Batched rescoring (rescore_batch.c) splits slide_sampler_select in two around the scoring of its pool, so
 * that a batch's pools can be scored row by row. slide_sampler_select_begin makes the same choice up to the
 * pool: when the sample's selection rescores (cfg.rescore > 1 and more candidates than wanted), the pool
 * (the candidates to score, in the order rescoring ranks them) goes to pool[0..*n_pool), at most
 * slide_sampler_pool_cap(L) ids, and a holds the labels only; otherwise the selection is complete, as
 * slide_sampler_select makes it, and *n_pool = 0. The oracle (exact) is never split.
 */
uint32_t slide_sampler_pool_cap(const slide_layer *L);
int slide_sampler_select_begin(const slide_layer *L, slide_vec x, const int32_t *labels, uint32_t n_labels,
                               int training, slide_act *a, slide_thread_scratch *scr, uint64_t sample_seed,
                               uint32_t *pool, uint32_t *n_pool);
/*
 * Completes a selection that slide_sampler_select_begin left at its pool: scores[i] is pool[i]'s
 * pre-activation, bias included, from the kernels slide_sampler_select would have used. Keeps the best as
 * slide_sampler_select would, in the same order (pool is reordered), pads as it would, and stores the kept
 * neurons' scores as their values: a->val[n_forced .. n_forced + a->n_prescored). Any thread may finish a
 * sample (scr: the calling thread's scratch).
 */
int slide_sampler_select_finish(const slide_layer *L, int training, slide_act *a, slide_thread_scratch *scr,
                                uint64_t sample_seed, uint32_t *pool, uint32_t n_pool, const float *scores);
/*
 * Chooses batch-shared layer l's active set for the batch rows[0..n) (NULL: 0..n-1) of X / Y into
 * sampler.shared; the inputs of layer l (acts[l - 1], or X) must be computed. Runs its own parallel
 * regions on nt threads; the caller must not be inside one.
 */
int slide_sampler_select_shared(slide_network *net, uint32_t l, const slide_matrix *X, const slide_matrix *Y,
                                const int64_t *rows, int64_t n, uint64_t step, int nt);
/* Empties every layer's batch-shared set, restoring shared.pos to all -1 (touching only the set's entries). */
void slide_sampler_clear_shared(slide_network *net);

/*
 * logQ correction (cfg.logq_correction): the amount added to the logit of each uniformly drawn neuron of an
 * active set of n ids whose first n_fixed were chosen with certainty, log((units - n_fixed) / (n - n_fixed));
 * 0 when the correction is off or nothing was drawn.
 */
float slide_sampler_logq_offset(const slide_layer *L, uint32_t n, uint32_t n_fixed);
/* Whether layer L keeps label frequencies for the in-batch label correction (label_count). */
int slide_sampler_counts_labels(const slide_layer *L);
/* Adds the applied batch's label counts (shared.label_batch) to label_count; before the set is cleared. */
void slide_sampler_count_batch(slide_layer *L, int64_t n);

/* ---- table upkeep */

/* Rebuilds every sampled layer's tables that lag its weights (see draws_only); a no-op otherwise. */
int slide_sampler_refresh(slide_network *net);

/* Rebuilds one sampled layer's tables from its current weights. */
int slide_sampler_rebuild(slide_network *net, slide_layer *L);
/*
 * Sets item_bucket (when the layer keeps it) to the buckets the current weights hash to, without
 * touching the tables. After a model is loaded this restores exactly what training had recorded: a
 * rehash keeps every neuron's record equal to the bucket of its current weights.
 */
int slide_sampler_record_buckets(slide_network *net, slide_layer *L);
/* Re-hashes rows ids[0..n) and inserts them into the existing tables (incremental update). */
int slide_sampler_rehash(slide_network *net, slide_layer *L, const uint32_t *ids, uint32_t n);
/*
 * Schedule. After a batch has updated layer L's rows: rehash_due says whether to re-insert them now
 * (rehash_touched, unless this batch ends the period and a full rebuild follows); end_batch counts the
 * batch and rebuilds once `period` batches have passed, then stretches the period by rebuild_growth.
 */
int slide_sampler_rehash_due(const slide_layer *L);
int slide_sampler_end_batch(slide_network *net, slide_layer *L);

#endif
