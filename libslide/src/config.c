/* Configuration defaults (the public slide_*_config_init) and validation (see config.h). */
#include <math.h>
#include <string.h>

#include "config.h"
#include "error.h"

/* The public header maps slide_X_init(cfg) to slide_X_init_v(cfg, sizeof): the exported functions of
 * that name, for programs built against older headers, are defined below with the macros out of the way. */
#undef slide_lsh_config_init
#undef slide_layer_config_init
#undef slide_optimizer_config_init
#undef slide_network_config_init
#undef slide_libsvm_options_init

#define END(T, f) SLIDE_FIELD_END(T, f)

/* End offsets of every field, in order, per versioned struct (explicit padding counts as a field). */
static const size_t lsh_ends[] = {
    END(slide_lsh_config, struct_size), END(slide_lsh_config, hash), END(slide_lsh_config, k),
    END(slide_lsh_config, tables), END(slide_lsh_config, bucket_size), END(slide_lsh_config, bucket_bits),
    END(slide_lsh_config, insertion), END(slide_lsh_config, active_fraction), END(slide_lsh_config, min_active),
    END(slide_lsh_config, rebuild_period), END(slide_lsh_config, bin_size), END(slide_lsh_config, rule),
    END(slide_lsh_config, threshold), END(slide_lsh_config, max_active), END(slide_lsh_config, rebuild_growth),
    END(slide_lsh_config, rehash_touched), END(slide_lsh_config, batch_shared),
    END(slide_lsh_config, random_fraction), END(slide_lsh_config, logq_correction),
    END(slide_lsh_config, rescore),
};
static const size_t layer_ends[] = {
    END(slide_layer_config, struct_size), END(slide_layer_config, units), END(slide_layer_config, activation),
    END(slide_layer_config, lsh), END(slide_layer_config, storage), END(slide_layer_config, reserved0),
};
static const size_t opt_ends[] = {
    END(slide_optimizer_config, struct_size), END(slide_optimizer_config, kind), END(slide_optimizer_config, lr),
    END(slide_optimizer_config, beta1), END(slide_optimizer_config, beta2), END(slide_optimizer_config, eps),
    END(slide_optimizer_config, weight_decay), END(slide_optimizer_config, catch_up),
    END(slide_optimizer_config, reserved0),
};
static const size_t net_ends[] = {
    END(slide_network_config, struct_size), END(slide_network_config, input_dim),
    END(slide_network_config, n_layers), END(slide_network_config, layers), END(slide_network_config, seed),
    END(slide_network_config, threads), END(slide_network_config, reserved0),
};
static const size_t svm_ends[] = {
    END(slide_libsvm_options, struct_size), END(slide_libsvm_options, n_features),
    END(slide_libsvm_options, n_labels), END(slide_libsvm_options, feature_base),
    END(slide_libsvm_options, label_base),
};
static const size_t stats_ends[] = {
    END(slide_batch_stats, struct_size), END(slide_batch_stats, loss), END(slide_batch_stats, active_output),
};
static const size_t info_ends[] = {
    END(slide_layer_info, struct_size), END(slide_layer_info, units), END(slide_layer_info, input_dim),
    END(slide_layer_info, activation), END(slide_layer_info, sampled), END(slide_layer_info, neuron_major),
    END(slide_layer_info, samples_seen), END(slide_layer_info, active_total),
    END(slide_layer_info, rebuilds), END(slide_layer_info, row_stride), END(slide_layer_info, storage),
    END(slide_layer_info, reserved0),
};
static const size_t diag_ends[] = {
    END(slide_layer_diagnosis, struct_size), END(slide_layer_diagnosis, layer), END(slide_layer_diagnosis, sampled),
    END(slide_layer_diagnosis, mean_active), END(slide_layer_diagnosis, min_active),
    END(slide_layer_diagnosis, p50_active), END(slide_layer_diagnosis, p90_active),
    END(slide_layer_diagnosis, max_active), END(slide_layer_diagnosis, recall), END(slide_layer_diagnosis, madds),
    END(slide_layer_diagnosis, madds_dense),
};
static const size_t table_ends[] = {
    END(slide_table_stats, struct_size), END(slide_table_stats, tables), END(slide_table_stats, buckets),
    END(slide_table_stats, bucket_capacity), END(slide_table_stats, units), END(slide_table_stats, present),
    END(slide_table_stats, reserved), END(slide_table_stats, present_share),
    END(slide_table_stats, entries_per_neuron), END(slide_table_stats, mean_fill), END(slide_table_stats, max_fill),
    END(slide_table_stats, full_share), END(slide_table_stats, dropped), END(slide_table_stats, table_bytes),
};
static const size_t row_adam_ends[] = {
    END(slide_row_adam_config, struct_size), END(slide_row_adam_config, lr), END(slide_row_adam_config, beta1),
    END(slide_row_adam_config, beta2), END(slide_row_adam_config, eps), END(slide_row_adam_config, weight_decay),
    END(slide_row_adam_config, threads), END(slide_row_adam_config, step),
};

