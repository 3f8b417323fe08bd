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
 *    the caller changes fields. See "Binary compatibility" below for exactly what is promised.
 *  - Matrices are passed as borrowed views (`slide_matrix`): the library never keeps a pointer into
 *    caller memory after a call returns.
 *  - Thread safety: different handles may be used from different threads at once. One network must
 *    not be used by two threads at once; the library detects this and returns `SLIDE_E_BUSY`.
 *    Each call parallelises internally with OpenMP.
 *
 * Binary compatibility (what is promised, as of 0.5)
 *  - Exported functions are never removed and their signatures never change; new ones are added.
 *  - Versioned structs (those starting with `size_t struct_size`) only grow at the end: a new field is placed
 *    at or past the sizeof of the previous version, never in its padding. Padding is explicit (`reserved*`
 *    fields: set to 0 by the initialisers, ignored by the library, never given a meaning later), so the
 *    struct_size of every version is distinct.
 *  - The library reads (configs) or writes (outputs) only the whole fields that lie within the caller's
 *    struct_size; a struct_size that ends inside a field covers the fields before it only. Fields beyond it
 *    take their defaults (configs) or are left untouched (outputs). Nothing is ever written past struct_size.
 *  - `slide_X_init(cfg)` is a macro (0.5) for `slide_X_init_v(cfg, sizeof(slide_X))`: the size the program
 *    was compiled with travels with the call, and no byte past it is written.
 *  - Programs compiled against a header older than 0.5 call the exported functions slide_lsh_config_init,
 *    slide_layer_config_init, slide_optimizer_config_init, slide_network_config_init and
 *    slide_libsvm_options_init directly, without a size. These fill only the fields of the first published
 *    (0.1) layout and set struct_size to its end, so they never write past an old program's struct, however
 *    old. Such a program runs with the library's defaults for every field appended since 0.1 (for example
 *    lsh rule and batch_shared, layer storage, optimizer weight_decay and catch_up), even if it sets them:
 *    rebuild it against this header to set them.
 *  - Checked by tests/c/test_old_header.c (one program built against the preserved 0.1 and 0.4 headers and
 *    run against this library, with canaries around every struct) and abi/check.sh (abidiff of the exported
 *    ABI against the committed baseline abi/libslide.abi).
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
#define SLIDE_VERSION_MINOR 4
#define SLIDE_VERSION_PATCH 0
/** Version as one integer: major * 10000 + minor * 100 + patch. */
#define SLIDE_VERSION_NUMBER (SLIDE_VERSION_MAJOR * 10000 + SLIDE_VERSION_MINOR * 100 + SLIDE_VERSION_PATCH)

/** Runtime version of the linked library, as SLIDE_VERSION_NUMBER. */
SLIDE_API unsigned slide_version(void);
/** Runtime version as "major.minor.patch". */
SLIDE_API const char *slide_version_string(void);
/**
 * Instruction set of the numeric kernels this process uses: "scalar", "avx2" (AVX2 + FMA) or "avx512"
 * (AVX-512F), the best the CPU supports unless the environment variable SLIDE_ISA caps it. Chosen once.
 */
SLIDE_API const char *slide_kernel_isa(void);

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

/*
 * Built-in backends, in listing order: "dwta" (densified winner-take-all), "simhash" (signed
 * random projections), "wta" (winner-take-all), "minhash" (densified one-permutation MinHash over the
 * dimensions with value > 0) and "simhash-mips" (asymmetric SimHash ranking neurons by inner product).
 * More can be added at run time; registered backends are never removed. All functions here are
 * thread-safe.
 */

/** Number of registered hash backends. */
SLIDE_API int slide_hash_backend_count(void);
/** Name of backend `i` in [0, count), or NULL when out of range. Names stay valid for the process. */
SLIDE_API const char *slide_hash_backend_name(int i);

struct slide_hash_family; /* the backend interface, defined in <slide/hash_plugin.h> */

/**
 * Adds a backend, which networks may then select by name. `family` and everything it points to must
 * stay valid for the rest of the process (a static struct). Refused with SLIDE_E_INVALID when `family`
 * is NULL, its name is empty, too long or already registered ("backend name 'dwta' is already
 * registered"), or a required function is NULL (every one but hash_item and prepare_items); with
 * SLIDE_E_UNSUPPORTED when its api_version is not SLIDE_HASH_API_VERSION or can_run() <= 0; with
 * SLIDE_E_NOMEM when the registry (32 entries) is full.
 */
SLIDE_API int slide_hash_backend_register(const struct slide_hash_family *family);

/**
 * Loads a backend plugin: a shared module exporting SLIDE_HASH_PLUGIN_ENTRY (see <slide/hash_plugin.h>),
 * opened with RTLD_NOW | RTLD_LOCAL and kept open for the life of the process, then registered as by
 * slide_hash_backend_register. Errors name the path: SLIDE_E_IO "<path>: cannot load: <reason>",
 * SLIDE_E_INVALID "<path>: no entry point slide_hash_plugin_entry", SLIDE_E_UNSUPPORTED
 * "<path>: plugin API version 7, libslide supports 1", and the registration errors above.
 */
