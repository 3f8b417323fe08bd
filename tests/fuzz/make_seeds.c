/*
 * Writes the seed corpora of the fuzz targets:
 *   <out>/fuzz_model_load/  model files saved by slide_network_save from tiny trained networks (every
 *                           hash backend, dense and sampled layers, Adam and SGD, every sampling rule and
 *                           insertion policy, float32 and bfloat16 storage), each prefixed with mode byte 3 (see fuzz_model_load.c);
 *   <out>/fuzz_xc_reader/   small valid and invalid XC files, plain (mode 0), gzipped by the target
 *                           (mode 1, 0x21 truncated) and gzipped here (mode 0 with gzip bytes).
 * Usage: make_fuzz_seeds tests/fuzz/corpus      (deterministic: the same files every run)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef SLIDE_FUZZ_HAVE_ZLIB
#  include <zlib.h>
#endif

#include "slide/slide.h"

static const char *out_dir;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "make_fuzz_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc != SLIDE_OK)
        die(what, slide_last_error());
}

static void write_seed(const char *target, const char *name, unsigned mode, const void *data, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    unsigned char m = (unsigned char)mode;
    if (!f || fwrite(&m, 1, 1, f) != 1 || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        die(path, strerror(errno));
}

/* ------------------------------------------------------------------ models */

typedef struct layer_spec {
    uint32_t units;
    int activation;
    const char *hash; /* NULL: dense */
    int insertion, rule, batch_shared, rehash_touched;
} layer_spec;

/* storage: the slide_storage of every sampled layer (dense layers are always float32). */
static void model_seed_storage(const char *name, uint32_t input_dim, const layer_spec *spec, uint32_t n_layers,
                               int opt_kind, int batches, int storage)
{
    slide_layer_config lc[4];
    const slide_layer_config *lcp[4];
    slide_lsh_config lsh[4];
    for (uint32_t l = 0; l < n_layers; l++) {
        slide_layer_config_init(&lc[l]);
        lc[l].units = spec[l].units;
        lc[l].activation = spec[l].activation;
        if (spec[l].hash) {
            slide_lsh_config_init(&lsh[l]);
            lsh[l].hash = spec[l].hash;
            lsh[l].k = 2;
            lsh[l].tables = 2;
            lsh[l].bucket_size = 4;
            lsh[l].bin_size = 4;
            lsh[l].active_fraction = 0.5f;
            lsh[l].rebuild_period = 2;
            lsh[l].insertion = spec[l].insertion;
            lsh[l].rule = spec[l].rule;
            lsh[l].threshold = 1;
            lsh[l].batch_shared = spec[l].batch_shared;
            lsh[l].rehash_touched = spec[l].rehash_touched;
            lc[l].lsh = &lsh[l];
            lc[l].storage = storage;
        }
        lcp[l] = &lc[l];
    }
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = input_dim;
    cfg.n_layers = n_layers;
    cfg.layers = lcp;
    cfg.seed = 7;
    cfg.threads = 1;
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.kind = opt_kind;
    opt.lr = 0.05f;
    slide_network *net = NULL;
    check(slide_network_create(&cfg, &opt, &net), name);

    /* Four samples with two features and one or two labels each. */
    uint32_t out_units = spec[n_layers - 1].units;
    int32_t feat[8];
    float val[8];
    int64_t x_ptr[5], y_ptr[5];
    int32_t lab[8];
    int64_t nl = 0;
    x_ptr[0] = y_ptr[0] = 0;
    for (int i = 0; i < 4; i++) {
        feat[2 * i] = (int32_t)((uint32_t)i % input_dim);
        feat[2 * i + 1] = (int32_t)((uint32_t)(i + 3) % input_dim);
        if (feat[2 * i + 1] == feat[2 * i])
            feat[2 * i + 1] = (int32_t)((uint32_t)(feat[2 * i] + 1) % input_dim);
        val[2 * i] = 1.0f;
        val[2 * i + 1] = 0.25f * (float)(i + 1);
        x_ptr[i + 1] = 2 * (i + 1);
        lab[nl++] = (int32_t)((uint32_t)i % out_units);
        if (i % 2 && out_units > 1)
            lab[nl++] = (int32_t)((uint32_t)(i + 1) % out_units);
        y_ptr[i + 1] = nl;
    }
    slide_matrix X = {SLIDE_MATRIX_CSR, 4, input_dim, val, x_ptr, feat};
    slide_matrix Y = {SLIDE_MATRIX_CSR, 4, out_units, NULL, y_ptr, lab};
    for (int b = 0; b < batches; b++)
        check(slide_network_train_batch(net, &X, &Y, NULL, 4, NULL), name);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.seed-model.tmp", out_dir);
    check(slide_network_save(net, tmp), name);
    slide_network_free(net);
    FILE *f = fopen(tmp, "rb");
    if (!f)
        die(tmp, strerror(errno));
    unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    if (!feof(f))
        die(name, "model file larger than 64 KB; make the seed network smaller");
    fclose(f);
    unlink(tmp);
    write_seed("fuzz_model_load", name, 3, buf, n);
}