#define N_(a) (sizeof(a) / sizeof(a)[0])
static const struct {
    const size_t *ends;
    size_t n;
} struct_fields[SLIDE_STRUCT_COUNT] = {
    [SLIDE_STRUCT_LSH_CONFIG] = {lsh_ends, N_(lsh_ends)},
    [SLIDE_STRUCT_LAYER_CONFIG] = {layer_ends, N_(layer_ends)},
    [SLIDE_STRUCT_OPTIMIZER_CONFIG] = {opt_ends, N_(opt_ends)},
    [SLIDE_STRUCT_NETWORK_CONFIG] = {net_ends, N_(net_ends)},
    [SLIDE_STRUCT_LIBSVM_OPTIONS] = {svm_ends, N_(svm_ends)},
    [SLIDE_STRUCT_BATCH_STATS] = {stats_ends, N_(stats_ends)},
    [SLIDE_STRUCT_LAYER_INFO] = {info_ends, N_(info_ends)},
    [SLIDE_STRUCT_LAYER_DIAGNOSIS] = {diag_ends, N_(diag_ends)},
    [SLIDE_STRUCT_TABLE_STATS] = {table_ends, N_(table_ends)},
    [SLIDE_STRUCT_ROW_ADAM_CONFIG] = {row_adam_ends, N_(row_adam_ends)},
};

/* No hidden tail padding in 0.5 (the next field appended goes at sizeof): each table ends at its sizeof. */
_Static_assert(sizeof(slide_lsh_config) == END(slide_lsh_config, rescore), "slide_lsh_config has hidden padding");
_Static_assert(sizeof(slide_layer_config) == END(slide_layer_config, reserved0), "slide_layer_config has hidden padding");
_Static_assert(sizeof(slide_optimizer_config) == END(slide_optimizer_config, reserved0), "hidden padding");
_Static_assert(sizeof(slide_network_config) == END(slide_network_config, reserved0), "hidden padding");
_Static_assert(sizeof(slide_libsvm_options) == END(slide_libsvm_options, label_base), "hidden padding");
_Static_assert(sizeof(slide_layer_info) == END(slide_layer_info, reserved0), "hidden tail padding");
_Static_assert(sizeof(slide_table_stats) == END(slide_table_stats, table_bytes), "hidden padding");
_Static_assert(sizeof(slide_layer_diagnosis) == END(slide_layer_diagnosis, madds_dense), "hidden padding");
_Static_assert(sizeof(slide_batch_stats) == END(slide_batch_stats, active_output), "hidden padding");
_Static_assert(sizeof(slide_row_adam_config) == END(slide_row_adam_config, step), "hidden padding");

size_t slide_whole_fields(int id, size_t size)
{
    size_t got = 0;
    for (size_t i = 0; i < struct_fields[id].n; i++)
        if (struct_fields[id].ends[i] <= size)
            got = struct_fields[id].ends[i];
    return got;
}

