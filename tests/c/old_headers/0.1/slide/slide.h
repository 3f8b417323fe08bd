/*
 * libslide: train neural networks by computing only the neurons that matter.
 *
 * This header is the whole public C API and its documentation.
 *
 * Conventions
 *  - Every object is an opaque handle created by `slide_<object>_create/load` and released by
 *    `slide_<object>_free`; `*_free(NULL)` is a no-op.
 *  - Every fallible call returns a status (`SLIDE_OK` == 0, errors are negative). On error,
 *    `slide_last_error()` returns a message for the calling thread naming the argument, file or line
 *    at fault. The message stays valid until the next failing call on the same thread.
 *  - Configuration structs carry `struct_size` and must be filled by their `_init()` function before
 *    the caller changes fields. New fields are only ever appended, so a program compiled against an
 *    older header keeps working with a newer library.
 *  - Matrices are passed as borrowed views (`slide_matrix`): the library never keeps a pointer into
 *    caller memory after a call returns.
 *  - Thread safety: different handles may be used from different threads at once. One network must
 *    not be used by two threads at once; the library detects this and returns `SLIDE_E_BUSY`.
 *    Each call parallelises internally with OpenMP.
 */
#ifndef SLIDE_SLIDE_H
#define SLIDE_SLIDE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define SLIDE_API __declspec(dllexport)
#elif defined(__GNUC__)
#  define SLIDE_API __attribute__((visibility("default")))
#else
#  define SLIDE_API
#endif

/* ------------------------------------------------------------------ version */

#define SLIDE_VERSION_MAJOR 0
#define SLIDE_VERSION_MINOR 1
#define SLIDE_VERSION_PATCH 0
/** Version as one integer: major * 10000 + minor * 100 + patch. */
#define SLIDE_VERSION_NUMBER (SLIDE_VERSION_MAJOR * 10000 + SLIDE_VERSION_MINOR * 100 + SLIDE_VERSION_PATCH)

/** Runtime version of the linked library, as SLIDE_VERSION_NUMBER. */
SLIDE_API unsigned slide_version(void);
/** Runtime version as "major.minor.patch". */
SLIDE_API const char *slide_version_string(void);

/* ------------------------------------------------------------------ errors */

typedef enum slide_status {
    SLIDE_OK = 0,
    SLIDE_E_INVALID = -1,     /**< an argument is invalid (NULL, wrong size, out of range, NaN) */
    SLIDE_E_NOMEM = -2,       /**< an allocation failed or would exceed a size limit */
    SLIDE_E_IO = -3,          /**< a file could not be opened, read or written */
    SLIDE_E_FORMAT = -4,      /**< a file is malformed; the message names file, line and problem */
    SLIDE_E_UNSUPPORTED = -5, /**< the feature is not available in this build or on this CPU */
    SLIDE_E_BUSY = -6,        /**< the handle is in use by another thread */
    SLIDE_E_NUMERIC = -7,     /**< training produced NaN or Inf */
    SLIDE_E_NOT_FOUND = -8    /**< a named item (hash backend, layer) does not exist */
} slide_status;

/** Static description of a status code ("invalid argument", ...). Never NULL. */
SLIDE_API const char *slide_status_string(int status);
/** Message of the last failing call on this thread; "" if none. Never NULL. */
SLIDE_API const char *slide_last_error(void);

/* ------------------------------------------------------------------ matrices */

typedef enum slide_matrix_kind {
    SLIDE_MATRIX_DENSE = 0, /**< row-major float32, `rows * cols` values in `values` */
    SLIDE_MATRIX_CSR = 1    /**< compressed sparse rows: indptr[rows + 1], indices[nnz], values[nnz] */
} slide_matrix_kind;

/**
 * A borrowed view of a matrix. For CSR, `indices` are column ids in [0, cols) and may be unsorted;
 * `values` may be NULL, meaning every stored entry is 1 (label indicator matrices).
 * Rows of a label matrix hold the label ids of each sample.
 */
typedef struct slide_matrix {
    int kind;               /**< slide_matrix_kind */
    int64_t rows;
    int64_t cols;
    const float *values;
    const int64_t *indptr;  /**< CSR only */
    const int32_t *indices; /**< CSR only */
} slide_matrix;

/* ------------------------------------------------------------------ hash backends */

/** Number of registered hash backends ("simhash", "dwta", ...). */
SLIDE_API int slide_hash_backend_count(void);
/** Name of backend `i` in [0, count), or NULL when out of range. */
SLIDE_API const char *slide_hash_backend_name(int i);

/* ------------------------------------------------------------------ configuration */

