/*
 * Public-API tests, written like a user program: only <slide/slide.h>.
 * Covers config structs and error paths, training that learns, thread-count independence,
 * prediction modes and model files.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slide/slide.h>

#include "synthetic_data.h"

#include "expect.h"

static uint64_t rs = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)((rs >> 11) % n);
}

static slide_network *make_net_opt(const data *D, const char *hash, int threads, float active, int storage, int optimizer)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.hash = hash;
    lsh.k = 4;
    lsh.tables = 16;
    lsh.bucket_size = 32;
    lsh.bucket_bits = 3; /* 8 buckets per table: 40 neurons in 2 derived buckets would make retrieval a coin flip */
    lsh.active_fraction = active;
    lsh.rebuild_period = 10;
    /* Sets filled by retrieval, one per sample (the library's defaults draw one uniform set per batch). */
    lsh.batch_shared = 0;
    lsh.random_fraction = 0.0f;
    lsh.logq_correction = 0;
    slide_layer_config h, o;
    slide_layer_config_init(&h);
    h.units = 32;
    slide_layer_config_init(&o);
    o.units = (uint32_t)D->L;
    o.activation = SLIDE_ACT_SOFTMAX;
    o.lsh = hash ? &lsh : NULL;
    o.storage = storage;
    const slide_layer_config *layers[] = {&h, &o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = (uint32_t)D->d;
    cfg.n_layers = 2;
    cfg.layers = layers;
    cfg.seed = 7;
    cfg.threads = threads;
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.lr = 5e-3f;
    opt.kind = optimizer;
    opt.catch_up = 0; /* frozen moments: these networks' files stay in formats 1 and 2 */
    if (optimizer == SLIDE_OPT_SGD)
        opt.lr = 0.5f;
    slide_network *net = NULL;
    OK(slide_network_create(&cfg, &opt, &net));
    return net;
}

static slide_network *make_net(const data *D, const char *hash, int threads, float active)
{
    return make_net_opt(D, hash, threads, active, SLIDE_STORAGE_F32, SLIDE_OPT_ADAM);
}

static void train(slide_network *net, const data *D, int epochs)
{
    for (int e = 0; e < epochs; e++)
        for (int64_t b = 0; b < D->n; b += 64) {
            int64_t m = D->n - b < 64 ? D->n - b : 64;
            int64_t rows[64];
            for (int64_t i = 0; i < m; i++)
                rows[i] = b + i;
            OK(slide_network_train_batch(net, &D->X, &D->Y, rows, m, NULL));
        }
}

static double p_at_1(slide_network *net, const data *D, int mode)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)D->n * 3);
    float *sc = malloc(sizeof(float) * (size_t)D->n * 3);
    double hits[3] = {0};
    OK(slide_network_predict_topk(net, &D->X, NULL, D->n, 3, mode, ids, sc));
    OK(slide_precision_at_k(&D->Y, NULL, D->n, ids, 3, 3, hits));
    for (int64_t i = 0; i < D->n && mode == SLIDE_PREDICT_EXACT; i++)
        EXPECT(sc[i * 3] >= sc[i * 3 + 1] && sc[i * 3 + 1] >= sc[i * 3 + 2] && sc[i * 3] <= 1.0f,
               "scores of row %lld not sorted probabilities", (long long)i);
    free(ids);
    free(sc);
    return hits[0] / (double)D->n;
}