size_t slide_copy_out(int id, void *dst, const void *full, size_t dst_size)
{
    size_t n = slide_whole_fields(id, dst_size);
    memcpy(dst, full, n);
    return n;
}

/*
 * The first published (0.1) layouts end here: what the size-less exported initialisers fill, since the
 * program calling them may have been compiled against that header.
 */
#define LSH_0_1 END(slide_lsh_config, bin_size)
#define LAYER_0_1 END(slide_layer_config, lsh)
#define OPT_0_1 END(slide_optimizer_config, eps)
#define NET_0_1 END(slide_network_config, threads)
#define SVM_0_1 END(slide_libsvm_options, label_base)

/* Writes exactly `size` bytes at cfg: zeros, then the whole fields of `full` that fit; sets struct_size. */
static int init_into(int id, const char *name, void *cfg, size_t size, size_t min_size, const void *full)
{
    if (!cfg)
        return slide_fail(SLIDE_E_INVALID, "%s_init_v: cfg is NULL", name);
    if (size < min_size)
        return slide_fail(SLIDE_E_INVALID, "%s_init_v: size %zu is smaller than the first published %s (%zu bytes)",
                          name, size, name, min_size);
    memset(cfg, 0, size);
    size_t n = slide_copy_out(id, cfg, full, size);
    memcpy(cfg, &n, sizeof n); /* struct_size is the first field of every versioned struct */
    return SLIDE_OK;
}

static void lsh_defaults(slide_lsh_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    /*
     * Defaults measured with bench/ablation.py and bench/vs_torch.py on debdeps, revdict and the realistic
     * Amazon shape (docs/benchmarks.md): for a softmax layer one shared set per batch of uniformly drawn
     * negatives with the logQ correction trained best per sample and per second; no hash family beat it at
     * equal active count. The tables (SimHash, the best recall of the families) serve sampled prediction and
     * any retrieval share. A hidden layer needs the neurons that fire, so its automatic settings (resolved in
     * slide_sampler_setup) are per-sample selection without draws: exact top-k, which measured faster and at
     * least as accurate as SimHash retrieval with rescoring (bench/step_time.py, bench/wide.py, 0.5).
     */
    cfg->hash = "auto";
    cfg->k = 0;      /* auto: by the layer's kind, see SLIDE_AUTO_OUTPUT_K */
    cfg->tables = 0; /* auto */
    cfg->bucket_size = 0; /* auto: sized to hold the layer (0.4; 128 before) */
    cfg->bucket_bits = 0;
    cfg->insertion = SLIDE_INSERT_FIFO;
    cfg->active_fraction = 0.0f; /* auto: see slide_lsh_config */
    cfg->min_active = 0;
    cfg->rebuild_period = 50;
    cfg->bin_size = 8;
    cfg->rule = SLIDE_SAMPLE_TOPK;
    cfg->threshold = 2;
    cfg->max_active = 0;
    cfg->rebuild_growth = 1.0f;
    cfg->rehash_touched = 0;
    cfg->batch_shared = SLIDE_AUTO_BATCH_SHARED;
    cfg->random_fraction = SLIDE_AUTO_RANDOM_FRACTION;
    cfg->logq_correction = 1;
    cfg->rescore = 0; /* auto: by the layer's kind, see SLIDE_AUTO_HIDDEN_RESCORE */
}


static void layer_defaults(slide_layer_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->units = 0;
    cfg->activation = SLIDE_ACT_RELU;
    cfg->lsh = NULL;
    cfg->storage = SLIDE_STORAGE_F32;
}

static void optimizer_defaults(slide_optimizer_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->kind = SLIDE_OPT_ADAM;
    cfg->lr = 2e-3f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = 0.0f;
    cfg->catch_up = 1;
}

static void row_adam_defaults(slide_row_adam_config *cfg)
{
    cfg->lr = 1e-3f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = 0.0f;
    cfg->threads = 0;
    cfg->step = 0;
}

