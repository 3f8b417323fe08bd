/*
 * Hash tables that hold their layer, written like a user program (public header only): the occupancy report
 * (slide_network_table_stats and its struct_size contract), the automatic bucket size, the refusal of tables
 * too small for their layer, and the minimum of negatives in training sets.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slide/slide.h>

#include "expect.h"

enum { IN = 16, HIDDEN = 32, BIG = 20000 };

/* input IN -> HIDDEN relu (fully computed) -> units softmax, sampled by *lsh (NULL: fully computed). */
static int make(uint32_t units, const slide_lsh_config *lsh, slide_network **out)
{
    slide_layer_config h, o;
    slide_layer_config_init(&h);
    h.units = HIDDEN;
    slide_layer_config_init(&o);
    o.units = units;
    o.activation = SLIDE_ACT_SOFTMAX;
    o.lsh = lsh;
    const slide_layer_config *layers[] = {&h, &o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = IN;
    cfg.n_layers = 2;
    cfg.layers = layers;
    cfg.seed = 3;
    cfg.threads = 2;
    *out = NULL;
    return slide_network_create(&cfg, NULL, out);
}

static int stats_of(slide_network *net, uint32_t layer, slide_table_stats *st)
{
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    return slide_network_table_stats(net, layer, st);
}

/* Default settings on 20,000 neurons: every table holds every neuron of a freshly initialised layer. */
static void test_auto_size_holds_the_layer(void)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    EXPECT(lsh.bucket_size == 0, "bucket_size default is auto (0), got %u", lsh.bucket_size);
    slide_network *net;
    OK(make(BIG, &lsh, &net));
    if (!net)
        return;
    slide_table_stats st;
    OK(stats_of(net, 1, &st));
    EXPECT(st.struct_size == sizeof st, "struct_size %zu", st.struct_size);
    EXPECT(st.tables == 50 && st.buckets == 64, "tables %u, buckets %u", st.tables, st.buckets);
    /* 2 * 20,000 / 64 = 625 ids per bucket, rounded up to a power of two */
    EXPECT(st.bucket_capacity == 1024, "auto bucket capacity %u, want 1024", st.bucket_capacity);
    EXPECT(st.units == BIG && st.present == BIG && st.present_share == 1.0, "present %u of %u (%g)", st.present,
           st.units, st.present_share);
    EXPECT(st.entries_per_neuron == 50.0, "entries per neuron %g, want every table to hold every neuron",
           st.entries_per_neuron);
    EXPECT(st.dropped == 0 && st.full_share == 0.0 && st.max_fill < 1.0, "dropped %llu, full %g, max fill %g",
           (unsigned long long)st.dropped, st.full_share, st.max_fill);
    EXPECT(st.mean_fill > 0.3 && st.mean_fill < 0.31, "mean fill %g, want 20000 / (64 * 1024)", st.mean_fill);
    EXPECT(st.table_bytes >= 50ull * 64 * 1025 * 4 && st.table_bytes < 50ull * 64 * 1025 * 4 + 4096,
           "table bytes %llu", (unsigned long long)st.table_bytes);
    slide_network_free(net);
}

/* Explicit sizes are kept; tables * buckets * bucket_size slots below the layer's neurons are refused. */
static void test_too_small_is_refused(void)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.bucket_size = 16;
    lsh.tables = 2;
    slide_network *net = (slide_network *)&lsh; /* must be reset to NULL */
    int rc = make(BIG, &lsh, &net);
    EXPECT(rc == SLIDE_E_INVALID && net == NULL, "k=6, 2 tables of 64 x 16 ids for 20,000 neurons: rc %d", rc);
    const char *msg = slide_last_error();
    EXPECT(strstr(msg, "layer 1") && strstr(msg, "2048 slots") && strstr(msg, "20000 neurons") &&
               strstr(msg, "leave bucket_size unset for the automatic size (1024 ids per bucket here)"),
           "message names the layer, the numbers and the fix: %s", msg);
    /* One table of 64 x 128 ids (8,192 slots) cannot hold 20,000 neurons either. */
    lsh.bucket_size = 128;
    lsh.tables = 1;
    EXPECT(make(BIG, &lsh, &net) == SLIDE_E_INVALID, "1 table of 64 x 128 ids for 20,000 neurons");
    /* Exactly enough slots in total is accepted: 2 tables x 64 x 157 = 20,096. */
    lsh.tables = 2;
    lsh.bucket_size = 157;
    OK(make(BIG, &lsh, &net));
    slide_table_stats st;
    if (net) {
        OK(stats_of(net, 1, &st));
        EXPECT(st.bucket_capacity == 157, "explicit bucket size kept, got %u", st.bucket_capacity);
    }
    slide_network_free(net);
}