/* 0.5 initialisers: the caller's size travels with the call; nothing past it is written. */
static void test_init_sizes(void)
{
    struct {
        slide_lsh_config c;
        unsigned char tail[64];
    } g;
    unsigned char pat[sizeof g];
    memset(pat, 0x5a, sizeof pat);

    /* The macro passes sizeof: every field, reserved padding zeroed. */
    memset(&g, 0x5a, sizeof g);
    slide_lsh_config_init(&g.c);
    EXPECT(g.c.struct_size == sizeof g.c && g.c.logq_correction == 1 && g.c.rescore == 0, "full init");
    EXPECT(memcmp(g.tail, pat, sizeof g.tail) == 0, "nothing past sizeof written");

    /* A size ending inside a field: struct_size stops at the last whole field, the rest of `size` is zeroed. */
    memset(&g, 0x5a, sizeof g);
    size_t mid = offsetof(slide_lsh_config, random_fraction) + 2;
    OK(slide_lsh_config_init_v(&g.c, mid));
    EXPECT(g.c.struct_size == offsetof(slide_lsh_config, random_fraction), "struct_size %zu ends at a whole field",
           g.c.struct_size);
    EXPECT(g.c.batch_shared == SLIDE_AUTO_BATCH_SHARED && g.c.k == 0, "fields before it filled");
    EXPECT(memcmp((unsigned char *)&g + mid, pat, sizeof g - mid) == 0, "no byte past size written");

    /* Too small for any published struct: refused, nothing written. */
    memset(&g, 0x5a, sizeof g);
    EXPECT(slide_lsh_config_init_v(&g.c, 8) == SLIDE_E_INVALID, "size 8 refused");
    EXPECT(strstr(slide_last_error(), "slide_lsh_config") != NULL, "message names the struct: %s", slide_last_error());
    EXPECT(memcmp(&g, pat, sizeof g) == 0, "refused init writes nothing");
    EXPECT(slide_lsh_config_init_v(NULL, sizeof g.c) == SLIDE_E_INVALID, "NULL refused");

    /* A newer caller's larger struct: zeros past the fields this library knows, up to its size. */
    memset(&g, 0x5a, sizeof g);
    OK(slide_lsh_config_init_v(&g.c, sizeof g.c + 16));
    EXPECT(g.c.struct_size == sizeof g.c, "struct_size is what the library knows");
    EXPECT(g.tail[0] == 0 && g.tail[15] == 0 && g.tail[16] == 0x5a, "zeros up to the caller's size only");

    /* The exported size-less symbol (what programs built against older headers call) fills the 0.1 fields. */
    memset(&g, 0x5a, sizeof g);
    (slide_lsh_config_init)(&g.c);
    EXPECT(g.c.struct_size == offsetof(slide_lsh_config, bin_size) + sizeof(uint32_t), "0.1 struct_size, got %zu",
           g.c.struct_size);
    EXPECT(g.c.k == 6 && g.c.bin_size == 8, "0.1 fields filled");
    EXPECT(memcmp((unsigned char *)&g + g.c.struct_size, pat, sizeof g - g.c.struct_size) == 0,
           "nothing past the 0.1 fields written");
    slide_layer_config lc;
    memset(&lc, 0x5a, sizeof lc);
    (slide_layer_config_init)(&lc);
    EXPECT(lc.struct_size == offsetof(slide_layer_config, lsh) + sizeof(void *), "0.1 layer struct_size %zu",
           lc.struct_size);
    slide_optimizer_config oc;
    memset(&oc, 0x5a, sizeof oc);
    (slide_optimizer_config_init)(&oc);
    EXPECT(oc.struct_size == offsetof(slide_optimizer_config, eps) + sizeof(float), "0.1 optimizer struct_size %zu",
           oc.struct_size);
    EXPECT(oc.lr == 2e-3f, "current defaults in the 0.1 fields");
    slide_network_config nc;
    (slide_network_config_init)(&nc);
    EXPECT(nc.struct_size == offsetof(slide_network_config, threads) + sizeof(int), "0.1 network struct_size");
    slide_libsvm_options so;
    (slide_libsvm_options_init)(&so);
    EXPECT(so.struct_size == sizeof so && so.feature_base == 1, "libsvm options unchanged since 0.1");

    /* A config whose struct_size ends inside random_fraction does not read the partial field. */
    slide_layer_config o;
    slide_layer_config_init(&o);
    o.units = 10;
    o.activation = SLIDE_ACT_SOFTMAX;
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.random_fraction = NAN; /* would be refused if read */
    lsh.struct_size = offsetof(slide_lsh_config, random_fraction) + 3;
    o.lsh = &lsh;
    const slide_layer_config *layers[] = {&o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = 5;
    cfg.n_layers = 1;
    cfg.layers = layers;
    slide_network *net = NULL;
    OK(slide_network_create(&cfg, NULL, &net));
    slide_network_free(net);

    /* Outputs: a struct_size ending inside a field gets the whole fields before it, nothing more. */
    slide_layer_config_init(&o);
    o.units = 10;
    o.activation = SLIDE_ACT_SOFTMAX;
    net = NULL;
    OK(slide_network_create(&cfg, NULL, &net));
    struct {
        slide_layer_info i;
        unsigned char tail[16];
    } gi;
    memset(&gi, 0x5a, sizeof gi);
    gi.i.struct_size = offsetof(slide_layer_info, samples_seen) + 4;
    OK(slide_network_layer_info(net, 0, &gi.i));
    EXPECT(gi.i.struct_size == offsetof(slide_layer_info, neuron_major) + sizeof(int), "info struct_size %zu",
           gi.i.struct_size);
    EXPECT(gi.i.units == 10, "whole fields written");
    unsigned char *b = (unsigned char *)&gi;
    for (size_t i = gi.i.struct_size; i < sizeof gi; i++)
        if (b[i] != 0x5a) {
            EXPECT(0, "layer_info byte %zu written past the whole fields", i);
            break;
        }
    slide_network_free(net);
}

/* Issue 16's refusals that live in C: non-finite inference input, repeated labels, thread cap, special files. */
static void test_round2(void)
{
    slide_layer_config o;
    slide_layer_config_init(&o);
    o.units = 6;
    o.activation = SLIDE_ACT_SOFTMAX;
    const slide_layer_config *layers[] = {&o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = 3;
    cfg.n_layers = 1;
    cfg.layers = layers;
    cfg.threads = 5000;
    slide_network *net = NULL;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_INVALID && !net, "5000 threads refused at creation");
    EXPECT(strstr(slide_last_error(), "5000") != NULL, "message names the value: %s", slide_last_error());
    cfg.threads = 1;
    OK(slide_network_create(&cfg, NULL, &net));
    if (!net)
        return;

    float xv[6] = {1, 2, 3, 4, NAN, 6};
    slide_matrix X = {SLIDE_MATRIX_DENSE, 2, 3, xv, NULL, NULL};
    int32_t ids[2];
    float sc[2];
    EXPECT(slide_network_predict_topk(net, &X, NULL, 2, 1, SLIDE_PREDICT_EXACT, ids, sc) == SLIDE_E_INVALID,
           "NaN refused in prediction");
    EXPECT(strstr(slide_last_error(), "X row 1, column 1") != NULL, "names the row: %s", slide_last_error());
    int64_t row0 = 0;
    OK(slide_network_predict_topk(net, &X, &row0, 1, 1, SLIDE_PREDICT_EXACT, ids, sc));

    xv[4] = 5;
    int64_t yp[3] = {0, 1, 4};
    int32_t yi[4] = {0, 2, 5, 2};
    slide_matrix Y = {SLIDE_MATRIX_CSR, 2, 6, NULL, yp, yi};
    EXPECT(slide_network_train_batch(net, &X, &Y, NULL, 2, NULL) == SLIDE_E_INVALID, "repeated label refused");
    EXPECT(strstr(slide_last_error(), "Y row 1: label id 2 appears more than once") != NULL, "%s", slide_last_error());
    int32_t pred[2] = {0, 2};
    double hits[1];
    EXPECT(slide_precision_at_k(&Y, NULL, 2, pred, 1, 1, hits) == SLIDE_E_INVALID, "metrics refuse it too");
    EXPECT(slide_ndcg_at_k(&Y, NULL, 2, pred, 1, 1, hits) == SLIDE_E_INVALID, "nDCG refuses it too");
    yi[3] = 1;
    OK(slide_network_train_batch(net, &X, &Y, NULL, 2, NULL));

    EXPECT(slide_network_save(net, "/dev/null") == SLIDE_E_IO, "a device is not replaced");
    EXPECT(strstr(slide_last_error(), "not a regular file") != NULL, "%s", slide_last_error());
    EXPECT(slide_network_save(net, "/tmp") == SLIDE_E_IO, "a directory is not replaced");
    slide_network *back = NULL;
    EXPECT(slide_network_load("/tmp", &back) == SLIDE_E_IO && !back, "a directory is not loaded");
    slide_network_free(net);
}

static void test_errors(void)
{
    EXPECT(slide_version() == SLIDE_VERSION_NUMBER, "version");
    EXPECT(strcmp(slide_version_string(), "0.4.0") == 0, "version string %s", slide_version_string());
    EXPECT(strcmp(slide_status_string(SLIDE_E_NOMEM), "out of memory") == 0, "status string");
    EXPECT(slide_status_string(12345) != NULL, "unknown status has a string");
    slide_network_free(NULL);
    slide_dataset_free(NULL);

    slide_network *net = NULL;
    EXPECT(slide_network_create(NULL, NULL, &net) == SLIDE_E_INVALID && net == NULL, "NULL config");
    EXPECT(strstr(slide_last_error(), "config") != NULL, "message names the config");

    slide_layer_config o;
    slide_layer_config_init(&o);
    o.units = 10;
    o.activation = SLIDE_ACT_RELU; /* last layer must be softmax */
    const slide_layer_config *layers[] = {&o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = 5;
    cfg.n_layers = 1;
    cfg.layers = layers;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_INVALID, "relu output refused");
    EXPECT(strstr(slide_last_error(), "softmax") != NULL, "message explains the output layer");

    o.activation = SLIDE_ACT_SOFTMAX;
    cfg.struct_size = 4;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_INVALID, "tiny struct_size refused");
    cfg.struct_size = sizeof cfg;

    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.hash = "no-such-hash";
    o.lsh = &lsh;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_NOT_FOUND, "unknown hash refused");
    EXPECT(strstr(slide_last_error(), "dwta") != NULL, "message lists available backends: %s", slide_last_error());
    slide_lsh_config_init(&lsh);
    lsh.random_fraction = NAN;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_INVALID, "NaN random_fraction refused");
    EXPECT(strstr(slide_last_error(), "random_fraction") != NULL, "message names the field: %s", slide_last_error());
    /* A caller built against 0.1 (struct ends before random_fraction) gets no random share. */
    lsh.struct_size = offsetof(slide_lsh_config, random_fraction);
    OK(slide_network_create(&cfg, NULL, &net));
    slide_network_free(net);
    net = NULL;
    o.lsh = NULL;

    /* An older caller whose optimizer struct ends after `lr` gets defaults for the rest. */
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.struct_size = offsetof(slide_optimizer_config, lr) + sizeof(float);
    opt.lr = 0.01f;
    opt.beta1 = -5.0f; /* beyond the caller's struct_size: must be ignored */
    opt.weight_decay = -1.0f; /* appended in 0.3, also beyond struct_size */
    OK(slide_network_create(&cfg, &opt, &net));
    /* Reading the settings back honours the reader's struct_size too: a 0.2-sized struct gets no weight_decay. */
    struct { slide_optimizer_config c; float guard; } got;
    memset(&got, 0x7f, sizeof got);
    got.c.struct_size = offsetof(slide_optimizer_config, weight_decay);
    OK(slide_network_get_optimizer(net, &got.c));
    EXPECT(got.c.lr == 0.01f && got.c.beta1 == 0.9f && got.c.kind == SLIDE_OPT_ADAM, "optimizer read back");
    EXPECT(got.c.struct_size == offsetof(slide_optimizer_config, weight_decay), "struct_size kept");
    {
        float untouched;
        memset(&untouched, 0x7f, sizeof untouched);
        EXPECT(memcmp(&got.c.weight_decay, &untouched, sizeof untouched) == 0, "no write beyond struct_size");
    }
    got.c.struct_size = sizeof got.c;
    OK(slide_network_get_optimizer(net, &got.c));
    EXPECT(got.c.weight_decay == 0.0f, "default weight_decay is 0, got %g", (double)got.c.weight_decay);
    EXPECT(slide_network_get_optimizer(net, NULL) == SLIDE_E_INVALID, "NULL out refused");
    slide_layer_info info = {.struct_size = sizeof info};
    OK(slide_network_layer_info(net, 0, &info));
    EXPECT(info.units == 10 && info.input_dim == 5 && !info.sampled, "layer info");
    EXPECT(slide_network_layer_info(net, 1, &info) == SLIDE_E_INVALID, "layer out of range");

    /* Bad inputs to training. */
    float xv[5] = {1, 0, 0, 0, 0};
    int64_t yp[2] = {0, 1};
    int32_t yi[1] = {10}; /* out of range */
    slide_matrix X = {SLIDE_MATRIX_DENSE, 1, 5, xv, NULL, NULL};
    slide_matrix Y = {SLIDE_MATRIX_CSR, 1, 10, NULL, yp, yi};
    EXPECT(slide_network_train_batch(net, &X, &Y, NULL, 1, NULL) == SLIDE_E_INVALID, "label out of range");
    EXPECT(strstr(slide_last_error(), "label id 10") != NULL, "message names the label: %s", slide_last_error());
    yi[0] = 3;
    xv[2] = NAN;
    EXPECT(slide_network_train_batch(net, &X, &Y, NULL, 1, NULL) == SLIDE_E_INVALID, "NaN input refused");
    xv[2] = 0;
    X.cols = 6;
    EXPECT(slide_network_train_batch(net, &X, &Y, NULL, 1, NULL) == SLIDE_E_INVALID, "wrong width refused");
    X.cols = 5;
    OK(slide_network_train_batch(net, &X, &Y, NULL, 1, NULL));
    slide_network_free(net);
}