typedef enum slide_activation {
    SLIDE_ACT_RELU = 0,
    SLIDE_ACT_SOFTMAX = 1, /**< output layer only: softmax cross-entropy, uniform target over labels */
    SLIDE_ACT_LINEAR = 2
} slide_activation;

typedef enum slide_insertion {
    SLIDE_INSERT_FIFO = 0,      /**< a full bucket overwrites its oldest entry */
    SLIDE_INSERT_RESERVOIR = 1  /**< a full bucket keeps a uniform sample of everything offered */
} slide_insertion;

/** How a sampled layer chooses its active neurons. */
typedef struct slide_lsh_config {
    size_t struct_size;
    const char *hash;         /**< backend name; default "dwta" (copied at network creation) */
    uint32_t k;               /**< hash codes per table; default 6 */
    uint32_t tables;          /**< L, number of tables; default 50 */
    uint32_t bucket_size;     /**< fixed bucket capacity; default 128 */
    uint32_t bucket_bits;     /**< log2 buckets per table; 0 = derived from layer size (default) */
    int insertion;            /**< slide_insertion; default FIFO */
    float active_fraction;    /**< cap on active neurons as a fraction of the layer; default 0.005 */
    uint32_t min_active;      /**< pad with random neurons up to this many; default 0 = 1/4 of the cap */
    uint32_t rebuild_period;  /**< rebuild all tables every this many batches; default 50 */
    uint32_t bin_size;        /**< DWTA bin size (power of two, <= 256); default 8 */
} slide_lsh_config;

SLIDE_API void slide_lsh_config_init(slide_lsh_config *cfg);

typedef struct slide_layer_config {
    size_t struct_size;
    uint32_t units;                /**< number of neurons, >= 1 */
    int activation;                /**< slide_activation; default RELU */
    const slide_lsh_config *lsh;   /**< NULL: every neuron is computed; else LSH-sampled */
} slide_layer_config;

SLIDE_API void slide_layer_config_init(slide_layer_config *cfg);

typedef enum slide_optimizer_kind { SLIDE_OPT_ADAM = 0, SLIDE_OPT_SGD = 1 } slide_optimizer_kind;

typedef struct slide_optimizer_config {
    size_t struct_size;
    int kind;       /**< slide_optimizer_kind; default ADAM */
    float lr;       /**< default 1e-3 */
    float beta1;    /**< default 0.9 */
    float beta2;    /**< default 0.999 */
    float eps;      /**< default 1e-8 */
} slide_optimizer_config;

SLIDE_API void slide_optimizer_config_init(slide_optimizer_config *cfg);

typedef struct slide_network_config {
    size_t struct_size;
    uint32_t input_dim;                        /**< width of the input rows */
    uint32_t n_layers;                         /**< >= 1; the last layer must be SOFTMAX */
    const slide_layer_config *const *layers;   /**< n_layers pointers */
    uint64_t seed;                             /**< all randomness derives from it; default 0 */
    int threads;                               /**< OpenMP threads; 0 = OpenMP default (default) */
} slide_network_config;

SLIDE_API void slide_network_config_init(slide_network_config *cfg);

/* ------------------------------------------------------------------ network */

typedef struct slide_network slide_network;

/** Creates a network with freshly initialised weights (He-uniform), empty optimizer state and built tables. */
SLIDE_API int slide_network_create(const slide_network_config *cfg, const slide_optimizer_config *opt,
                                   slide_network **out);
SLIDE_API void slide_network_free(slide_network *net);

/**
 * Number of OpenMP threads used by later calls; 0 = follow the OpenMP default of the calling thread
 * (OMP_NUM_THREADS, omp_set_num_threads, threadpoolctl).
 */
SLIDE_API int slide_network_set_threads(slide_network *net, int threads);
/** Threads the next call from this thread will use (resolves 0 to the OpenMP default). */
SLIDE_API int slide_network_get_threads(const slide_network *net);
SLIDE_API int slide_network_set_learning_rate(slide_network *net, float lr);

/** Statistics of one training batch. */
typedef struct slide_batch_stats {
    size_t struct_size;
    double loss;             /**< mean cross-entropy over the batch (on the sampled softmax) */
    double active_output;    /**< mean active neurons per sample in the output layer */
} slide_batch_stats;

/**
 * One optimisation step on the samples `rows[0..n)` of X and Y (row ids into both matrices; NULL means
 * rows 0..n-1). X has input_dim columns; Y is a CSR label matrix with the output layer's width as cols.
 * Samples run in parallel; each has its own active set per sampled layer; gradients of the batch are
 * reduced per touched row (deterministically, independent of thread count) and the optimizer then
 * updates only those rows. `stats` may be NULL.
 */
SLIDE_API int slide_network_train_batch(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                                        const int64_t *rows, int64_t n, slide_batch_stats *stats);