/* A layer that fits in total but whose neurons hash alike crowds one bucket per table. */
static void test_crowded_layer_is_reported(void)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.bucket_size = 128; /* 50 tables x 64 x 128 = 409,600 slots: accepted */
    slide_network *net;
    OK(make(BIG, &lsh, &net));
    if (!net)
        return;
    /* Every weight row the same direction plus tiny noise: SimHash sends them all to one bucket per table. */
    float *w = malloc(sizeof(float) * (size_t)BIG * HIDDEN);
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)BIG * HIDDEN; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        w[i] = 1.0f + (float)((s >> 40) % 1000) * 1e-7f;
    }
    OK(slide_network_set_weights(net, 1, w, (size_t)BIG * HIDDEN));
    OK(slide_network_rebuild_tables(net));
    slide_table_stats st;
    OK(stats_of(net, 1, &st));
    EXPECT(st.present_share < 0.5, "crowded layer: %g of neurons present, want < 0.5", st.present_share);
    EXPECT(st.max_fill == 1.0 && st.dropped > 0, "max fill %g, dropped %llu", st.max_fill,
           (unsigned long long)st.dropped);
    EXPECT(st.full_share > 0.0 && st.full_share < 0.1, "full share %g", st.full_share);
    free(w);
    slide_network_free(net);
}

/* No byte past the caller's struct_size is written; errors for layers without tables. */
static void test_struct_size_and_errors(void)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    slide_network *net;
    OK(make(3000, &lsh, &net));
    if (!net)
        return;
    enum { SLACK = 32 };
    const size_t sizes[] = {offsetof(slide_table_stats, tables) + sizeof(uint32_t),
                            offsetof(slide_table_stats, present_share), offsetof(slide_table_stats, table_bytes),
                            sizeof(slide_table_stats)};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        unsigned char buf[sizeof(slide_table_stats) + SLACK];
        memset(buf, 0xA5, sizeof buf);
        slide_table_stats head;
        head.struct_size = sizes[k];
        memcpy(buf, &head.struct_size, sizeof head.struct_size);
        OK(slide_network_table_stats(net, 1, (slide_table_stats *)(void *)buf));
        size_t got;
        memcpy(&got, buf, sizeof got);
        EXPECT(got == sizes[k], "struct_size %zu came back as %zu", sizes[k], got);
        size_t bad = 0;
        for (size_t i = sizes[k]; i < sizeof buf; i++)
            bad += buf[i] != 0xA5;
        EXPECT(bad == 0, "struct_size %zu: %zu canary bytes after it were written", sizes[k], bad);
        uint32_t tables;
        memcpy(&tables, buf + offsetof(slide_table_stats, tables), sizeof tables);
        EXPECT(tables == 50, "tables %u within struct_size %zu", tables, sizes[k]);
    }
    slide_table_stats st;
    st.struct_size = sizeof(size_t);
    EXPECT(slide_network_table_stats(net, 1, &st) == SLIDE_E_INVALID, "struct_size too small");
    EXPECT(stats_of(net, 0, &st) == SLIDE_E_INVALID && strstr(slide_last_error(), "fully computed"),
           "dense layer: %s", slide_last_error());
    EXPECT(stats_of(net, 2, &st) == SLIDE_E_INVALID, "layer out of range");
    EXPECT(slide_network_table_stats(NULL, 1, &st) == SLIDE_E_INVALID, "NULL net");
    EXPECT(slide_network_table_stats(net, 1, NULL) == SLIDE_E_INVALID, "NULL out");
    slide_network_free(net);

    lsh.hash = "exact";
    OK(make(3000, &lsh, &net));
    EXPECT(net && stats_of(net, 1, &st) == SLIDE_E_INVALID && strstr(slide_last_error(), "exact"),
           "exact oracle: %s", slide_last_error());
    slide_network_free(net);
}

