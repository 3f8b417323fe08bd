/* Network lifecycle: creation, the busy claim, parameters and counters, and teardown. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "config.h"
#include "error.h"
#include "kernels.h"
#include "network.h"
#include "rng.h"
#include "rows.h"

/* Largest allocation a single network array may request (guards size_t overflow and absurd shapes). */
#define SLIDE_MAX_ARRAY_BYTES ((size_t)1 << 40)

/* ------------------------------------------------------------------ claim and threads */

int slide_network_claim(slide_network *net, const char *what)
{
    if (atomic_flag_test_and_set(&net->busy)) {
        if (net->pending.active || net->pending.awaiting_backward)
            return slide_fail(SLIDE_E_BUSY, "%s: a training step is pending (slide_network_train_begin or "
                                            "slide_network_shard_forward); apply or cancel it first", what);
        return slide_fail(SLIDE_E_BUSY, "%s: the network is in use by another thread", what);
    }
    return SLIDE_OK;
}

void slide_network_release(slide_network *net) { atomic_flag_clear(&net->busy); }

int slide_network_threads_for_call(const slide_network *net)
{
#ifdef _OPENMP
    int t = net->threads > 0 ? net->threads : omp_get_max_threads();
    return t > 0 ? t : 1;
#else
    (void)net;
    return 1;
#endif
}

/* ------------------------------------------------------------------ create / free */

static void layer_free(slide_layer *L)
{
    slide_aligned_free(L->params);
    free(L->bias);
    free(L->bias_m);
    free(L->bias_v);
    free(L->row_slot);
    free(L->row_step);
    slide_sampler_free(L);
}

void slide_network_free(slide_network *net)
{
    if (!net)
        return;
    for (uint32_t l = 0; l < net->n_layers && net->layers; l++)
        layer_free(&net->layers[l]);
    free(net->layers);
    free(net->pending.layer_active);
    free(net->pending.label_counts);
    slide_scratch_free_all(net);
    free(net->touched);
    free(net->pair_off);
    free(net->pair_sample);
    free(net->pair_coef);
    free(net->stage_row);
    free(net->stage_sample);
    free(net->stage_coef);
    free(net->part_row);
    free(net->part_count);
    free(net);
}


/* Uniform initialisation: He (variance 2 / fan_in) for ReLU layers, 1 / (3 fan_in) for softmax, 1 / fan_in for linear. */
static void layer_init_params(slide_layer *L, uint64_t seed, uint32_t index, int nt)
{
    /*
     * The softmax layer starts as torch.nn.Linear does, U(+-1/sqrt(fan_in)). A 10x smaller start (libslide before
     * 0.4) kept the logits near zero for the first epoch and learned measurably slower per sample on debdeps and
     * revdict (bench/parity.py): the gradients reaching the hidden layer scale with these weights.
     */
    float limit = L->activation == SLIDE_ACT_RELU      ? sqrtf(6.0f / (float)L->in_dim)
                  : L->activation == SLIDE_ACT_SOFTMAX ? 1.0f / sqrtf((float)L->in_dim)
                                                       : sqrtf(3.0f / (float)L->in_dim);
    int64_t rows = (int64_t)L->rows;
    const size_t e = slide_elem_bytes(L->storage);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        slide_rng rng = {slide_seed3(seed, 0x1217, index, (uint64_t)r)};
        /* The same random stream for both storages: a bf16 layer starts from the rounded float32 init. */
        if (slide_is_bf16(L)) {
            slide_bf16 *w = slide_row_wh(L, (size_t)r);
            for (size_t i = 0; i < L->row_len; i++)
                w[i] = slide_bf16_from_f32((2.0f * slide_rng_unit(&rng) - 1.0f) * limit);
        } else {
            float *w = slide_row_w(L, (size_t)r);
            for (size_t i = 0; i < L->row_len; i++)
                w[i] = (2.0f * slide_rng_unit(&rng) - 1.0f) * limit;
        }
        memset((char *)L->params + ((size_t)r * L->block + L->row_len) * e, 0, e * (L->block - L->row_len));
    }
}


