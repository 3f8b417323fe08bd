/*
 * Internal network state shared by network.c (lifecycle), train.c, predict.c and model_file.c.
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
 * `params` itself: it uses the typed accessors below (slide_row_w for float layers, slide_row_wh for bf16
 * ones) or the storage-dispatching helpers (slide_row_dot, slide_rows_*), which pick the bf16 kernels.
 */
#ifndef SLIDE_NETWORK_H
#define SLIDE_NETWORK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "hash_family.h"
#include "kernels.h"
#include "lsh_table.h"
#include "slide/slide.h"

#define SLIDE_ALIGN 64

typedef struct slide_layer {
    uint32_t units, in_dim;
    int activation;
    int sampled;
    int neuron_major;
    int storage;            /* slide_storage; BF16 only when sampled (and so neuron-major) */
    size_t rows, row_len, stride, block; /* stride and block in elements of the storage type */
    void *params;           /* rows * block elements, SLIDE_ALIGN-aligned; see the accessors */
    float *bias, *bias_m, *bias_v; /* [units] each; moments NULL without Adam */

    /* LSH sampling (sampled layers only). */
    slide_lsh_config lsh;
    char hash_name[SLIDE_HASH_NAME_MAX];
    const slide_hash_family *hash;
    void *hash_state;
    slide_lsh_tables tables;
    uint32_t max_active;   /* cap on active neurons per sample */
    uint32_t min_active;   /* pad with random neurons up to this many */
    uint32_t n_random;     /* slots of the cap reserved for uniformly random neurons (<= max_active) */
    uint64_t rebuilds;
    uint64_t batches_since_rebuild;
    double period;         /* batches until the next rebuild; grows by lsh.rebuild_growth per rebuild */

    /* Batch-shared active set (lsh.batch_shared, training only): ids, and id -> position in it. */
    int32_t *shared_ids;
    uint32_t n_shared, shared_cap;
    int32_t *shared_pos;    /* [units], -1 outside the set; reset after every batch */
    uint32_t *shared_codes; /* [batch * tables] query codes of the batch */
    size_t shared_codes_cap;
    uint32_t *shared_hist;  /* hit-count histograms of the merge: the batch's, then one per partition */
    size_t shared_hist_cap;
    /*
     * rehash_touched only (NULL otherwise, or when buckets need more than 15 bits): item_bucket[t * units
     * + id] is the bucket of table t that neuron id was last inserted into, SLIDE_BUCKET_UNKNOWN before
     * its first insertion. A re-hash then re-inserts only neurons whose bucket changed. Table t's entries
     * are written only by the thread filling table t.
     */
    uint16_t *item_bucket;

    /* Counters for slide_layer_info. */
    uint64_t samples_seen, active_total;

    /* Update scratch: row -> compact slot during a batch, -1 otherwise (always reset after use). */
    int32_t *row_slot;
} slide_layer;

/* Per-sample activations of one layer during a batch or a prediction. */
#define SLIDE_BUCKET_UNKNOWN 0xFFFFu

typedef struct slide_act {
    uint32_t n;        /* active neurons (== units for fully computed layers) */
    uint32_t cap;
    int dense;         /* 1: every neuron active, ids unused */
    uint32_t n_forced; /* leading ids that are the sample's labels (training output layer) */
    int32_t *ids;      /* active neuron ids when !dense */
    float *val;        /* post-activation values [n] */
    float *delta;      /* d loss / d pre-activation [n] (training only) */
} slide_act;

/* Rows whose gradients one thread accumulates together (batch-shared updates). */
#define SLIDE_GRAD_ROWS 3

/* Per-thread scratch, grown on demand, owned by the network. */
typedef struct slide_thread_scratch {
    uint32_t *mark;      /* [max sampled units]: stamp of the last sample that saw the neuron */
    uint16_t *hits;      /* [max sampled units]: collision count for the current stamp */
    uint32_t stamp;
    uint32_t *cand;      /* candidate ids */
    size_t cand_cap;
    uint32_t *codes;     /* [max tables] */
    void *hash_scratch;
    size_t hash_scratch_bytes;
    float *grad;         /* [SLIDE_GRAD_ROWS * max row_len] gradients of up to SLIDE_GRAD_ROWS rows */
    float *wrow;         /* [max row_len] one bf16 weight row widened to float (hashing, prediction) */
    uint32_t *hist;      /* [max tables + 2] counting sort of candidates by collisions */
} slide_thread_scratch;