SLIDE_API int slide_hash_backend_load(const char *path);

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

/** How retrieved neurons become the active set (labels and padding are added in every rule). */
typedef enum slide_sampling_rule {
    SLIDE_SAMPLE_TOPK = 0,      /**< rank by the number of tables that returned a neuron, keep up to the cap */
    SLIDE_SAMPLE_UNION = 1,     /**< the union of the query's buckets in retrieval order, up to the cap */
    SLIDE_SAMPLE_THRESHOLD = 2  /**< neurons returned by at least `threshold` tables, up to the cap */
} slide_sampling_rule;

/** The automatic cap (active_fraction = 0): this share of the layer, clamped to [MIN, MAX] neurons. */
#define SLIDE_AUTO_ACTIVE_FRACTION 0.05
#define SLIDE_AUTO_ACTIVE_MIN 1024
#define SLIDE_AUTO_ACTIVE_MAX 4096

/**
 * Automatic retrieval settings (hash "auto", k = 0, tables = 0, batch_shared = -1, random_fraction = -1),
 * resolved for the layer they sample (0.5): a softmax layer gets the sampled-softmax defaults (SimHash tables
 * of k = 6 and 50 tables, one set per batch, uniform draws); any other layer (a hidden ReLU or linear layer,
 * whose set must be the neurons that fire) gets per-sample selection without draws, by default exact top-k
 * (hash "auto" resolves to "exact": every pre-activation computed for the batch, which measured faster and
 * at least as accurate than retrieval, bench/wide.py and bench/step_time.py). An explicit hash backend on a
 * hidden layer gets SLIDE_AUTO_HIDDEN_TABLES tables, k = floor(log2(units / (2 cap))) (so a bucket holds
 * about two caps' worth of neurons), at least 1 and at most 16, and rescoring (bench/paper2017.py).
 */
#define SLIDE_AUTO_HASH_OUTPUT "simhash"
#define SLIDE_AUTO_HASH_HIDDEN "exact"
#define SLIDE_AUTO_OUTPUT_K 6
#define SLIDE_AUTO_OUTPUT_TABLES 50
#define SLIDE_AUTO_HIDDEN_TABLES 200
#define SLIDE_AUTO_HIDDEN_RESCORE 8
#define SLIDE_RESCORE_MAX 64
#define SLIDE_AUTO_RANDOM_FRACTION (-1.0f)
#define SLIDE_AUTO_BATCH_SHARED (-1)

/** The automatic bucket size (bucket_size = 0): see slide_lsh_config. */
#define SLIDE_AUTO_BUCKET_MIN 128
#define SLIDE_AUTO_BUCKET_SLACK 2

/**
 * How a sampled layer chooses its active neurons. The defaults (changed in 0.4, measured in
 * docs/benchmarks.md) train a sampled softmax: one set per batch of the batch's labels and uniformly drawn
 * negatives (random_fraction 1, batch_shared 1) with the logQ correction; the SimHash tables then serve
 * sampled prediction. Set random_fraction < 1 to give a share of the set to hash retrieval.
 */
