/* Hand-written cffi declarations mirroring libslide/include/slide/slide.h (checked at compile time). */
unsigned slide_version(void);
const char *slide_version_string(void);
const char *slide_kernel_isa(void);

typedef enum slide_status {
    SLIDE_OK = 0,
    SLIDE_E_INVALID = -1,
    SLIDE_E_NOMEM = -2,
    SLIDE_E_IO = -3,
    SLIDE_E_FORMAT = -4,
    SLIDE_E_UNSUPPORTED = -5,
    SLIDE_E_BUSY = -6,
    SLIDE_E_NUMERIC = -7,
    SLIDE_E_NOT_FOUND = -8
} slide_status;

#define SLIDE_AUTO_ACTIVE_MIN 1024
#define SLIDE_AUTO_ACTIVE_MAX 4096
#define SLIDE_AUTO_HIDDEN_RESCORE 8

const char *slide_status_string(int status);
const char *slide_last_error(void);

typedef enum slide_matrix_kind { SLIDE_MATRIX_DENSE = 0, SLIDE_MATRIX_CSR = 1 } slide_matrix_kind;

typedef struct slide_matrix {
    int kind;
    int64_t rows;
    int64_t cols;
    const float *values;
    const int64_t *indptr;
    const int32_t *indices;
} slide_matrix;

int slide_hash_backend_count(void);
const char *slide_hash_backend_name(int i);
struct slide_hash_family;
int slide_hash_backend_register(const struct slide_hash_family *family);
int slide_hash_backend_load(const char *path);

typedef enum slide_activation { SLIDE_ACT_RELU = 0, SLIDE_ACT_SOFTMAX = 1, SLIDE_ACT_LINEAR = 2 } slide_activation;
typedef enum slide_insertion { SLIDE_INSERT_FIFO = 0, SLIDE_INSERT_RESERVOIR = 1 } slide_insertion;
typedef enum slide_sampling_rule {
    SLIDE_SAMPLE_TOPK = 0, SLIDE_SAMPLE_UNION = 1, SLIDE_SAMPLE_THRESHOLD = 2
} slide_sampling_rule;

typedef struct slide_lsh_config {
    size_t struct_size;
    const char *hash;
    uint32_t k;
    uint32_t tables;
    uint32_t bucket_size;
    uint32_t bucket_bits;
    int insertion;
    float active_fraction;
    uint32_t min_active;
    uint32_t rebuild_period;
    uint32_t bin_size;
    int rule;
    uint32_t threshold;
    uint32_t max_active;
    float rebuild_growth;
    int rehash_touched;
    int batch_shared;
    float random_fraction;
    int logq_correction;
    uint32_t rescore;
} slide_lsh_config;
int slide_lsh_config_init_v(slide_lsh_config *cfg, size_t size);

typedef enum slide_storage { SLIDE_STORAGE_F32 = 0, SLIDE_STORAGE_BF16 = 1 } slide_storage;

typedef struct slide_layer_config {
    size_t struct_size;
    uint32_t units;
    int activation;
    const slide_lsh_config *lsh;
    int storage;
    int32_t reserved0;
} slide_layer_config;
int slide_layer_config_init_v(slide_layer_config *cfg, size_t size);

typedef enum slide_optimizer_kind { SLIDE_OPT_ADAM = 0, SLIDE_OPT_SGD = 1 } slide_optimizer_kind;

typedef struct slide_optimizer_config {
    size_t struct_size;
    int kind;
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    int catch_up;
    int32_t reserved0;
} slide_optimizer_config;
int slide_optimizer_config_init_v(slide_optimizer_config *cfg, size_t size);

typedef struct slide_network_config {
    size_t struct_size;
    uint32_t input_dim;
    uint32_t n_layers;
    const slide_layer_config *const *layers;
    uint64_t seed;
    int threads;
    int32_t reserved0;
} slide_network_config;
int slide_network_config_init_v(slide_network_config *cfg, size_t size);

typedef struct slide_network slide_network;
int slide_network_create(const slide_network_config *cfg, const slide_optimizer_config *opt, slide_network **out);
void slide_network_free(slide_network *net);
int slide_network_set_threads(slide_network *net, int threads);
int slide_network_get_threads(const slide_network *net);
int slide_network_set_learning_rate(slide_network *net, float lr);
int slide_network_get_optimizer(const slide_network *net, slide_optimizer_config *out);

typedef struct slide_batch_stats {
    size_t struct_size;
    double loss;
    double active_output;
} slide_batch_stats;