struct slide_network {
    atomic_flag busy;
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

    /*
     * Update-phase buffers, reused across batches; each holds pair_cap entries (see sort_pairs_by_row in
     * train.c). Grouped by row: touched (the rows), pair_off (their n_touched + 1 range bounds), pair_sample
     * (batch position of each contribution) and pair_coef. Staging, partition-major: stage_row,
     * stage_sample, stage_coef. Each partition's row numbering: part_row, part_count.
     */
    uint32_t *touched, *pair_off, *pair_sample, *stage_row, *stage_sample, *part_row, *part_count;
    float *pair_coef, *stage_coef;
    size_t pair_cap;
};

/* A layer's input for one sample: dense (idx == NULL, val[dim]) or sparse (idx/val[nnz]). */
typedef struct slide_vec {
    const int32_t *idx;
    const float *val;
    uint32_t nnz; /* == dim when dense */
} slide_vec;

/* Bytes per stored weight / moment element. */
static inline size_t slide_elem_bytes(int storage) { return storage == SLIDE_STORAGE_BF16 ? 2 : 4; }
static inline int slide_is_bf16(const slide_layer *L) { return L->storage == SLIDE_STORAGE_BF16; }

/* Float pointers into row r of a float32 layer (never call them on a bf16 layer). */
static inline float *slide_row_w(const slide_layer *L, size_t r) { return (float *)L->params + r * L->block; }
static inline float *slide_row_m(const slide_layer *L, size_t r) { return (float *)L->params + r * L->block + L->stride; }
static inline float *slide_row_v(const slide_layer *L, size_t r) { return (float *)L->params + r * L->block + 2 * L->stride; }
/* bf16 pointers into row r of a bf16 layer. */
static inline slide_bf16 *slide_row_wh(const slide_layer *L, size_t r) { return (slide_bf16 *)L->params + r * L->block; }
static inline slide_bf16 *slide_row_mh(const slide_layer *L, size_t r)
{
    return (slide_bf16 *)L->params + r * L->block + L->stride;
}
static inline slide_bf16 *slide_row_vh(const slide_layer *L, size_t r)
{
    return (slide_bf16 *)L->params + r * L->block + 2 * L->stride;
}

/*
 * Software prefetch of `bytes` from p, one request per 64-byte line. Rows touched by a batch are scattered
 * over a layer far larger than the caches and follow no stride the hardware prefetcher can learn, so the
 * hot loops ask for the next rows while they work on the current one. `write` = the lines will be stored.
 */
static inline void slide_prefetch(const void *p, size_t bytes, int write)
{
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += SLIDE_ALIGN) {
        if (write)
            __builtin_prefetch(c + o, 1, 3);
        else
            __builtin_prefetch(c + o, 0, 3);
    }
}

/* Prefetches row r's whole block (weights and, with Adam, both moments), to be updated. */
static inline void slide_prefetch_block(const slide_layer *L, size_t r)
{
    slide_prefetch((const char *)L->params + r * L->block * slide_elem_bytes(L->storage),
                   L->block * slide_elem_bytes(L->storage), 1);
}

/* Weight i of row r as a float, for either storage. */
static inline float slide_row_get(const slide_layer *L, size_t r, size_t i)
{
    return slide_is_bf16(L) ? slide_bf16_to_f32(slide_row_wh(L, r)[i]) : slide_row_w(L, r)[i];
}

/* dot(row r, x[0..n)) for either storage. */
static inline float slide_row_dot(const slide_kernels *K, const slide_layer *L, size_t r, const float *x, size_t n)
{
    return slide_is_bf16(L) ? K->dot_bf16(x, slide_row_wh(L, r), n) : K->dot(slide_row_w(L, r), x, n);
}