static void libsvm_defaults(slide_libsvm_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    opt->feature_base = 1;
    opt->label_base = 0;
}

#define DEFINE_INIT_V(T, id, defaults_stmt, min)                                         \
    int T##_init_v(T *cfg, size_t size)                                                  \
    {                                                                                    \
        T full;                                                                          \
        memset(&full, 0, sizeof full);                                                   \
        full.struct_size = sizeof full;                                                  \
        defaults_stmt;                                                                   \
        return init_into((id), #T, cfg, size, (min), &full);                             \
    }
#define DEFINE_INIT(T, id, defaults_stmt, min)                                           \
    DEFINE_INIT_V(T, id, defaults_stmt, min)                                             \
    void T##_init(T *cfg)                                                                \
    {                                                                                    \
        if (cfg)                                                                         \
            (void)T##_init_v(cfg, (min));                                                \
    }

DEFINE_INIT_V(slide_lsh_config, SLIDE_STRUCT_LSH_CONFIG, lsh_defaults(&full), LSH_0_1)
/*
 * The size-less symbol is what programs built against 0.1-0.4 headers call: they get the k and tables those
 * headers documented (6 and 50, now the softmax layer's automatic values) rather than 0, which they may
 * read; the fields their struct lacks take the library's defaults, automatic ones included.
 */
void slide_lsh_config_init(slide_lsh_config *cfg)
{
    if (cfg && slide_lsh_config_init_v(cfg, LSH_0_1) == SLIDE_OK) {
        cfg->k = SLIDE_AUTO_OUTPUT_K;
        cfg->tables = SLIDE_AUTO_OUTPUT_TABLES;
    }
}

DEFINE_INIT(slide_layer_config, SLIDE_STRUCT_LAYER_CONFIG, layer_defaults(&full), LAYER_0_1)
DEFINE_INIT(slide_optimizer_config, SLIDE_STRUCT_OPTIMIZER_CONFIG, optimizer_defaults(&full), OPT_0_1)
DEFINE_INIT(slide_network_config, SLIDE_STRUCT_NETWORK_CONFIG, (void)0, NET_0_1)
DEFINE_INIT(slide_libsvm_options, SLIDE_STRUCT_LIBSVM_OPTIONS, libsvm_defaults(&full), SVM_0_1)
/* New in 0.5: no size-less symbol for older headers, which never had it. */
DEFINE_INIT_V(slide_row_adam_config, SLIDE_STRUCT_ROW_ADAM_CONFIG, row_adam_defaults(&full),
              END(slide_row_adam_config, step))

int slide_check_weight_decay(float lr, float weight_decay)
{
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay) || !(lr * weight_decay < 1.0f))
        return slide_fail(SLIDE_E_INVALID, "optimizer: weight_decay must be >= 0 with lr * weight_decay < 1 (got %g, lr %g)",
                          (double)weight_decay, (double)lr);
    return SLIDE_OK;
}

int slide_optimizer_config_check(const slide_optimizer_config *opt)
{
    if (opt->kind != SLIDE_OPT_ADAM && opt->kind != SLIDE_OPT_SGD)
        return slide_fail(SLIDE_E_INVALID, "optimizer kind %d is unknown", opt->kind);
    /* Each message names the field and the value (0.5; before, one message listed every rule). */
    if (!(opt->lr > 0.0f) || !isfinite(opt->lr))
        return slide_fail(SLIDE_E_INVALID, "optimizer: lr must be a finite number > 0, got %g", (double)opt->lr);
    if (!(opt->beta1 >= 0.0f && opt->beta1 < 1.0f))
        return slide_fail(SLIDE_E_INVALID, "optimizer: beta1 must be in [0, 1), got %g", (double)opt->beta1);
    if (!(opt->beta2 >= 0.0f && opt->beta2 < 1.0f))
        return slide_fail(SLIDE_E_INVALID, "optimizer: beta2 must be in [0, 1), got %g", (double)opt->beta2);
    if (!(opt->eps > 0.0f) || !isfinite(opt->eps))
        return slide_fail(SLIDE_E_INVALID, "optimizer: eps must be a finite number > 0, got %g", (double)opt->eps);
    if (slide_check_weight_decay(opt->lr, opt->weight_decay))
        return SLIDE_E_INVALID;
    if (opt->catch_up != 0 && opt->catch_up != 1)
        return slide_fail(SLIDE_E_INVALID, "optimizer: catch_up must be 0 or 1, got %d", opt->catch_up);
    return SLIDE_OK;
}