typedef enum slide_predict_mode {
    SLIDE_PREDICT_EXACT = 0,   /**< score every output neuron */
    SLIDE_PREDICT_SAMPLED = 1  /**< score only the neurons the hash tables retrieve */
} slide_predict_mode;

/**
 * Top-k output neurons for samples `rows[0..n)` of X (NULL rows: 0..n-1). Writes n*k ids (int32) and
 * n*k scores (softmax probabilities over the scored neurons), best first. When fewer than k neurons are
 * scored (sampled mode), the tail holds id -1 and score 0.
 */
SLIDE_API int slide_network_predict_topk(slide_network *net, const slide_matrix *X, const int64_t *rows,
                                         int64_t n, uint32_t k, int mode, int32_t *out_ids,
                                         float *out_scores);

/** Shape and counters of one layer. */
typedef struct slide_layer_info {
    size_t struct_size;
    uint32_t units;
    uint32_t input_dim;
    int activation;
    int sampled;              /**< 1 if LSH-sampled */
    int neuron_major;         /**< 1: weight rows are neurons (W[units][input]); 0: rows are inputs */
    uint64_t samples_seen;    /**< training samples that passed through since the counters were reset */
    uint64_t active_total;    /**< sum of active neurons over those samples */
    uint64_t rebuilds;        /**< table rebuilds so far */
    size_t row_stride;        /**< floats between consecutive weight rows */
} slide_layer_info;

SLIDE_API uint32_t slide_network_layer_count(const slide_network *net);
SLIDE_API int slide_network_layer_info(const slide_network *net, uint32_t layer, slide_layer_info *info);
SLIDE_API int slide_network_reset_counters(slide_network *net);

/**
 * Borrowed pointers to a layer's parameters. The weight matrix is stored as `rows` rows of `row_len`
 * floats, `row_stride` floats apart (row_stride >= row_len). Neuron-major layers (sampled) have
 * rows = units, row_len = input_dim; input-major layers have rows = input_dim, row_len = units.
 * The pointers stay valid until the network is freed; writing through them changes the model
 * (call slide_network_rebuild_tables afterwards for sampled layers).
 */
SLIDE_API int slide_network_layer_params(slide_network *net, uint32_t layer, float **weights, float **bias,
                                         size_t *rows, size_t *row_len, size_t *row_stride);

/** Rehashes every neuron of every sampled layer into fresh tables. */
SLIDE_API int slide_network_rebuild_tables(slide_network *net);

/** Bytes of memory owned by the network (parameters, optimizer state, tables, scratch). */
SLIDE_API size_t slide_network_memory_bytes(const slide_network *net);

/**
 * Saves the model (configuration, parameters, optimizer state, step count) to `path` in a versioned,
 * checksummed file. The file is written to a temporary name, flushed with fsync and renamed, so an
 * interrupted save never leaves a partial file at `path`.
 */
SLIDE_API int slide_network_save(const slide_network *net, const char *path);
/** Loads a file written by slide_network_save; tables are rebuilt from the loaded weights. */
SLIDE_API int slide_network_load(const char *path, slide_network **out);

/* ------------------------------------------------------------------ datasets */

typedef struct slide_dataset slide_dataset;

/**
 * Reads an Extreme Classification Repository file: a header line `num_points num_features num_labels`,
 * then one line per point `l1,l2,... f:v f:v ...` with 0-based ids (a point may have no labels: the
 * line then starts with a space). Gzip-compressed files are read transparently when the library was
 * built with zlib. Any malformed input fails with SLIDE_E_FORMAT and a message naming file, line and
 * problem.
 */
SLIDE_API int slide_dataset_load_xc(const char *path, slide_dataset **out);
SLIDE_API void slide_dataset_free(slide_dataset *ds);

/**
 * Borrowed views of the features (CSR, float values) and labels (CSR, values NULL). Valid until the
 * dataset is freed.
 */
SLIDE_API int slide_dataset_features(const slide_dataset *ds, slide_matrix *out);
SLIDE_API int slide_dataset_labels(const slide_dataset *ds, slide_matrix *out);

/* ------------------------------------------------------------------ metrics */

/**
 * Precision@k summed over samples: for each of n samples with predicted ids `pred[i*k_pred ..]`,
 * counts how many of the first j predictions (j = 1..k_max) are in the sample's label row `Y` (rows
 * `rows[i]`, NULL: i). Writes k_max sums into out_hits (hits at k=j, not yet divided by j or n).
 */
SLIDE_API int slide_precision_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n,
                                   const int32_t *pred, uint32_t k_pred, uint32_t k_max, double *out_hits);

#ifdef __cplusplus
}
#endif
#endif /* SLIDE_SLIDE_H */