/* Sparse input (idx, val) against row r, for either storage. */
static inline float slide_row_dot_sparse(const slide_kernels *K, const slide_layer *L, size_t r, const int32_t *idx,
                                         const float *val, size_t nnz)
{
    return slide_is_bf16(L) ? K->dot_sparse_bf16(slide_row_wh(L, r), idx, val, nnz)
                            : K->dot_sparse(slide_row_w(L, r), idx, val, nnz);
}

/* Row r's weights widened into out[0..row_len) (a plain copy for float layers). */
static inline void slide_row_to_f32(const slide_kernels *K, const slide_layer *L, size_t r, float *out)
{
    if (slide_is_bf16(L))
        K->bf16_to_f32(out, slide_row_wh(L, r), L->row_len);
    else
        memcpy(out, slide_row_w(L, r), sizeof(float) * L->row_len);
}

/* Row r's weights as floats: the row itself for a float layer, else widened into scratch[0..row_len). */
static inline const float *slide_row_f32_view(const slide_kernels *K, const slide_layer *L, size_t r, float *scratch)
{
    if (!slide_is_bf16(L))
        return slide_row_w(L, r);
    K->bf16_to_f32(scratch, slide_row_wh(L, r), L->row_len);
    return scratch;
}

/* Sets row r's weights from in[0..row_len) (rounded to nearest even for a bf16 layer). */
static inline void slide_row_from_f32(const slide_kernels *K, const slide_layer *L, size_t r, const float *in)
{
    if (slide_is_bf16(L))
        K->f32_to_bf16(slide_row_wh(L, r), in, L->row_len);
    else
        memcpy(slide_row_w(L, r), in, sizeof(float) * L->row_len);
}

/*
 * Up to SLIDE_ROWS_BATCH row pointers of one layer for the *_many kernels, typed by the layer's storage:
 * only the member matching L->storage is ever written or read.
 */
#define SLIDE_ROWS_BATCH 64
typedef union slide_rows {
    const float *f[SLIDE_ROWS_BATCH];
    const slide_bf16 *h[SLIDE_ROWS_BATCH];
} slide_rows;

static inline void slide_rows_set(slide_rows *R, const slide_layer *L, uint32_t k, size_t r)
{
    if (slide_is_bf16(L))
        R->h[k] = slide_row_wh(L, r);
    else
        R->f[k] = slide_row_w(L, r);
}

/* out[k] = dot(row k of R, x) for k < m. */
static inline void slide_rows_dot_many(const slide_kernels *K, const slide_layer *L, const slide_rows *R, size_t m,
                                       const float *x, size_t n, float *out)
{
    if (slide_is_bf16(L))
        K->dot_many_bf16(R->h, m, x, n, out);
    else
        K->dot_many(R->f, m, x, n, out);
}

/* y += sum_k c[k] * (row k of R), k < m. */
static inline void slide_rows_axpy_many(const slide_kernels *K, const slide_layer *L, float *y, const float *c,
                                        const slide_rows *R, size_t m, size_t n)
{
    if (slide_is_bf16(L))
        K->axpy_many_bf16(y, c, R->h, m, n);
    else
        K->axpy_many(y, c, R->f, m, n);
}

/* outs[j][k] = dot(row k of R, xs[j]) for j < nx, k < m: several inputs against the same rows. */
static inline void slide_rows_dot_many_multi(const slide_kernels *K, const slide_layer *L, const slide_rows *R, size_t m,
                                             const float *const *xs, float *const *outs, size_t nx, size_t n)
{
    if (slide_is_bf16(L)) {
        for (size_t j = 0; j < nx; j++)
            K->dot_many_bf16(R->h, m, xs[j], n, outs[j]);
    } else {
        K->dot_many_multi(R->f, m, xs, outs, nx, n);
    }
}

/* ys[j] += sum_k cs[j][k] * (row k of R) for j < ny, k < m: several outputs from the same rows. */
static inline void slide_rows_axpy_many_multi(const slide_kernels *K, const slide_layer *L, float *const *ys,
                                              const float *const *cs, size_t ny, const slide_rows *R, size_t m,
                                              size_t n)
{
    if (slide_is_bf16(L)) {
        for (size_t j = 0; j < ny; j++)
            K->axpy_many_bf16(ys[j], cs[j], R->h, m, n);
    } else {
        K->axpy_many_multi(ys, cs, ny, R->f, m, n);
    }
}