typedef struct slide_lsh_config {
    size_t struct_size;
    const char *hash;         /**< backend name, "exact" or "auto"; default "auto" (0.5; "simhash" before):
                                   SLIDE_AUTO_HASH_OUTPUT on a softmax layer, SLIDE_AUTO_HASH_HIDDEN elsewhere.
                                   Copied, resolved, at network creation */
    uint32_t k;               /**< hash codes per table; default 0 = auto (see SLIDE_AUTO_OUTPUT_K; 6 before 0.5) */
    uint32_t tables;          /**< L, number of tables; default 0 = auto (see SLIDE_AUTO_OUTPUT_TABLES; 50 before 0.5) */
    /**
     * Ids a bucket holds, <= 65,536; default 0 = auto (0.4; 128 before): the smallest power of two >=
     * SLIDE_AUTO_BUCKET_SLACK * units / buckets and >= SLIDE_AUTO_BUCKET_MIN, at most 65,536, so that each
     * table can hold the whole layer twice over. Resolved at network creation (model files store the
     * resolved value; slide_network_table_stats reports it). Table memory is tables * buckets * (size + 1)
     * * 4 bytes: with auto, at most about 16 bytes per neuron and table once units >= 64 * buckets
     * (SimHash k = 6, 50 tables: 13 MB for 17,836 neurons, 26 MB for 55,700), and tables * buckets * 516
     * bytes for smaller layers. An explicit size is kept as given, but a network whose tables * buckets *
     * bucket_size slots cannot hold its units is refused at creation (SLIDE_E_INVALID naming the layer,
     * the numbers and the automatic size); a size that fits in total but not per table leaves neurons out
     * of some tables (see slide_network_table_stats).
     */
    uint32_t bucket_size;
    /**
     * log2 buckets per table; 0 (default) = ceil(log2(units / bucket_size)) (units / SLIDE_AUTO_BUCKET_MIN with
     * the automatic bucket_size), but never fewer than the code bits when codes have <= 10 bits; wider codes
     * are folded.
     */
    uint32_t bucket_bits;
    int insertion;            /**< slide_insertion; default FIFO */
    /**
     * Cap on active neurons as a fraction of the layer, in [0, 1]; default 0 = auto: 5% of the layer, but at
     * least SLIDE_AUTO_ACTIVE_MIN (1,024) and at most SLIDE_AUTO_ACTIVE_MAX (4,096) neurons, and never more
     * than the layer (changed in 0.4; 0.005 before). max_active, when set, takes precedence.
     */
    float active_fraction;
    /**
     * Training sets hold at least this many neurons besides the sample's (or the batch's) labels, padded with
     * uniformly random ones when retrieval and the random share give fewer (0.4: before, the labels counted
     * towards it, so a set could be the labels alone); default 0 = 1/4 of the cap. Never more than the layer.
     */
    uint32_t min_active;
    uint32_t rebuild_period;  /**< rebuild all tables every this many batches; default 50 */
    uint32_t bin_size;        /**< DWTA / WTA bin size (power of two, <= 256); default 8 */
    /* --- appended in 0.1: */
    int rule;                 /**< slide_sampling_rule; default TOPK */
    uint32_t threshold;       /**< THRESHOLD rule: minimum tables; default 2 */
    uint32_t max_active;      /**< cap as a count; 0 = from active_fraction (default) */
    float rebuild_growth;     /**< after each rebuild the period is multiplied by this (>= 1); default 1 */
    int rehash_touched;       /**< 1: between rebuilds, re-hash and re-insert the neurons each batch updated */
    /**
     * 1: while training, the whole batch shares one active set: every label of the batch, then the
     * neurons its samples retrieved most often (collision counts summed over the batch), up to the cap,
     * padded to min_active. Each sample computes the same neurons, so weight rows are reused from
     * cache and the optimizer touches only the cap's worth of rows per batch. Prediction stays per sample.
     * Default SLIDE_AUTO_BATCH_SHARED (-1, 0.5): 1 on a softmax layer, 0 on any other (1 in 0.4, 0 before).
     */
    int batch_shared;
    /* --- appended in 0.2: */
    /**
     * Share of the cap given to uniformly random neurons, in [0, 1], or SLIDE_AUTO_RANDOM_FRACTION (-1, the
     * default since 0.5): 1 on a softmax layer, 0 on any other (1 in 0.4, 0 before). Each sample (or each
     * batch, with batch_shared) retrieves up to (1 - random_fraction) of the cap by LSH and fills
     * round(random_fraction * cap) further slots with random neurons it did not retrieve. Random
     * negatives keep rarely retrieved neurons from drifting up early in training, when the tables still
     * reflect the initial weights; 1 gives a plain uniformly sampled softmax. Training only: sampled
     * predictions give the whole cap to retrieval.
     */
    float random_fraction;
    /* --- appended in 0.4: */
    /**
     * 1: train on an unbiased estimate of the full softmax (a logQ correction; Bengio & Senecal 2008, Jean et
     * al. 2015). The active set is split into a fixed part (labels and retrieved neurons, computed with
     * certainty) and uniformly drawn neurons (the random share and the padding); each drawn neuron stands
     * for (units - fixed) / drawn neurons of the layer, so its logit gets log((units - fixed) / drawn)
     * added before the softmax. The sampled partition sum is then an unbiased estimate of the full one.
     * With batch_shared on a softmax layer (0.5), another row's label is a negative drawn with its label
     * frequency f_j (counted over the rows trained so far and kept in model files): it enters with
     * probability p_j = 1 - (1 - f_j)^(B-1) (1 - u), u = drawn / (units - fixed), and its logit gets
     * -log p_j; a row's own labels get nothing. 0: the softmax over the active set is used as if it were
     * the full one. Training only. Default 1.
     */
    int logq_correction;
    /* --- appended in 0.5 (the word was padding before): */
    /**
     * Rescoring of per-sample retrieval: the want * rescore candidates returned by the most tables get their
     * exact pre-activation w.x + b and the `want` highest are kept (want: the cap less labels and random
     * share). Table hits estimate a neuron's angle to the input; which neurons fire hardest also depends on
     * |w| and the bias. 1: rank by table hits alone; at most SLIDE_RESCORE_MAX. Default 0 = auto:
     * SLIDE_AUTO_HIDDEN_RESCORE on a hidden layer, 1 on a softmax layer (whose training set is batch-shared
     * by default; rescoring serves per-sample selection: per-sample training and sampled predictions).
     */
    uint32_t rescore;
} slide_lsh_config;