static void test_training(void)
{
    data D;
    make_data(&D, 3000, 40, 6, rnd);
    /* Most-frequent-label baseline. */
    int64_t *freq = calloc((size_t)D.L, sizeof(int64_t));
    for (int64_t i = 0; i < D.yp[D.n]; i++)
        freq[D.yi[i]]++;
    int64_t best = 0;
    for (int64_t y = 0; y < D.L; y++)
        best = freq[y] > freq[best] ? y : best;
    int64_t hit = 0;
    for (int64_t i = 0; i < D.n; i++)
        for (int64_t k = D.yp[i]; k < D.yp[i + 1]; k++)
            hit += D.yi[k] == best;
    double base = (double)hit / (double)D.n;
    free(freq);

    for (int i = 0; i < slide_hash_backend_count(); i++) {
        const char *name = slide_hash_backend_name(i);
        slide_network *net = make_net(&D, name, 0, 0.25f);
        train(net, &D, 4);
        double exact = p_at_1(net, &D, SLIDE_PREDICT_EXACT);
        double sampled = p_at_1(net, &D, SLIDE_PREDICT_SAMPLED);
        printf("backend %-8s: P@1 exact %.3f, sampled %.3f (most-frequent baseline %.3f)\n", name, exact, sampled, base);
        EXPECT(exact > base + 0.3, "%s did not learn: %.3f vs %.3f", name, exact, base);
        EXPECT(sampled > base + 0.15, "%s sampled prediction: %.3f", name, sampled);
        slide_layer_info info = {.struct_size = sizeof info};
        OK(slide_network_layer_info(net, 1, &info));
        EXPECT(info.sampled && info.samples_seen == 4u * 3000u && info.rebuilds > 1, "output layer counters");
        double mean_active = (double)info.active_total / (double)info.samples_seen;
        EXPECT(mean_active >= 1.0 && mean_active <= 0.25 * 40 + 2, "mean active %.1f within the cap", mean_active);
        slide_network_free(net);
    }
    EXPECT(slide_hash_backend_name(-1) == NULL && slide_hash_backend_name(1000) == NULL, "names out of range");

    /* The batch reduction is deterministic: 1 thread and 2 threads give bit-identical weights. */
    slide_network *a = make_net(&D, "dwta", 1, 0.2f), *b = make_net(&D, "dwta", 2, 0.2f);
    train(a, &D, 1);
    train(b, &D, 1);
    for (uint32_t l = 0; l < 2; l++) {
        float *wa, *wb, *ba, *bb;
        size_t rows, len, stride;
        OK(slide_network_layer_params(a, l, &wa, &ba, &rows, &len, &stride));
        OK(slide_network_layer_params(b, l, &wb, &bb, NULL, NULL, NULL));
        int same = 1;
        for (size_t r = 0; r < rows; r++)
            same &= memcmp(wa + r * stride, wb + r * stride, len * sizeof(float)) == 0;
        EXPECT(same, "layer %u weights differ between 1 and 2 threads", l);
    }

    /* Model file round trip, then corruption and truncation are refused. */
    char dir[] = "/tmp/slide_test_XXXXXX";
    EXPECT(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/model.slide", dir);
    OK(slide_network_save(a, path));
    slide_network *c = NULL;
    OK(slide_network_load(path, &c));
    if (c) {
        /* Same thread count as `a`: exact scores merge per-thread partial sums, so rounding follows threads. */
        OK(slide_network_set_threads(c, 1));
        int32_t i1[30], i2[30];
        float s1[30], s2[30];
        OK(slide_network_predict_topk(a, &D.X, NULL, 10, 3, SLIDE_PREDICT_EXACT, i1, s1));
        OK(slide_network_predict_topk(c, &D.X, NULL, 10, 3, SLIDE_PREDICT_EXACT, i2, s2));
        EXPECT(memcmp(i1, i2, sizeof i1) == 0 && memcmp(s1, s2, sizeof s1) == 0, "loaded model predicts the same");
        /* Training continues from the loaded optimizer state exactly as in the original. */
        train(a, &D, 1);
        train(c, &D, 1);
        OK(slide_network_predict_topk(a, &D.X, NULL, 10, 3, SLIDE_PREDICT_EXACT, i1, s1));
        OK(slide_network_predict_topk(c, &D.X, NULL, 10, 3, SLIDE_PREDICT_EXACT, i2, s2));
        EXPECT(memcmp(i1, i2, sizeof i1) == 0, "resumed training predicts the same top-3");
        slide_network_free(c);
    }
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 200, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 200, SEEK_SET);
        fputc(ch ^ 0x10, f);
        fclose(f);
    }
    c = NULL;
    EXPECT(slide_network_load(path, &c) == SLIDE_E_FORMAT && c == NULL, "bit flip refused");
    EXPECT(strstr(slide_last_error(), "checksum") != NULL, "bit flip message: %s", slide_last_error());
    EXPECT(truncate(path, 100) == 0, "truncate");
    EXPECT(slide_network_load(path, &c) == SLIDE_E_FORMAT, "truncated file refused");
    EXPECT(strstr(slide_last_error(), "truncated") != NULL, "truncation message: %s", slide_last_error());
    EXPECT(slide_network_load("/nonexistent/model", &c) == SLIDE_E_IO, "missing file");
    unlink(path);
    rmdir(dir);
    slide_network_free(a);
    slide_network_free(b);
    free_data(&D);
}