int slide_network_train_batch(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                              const int64_t *rows, int64_t n, slide_batch_stats *stats);
int slide_network_train_begin(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                              const int64_t *rows, int64_t n, slide_batch_stats *stats, float *grad_input,
                              size_t grad_len);
int slide_network_train_apply(slide_network *net);
int slide_network_train_cancel(slide_network *net);
int slide_network_shard_forward(slide_network *net, const slide_matrix *X, const slide_matrix *Y,
                                const int64_t *rows, int64_t n, const uint32_t *label_counts, float *max_out,
                                float *sumexp_out);
int slide_network_shard_backward(slide_network *net, const float *log_norm, slide_batch_stats *stats,
                                 float *grad_input, size_t grad_len);

typedef enum slide_predict_mode { SLIDE_PREDICT_EXACT = 0, SLIDE_PREDICT_SAMPLED = 1 } slide_predict_mode;
int slide_network_predict_topk(slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n,
                               uint32_t k, int mode, int32_t *out_ids, float *out_scores);

typedef struct slide_layer_info {
    size_t struct_size;
    uint32_t units;
    uint32_t input_dim;
    int activation;
    int sampled;
    int neuron_major;
    uint64_t samples_seen;
    uint64_t active_total;
    uint64_t rebuilds;
    size_t row_stride;
    int storage;
    int32_t reserved0;
} slide_layer_info;

uint32_t slide_network_layer_count(const slide_network *net);
uint64_t slide_network_step_count(const slide_network *net);
int slide_network_layer_info(const slide_network *net, uint32_t layer, slide_layer_info *info);
int slide_network_reset_counters(slide_network *net);
int slide_network_layer_params(slide_network *net, uint32_t layer, float **weights, float **bias,
                               size_t *rows, size_t *row_len, size_t *row_stride);
int slide_network_get_weights(slide_network *net, uint32_t layer, float *out, size_t n);
int slide_network_set_weights(slide_network *net, uint32_t layer, const float *in, size_t n);
int slide_network_rebuild_tables(slide_network *net);

typedef struct slide_layer_diagnosis {
    size_t struct_size;
    uint32_t layer;
    int sampled;
    double mean_active;
    double min_active, p50_active, p90_active, max_active;
    double recall;
    double madds;
    double madds_dense;
} slide_layer_diagnosis;
int slide_network_diagnose(slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n,
                           slide_layer_diagnosis *out, uint32_t n_out);
typedef struct slide_table_stats {
    size_t struct_size;
    uint32_t tables;
    uint32_t buckets;
    uint32_t bucket_capacity;
    uint32_t units;
    uint32_t present;
    uint32_t reserved;
    double present_share;
    double entries_per_neuron;
    double mean_fill;
    double max_fill;
    double full_share;
    uint64_t dropped;
    uint64_t table_bytes;
} slide_table_stats;
int slide_network_table_stats(slide_network *net, uint32_t layer, slide_table_stats *out);
size_t slide_network_memory_bytes(const slide_network *net);
int slide_network_save(const slide_network *net, const char *path);
int slide_network_load(const char *path, slide_network **out);

typedef struct slide_dataset slide_dataset;
int slide_dataset_load_xc(const char *path, slide_dataset **out);
typedef struct slide_libsvm_options {
    size_t struct_size;
    int64_t n_features;
    int64_t n_labels;
    int feature_base;
    int label_base;
} slide_libsvm_options;
int slide_libsvm_options_init_v(slide_libsvm_options *opt, size_t size);
int slide_dataset_load_libsvm(const char *path, const slide_libsvm_options *opt, slide_dataset **out);
void slide_dataset_free(slide_dataset *ds);
int slide_dataset_features(const slide_dataset *ds, slide_matrix *out);
int slide_dataset_labels(const slide_dataset *ds, slide_matrix *out);

int slide_precision_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred,
                         uint32_t k_pred, uint32_t k_max, double *out_hits);
int slide_ndcg_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred,
                    uint32_t k_pred, uint32_t k_max, double *out_ndcg);

typedef struct slide_row_adam_config {
    size_t struct_size;
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    int threads;
    uint64_t step;
} slide_row_adam_config;
int slide_row_adam_config_init_v(slide_row_adam_config *cfg, size_t size);
int slide_adam_rows(float *weights, float *exp_avg, float *exp_avg_sq, uint64_t *row_step, uint64_t n_table,
                    uint32_t dim, const int64_t *rows, uint64_t n_rows, const float *grad,
                    const slide_row_adam_config *cfg);
