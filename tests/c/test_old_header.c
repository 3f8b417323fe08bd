/*
 * A program built against an older public header (tests/c/old_headers/<version>/slide/slide.h, copied
 * verbatim from the release: 0.1 from commit 6d36e70, 0.4 from the last commit before 0.5) and run against
 * this library. Uses only the 0.1 API, so the same source builds against every preserved header.
 *
 * Every struct the library fills or reads lives between canaries: GUARD bytes of a pattern on each side
 * of exactly sizeof(T) bytes, as the old program laid it out. Any byte the library writes outside the
 * caller's struct fails the test; so does a network that does not learn.
 */
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slide/slide.h>

static int failures;

#define EXPECT(cond, ...)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, " [last error: %s]\n", slide_last_error());     \
        }                                                                   \
    } while (0)

#define OK(call) EXPECT((call) == SLIDE_OK, "%s", #call)

enum { GUARD = 64, PATTERN = 0xA5 };

/* A caller's struct of `size` bytes with GUARD canary bytes before and after it. */
typedef struct guarded {
    alignas(16) unsigned char bytes[GUARD + 512 + GUARD];
    size_t size;
    const char *what;
} guarded;

static void *guard_init(guarded *g, size_t size, const char *what)
{
    if (size > 512)
        abort();
    memset(g->bytes, PATTERN, sizeof g->bytes);
    g->size = size;
    g->what = what;
    return g->bytes + GUARD;
}

static void guard_check(const guarded *g, const char *after)
{
    for (size_t i = 0; i < sizeof g->bytes; i++) {
        if (i >= GUARD && i < GUARD + g->size)
            continue;
        if (g->bytes[i] != PATTERN) {
            long off = (long)i - GUARD;
            EXPECT(0, "%s: byte %ld relative to the %zu-byte %s was written", after, off, g->size, g->what);
            return;
        }
    }
}

#define NEW(g, T) ((T *)guard_init((g), sizeof(T), #T))

/* Two clusters of dense inputs per label, labels learnable from the sign pattern of the features. */
enum { N = 256, D = 16, LABELS = 8 };