/**
 * Fills *cfg with the defaults: writes exactly `size` bytes (zeros past the fields this library knows) and
 * sets struct_size to the end of the last whole field within `size`. SLIDE_E_INVALID when cfg is NULL or
 * `size` is smaller than the 0.1 struct. Added in 0.5; slide_lsh_config_init(cfg) passes sizeof for you.
 */
SLIDE_API int slide_lsh_config_init_v(slide_lsh_config *cfg, size_t size);
/** For programs built against headers before 0.5: fills the 0.1 fields only (see Binary compatibility). */
SLIDE_API void slide_lsh_config_init(slide_lsh_config *cfg);
#define slide_lsh_config_init(cfg) slide_lsh_config_init_v((cfg), sizeof(slide_lsh_config))

/**
 * How a layer stores its weight matrix and, with Adam, the two moment arrays. Biases and their moments are
 * always float32.
 */
typedef enum slide_storage {
    SLIDE_STORAGE_F32 = 0,  /**< float32 (default) */
    /**
     * bfloat16 (the high 16 bits of a float32: same range, 8 significant bits) for the weights and both Adam
     * moments, each rounded to nearest even after every update; compute stays float32. Halves the layer's
     * memory and the bytes each row update reads and writes. LSH-sampled layers only.
     */
    SLIDE_STORAGE_BF16 = 1
} slide_storage;

typedef struct slide_layer_config {
    size_t struct_size;
    uint32_t units;                /**< number of neurons, >= 1 */
    int activation;                /**< slide_activation; default RELU */
    const slide_lsh_config *lsh;   /**< NULL: every neuron is computed; else LSH-sampled */
    /* --- appended in 0.2: */
    /**
     * slide_storage; default F32. BF16 requires `lsh` (fully computed layers stay float32): otherwise
     * slide_network_create fails with SLIDE_E_INVALID.
     */
    int storage;
    int32_t reserved0;             /**< padding made explicit (0.5); 0 */
} slide_layer_config;

/** As slide_lsh_config_init_v. Added in 0.5. */
SLIDE_API int slide_layer_config_init_v(slide_layer_config *cfg, size_t size);
/** For programs built against headers before 0.5: fills the 0.1 fields only. */
SLIDE_API void slide_layer_config_init(slide_layer_config *cfg);
#define slide_layer_config_init(cfg) slide_layer_config_init_v((cfg), sizeof(slide_layer_config))

typedef enum slide_optimizer_kind { SLIDE_OPT_ADAM = 0, SLIDE_OPT_SGD = 1 } slide_optimizer_kind;

typedef struct slide_optimizer_config {
    size_t struct_size;
    int kind;       /**< slide_optimizer_kind; default ADAM */
    float lr;       /**< default 2e-3 (1e-3 before 0.4) */
    float beta1;    /**< default 0.9 */
    float beta2;    /**< default 0.999 */
    float eps;      /**< default 1e-8 */
    /* --- appended in 0.3: */
    /**
     * Decoupled weight decay (AdamW, Loshchilov & Hutter), default 0: each update of a weight row first
     * multiplies it by (1 - lr * weight_decay), lr being the current learning rate without bias
     * correction, as torch.optim.AdamW does. Lazy like the rest of the optimizer: only rows that get a
     * gradient in a batch decay in that batch. Biases never decay. Requires 0 <= lr * weight_decay < 1.
     * SGD applies the same factor.
     */
    float weight_decay;
    /* --- appended in 0.4: */
    /**
     * 1 (default): lazy updates that follow dense Adam. Only rows with a gradient are updated in a batch,
     * but a row's first update after k batches without one first applies what torch.optim.Adam (AdamW)
     * would have done to it in those k batches: its moments decay by beta1^k and beta2^k, its weights move
     * on by the decaying momentum (a geometric sum in closed form, with the bias correction of the first
     * skipped batch) and shrink by (1 - lr * weight_decay)^k. Costs one extra pass over such a row and 8
     * bytes per weight row. 0: untouched rows' moments stay frozen (the rule of torch.optim.SparseAdam,
     * and of libslide before 0.4). SGD catches up weight decay only.
     */
    int catch_up;
    int32_t reserved0;  /**< padding made explicit (0.5); 0 */
} slide_optimizer_config;

/** As slide_lsh_config_init_v. Added in 0.5. */
SLIDE_API int slide_optimizer_config_init_v(slide_optimizer_config *cfg, size_t size);
/** For programs built against headers before 0.5: fills the 0.1 fields only. */
SLIDE_API void slide_optimizer_config_init(slide_optimizer_config *cfg);
#define slide_optimizer_config_init(cfg) slide_optimizer_config_init_v((cfg), sizeof(slide_optimizer_config))

typedef struct slide_network_config {
    size_t struct_size;
    uint32_t input_dim;                        /**< width of the input rows */
    uint32_t n_layers;                         /**< >= 1; the last layer must be SOFTMAX */
    const slide_layer_config *const *layers;   /**< n_layers pointers */
    uint64_t seed;                             /**< all randomness derives from it; default 0 */
    int threads;                               /**< OpenMP threads, <= 4096; 0 = OpenMP default (default) */
    int32_t reserved0;                         /**< padding made explicit (0.5); 0 */
} slide_network_config;

