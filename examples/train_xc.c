/*
 * Trains an LSH-sampled network on Extreme Classification Repository files through the C API and
 * prints P@1 / P@5 on the whole test file after every epoch.
 *
 *   train_xc TRAIN TEST [epochs=3] [hidden=128] [active=0.05] [threads=0] [lr=0.003] [hash=simhash]
 *
 * Build against an installed libslide with
 *   cc train_xc.c $(python -m libslide config --cflags --libs) -o train_xc
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <slide/slide.h>

#define CHECK(call)                                                                        \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != SLIDE_OK) {                                                             \
            fprintf(stderr, "error: %s: %s\n", slide_status_string(rc_), slide_last_error()); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TRAIN TEST [epochs] [hidden] [active] [threads] [lr] [hash]\n", argv[0]);
        return 2;
    }
    int epochs = argc > 3 ? atoi(argv[3]) : 3;
    unsigned hidden = argc > 4 ? (unsigned)atoi(argv[4]) : 128;
    float active = argc > 5 ? (float)atof(argv[5]) : 0.05f;
    int threads = argc > 6 ? atoi(argv[6]) : 0;
    float lr = argc > 7 ? (float)atof(argv[7]) : 3e-3f;
    const char *hash = argc > 8 ? argv[8] : "simhash";

    slide_dataset *train = NULL, *test = NULL;
    CHECK(slide_dataset_load_xc(argv[1], &train));
    CHECK(slide_dataset_load_xc(argv[2], &test));
    slide_matrix X, Y, Xt, Yt;
    CHECK(slide_dataset_features(train, &X));
    CHECK(slide_dataset_labels(train, &Y));
    CHECK(slide_dataset_features(test, &Xt));
    CHECK(slide_dataset_labels(test, &Yt));
    printf("libslide %s: train %lld x %lld, %lld labels; test %lld points\n", slide_version_string(),
           (long long)X.rows, (long long)X.cols, (long long)Y.cols, (long long)Xt.rows);

    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.hash = hash;
    lsh.active_fraction = active;
    slide_layer_config hid, out;
    slide_layer_config_init(&hid);
    hid.units = hidden;
    hid.activation = SLIDE_ACT_RELU;
    slide_layer_config_init(&out);
    out.units = (unsigned)Y.cols;
    out.activation = SLIDE_ACT_SOFTMAX;
    out.lsh = &lsh;
    const slide_layer_config *layers[] = {&hid, &out};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = (unsigned)X.cols;
    cfg.n_layers = 2;
    cfg.layers = layers;
    cfg.seed = 1;
    cfg.threads = threads;
    slide_optimizer_config opt;
    slide_optimizer_config_init(&opt);
    opt.lr = lr;
    slide_network *net = NULL;
    CHECK(slide_network_create(&cfg, &opt, &net));

    int64_t n = X.rows, batch = 128;
    int64_t *order = malloc(sizeof(int64_t) * (size_t)n);
    int32_t *pred = malloc(sizeof(int32_t) * (size_t)Xt.rows * 5);
    float *score = malloc(sizeof(float) * (size_t)Xt.rows * 5);
    if (!order || !pred || !score)
        return 1;
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    unsigned long long rs = 12345;
    for (int e = 1; e <= epochs; e++) {
        for (int64_t i = n - 1; i > 0; i--) { /* shuffle */
            rs = rs * 6364136223846793005ull + 1442695040888963407ull;
            int64_t j = (int64_t)((rs >> 33) % (unsigned long long)(i + 1));
            int64_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double t0 = now(), loss = 0.0, act = 0.0;
        int64_t batches = 0;
        for (int64_t b = 0; b < n; b += batch) {
            slide_batch_stats st = {sizeof st, 0, 0};
            CHECK(slide_network_train_batch(net, &X, &Y, order + b, n - b < batch ? n - b : batch, &st));
            loss += st.loss;
            act += st.active_output;
            batches++;
        }
        double secs = now() - t0;
        CHECK(slide_network_predict_topk(net, &Xt, NULL, Xt.rows, 5, SLIDE_PREDICT_EXACT, pred, score));
        double hits[5];
        CHECK(slide_precision_at_k(&Yt, NULL, Xt.rows, pred, 5, 5, hits));
        printf("epoch %d: loss %.4f, %.0f samples/s, %.0f active output neurons, P@1 %.4f, P@5 %.4f\n", e,
               loss / (double)batches, (double)n / secs, act / (double)batches, hits[0] / (double)Xt.rows,
               hits[4] / (5.0 * (double)Xt.rows));
    }
    free(order);
    free(pred);
    free(score);
    slide_network_free(net);
    slide_dataset_free(train);
    slide_dataset_free(test);
    return 0;
}