/* P@k and nDCG@k on a hand-worked example: labels {1,3}, {}, {2}; three predictions per row. */
static void test_metrics(void)
{
    const int64_t indptr[] = {0, 2, 2, 3};
    const int32_t indices[] = {1, 3, 2};
    const float ones[] = {1, 1, 1};
    slide_matrix Y = {SLIDE_MATRIX_CSR, 3, 4, ones, indptr, indices};
    const int32_t pred[] = {3, 0, 1, /* */ 0, 1, 2, /* */ 0, 1, 2};
    double hits[3], ndcg[3];
    OK(slide_precision_at_k(&Y, NULL, 3, pred, 3, 3, hits));
    EXPECT(hits[0] == 1 && hits[1] == 1 && hits[2] == 3, "P@k hits %g %g %g", hits[0], hits[1], hits[2]);
    OK(slide_ndcg_at_k(&Y, NULL, 3, pred, 3, 3, ndcg));
    /* Row 0: DCG 1, 1, 1.5 over IDCG 1, 1 + 1/log2(3), the same (2 labels); row 2: 0, 0, 1/2 over 1. */
    double idcg2 = 1.0 + 1.0 / log2(3.0);
    double want[3] = {1.0, 1.0 / idcg2, 1.5 / idcg2 + 0.5};
    for (int j = 0; j < 3; j++)
        EXPECT(fabs(ndcg[j] - want[j]) < 1e-12, "nDCG@%d sum %.15g, want %.15g", j + 1, ndcg[j], want[j]);
    const int64_t rows[] = {2};
    OK(slide_ndcg_at_k(&Y, rows, 1, pred + 6, 3, 2, ndcg));
    EXPECT(ndcg[0] == 0.0 && ndcg[1] == 0.0, "nDCG of row 2 at 1, 2");
    EXPECT(slide_ndcg_at_k(&Y, NULL, 3, pred, 3, 4, ndcg) == SLIDE_E_INVALID, "k_max above k_pred refused");
    EXPECT(slide_ndcg_at_k(&Y, NULL, 3, pred, 3, 3, NULL) == SLIDE_E_INVALID, "NULL output refused");
    EXPECT(strstr(slide_last_error(), "out_ndcg") != NULL, "message names the output: %s", slide_last_error());
}