static void model_seed(const char *name, uint32_t input_dim, const layer_spec *spec, uint32_t n_layers, int opt_kind,
                       int batches)
{
    model_seed_storage(name, input_dim, spec, n_layers, opt_kind, batches, SLIDE_STORAGE_F32);
}

static void model_seeds(void)
{
    const int R = SLIDE_ACT_RELU, S = SLIDE_ACT_SOFTMAX, LIN = SLIDE_ACT_LINEAR;
    const int FIFO = SLIDE_INSERT_FIFO, RES = SLIDE_INSERT_RESERVOIR;
    const int TOPK = SLIDE_SAMPLE_TOPK, UNI = SLIDE_SAMPLE_UNION, THR = SLIDE_SAMPLE_THRESHOLD;

    layer_spec dense[2] = {{4, R, NULL, 0, 0, 0, 0}, {5, S, NULL, 0, 0, 0, 0}};
    model_seed("dense_adam.mdl", 6, dense, 2, SLIDE_OPT_ADAM, 2);
    model_seed("dense_sgd.mdl", 6, dense, 2, SLIDE_OPT_SGD, 2);
    layer_spec one[1] = {{3, S, NULL, 0, 0, 0, 0}};
    model_seed("softmax_only.mdl", 2, one, 1, SLIDE_OPT_ADAM, 1);
    layer_spec lin[2] = {{4, LIN, NULL, 0, 0, 0, 0}, {3, S, NULL, 0, 0, 0, 0}};
    model_seed("linear_hidden_untrained.mdl", 5, lin, 2, SLIDE_OPT_ADAM, 0);

    const char *hashes[] = {"dwta", "simhash", "wta", "minhash", "simhash-mips"};
    for (size_t h = 0; h < sizeof hashes / sizeof hashes[0]; h++) {
        layer_spec s[2] = {{6, R, NULL, 0, 0, 0, 0}, {12, S, hashes[h], FIFO, TOPK, 0, 0}};
        char name[64];
        snprintf(name, sizeof name, "sampled_out_%s.mdl", hashes[h]);
        model_seed(name, 8, s, 2, SLIDE_OPT_ADAM, 3);
    }
    layer_spec deep[3] = {{10, R, "dwta", RES, THR, 0, 1}, {8, R, "simhash", FIFO, UNI, 0, 0},
                          {12, S, "wta", RES, TOPK, 1, 1}};
    model_seed("deep_all_sampled_adam.mdl", 7, deep, 3, SLIDE_OPT_ADAM, 3);
    model_seed("deep_all_sampled_sgd.mdl", 7, deep, 3, SLIDE_OPT_SGD, 3);
    layer_spec shared[2] = {{6, R, NULL, 0, 0, 0, 0}, {16, S, "minhash", FIFO, TOPK, 1, 0}};
    model_seed("batch_shared_minhash.mdl", 9, shared, 2, SLIDE_OPT_ADAM, 4);
    /* bfloat16 rows (model format 2) */
    model_seed_storage("deep_all_sampled_bf16_adam.mdl", 7, deep, 3, SLIDE_OPT_ADAM, 3, SLIDE_STORAGE_BF16);
    model_seed_storage("deep_all_sampled_bf16_sgd.mdl", 7, deep, 3, SLIDE_OPT_SGD, 3, SLIDE_STORAGE_BF16);
    model_seed_storage("batch_shared_minhash_bf16.mdl", 9, shared, 2, SLIDE_OPT_ADAM, 4, SLIDE_STORAGE_BF16);
}

