/* Configuration defaults (the public slide_*_config_init) and validation (see config.h). */
#include <math.h>
#include <string.h>

#include "config.h"
#include "error.h"

void slide_lsh_config_init(slide_lsh_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    /*
     * Defaults measured with bench/ablation.py and bench/vs_torch.py on debdeps, revdict and the realistic
     * Amazon shape (docs/benchmarks.md): one shared set per batch of uniformly drawn negatives with the logQ
     * correction trained best per sample and per second; no hash family beat it at equal active count. The
     * tables (SimHash, the best recall of the families) serve sampled prediction and any retrieval share.
     */
    cfg->hash = "simhash";
    cfg->k = 6;
    cfg->tables = 50;
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
    cfg->batch_shared = 1;
    cfg->random_fraction = 1.0f;
    cfg->logq_correction = 1;
}

void slide_layer_config_init(slide_layer_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->units = 0;
    cfg->activation = SLIDE_ACT_RELU;
    cfg->lsh = NULL;
    cfg->storage = SLIDE_STORAGE_F32;
}

void slide_optimizer_config_init(slide_optimizer_config *cfg)
{
    if (!cfg)
        return;
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

void slide_network_config_init(slide_network_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
}

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
    if (!(opt->lr > 0.0f) || !isfinite(opt->lr) || !(opt->beta1 >= 0.0f && opt->beta1 < 1.0f) ||
        !(opt->beta2 >= 0.0f && opt->beta2 < 1.0f) || !(opt->eps > 0.0f))
        return slide_fail(SLIDE_E_INVALID, "optimizer: need lr > 0, 0 <= beta1, beta2 < 1, eps > 0");
    if (slide_check_weight_decay(opt->lr, opt->weight_decay))
        return SLIDE_E_INVALID;
    if (opt->catch_up != 0 && opt->catch_up != 1)
        return slide_fail(SLIDE_E_INVALID, "optimizer: catch_up must be 0 or 1, got %d", opt->catch_up);
    return SLIDE_OK;
}

int slide_lsh_config_check(const slide_lsh_config *c, uint32_t units, uint32_t index)
{
    if (c->k == 0 || c->tables == 0 || c->tables > 4096 || c->bucket_size > 65536)
        return slide_fail(SLIDE_E_INVALID,
                          "layer %u: need k >= 1, 1 <= tables <= 4096, bucket_size <= 65536 (0 = auto)", index);
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
        return slide_fail(SLIDE_E_INVALID, "layer %u: random_fraction must be in [0, 1], got %g", index,
                          (double)c->random_fraction);
    if (c->max_active > units)
        return slide_fail(SLIDE_E_INVALID, "layer %u: max_active %u exceeds the layer's %u units", index,
                          c->max_active, units);
    return SLIDE_OK;
}