int slide_network_create_internal(const slide_network_config *cfg_in, const slide_optimizer_config *opt_in,
                                  int init_params, slide_network **out)
{
    if (!out)
        return slide_fail(SLIDE_E_INVALID, "out is NULL");
    *out = NULL;
    if (!cfg_in)
        return slide_fail(SLIDE_E_INVALID, "config is NULL");
    if (cfg_in->struct_size < offsetof(slide_network_config, layers) + sizeof(void *))
        return slide_fail(SLIDE_E_INVALID, "network config struct_size %zu is too small (call slide_network_config_init)",
                          cfg_in->struct_size);
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    SLIDE_COPY_CONFIG(&cfg, cfg_in, SLIDE_STRUCT_NETWORK_CONFIG);
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    if (opt_in) {
        if (opt_in->struct_size < offsetof(slide_optimizer_config, lr) + sizeof(float))
            return slide_fail(SLIDE_E_INVALID, "optimizer config struct_size %zu is too small", opt_in->struct_size);
        SLIDE_COPY_CONFIG(&opt, opt_in, SLIDE_STRUCT_OPTIMIZER_CONFIG);
    }
    if (slide_optimizer_config_check(&opt))
        return SLIDE_E_INVALID;
    if (cfg.input_dim == 0)
        return slide_fail(SLIDE_E_INVALID, "input_dim must be >= 1");
    if (cfg.n_layers == 0 || cfg.n_layers > 64)
        return slide_fail(SLIDE_E_INVALID, "n_layers must be in [1, 64], got %u", cfg.n_layers);
    if (!cfg.layers)
        return slide_fail(SLIDE_E_INVALID, "layers is NULL");
    if (cfg.threads < 0 || cfg.threads > 4096) /* as slide_network_set_threads */
        return slide_fail(SLIDE_E_INVALID, "threads must be in [0, 4096], got %d", cfg.threads);

    slide_network *net = calloc(1, sizeof *net);
    if (!net)
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate network");
    atomic_flag_clear(&net->busy);
    net->layers = calloc(cfg.n_layers, sizeof(slide_layer));
    if (!net->layers) {
        free(net);
        return slide_fail(SLIDE_E_NOMEM, "cannot allocate network");
    }
    net->n_layers = cfg.n_layers;
    net->input_dim = cfg.input_dim;
    net->opt = opt;
    net->seed = cfg.seed;
    net->threads = cfg.threads;
    int nt = slide_network_threads_for_call(net);
    int adam = opt.kind == SLIDE_OPT_ADAM;
    int rc = SLIDE_OK;
    uint32_t in_dim = cfg.input_dim;
    for (uint32_t l = 0; l < cfg.n_layers && rc == SLIDE_OK; l++) {
        const slide_layer_config *lc_in = cfg.layers[l];
        slide_layer *L = &net->layers[l];
        if (!lc_in) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u config is NULL", l);
            break;
        }
        if (lc_in->struct_size < offsetof(slide_layer_config, lsh) + sizeof(void *)) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u config struct_size %zu is too small (call slide_layer_config_init)",
                            l, lc_in->struct_size);
            break;
        }
        slide_layer_config lc;
        slide_layer_config_init(&lc);
        SLIDE_COPY_CONFIG(&lc, lc_in, SLIDE_STRUCT_LAYER_CONFIG);
        int last = l + 1 == cfg.n_layers;
        if (lc.units == 0) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u: units must be >= 1", l);
            break;
        }
        if (lc.activation != SLIDE_ACT_RELU && lc.activation != SLIDE_ACT_SOFTMAX && lc.activation != SLIDE_ACT_LINEAR) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u: unknown activation %d", l, lc.activation);
            break;
        }
        if (last && lc.activation != SLIDE_ACT_SOFTMAX) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u: the last layer must be softmax, got %s", l,
                            lc.activation == SLIDE_ACT_RELU ? "relu" : "linear");
            break;
        }
        if (!last && lc.activation == SLIDE_ACT_SOFTMAX) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u: only the last layer may be softmax", l);
            break;
        }
        L->units = lc.units;
        L->in_dim = in_dim;
        L->activation = lc.activation;
        if (lc.storage != SLIDE_STORAGE_F32 && lc.storage != SLIDE_STORAGE_BF16) {
            rc = slide_fail(SLIDE_E_INVALID, "layer %u: unknown storage %d", l, lc.storage);
            break;
        }
        if (lc.storage == SLIDE_STORAGE_BF16 && !lc.lsh) {
            rc = slide_fail(SLIDE_E_INVALID,
                            "layer %u: bfloat16 storage needs an LSH-sampled layer (fully computed layers stay float32)", l);
            break;
        }
        L->sampled = lc.lsh != NULL;
        L->neuron_major = L->sampled;
        L->storage = lc.storage;
        L->rows = L->neuron_major ? L->units : L->in_dim;
        L->row_len = L->neuron_major ? L->in_dim : L->units;
        const size_t e = slide_elem_bytes(L->storage), per_line = SLIDE_ALIGN / e;
        L->stride = (L->row_len + per_line - 1) / per_line * per_line;
        L->block = L->stride * (adam ? 3 : 1);
        if (L->rows > SLIDE_MAX_ARRAY_BYTES / e / L->block) {
            rc = slide_fail(SLIDE_E_NOMEM, "layer %u: %zu x %zu weights exceed the size limit", l, L->rows, L->row_len);
            break;
        }
        L->params = slide_aligned_alloc(e * L->rows * L->block);
        L->bias = calloc(L->units, sizeof(float));
        L->row_slot = malloc(sizeof(int32_t) * L->rows);
        if (opt.catch_up)
            L->row_step = calloc(L->rows, sizeof(uint64_t));
        if (adam) {
            L->bias_m = calloc(L->units, sizeof(float));
            L->bias_v = calloc(L->units, sizeof(float));
        }
        if (!L->params || !L->bias || !L->row_slot || (opt.catch_up && !L->row_step) ||
            (adam && (!L->bias_m || !L->bias_v))) {
            rc = slide_fail(SLIDE_E_NOMEM, "layer %u: cannot allocate %zu MB of parameters", l,
                            (e * L->rows * L->block) >> 20);
            break;
        }
        memset(L->row_slot, 0xFF, sizeof(int32_t) * L->rows);
        if (init_params) {
            layer_init_params(L, cfg.seed, l, nt);
        } else {
            int64_t rows = (int64_t)L->rows;
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t r = 0; r < rows; r++)
                memset((char *)L->params + (size_t)r * L->block * e, 0, e * L->block);
        }
        if (L->sampled)
            rc = slide_sampler_setup(L, lc.lsh, cfg.seed, l, init_params);
        in_dim = L->units;
    }
    if (rc == SLIDE_OK && init_params) {
        for (uint32_t l = 0; l < net->n_layers && rc == SLIDE_OK; l++)
            rc = slide_sampler_rebuild(net, &net->layers[l]);
    }
    if (rc != SLIDE_OK) {
        slide_network_free(net);
        return rc;
    }
    *out = net;
    return SLIDE_OK;
}