/* ------------------------------------------------------------------ XC files */

static void xc_seed(const char *name, const char *text)
{
    write_seed("fuzz_xc_reader", name, 0, text, strlen(text));
}

static void xc_seeds(void)
{
    const char *valid = "3 5 4\n0,2 0:1 3:0.5\n1 1:2.5e-1 4:-3\n 2:1e10\n";
    xc_seed("valid_basic.txt", valid);
    xc_seed("valid_crlf_no_final_newline.txt", "2 4 3\r\n0 0:1\r\n1,2 1:0.125 3:7");
    xc_seed("valid_no_labels_blank_tail.txt", "2 3 2\n 0:1 1:2\n 2:3\n\n\n");
    xc_seed("valid_tabs_long_floats.txt", "1 4 2\n1\t0:0.333333333333333333333\t3:123456789012345678e-20\n");
    xc_seed("valid_zero_points.txt", "0 10 10\n");
    xc_seed("valid_long_row.txt",
            "1 40 30\n0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26 0:1 1:1 2:1 3:1 "
            "4:1 5:1 6:1 7:1 8:1 9:1 10:1 11:1 12:1 13:1 14:1 15:1 16:1 17:1 18:1 19:1 20:1 21:1 22:1 23:1 "
            "24:1 25:1 26:1 27:1 28:1 29:1\n");
    xc_seed("bad_header.txt", "3 five 4\n");
    xc_seed("bad_header_huge.txt", "1 2147483648 1\n0 0:1\n");
    xc_seed("bad_label_range.txt", "1 3 2\n2 0:1\n");
    xc_seed("bad_feature_value.txt", "1 3 2\n1 0:nan\n");
    xc_seed("bad_float_overflow.txt", "1 3 2\n1 0:1e39\n");
    xc_seed("bad_duplicate_feature.txt", "1 3 2\n1 0:1 0:2\n");
    xc_seed("bad_missing_colon.txt", "1 3 2\n1 0 1:2\n");
    xc_seed("bad_more_points.txt", "1 3 2\n1 0:1\n0 1:1\n");
    xc_seed("bad_empty_line.txt", "2 3 2\n1 0:1\n\n0 1:1\n");
    xc_seed("bad_truncated.txt", "3 3 2\n1 0:1\n");
    xc_seed("bad_trailing_comma.txt", "1 3 2\n0,\n");
    write_seed("fuzz_xc_reader", "gzip_by_target.txt", 1, valid, strlen(valid));
    write_seed("fuzz_xc_reader", "gzip_truncated_by_target.txt", 0x21, valid, strlen(valid));
#ifdef SLIDE_FUZZ_HAVE_ZLIB
    unsigned char gz[512];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("zlib", "deflateInit2 failed");
    zs.next_in = (Bytef *)(uintptr_t)valid;
    zs.avail_in = (uInt)strlen(valid);
    zs.next_out = gz;
    zs.avail_out = sizeof gz;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        die("zlib", "deflate failed");
    size_t n = zs.total_out;
    deflateEnd(&zs);
    write_seed("fuzz_xc_reader", "gzip_raw.gz", 0, gz, n);
#endif
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR   (e.g. tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        die(out_dir, strerror(errno));
    model_seeds();
    xc_seeds();
    printf("seeds written under %s\n", out_dir);
    return 0;
}
