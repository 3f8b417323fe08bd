/*
 * The network and its layers: the state every stage reads. network.c creates and frees it; the sampler
 * (sampler.h), the per-call buffers (scratch.h) and the row helpers (rows.h) hang off it.
 *
 * Weight layout. Each layer stores its weights as `rows` rows of `row_len` floats:
 *  - sampled layers are neuron-major (row = one neuron's incoming weights), because LSH hashes and
 *    computes single neurons;
 *  - fully computed layers are input-major (row = one input's outgoing weights), so a sparse input
 *    touches only its non-zero rows in forward, backward and the optimizer step.
 * Rows start on 64-byte boundaries (`stride` elements are a multiple of 64 bytes). With Adam, a row's
 * weights and both moment vectors are adjacent: block r = [w | m | v], each `stride` elements, so one row
 * update touches one contiguous region. `block` = elements per row block.
 *
 * Storage. An element is a float (SLIDE_STORAGE_F32) or, for sampled layers only, a bfloat16
 * (SLIDE_STORAGE_BF16): then w, m and v are all bf16 (stride a multiple of 32), halving the layer and the
 * bytes a row update moves; biases and their moments stay float. Code never does pointer arithmetic on
 * `params` itself: it uses the typed accessors of rows.h (slide_row_w for float layers, slide_row_wh for
 * bf16 ones) or the storage-dispatching helpers (slide_row_dot, slide_rows_*), which pick the bf16 kernels.
 */
#ifndef SLIDE_NETWORK_H
#define SLIDE_NETWORK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "matrix.h"
#include "sampler.h"
#include "scratch.h"
#include "slide/slide.h"

typedef struct slide_layer {
    uint32_t units, in_dim;
    int activation;
    int sampled;
    int neuron_major;
    int storage;            /* slide_storage; BF16 only when sampled (and so neuron-major) */
    size_t rows, row_len, stride, block; /* stride and block in elements of the storage type */
    void *params;           /* rows * block elements, SLIDE_ALIGN-aligned (alloc.h); see rows.h */
    float *bias, *bias_m, *bias_v; /* [units] each; moments NULL without Adam */
    /*
     * [rows] step of each row's last update (0: never), with opt.catch_up only (NULL otherwise): the optimizer
     * catches a row up on the batches it skipped (optimizer.c). Written by the thread that updates the row.
     */
    uint64_t *row_step;

    slide_sampler sampler; /* LSH state (sampled layers only; zero otherwise): sampler.h */

    /* Counters for slide_layer_info. */
    uint64_t samples_seen, active_total;

    /*
     * Update scratch (optimizer.c): row -> compact slot during a batch, -1 otherwise (always reset after
     * use). During the sort each partition's task writes only its own rows' entries.
     */
    int32_t *row_slot;
} slide_layer;

struct slide_network {
    atomic_flag busy; /* set while a call owns the network (slide_network_claim): only the owner touches the rest */
    uint32_t input_dim, n_layers;
    slide_layer *layers;
    slide_optimizer_config opt;
    uint64_t seed;
    int threads;
    uint64_t step;   /* optimizer steps taken (batches) */

    /* Batch buffers: acts[s * n_layers + l] for sample slot s. */
    slide_act *acts;
    size_t act_slots;

    slide_thread_scratch *scratch;
    int n_scratch;

    /* [batch x units] every pre-activation of the layer slide_preact_batch last scored (preact_batch.h). */
    float *preact;
    size_t preact_cap;
    /*
     * slide_preact_batch's dense panel of sparse inputs (preact_batch.c): the column of each input position
     * (col, [in_dim]), the position of each column (pos), the inputs over those columns ([batch x ld]), and
     * per-thread work (row slices, partial scores, the kernel's pointer arrays).
     */
    struct {
        int32_t *col;
        uint32_t *pos;
        float *panel, *work;
        const float **xbase;
        void **ptrs;
        size_t col_cap, pos_cap, panel_cap, work_cap, xbase_cap, ptrs_cap;
    } union_panel;

    /* Sort buffers of slide_backprop_sparse_batch (backprop_batch.h): sample and position of each
     * contribution, sorted by neuron within each part of the batch; per-part neuron counts. */
    uint32_t *bp_sample, *bp_pos, *bp_hist;
    size_t bp_sample_cap, bp_pos_cap, bp_hist_cap;

    /*
     * Batched rescoring's buffers (rescore_batch.c), reused across batches: every sample's pool and its
     * scores ([batch x pool cap] each: pool_cap, score_cap), pool sizes ([batch], n_cap), and the pools
     * inverted by neuron: by_row_start ([units + 1], start_cap), by_row ([entries], entry_cap).
     */
    struct {
        uint32_t *pool, *n_pool, *by_row_start, *by_row;
        float *score;
        size_t pool_cap, score_cap, n_cap, start_cap, entry_cap;
    } rescore;

    /*
     * Update-phase buffers (optimizer.c), reused across batches; each holds pair_cap entries (see
     * sort_pairs_by_row). Grouped by row: touched (the rows), pair_off (their n_touched + 1 range bounds),
     * pair_sample (batch position of each contribution) and pair_coef. Staging, partition-major:
     * stage_row, stage_sample, stage_coef. Each partition's row numbering: part_row, part_count.
     */
    uint32_t *touched, *pair_off, *pair_sample, *stage_row, *stage_sample, *part_row, *part_count;
    float *pair_coef, *stage_coef;
    size_t pair_cap;

    /*
     * A training step between slide_network_train_begin and slide_network_train_apply / _cancel: the
     * network stays claimed, and X, rows (the caller's, kept alive by the caller) are read again by the update.
     */
    struct {
        int active;
        slide_matrix X;
        const int64_t *rows;
        int64_t n;
        int nt;
        uint64_t *layer_active; /* active neurons per layer, summed over the batch */
        /*
         * Sharded step (slide_network_shard_forward): shard_forward tells slide_forward_shared_layer to leave
         * the softmax layer's logits unnormalised during that call; awaiting_backward holds the step until
         * slide_network_shard_backward, with the caller's Y and a copy of the label counts.
         */
        int shard_forward, awaiting_backward;
        slide_matrix Y;
        uint32_t *label_counts; /* [n] label counts, then [n] floats: each row's largest logit */
    } pending;
};

/* While training, a batch-shared layer has one active set for the whole batch (prediction does not). */
static inline int slide_layer_batch_shared(const slide_layer *L)
{
    return L->sampled && L->sampler.cfg.batch_shared;
}

/* The input of layer l for batch position s: row rows[s] (s when rows is NULL) of X, or acts[l - 1]. */
static inline slide_vec slide_layer_input(const slide_network *net, uint32_t l, const slide_matrix *X,
                                          const int64_t *rows, uint32_t s)
{
    if (l == 0)
        return slide_matrix_row(X, rows ? rows[s] : (int64_t)s);
    return slide_act_input(&net->acts[(size_t)s * net->n_layers + l - 1]);
}

/* The number of threads a call uses: net->threads, or OpenMP's default when that is 0. */
int slide_network_threads_for_call(const slide_network *net);

/* Claims / releases exclusive use of the network; claim fails with SLIDE_E_BUSY. */
int slide_network_claim(slide_network *net, const char *what);
void slide_network_release(slide_network *net);

/* Creates a network; with init_params == 0 weights are zero and tables are left empty (model loading). */
int slide_network_create_internal(const slide_network_config *cfg, const slide_optimizer_config *opt,
                                  int init_params, slide_network **out);

#endif