int slide_lsh_config_check(const slide_lsh_config *c, uint32_t units, uint32_t index)
{
    if (c->k == 0)
        return slide_fail(SLIDE_E_INVALID, "layer %u: k must be >= 1, got 0", index);
    if (c->tables == 0 || c->tables > 4096)
        return slide_fail(SLIDE_E_INVALID, "layer %u: tables must be in [1, 4096], got %u", index, c->tables);
    if (c->bucket_size > 65536)
        return slide_fail(SLIDE_E_INVALID, "layer %u: bucket_size must be <= 65536 (0 = auto), got %u", index,
                          c->bucket_size);
    if (c->insertion != SLIDE_INSERT_FIFO && c->insertion != SLIDE_INSERT_RESERVOIR)
        return slide_fail(SLIDE_E_INVALID, "layer %u: unknown insertion policy %d", index, c->insertion);
    if (!(c->active_fraction >= 0.0f && c->active_fraction <= 1.0f))
        return slide_fail(SLIDE_E_INVALID, "layer %u: active_fraction must be in [0, 1] (0 = auto), got %g", index,
                          (double)c->active_fraction);
    if (c->rebuild_period == 0)
        return slide_fail(SLIDE_E_INVALID, "layer %u: rebuild_period must be >= 1", index);
    if (c->rule != SLIDE_SAMPLE_TOPK && c->rule != SLIDE_SAMPLE_UNION && c->rule != SLIDE_SAMPLE_THRESHOLD)
        return slide_fail(SLIDE_E_INVALID, "layer %u: unknown sampling rule %d", index, c->rule);
    if (c->rule == SLIDE_SAMPLE_THRESHOLD && (c->threshold < 1 || c->threshold > c->tables))
        return slide_fail(SLIDE_E_INVALID, "layer %u: threshold must be in [1, tables = %u], got %u", index, c->tables,
                          c->threshold);
    if (!(c->rebuild_growth >= 1.0f && c->rebuild_growth <= 100.0f))
        return slide_fail(SLIDE_E_INVALID, "layer %u: rebuild_growth must be in [1, 100], got %g", index,
                          (double)c->rebuild_growth);
    if (c->logq_correction != 0 && c->logq_correction != 1)
        return slide_fail(SLIDE_E_INVALID, "layer %u: logq_correction must be 0 or 1, got %d", index, c->logq_correction);
    if (!(c->random_fraction >= 0.0f && c->random_fraction <= 1.0f))
        return slide_fail(SLIDE_E_INVALID, "layer %u: random_fraction must be in [0, 1] (-1 = auto), got %g", index,
                          (double)c->random_fraction);
    if (c->batch_shared != 0 && c->batch_shared != 1)
        return slide_fail(SLIDE_E_INVALID, "layer %u: batch_shared must be 0 or 1 (-1 = auto), got %d", index,
                          c->batch_shared);
    if (c->rescore < 1 || c->rescore > SLIDE_RESCORE_MAX)
        return slide_fail(SLIDE_E_INVALID, "layer %u: rescore must be in [1, %d] (0 = auto), got %u", index,
                          SLIDE_RESCORE_MAX, c->rescore);
    if (c->max_active > units)
        return slide_fail(SLIDE_E_INVALID, "layer %u: max_active %u exceeds the layer's %u units", index,
                          c->max_active, units);
    return SLIDE_OK;
}