int main(void)
{
    printf("header %d.%d, library %s\n", SLIDE_VERSION_MAJOR, SLIDE_VERSION_MINOR, slide_version_string());

    guarded g_lsh, g_out, g_hid, g_net, g_opt, g_stats, g_info, g_mat, g_mat2;

    slide_lsh_config *lsh = NEW(&g_lsh, slide_lsh_config);
    slide_lsh_config_init(lsh);
    guard_check(&g_lsh, "slide_lsh_config_init");
    EXPECT(lsh->struct_size <= sizeof *lsh, "lsh struct_size %zu within the caller's %zu bytes", lsh->struct_size,
           sizeof *lsh);
    EXPECT(lsh->k == 6 && lsh->tables == 50 && lsh->rebuild_period == 50 && lsh->hash != NULL, "lsh defaults");
    lsh->k = 4;
    lsh->tables = 16;
    lsh->active_fraction = 0.5f;

    slide_layer_config *hid = NEW(&g_hid, slide_layer_config);
    slide_layer_config_init(hid);
    guard_check(&g_hid, "slide_layer_config_init");
    EXPECT(hid->struct_size <= sizeof *hid && hid->activation == SLIDE_ACT_RELU && hid->lsh == NULL,
           "layer defaults");
    hid->units = 32;

    slide_layer_config *out = NEW(&g_out, slide_layer_config);
    slide_layer_config_init(out);
    guard_check(&g_out, "slide_layer_config_init");
    out->units = LABELS;
    out->activation = SLIDE_ACT_SOFTMAX;
    out->lsh = lsh;

    slide_optimizer_config *opt = NEW(&g_opt, slide_optimizer_config);
    slide_optimizer_config_init(opt);
    guard_check(&g_opt, "slide_optimizer_config_init");
    EXPECT(opt->struct_size <= sizeof *opt && opt->kind == SLIDE_OPT_ADAM && opt->lr > 0.0f && opt->beta1 == 0.9f,
           "optimizer defaults");
    opt->lr = 0.01f;

    const slide_layer_config *layers[2] = {hid, out};
    slide_network_config *cfg = NEW(&g_net, slide_network_config);
    slide_network_config_init(cfg);
    guard_check(&g_net, "slide_network_config_init");
    EXPECT(cfg->struct_size <= sizeof *cfg, "network struct_size %zu", cfg->struct_size);
    cfg->input_dim = D;
    cfg->n_layers = 2;
    cfg->layers = layers;
    cfg->seed = 7;
    cfg->threads = 2;

    slide_network *net = NULL;
    OK(slide_network_create(cfg, opt, &net));
    guard_check(&g_lsh, "slide_network_create");
    guard_check(&g_net, "slide_network_create");
    guard_check(&g_opt, "slide_network_create");
    if (!net)
        return 1;

    /* Data: sample i has label i % LABELS; its features are +1/-1 by the bits of the label, plus noise. */
    static float x[N * D];
    static int64_t yp[N + 1];
    static int32_t yi[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        int label = i % LABELS;
        for (int j = 0; j < D; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float noise = (float)((s >> 40) & 0xffff) / 65536.0f * 0.4f - 0.2f;
            x[i * D + j] = ((label >> (j % 3)) & 1 ? 1.0f : -1.0f) + noise;
        }
        yp[i] = i;
        yi[i] = label;
    }
    yp[N] = N;
    slide_matrix *X = NEW(&g_mat, slide_matrix);
    X->kind = SLIDE_MATRIX_DENSE;
    X->rows = N;
    X->cols = D;
    X->values = x;
    X->indptr = NULL;
    X->indices = NULL;
    slide_matrix *Y = NEW(&g_mat2, slide_matrix);
    Y->kind = SLIDE_MATRIX_CSR;
    Y->rows = N;
    Y->cols = LABELS;
    Y->values = NULL;
    Y->indptr = yp;
    Y->indices = yi;

    slide_batch_stats *stats = NEW(&g_stats, slide_batch_stats);
    int64_t rows[32];
    double loss = 0.0;
    for (int epoch = 0; epoch < 15; epoch++) {
        for (int b = 0; b < N / 32; b++) {
            for (int i = 0; i < 32; i++)
                rows[i] = b * 32 + i;
            memset(stats, 0, sizeof *stats);
            stats->struct_size = sizeof *stats;
            OK(slide_network_train_batch(net, X, Y, rows, 32, stats));
            loss = stats->loss;
        }
    }
    guard_check(&g_stats, "slide_network_train_batch");
    EXPECT(isfinite(loss), "finite loss %g", loss);

    static int32_t ids[N];
    static float scores[N];
    OK(slide_network_predict_topk(net, X, NULL, N, 1, SLIDE_PREDICT_EXACT, ids, scores));
    double hits = 0.0;
    OK(slide_precision_at_k(Y, NULL, N, ids, 1, 1, &hits));
    printf("P@1 %.3f after 15 epochs (loss %.4f)\n", hits / N, loss);
    EXPECT(hits / N > 0.5, "the network learns: P@1 %.3f", hits / N);

    slide_layer_info *info = NEW(&g_info, slide_layer_info);
    for (uint32_t l = 0; l < 2; l++) {
        memset(info, 0, sizeof *info);
        info->struct_size = sizeof *info;
        OK(slide_network_layer_info(net, l, info));
        guard_check(&g_info, "slide_network_layer_info");
        EXPECT(info->struct_size <= sizeof *info, "info struct_size %zu", info->struct_size);
        EXPECT(info->units == (l ? LABELS : 32u) && info->sampled == (int)l, "layer %u info", l);
    }

    char path[] = "/tmp/slide_old_header_XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0, "mkstemp");
    close(fd);
    OK(slide_network_save(net, path));
    slide_network *back = NULL;
    OK(slide_network_load(path, &back));
    unlink(path);
    static int32_t ids2[N];
    static float scores2[N];
    if (back) {
        OK(slide_network_predict_topk(back, X, NULL, N, 1, SLIDE_PREDICT_EXACT, ids2, scores2));
        EXPECT(memcmp(ids, ids2, sizeof ids) == 0, "a loaded model predicts the same");
    }
    slide_network_free(back);
    slide_network_free(net);

    guard_check(&g_mat, "the end");
    guard_check(&g_mat2, "the end");
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