/* The optimizer step on row r with gradient g[0..row_len): Adam (moments in the same block) or SGD. */
static inline void slide_row_update(const slide_kernels *K, const slide_layer *L, size_t r, const float *g, int adam,
                                    float lr_t, float b1, float b2, float eps_t, float decay)
{
    if (slide_is_bf16(L)) {
        if (adam)
            K->adam_bf16(slide_row_wh(L, r), slide_row_mh(L, r), slide_row_vh(L, r), g, L->row_len, lr_t, b1, b2, eps_t,
                         decay);
        else
            K->sgd_bf16(slide_row_wh(L, r), g, L->row_len, lr_t, decay);
    } else if (adam) {
        K->adam(slide_row_w(L, r), slide_row_m(L, r), slide_row_v(L, r), g, L->row_len, lr_t, b1, b2, eps_t, decay);
    } else {
        K->sgd(slide_row_w(L, r), g, L->row_len, lr_t, decay);
    }
}

int slide_network_threads_for_call(const slide_network *net);

/* The calling OpenMP thread's index into net->scratch (0 outside parallel regions or without OpenMP). */
static inline int slide_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
/* Makes sure `threads` scratch slots exist and are big enough. */
int slide_network_ensure_scratch(slide_network *net, int threads);
int slide_network_ensure_acts(slide_network *net, size_t samples);
int slide_act_reserve(slide_act *a, uint32_t n, int with_ids, int with_delta);
int slide_scratch_reserve_cand(slide_thread_scratch *s, size_t n);

/* Rebuilds one sampled layer's tables from its current weights. */
int slide_layer_rebuild(slide_network *net, slide_layer *L);
/* Re-hashes rows ids[0..n) and inserts them into the existing tables (incremental update). */
/*
 * Sets item_bucket (when the layer keeps it) to the buckets the current weights hash to, without
 * touching the tables. After a model is loaded this restores exactly what training had recorded: a
 * rehash keeps every neuron's record equal to the bucket of its current weights.
 */
int slide_layer_record_buckets(slide_network *net, slide_layer *L);
int slide_layer_rehash(slide_network *net, slide_layer *L, const uint32_t *ids, uint32_t n);

/* Claims / releases exclusive use of the network; claim fails with SLIDE_E_BUSY. */
int slide_network_claim(slide_network *net, const char *what);
void slide_network_release(slide_network *net);

/* Input row i of X as a slide_vec (no copy). */
slide_vec slide_matrix_row(const slide_matrix *X, int64_t i);
/* Checks rows[0..n) (NULL: 0..n-1) index X and their CSR entries are valid feature ids of the network. */
int slide_check_rows(const slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n);
/* Validates a matrix view; `name` is used in messages. */
int slide_matrix_check(const slide_matrix *M, const char *name, int64_t want_cols, int labels);

/*
 * Forward pass of one sample through every layer. mode: 0 = train (labels forced in), 1 = sampled
 * inference, 2 = exact inference (every neuron of every layer, except that `skip_last` stops before
 * the output layer so predict.c can score it in blocks).
 */
enum { SLIDE_FWD_TRAIN = 0, SLIDE_FWD_SAMPLED = 1, SLIDE_FWD_EXACT = 2 };
int slide_forward_sample(slide_network *net, slide_vec x, const int32_t *labels, uint32_t n_labels, int mode,
                         int skip_last, slide_act *acts, slide_thread_scratch *scr, uint64_t sample_seed);
/* Forward through layers [from, to); the input of `from` is x when from == 0, else acts[from - 1]. */
int slide_forward_layers(slide_network *net, slide_vec x, uint32_t from, uint32_t to, const int32_t *labels,
                         uint32_t n_labels, int mode, slide_act *acts, slide_thread_scratch *scr,
                         uint64_t sample_seed);

/* Creates a network; with init_params == 0 weights are zero and tables are left empty (model loading). */
int slide_network_create_internal(const slide_network_config *cfg, const slide_optimizer_config *opt,
                                  int init_params, slide_network **out);

void *slide_aligned_alloc(size_t bytes);
void slide_aligned_free(void *p);

#endif