/*
 * A batch of 8 samples with 6 labels each (48 distinct). Returns the mean active count of the output layer.
 */
static double train_one_batch(slide_network *net)
{
    float x[8 * IN];
    for (int i = 0; i < 8 * IN; i++)
        x[i] = (float)((i * 7919) % 13) / 13.0f;
    int64_t indptr[9];
    int32_t labels[48];
    for (int i = 0; i <= 8; i++)
        indptr[i] = 6 * i;
    for (int i = 0; i < 48; i++)
        labels[i] = 37 * i;
    slide_matrix X = {.kind = SLIDE_MATRIX_DENSE, .rows = 8, .cols = IN, .values = x};
    slide_matrix Y = {.kind = SLIDE_MATRIX_CSR, .rows = 8, .cols = 2000, .indptr = indptr, .indices = labels};
    slide_batch_stats bs = {.struct_size = sizeof bs};
    OK(slide_network_train_batch(net, &X, &Y, NULL, 8, &bs));
    return bs.active_output;
}

/* Stale tables (training reads none) are rebuilt before they are reported, once. */
static void test_stale_tables_are_refreshed(void)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh); /* random_fraction 1: training never reads the tables */
    slide_network *net;
    OK(make(2000, &lsh, &net));
    if (!net)
        return;
    train_one_batch(net);
    slide_layer_info info = {.struct_size = sizeof info};
    OK(slide_network_layer_info(net, 1, &info));
    const uint64_t before = info.rebuilds;
    slide_table_stats st;
    OK(stats_of(net, 1, &st));
    OK(slide_network_layer_info(net, 1, &info));
    EXPECT(info.rebuilds == before + 1, "stale tables rebuilt by the report: %llu -> %llu",
           (unsigned long long)before, (unsigned long long)info.rebuilds);
    OK(stats_of(net, 1, &st));
    OK(slide_network_layer_info(net, 1, &info));
    EXPECT(info.rebuilds == before + 1, "fresh tables are not rebuilt again");
    EXPECT(st.present == 2000, "present %u", st.present);
    slide_network_free(net);
}

/*
 * Retrieval that returns (almost) nothing -- a neuron must share the query's bucket in all 8 tables -- and no
 * random share: the set still holds min_active (16 / 4 = 4) neurons besides the labels.
 */
static void test_minimum_negatives(void)
{
    for (int shared = 0; shared <= 1; shared++) {
        slide_lsh_config lsh;
        slide_lsh_config_init(&lsh);
        lsh.tables = 8;
        lsh.rule = SLIDE_SAMPLE_THRESHOLD;
        lsh.threshold = 8;
        lsh.random_fraction = 0.0f;
        lsh.max_active = 16;
        lsh.batch_shared = shared;
        lsh.logq_correction = 0;
        slide_network *net;
        OK(make(2000, &lsh, &net));
        if (!net)
            continue;
        double active = train_one_batch(net);
        /* per sample: 6 labels + >= 4 others; batch-shared: the batch's 48 labels + >= 4 others */
        double want = shared ? 48 + 4 : 6 + 4;
        EXPECT(active >= want, "batch_shared %d: %g active neurons per sample, want >= %g", shared, active, want);
        slide_network_free(net);
    }
}

int main(void)
{
    test_auto_size_holds_the_layer();
    test_too_small_is_refused();
    test_crowded_layer_is_reported();
    test_struct_size_and_errors();
    test_stale_tables_are_refreshed();
    test_minimum_negatives();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all table tests passed\n");
    return 0;
}