/* Copies layer l's weights as float32 (malloc'd, rows * row_len). */
static float *weights_of(slide_network *net, uint32_t l, size_t *n)
{
    size_t rows = 0, len = 0;
    OK(slide_network_layer_params(net, l, NULL, NULL, &rows, &len, NULL));
    *n = rows * len;
    float *w = malloc(sizeof(float) * (*n ? *n : 1));
    OK(slide_network_get_weights(net, l, w, *n));
    return w;
}

static uint32_t file_version(const char *path)
{
    uint32_t v = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        if (fseek(f, 8, SEEK_SET) != 0 || fread(&v, 4, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* bfloat16 storage of the sampled output layer: options, memory, accuracy, determinism and model files. */
static void test_bf16(void)
{
    data D;
    rs = 0x5EEDB16ull;
    make_data(&D, 3000, 40, 6, rnd);

    /* Refused on a fully computed layer and for unknown values; ignored by callers that predate the field. */
    slide_layer_config h, o;
    slide_layer_config_init(&h);
    h.units = 8;
    h.storage = SLIDE_STORAGE_BF16;
    slide_layer_config_init(&o);
    o.units = 10;
    o.activation = SLIDE_ACT_SOFTMAX;
    const slide_layer_config *layers[] = {&h, &o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = 5;
    cfg.n_layers = 2;
    cfg.layers = layers;
    slide_network *net = NULL;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_INVALID && !net, "bf16 on a dense layer");
    EXPECT(strstr(slide_last_error(), "layer 0: bfloat16 storage needs an LSH-sampled layer") != NULL, "message: %s",
           slide_last_error());
    h.storage = 7;
    EXPECT(slide_network_create(&cfg, NULL, &net) == SLIDE_E_INVALID && !net, "unknown storage");
    EXPECT(strstr(slide_last_error(), "layer 0: unknown storage 7") != NULL, "message: %s", slide_last_error());
    h.struct_size = offsetof(slide_layer_config, storage); /* an older caller: storage is not read */
    OK(slide_network_create(&cfg, NULL, &net));
    slide_layer_info info = {.struct_size = sizeof info};
    OK(slide_network_layer_info(net, 0, &info));
    EXPECT(info.storage == SLIDE_STORAGE_F32, "old struct_size means float32");
    slide_network_free(net);

    slide_network *f32 = make_net(&D, "dwta", 1, 0.25f);
    slide_network *b16 = make_net_opt(&D, "dwta", 1, 0.25f, SLIDE_STORAGE_BF16, SLIDE_OPT_ADAM);
    /* 40 rows of 32 inputs: float rows pad to 16 floats, bf16 rows to 32 values; w, m, v each */
    size_t diff = slide_network_memory_bytes(f32) - slide_network_memory_bytes(b16);
    EXPECT(diff == 40u * 32u * 3u * 2u, "bf16 saves 2 bytes per stored value: %zu", diff);
    OK(slide_network_layer_info(b16, 1, &info));
    EXPECT(info.storage == SLIDE_STORAGE_BF16 && info.row_stride == 96, "info: storage %d, stride %zu", info.storage,
           info.row_stride);
    float *wp = NULL, *bp = NULL;
    EXPECT(slide_network_layer_params(b16, 1, &wp, &bp, NULL, NULL, NULL) == SLIDE_E_INVALID, "no float view");
    EXPECT(strstr(slide_last_error(), "layer 1 stores bfloat16 weights") != NULL, "message: %s", slide_last_error());
    OK(slide_network_layer_params(b16, 1, NULL, &bp, NULL, NULL, NULL));

    /* Weights start as the float32 init rounded to bf16. */
    size_t n = 0;
    float *wf = weights_of(f32, 1, &n), *wb = weights_of(b16, 1, &n);
    int rounded = n == 40u * 32u;
    for (size_t i = 0; i < n && rounded; i++) {
        uint32_t u;
        memcpy(&u, &wb[i], 4);
        rounded = (u & 0xFFFF) == 0 && fabsf(wb[i] - wf[i]) <= fabsf(wf[i]) * (1.0f / 256.0f);
    }
    EXPECT(rounded, "bf16 init is the rounded float32 init");
    EXPECT(slide_network_get_weights(b16, 1, wb, n - 1) == SLIDE_E_INVALID, "short buffer");
    /* set_weights rounds to nearest even: 1 + 2^-8 is a tie (stays 1), 1 + 3 * 2^-8 rounds up to 1 + 2^-6 */
    wf[0] = 1.0f + 1.0f / 256.0f;
    wf[1] = 1.0f + 3.0f / 256.0f;
    OK(slide_network_set_weights(b16, 1, wf, n));
    free(wb);
    wb = weights_of(b16, 1, &n);
    EXPECT(wb[0] == 1.0f && wb[1] == 1.0f + 1.0f / 64.0f, "set_weights rounding: %a %a", (double)wb[0],
           (double)wb[1]);
    free(wf);
    free(wb);
    slide_network_free(b16);

    /* Training: bf16 reaches the float32 accuracy on this problem, with Adam and with SGD. */
    b16 = make_net_opt(&D, "dwta", 1, 0.25f, SLIDE_STORAGE_BF16, SLIDE_OPT_ADAM);
    train(f32, &D, 4);
    train(b16, &D, 4);
    double pf = p_at_1(f32, &D, SLIDE_PREDICT_EXACT), pb = p_at_1(b16, &D, SLIDE_PREDICT_EXACT);
    double sf = p_at_1(f32, &D, SLIDE_PREDICT_SAMPLED), sb = p_at_1(b16, &D, SLIDE_PREDICT_SAMPLED);
    printf("bf16 output layer: P@1 exact %.3f (float32 %.3f), sampled %.3f (float32 %.3f)\n", pb, pf, sb, sf);
    EXPECT(pb > pf - 0.03, "bf16 P@1 %.3f vs float32 %.3f", pb, pf);
    EXPECT(sb > sf - 0.1, "bf16 sampled P@1 %.3f vs float32 %.3f", sb, sf);
    slide_network *sgd32 = make_net_opt(&D, "dwta", 1, 0.25f, SLIDE_STORAGE_F32, SLIDE_OPT_SGD);
    slide_network *sgd16 = make_net_opt(&D, "dwta", 1, 0.25f, SLIDE_STORAGE_BF16, SLIDE_OPT_SGD);
    train(sgd32, &D, 4);
    train(sgd16, &D, 4);
    double qf = p_at_1(sgd32, &D, SLIDE_PREDICT_EXACT), qb = p_at_1(sgd16, &D, SLIDE_PREDICT_EXACT);
    printf("bf16 output layer, SGD: P@1 exact %.3f (float32 %.3f)\n", qb, qf);
    EXPECT(qb > qf - 0.05 && qb > 0.3, "bf16 SGD P@1 %.3f vs float32 %.3f", qb, qf);
    slide_network_free(sgd32);
    slide_network_free(sgd16);

    /* The reduction stays deterministic: 2 threads give the weights of 1 thread bit for bit. */
    slide_network *b16t = make_net_opt(&D, "dwta", 2, 0.25f, SLIDE_STORAGE_BF16, SLIDE_OPT_ADAM);
    train(b16t, &D, 4);
    float *w1 = weights_of(b16, 1, &n), *w2 = weights_of(b16t, 1, &n);
    EXPECT(memcmp(w1, w2, n * sizeof(float)) == 0, "bf16 weights differ between 1 and 2 threads");
    free(w1);
    free(w2);
    slide_network_free(b16t);

    /* Model files: float32-only networks stay format 1, a bf16 layer makes format 2; both round-trip. */
    char dir[] = "/tmp/slide_test_XXXXXX";
    EXPECT(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256], path32[256];
    snprintf(path, sizeof path, "%s/bf16.slide", dir);
    snprintf(path32, sizeof path32, "%s/f32.slide", dir);
    OK(slide_network_save(b16, path));
    OK(slide_network_save(f32, path32));
    EXPECT(file_version(path) == 2 && file_version(path32) == 1, "versions %u %u", file_version(path),
           file_version(path32));
    slide_network *c = NULL;
    OK(slide_network_load(path, &c));
    if (c) {
        OK(slide_network_layer_info(c, 1, &info));
        EXPECT(info.storage == SLIDE_STORAGE_BF16, "loaded storage");
        EXPECT(slide_network_memory_bytes(c) > 0, "memory");
        int32_t i1[30], i2[30];
        float s1[30], s2[30];
        OK(slide_network_set_threads(c, 1));
        OK(slide_network_predict_topk(b16, &D.X, NULL, 10, 3, SLIDE_PREDICT_EXACT, i1, s1));
        OK(slide_network_predict_topk(c, &D.X, NULL, 10, 3, SLIDE_PREDICT_EXACT, i2, s2));
        EXPECT(memcmp(i1, i2, sizeof i1) == 0 && memcmp(s1, s2, sizeof s1) == 0, "loaded bf16 model predicts the same");
        train(b16, &D, 1);
        train(c, &D, 1);
        w1 = weights_of(b16, 1, &n);
        w2 = weights_of(c, 1, &n);
        EXPECT(memcmp(w1, w2, n * sizeof(float)) == 0, "resumed bf16 training gives the same weights");
        free(w1);
        free(w2);
        slide_network_free(c);
    }
    /* A corrupt storage field (layer 0's record: header 24 + network 48 + offset 160) is refused by name. */
    FILE *fp = fopen(path, "r+b");
    if (fp) {
        fseek(fp, 24 + 48 + 160, SEEK_SET);
        fputc(5, fp);
        fclose(fp);
    }
    c = NULL;
    EXPECT(slide_network_load(path, &c) == SLIDE_E_FORMAT && !c, "corrupt storage refused");
    EXPECT(strstr(slide_last_error(), "layer 0 has unknown storage 5") != NULL, "message: %s", slide_last_error());
    unlink(path);
    unlink(path32);
    rmdir(dir);
    slide_network_free(f32);
    slide_network_free(b16);
    free_data(&D);
}

/* A network whose hidden layer (400 ReLU units, 5% active) is retrieved from SimHash tables (the automatic
 * hidden-layer choice is exact top-k, which has nothing to rescore) with the given rescore (0: auto). */
static slide_network *rescore_net(const data *D, uint32_t rescore)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.hash = "simhash";
    lsh.active_fraction = 0.05f;
    lsh.rescore = rescore;
    slide_layer_config h, o;
    slide_layer_config_init(&h);
    h.units = 400;
    h.lsh = &lsh;
    slide_layer_config_init(&o);
    o.units = (uint32_t)D->L;
    o.activation = SLIDE_ACT_SOFTMAX;
    const slide_layer_config *layers[] = {&h, &o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = (uint32_t)D->d;
    cfg.n_layers = 2;
    cfg.layers = layers;
    cfg.seed = 3;
    cfg.threads = 1;
    slide_network *net = NULL;
    int rc = slide_network_create(&cfg, NULL, &net);
    EXPECT(rc == SLIDE_OK || rescore > SLIDE_RESCORE_MAX, "create: %s", slide_last_error());
    return net;
}

static double hidden_recall(slide_network *net, const data *D)
{
    slide_layer_diagnosis d[2];
    d[0].struct_size = sizeof d[0];
    OK(slide_network_diagnose(net, &D->X, NULL, 500, d, 2));
    return d[0].recall;
}

/* Rescoring (0.5): the hidden layer's retrieved sets hold its top pre-activations, not only the most-hit. */
static void test_rescore(void)
{
    data D;
    make_data(&D, 600, 40, 6, rnd);
    slide_network *hits = rescore_net(&D, 1), *automatic = rescore_net(&D, 0);
    const double r1 = hidden_recall(hits, &D), r_auto = hidden_recall(automatic, &D);
    EXPECT(r_auto >= 0.8 && r_auto >= r1 + 0.2, "recall %.3f by hits, %.3f rescored", r1, r_auto);
    EXPECT(rescore_net(&D, SLIDE_RESCORE_MAX + 1) == NULL && strstr(slide_last_error(), "rescore must be in"),
           "rescore past the maximum refused: %s", slide_last_error());
    slide_network_free(hits);
    slide_network_free(automatic);
    free_data(&D);
}

int main(void)
{
    test_init_sizes();
    test_round2();
    test_errors();
    test_metrics();
    test_training();
    test_bf16();
    test_rescore();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all API tests passed\n");
    return 0;
}