/** As slide_lsh_config_init_v. Added in 0.5. */
SLIDE_API int slide_network_config_init_v(slide_network_config *cfg, size_t size);
/** For programs built against headers before 0.5 (this struct has not changed since 0.1). */
SLIDE_API void slide_network_config_init(slide_network_config *cfg);
#define slide_network_config_init(cfg) slide_network_config_init_v((cfg), sizeof(slide_network_config))

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
/** Sets the optimizer's learning rate (for schedules); lr * weight_decay must stay below 1. */
SLIDE_API int slide_network_set_learning_rate(slide_network *net, float lr);
/**
 * Copies the network's optimizer settings (current learning rate included) into *out, whose struct_size
 * must be set (slide_optimizer_config_init): fields beyond it are not written. Added in 0.3.
 */
SLIDE_API int slide_network_get_optimizer(const slide_network *net, slide_optimizer_config *out);

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
 * updates only those rows. `stats` may be NULL. Every value of the batch's X rows must be finite, and a label row
 * must not repeat an id (0.5: refused, SLIDE_E_INVALID naming the row).
 */
SLIDE_API int slide_network_train_batch(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                                        const int64_t *rows, int64_t n, slide_batch_stats *stats);

/**
 * slide_network_train_batch in two phases, for callers that own the layers below the network (a PyTorch
 * model under libslide.torch). Added in 0.5.
 *
 * slide_network_train_begin runs the forward and backward passes of the batch and writes `stats` (may be
 * NULL) and, when grad_input is not NULL, dL/dX: n x input_dim floats (grad_len >= n * input_dim), row s
 * for sample rows[s], the gradient of the batch's mean loss with respect to every value of that X row,
 * computed from the weights before the update. grad_input needs a dense X. Nothing is updated yet: the
 * network stays claimed (every other call on it, save and predict included, fails with SLIDE_E_BUSY and
 * says a step is pending) until slide_network_train_apply takes the optimizer step exactly as
 * slide_network_train_batch would (the same result to the bit), or slide_network_train_cancel drops it
 * (weights, optimizer state and step count unchanged). X, Y and rows must stay alive and unchanged until
 * then: the update reads X again. A failed begin leaves nothing pending. Apply and cancel fail with
 * SLIDE_E_INVALID when no step is pending.
 */
SLIDE_API int slide_network_train_begin(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                                        const int64_t *rows, int64_t n, slide_batch_stats *stats, float *grad_input,
                                        size_t grad_len);
SLIDE_API int slide_network_train_apply(slide_network *net);
SLIDE_API int slide_network_train_cancel(slide_network *net);

/**
 * A training step of a softmax whose classes are split over processes (shards; libslide.torch uses it with
 * torch.distributed). Each shard is its own network of one batch-shared sampled softmax layer over dense
 * inputs, holding its share of the classes with local ids. Every shard sees the same global batch X (n rows)
 * and Y restricted to its classes (local ids; a row may have none), plus label_counts[s], row s's number of
 * labels over all shards (its target is uniform over them). Added in 0.5.
 *
 * slide_network_shard_forward chooses the shard's active set and computes its logits (logQ-corrected as in
 * training), writing per row their max (max_out[s]) and sum of exp(logit - max) (sumexp_out[s]). The caller
 * combines the shards' into each row's log normaliser, log_norm[s] = M + log(sum over shards of
 * sumexp * exp(max - M)), M the largest max, and passes it to slide_network_shard_backward, which forms the
 * probabilities, the loss of this shard's labels (stats->loss, a mean over the n rows: the shards' sum is the
 * batch's loss) and this shard's part of dL/dX (grad_input, n x input_dim: the shards' parts sum to the
 * gradient). slide_network_train_apply then updates this shard's rows, or slide_network_train_cancel drops
 * the step (also between the two calls). The network stays claimed from the forward to apply or cancel. A
 * log_norm below the shard's own largest logit or not finite is refused and the step stays pending.
 */
SLIDE_API int slide_network_shard_forward(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                                          const int64_t *rows, int64_t n, const uint32_t *label_counts,
                                          float *max_out, float *sumexp_out);
SLIDE_API int slide_network_shard_backward(slide_network *net, const float *log_norm, slide_batch_stats *stats,
                                           float *grad_input, size_t grad_len);

typedef enum slide_predict_mode {
    SLIDE_PREDICT_EXACT = 0,   /**< score every output neuron */
    SLIDE_PREDICT_SAMPLED = 1  /**< score only the neurons the hash tables retrieve */
} slide_predict_mode;