int slide_network_create(const slide_network_config *cfg, const slide_optimizer_config *opt, slide_network **out)
{
    return slide_network_create_internal(cfg, opt, 1, out);
}

/* ------------------------------------------------------------------ accessors */

int slide_network_set_threads(slide_network *net, int threads)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    if (threads < 0 || threads > 4096)
        return slide_fail(SLIDE_E_INVALID, "threads must be in [0, 4096], got %d", threads);
    net->threads = threads;
    return SLIDE_OK;
}

int slide_network_get_threads(const slide_network *net)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    return slide_network_threads_for_call(net);
}

int slide_network_set_learning_rate(slide_network *net, float lr)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    if (!(lr > 0.0f) || !isfinite(lr))
        return slide_fail(SLIDE_E_INVALID, "learning rate must be a positive finite number, got %g", (double)lr);
    if (slide_check_weight_decay(lr, net->opt.weight_decay))
        return SLIDE_E_INVALID;
    net->opt.lr = lr;
    return SLIDE_OK;
}

int slide_network_get_optimizer(const slide_network *net, slide_optimizer_config *out)
{
    if (!net || !out)
        return slide_fail(SLIDE_E_INVALID, "net and out must not be NULL");
    if (out->struct_size < offsetof(slide_optimizer_config, lr) + sizeof(float))
        return slide_fail(SLIDE_E_INVALID, "optimizer config struct_size %zu is too small", out->struct_size);
    const size_t caller_size = out->struct_size;
    slide_copy_out(SLIDE_STRUCT_OPTIMIZER_CONFIG, out, &net->opt, caller_size);
    out->struct_size = caller_size;
    return SLIDE_OK;
}

uint32_t slide_network_layer_count(const slide_network *net) { return net ? net->n_layers : 0; }

uint64_t slide_network_step_count(const slide_network *net) { return net ? net->step : 0; }