/**
 * Top-k output neurons for samples `rows[0..n)` of X (NULL rows: 0..n-1). Writes n*k ids (int32) and
 * n*k scores (softmax probabilities over the scored neurons), best first. When fewer than k neurons are
 * scored (sampled mode), the tail holds id -1 and score 0. X rows with a NaN or infinite value are refused
 * (SLIDE_E_INVALID naming the row; 0.5), as in training and slide_network_diagnose.
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
    size_t row_stride;        /**< stored elements (floats, or bf16 values) between consecutive weight rows */
    /* --- appended in 0.2: */
    int storage;              /**< slide_storage of the weights */
    int32_t reserved0;        /**< padding made explicit (0.5); 0 */
} slide_layer_info;

SLIDE_API uint32_t slide_network_layer_count(const slide_network *net);
/** Optimizer steps (training batches) applied so far; saved and restored with the model. */
SLIDE_API uint64_t slide_network_step_count(const slide_network *net);
SLIDE_API int slide_network_layer_info(const slide_network *net, uint32_t layer, slide_layer_info *info);
SLIDE_API int slide_network_reset_counters(slide_network *net);

/**
 * Borrowed pointers to a layer's parameters. The weight matrix is stored as `rows` rows of `row_len`
 * floats, `row_stride` floats apart (row_stride >= row_len). Neuron-major layers (sampled) have
 * rows = units, row_len = input_dim; input-major layers have rows = input_dim, row_len = units.
 * The pointers stay valid until the network is freed; writing through them changes the model
 * (call slide_network_rebuild_tables afterwards for sampled layers).
 * A bfloat16 layer has no float weights to point to: asking for `weights` fails with SLIDE_E_INVALID
 * ("layer 1 stores bfloat16 weights: copy them with slide_network_get_weights"); pass weights = NULL to
 * get its bias and shape. slide_network_get_weights / set_weights work for every storage.
 */
SLIDE_API int slide_network_layer_params(slide_network *net, uint32_t layer, float **weights, float **bias,
                                         size_t *rows, size_t *row_len, size_t *row_stride);

/**
 * Copies a layer's weight matrix, as float32, into out[rows * row_len] (rows and row_len as in
 * slide_network_layer_params, packed without padding). `n` is the capacity of out in floats and must equal
 * rows * row_len. bfloat16 weights are widened exactly.
 */
SLIDE_API int slide_network_get_weights(slide_network *net, uint32_t layer, float *out, size_t n);
/**
 * Replaces a layer's weight matrix with in[rows * row_len] (packed as for slide_network_get_weights; n must
 * equal rows * row_len). A bfloat16 layer stores each value rounded to nearest even. Optimizer state is
 * kept; call slide_network_rebuild_tables afterwards for sampled layers.
 */
SLIDE_API int slide_network_set_weights(slide_network *net, uint32_t layer, const float *in, size_t n);

/** Rehashes every neuron of every sampled layer into fresh tables. */
SLIDE_API int slide_network_rebuild_tables(slide_network *net);

/** Quality and cost of the sampling of one layer, averaged over the diagnosed samples. */
typedef struct slide_layer_diagnosis {
    size_t struct_size;
    uint32_t layer;
    int sampled;
    double mean_active;    /**< active neurons per sample */
    double min_active, p50_active, p90_active, max_active;
    double recall;         /**< |active ∩ exact top-k pre-activations| / k with k = active count (1 if dense) */
    double madds;          /**< multiply-adds per sample in this layer as computed (sampled inference) */
    double madds_dense;    /**< multiply-adds per sample if every neuron and input were computed */
} slide_layer_diagnosis;

/**
 * Runs samples `rows[0..n)` of X (NULL: 0..n-1) through the network in sampled inference mode and, for
 * every layer, compares the neurons it computed with the exact top-k by pre-activation. Writes one
 * record per layer into out[0 .. n_out), n_out >= layer count; only out[0].struct_size must be set and
 * gives the distance between records.
 */
SLIDE_API int slide_network_diagnose(slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n,
                                     slide_layer_diagnosis *out, uint32_t n_out);

/**
 * Occupancy of a sampled layer's hash tables: can every neuron be found? Added in 0.4.
 *
 * A neuron is *present* when at least one table holds it; a neuron no table holds can only enter an active
 * set as a label or a random draw, never by retrieval. Fill is the number of ids a bucket holds over its
 * capacity. Offers beyond a bucket's capacity since the last rebuild (`dropped`) each evicted an entry
 * (FIFO) or were kept or dropped at random (reservoir); a layer whose tables drop many neurons is crowded,
 * typically because many neurons hash alike (for instance weight rows aligned with the typical input).
 */
typedef struct slide_table_stats {
    size_t struct_size;
    uint32_t tables;               /**< L */
    uint32_t buckets;              /**< buckets per table (2^bucket_bits) */
    uint32_t bucket_capacity;      /**< ids a bucket holds (the resolved bucket_size) */
    uint32_t units;                /**< neurons in the layer */
    uint32_t present;              /**< neurons held by at least one table */
    uint32_t reserved;             /**< 0 */
    double present_share;          /**< present / units */
    double entries_per_neuron;     /**< ids held in all tables / units (L when every table holds every neuron once) */
    double mean_fill;              /**< mean over all buckets of held / capacity */
    double max_fill;               /**< the fullest bucket's held / capacity (1 when any bucket is full) */
    double full_share;             /**< share of buckets holding `capacity` ids */
    uint64_t dropped;              /**< offers to full buckets since the last rebuild (rebuild and re-hash) */
    uint64_t table_bytes;          /**< memory of the tables: L * buckets * (capacity + 1) * 4 bytes and RNG state */
} slide_table_stats;