int slide_network_layer_info(const slide_network *net, uint32_t layer, slide_layer_info *info)
{
    if (!net || !info)
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", net ? "info" : "net");
    if (layer >= net->n_layers)
        return slide_fail(SLIDE_E_INVALID, "layer %u out of range [0, %u)", layer, net->n_layers);
    if (info->struct_size < offsetof(slide_layer_info, activation))
        return slide_fail(SLIDE_E_INVALID, "layer info struct_size %zu is too small", info->struct_size);
    const slide_layer *L = &net->layers[layer];
    slide_layer_info full = {
        .struct_size = sizeof full,
        .units = L->units,
        .input_dim = L->in_dim,
        .activation = L->activation,
        .sampled = L->sampled,
        .neuron_major = L->neuron_major,
        .samples_seen = L->samples_seen,
        .active_total = L->active_total,
        .rebuilds = L->sampler.rebuilds,
        .row_stride = L->block,
        .storage = L->storage,
    };
    info->struct_size = slide_copy_out(SLIDE_STRUCT_LAYER_INFO, info, &full, info->struct_size);
    return SLIDE_OK;
}

int slide_network_reset_counters(slide_network *net)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    for (uint32_t l = 0; l < net->n_layers; l++)
        net->layers[l].samples_seen = net->layers[l].active_total = 0;
    return SLIDE_OK;
}

int slide_network_layer_params(slide_network *net, uint32_t layer, float **weights, float **bias, size_t *rows,
                               size_t *row_len, size_t *row_stride)
{
    if (!net)
        return slide_fail(SLIDE_E_INVALID, "net is NULL");
    if (layer >= net->n_layers)
        return slide_fail(SLIDE_E_INVALID, "layer %u out of range [0, %u)", layer, net->n_layers);
    const slide_layer *L = &net->layers[layer];
    if (weights && slide_is_bf16(L))
        return slide_fail(SLIDE_E_INVALID, "layer %u stores bfloat16 weights: copy them with slide_network_get_weights",
                          layer);
    if (weights)
        *weights = L->params;
    if (bias)
        *bias = L->bias;
    if (rows)
        *rows = L->rows;
    if (row_len)
        *row_len = L->row_len;
    if (row_stride)
        *row_stride = L->block;
    return SLIDE_OK;
}

/* Shared checks of slide_network_get_weights / set_weights. */
static int weights_args(const slide_network *net, uint32_t layer, const void *buf, size_t n, const char *what)
{
    if (!net || !buf)
        return slide_fail(SLIDE_E_INVALID, "%s: %s is NULL", what, net ? "buffer" : "net");
    if (layer >= net->n_layers)
        return slide_fail(SLIDE_E_INVALID, "%s: layer %u out of range [0, %u)", what, layer, net->n_layers);
    const slide_layer *L = &net->layers[layer];
    if (n != L->rows * L->row_len)
        return slide_fail(SLIDE_E_INVALID, "%s: layer %u has %zu x %zu weights, the buffer holds %zu floats", what, layer,
                          L->rows, L->row_len, n);
    return SLIDE_OK;
}

int slide_network_get_weights(slide_network *net, uint32_t layer, float *out, size_t n)
{
    int rc = weights_args(net, layer, out, n, "slide_network_get_weights");
    if (!rc)
        rc = slide_network_claim(net, "slide_network_get_weights");
    if (rc)
        return rc;
    const slide_layer *L = &net->layers[layer];
    const slide_kernels *K = slide_kernels_get();
    for (size_t r = 0; r < L->rows; r++)
        slide_row_to_f32(K, L, r, out + r * L->row_len);
    slide_network_release(net);
    return SLIDE_OK;
}

int slide_network_set_weights(slide_network *net, uint32_t layer, const float *in, size_t n)
{
    int rc = weights_args(net, layer, in, n, "slide_network_set_weights");
    if (!rc)
        rc = slide_network_claim(net, "slide_network_set_weights");
    if (rc)
        return rc;
    const slide_layer *L = &net->layers[layer];
    const slide_kernels *K = slide_kernels_get();
    for (size_t r = 0; r < L->rows; r++)
        slide_row_from_f32(K, L, r, in + r * L->row_len);
    slide_network_release(net);
    return SLIDE_OK;
}

size_t slide_network_memory_bytes(const slide_network *net)
{
    if (!net)
        return 0;
    size_t b = sizeof *net + sizeof(slide_layer) * net->n_layers;
    for (uint32_t l = 0; l < net->n_layers; l++) {
        const slide_layer *L = &net->layers[l];
        b += slide_elem_bytes(L->storage) * L->rows * L->block;
        b += sizeof(float) * L->units * (L->bias_m ? 3 : 1);
        b += sizeof(int32_t) * L->rows;
        if (L->row_step)
            b += sizeof(uint64_t) * L->rows;
        if (L->sampled)
            b += slide_sampler_memory_bytes(L);
    }
    b += slide_scratch_memory_bytes(net);
    b += net->pair_cap * (sizeof(uint32_t) * 7 + sizeof(float) * 2);
    return b;
}