/**
 * Fills *out with the occupancy of layer `layer`'s hash tables; out->struct_size must be set (to
 * sizeof(slide_table_stats) or the size of an older, shorter version) and no byte beyond it is written.
 * Fails with SLIDE_E_INVALID for a layer out of range, a fully computed layer ("layer 0 is fully computed:
 * it has no hash tables") or a layer using the "exact" oracle, which reads no tables. Tables that lag the
 * weights because training does not read them (random_fraction 1, see slide_lsh_config) are rebuilt first,
 * as a sampled prediction would, so the figures describe what retrieval would see now. Takes the network
 * like a training call (SLIDE_E_BUSY if another thread is using it).
 */
SLIDE_API int slide_network_table_stats(slide_network *net, uint32_t layer, slide_table_stats *out);

/**
 * Bytes of memory owned by the network (parameters, optimizer state, tables, scratch). A layer's parameters
 * take rows * row_stride * (Adam ? 3 : 1) * e bytes, e = 4 for float32 and 2 for bfloat16 storage, with
 * row_stride = row_len rounded up to 64 bytes; plus 4 * units * (Adam ? 3 : 1) bytes of biases.
 */
SLIDE_API size_t slide_network_memory_bytes(const slide_network *net);

/**
 * Saves the model (configuration, parameters, optimizer state, step count) to `path` in a versioned,
 * checksummed file. The file is written to a temporary name, flushed with fsync and renamed, so an
 * interrupted save never leaves a partial file at `path`. `path` must be a regular file or not exist: a
 * directory, device, FIFO or socket is refused (SLIDE_E_IO), never replaced. A symlink is followed: its
 * target is replaced atomically and the link kept. The file keeps the mode of the file it replaces; a new
 * one gets 0666 minus the umask (0.5; before, always 0644).
 */
SLIDE_API int slide_network_save(const slide_network *net, const char *path);
/**
 * Loads a file written by slide_network_save. The hash tables, their insertion state and (0.5) the item scale
 * of simhash-mips layers are restored as saved, not rebuilt, so training resumes exactly where it stopped.
 * Refuses a path that is a directory or not a regular file (SLIDE_E_IO).
 */
SLIDE_API int slide_network_load(const char *path, slide_network **out);

/* ------------------------------------------------------------------ lazy Adam on caller-owned tables */

/**
 * The step of slide_adam_rows (added in 0.5). Defaults: lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8,
 * weight_decay 0, threads 0; step must be set by the caller.
 */
typedef struct slide_row_adam_config {
    size_t struct_size;
    float lr;            /**< > 0, finite */
    float beta1;         /**< in [0, 1) */
    float beta2;         /**< in [0, 1) */
    float eps;           /**< > 0, finite; added to sqrt(v / (1 - beta2^step)) as torch.optim.Adam does */
    float weight_decay;  /**< decoupled (AdamW), on the updated rows only; 0 <= lr * weight_decay < 1 */
    int threads;         /**< OpenMP threads, <= 4096; 0 = OpenMP default */
    uint64_t step;       /**< this step's number, >= 1: bias correction 1 - beta^step (default 0: refused) */
} slide_row_adam_config;

/** As slide_lsh_config_init_v. Added in 0.5. */
SLIDE_API int slide_row_adam_config_init_v(slide_row_adam_config *cfg, size_t size);
#define slide_row_adam_config_init(cfg) slide_row_adam_config_init_v((cfg), sizeof(slide_row_adam_config))

/**
 * One lazy Adam step on rows of three caller-owned float32 tables of n_table rows by dim columns, row-major
 * and contiguous: `weights` and its moments `exp_avg`, `exp_avg_sq` (zeros before the first step). Entry i
 * of `rows` (in [0, n_table)) gives row rows[i] the gradient grad[i * dim .. (i + 1) * dim). A row listed
 * more than once gets the sum of its gradients, added in list order (an uncoalesced sparse gradient, as
 * torch's EmbeddingBag(sparse=True) produces, can be passed as it is). Each listed row then takes
 * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w = w (1 - lr wd) - lr / (1 - b1^t) * m /
 * (sqrt(v / (1 - b2^t)) + eps), t = cfg->step: torch.optim.AdamW's formula on those rows.
 *
 * row_step NULL: the moments and weights of unlisted rows stay as they are (the lazy rule of
 * torch.optim.SparseAdam, which adds eps to sqrt(v) instead). row_step non-NULL (n_table entries, zeros
 * before the first step, kept by the caller between steps): the step of each row's last update; a listed
 * row last updated at step s < t - 1 first gets, in closed form, what AdamW would have done to it in the
 * t - 1 - s steps without a gradient, as the network's optimizer does with catch_up (slide_optimizer_config),
 * then row_step[row] = t.
 *
 * The embedding tables of a torch model trained beside libslide.torch's head are its use: one pass over
 * each touched row, no gathered copies. Parallel over rows; the result does not depend on the thread
 * count. Nothing is written when the arguments are refused (SLIDE_E_INVALID: a NULL pointer with
 * n_rows > 0, dim 0, a row out of range, a bad config, a row_step entry >= cfg->step) or memory is short
 * (SLIDE_E_NOMEM). n_rows 0 is a no-op. Added in 0.5.
 */
SLIDE_API int slide_adam_rows(float *weights, float *exp_avg, float *exp_avg_sq, uint64_t *row_step,
                              uint64_t n_table, uint32_t dim, const int64_t *rows, uint64_t n_rows,
                              const float *grad, const slide_row_adam_config *cfg);

/* ------------------------------------------------------------------ datasets */

typedef struct slide_dataset slide_dataset;

/**
 * Reads an Extreme Classification Repository file: a header line `num_points num_features num_labels`,
 * then one line per point `l1,l2,... f:v f:v ...` with 0-based ids (a point may have no labels: the
 * line then starts with a space). Gzip-compressed files are read transparently when the library was
 * built with zlib (one or more concatenated members; since 0.5, bytes after them that do not start another
 * member are an error, not ignored). Any malformed input fails with SLIDE_E_FORMAT and a message naming
 * file, line and problem.
 */
SLIDE_API int slide_dataset_load_xc(const char *path, slide_dataset **out);

/**
 * How slide_dataset_load_libsvm reads ids. There is no "auto" base on purpose: guessing it from the
 * ids a file happens to contain can read a training file and its test file with different bases and
 * silently shift every column of one of them.
 */
typedef struct slide_libsvm_options {
    size_t struct_size;
    int64_t n_features;  /**< width of the feature matrix, <= INT32_MAX; 0 (default) = largest id + 1 */
    int64_t n_labels;    /**< width of the label matrix, <= INT32_MAX; 0 (default) = largest id + 1 */
    int feature_base;    /**< 1 (default, the libsvm convention): feature ids start at 1; or 0 */
    int label_base;      /**< 0 (default, as in multi-label XC and scikit-learn files) or 1 */
} slide_libsvm_options;

/** As slide_lsh_config_init_v. Added in 0.5. */
SLIDE_API int slide_libsvm_options_init_v(slide_libsvm_options *opt, size_t size);
/** For programs built against headers before 0.5 (this struct has not changed since 0.1). */
SLIDE_API void slide_libsvm_options_init(slide_libsvm_options *opt);
#define slide_libsvm_options_init(opt) slide_libsvm_options_init_v((opt), sizeof(slide_libsvm_options))

/**
 * Reads a libsvm / svmlight file with comma-separated multi-label lists: one point per line,
 * `l1,l2,... f:v f:v ...`, no header. A point may have no labels (the line then starts with a blank).
 * Ids are stored minus their base (options above; `opt` NULL means the defaults); with an explicit
 * width, an id outside [base, base + width) is an error; "largest id + 1" is counted after the base is
 * removed. `#` starts a comment that runs to the end of the line. A line holding nothing but blanks
 * and/or a comment is skipped: it is not a point. A `qid:<n>` token right after the labels (ranking
 * files) is checked and ignored. Feature ids may come in any order; a repeated feature or label id in
 * one line is an error, as in XC files. Blanks are spaces and tabs; CRLF line endings, a missing final
 * newline and gzip compression (when built with zlib) are handled as for slide_dataset_load_xc. An
 * empty file is a dataset of zero points. Malformed input fails with SLIDE_E_FORMAT and a message
 * naming file, line and problem; invalid options with SLIDE_E_INVALID.
 */
SLIDE_API int slide_dataset_load_libsvm(const char *path, const slide_libsvm_options *opt, slide_dataset **out);
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

/**
 * nDCG@k summed over samples, as in the extreme-classification literature (binary relevance, no
 * propensities): for j = 1..k_max, out_ndcg[j-1] = sum over samples of DCG@j / IDCG@j, where DCG@j =
 * sum over the first j predictions that are labels of 1 / log2(rank + 1), and IDCG@j is the same for
 * min(j, labels of the sample) hits at the top. Samples without labels count 0. Divide by n to average.
 * Label rows must have no duplicate ids (both metrics refuse one since 0.5, naming the row). Arguments as for
 * slide_precision_at_k.
 */
SLIDE_API int slide_ndcg_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred,
                              uint32_t k_pred, uint32_t k_max, double *out_ndcg);

#ifdef __cplusplus
}
#endif
#endif /* SLIDE_SLIDE_H */
