/*
 * The sharded softmax step (slide_network_shard_forward / _shard_backward), written like a user program: two
 * shards holding halves of a layer's classes, combined by the caller, give the loss, dL/dX and updated rows
 * of the whole layer when every class is computed; misuse is refused and leaves the step pending.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slide/slide.h>

#include "expect.h"

enum { D = 10, C = 300, HALF = C / 2, B = 5 };

/* A softmax over dense inputs, batch-shared with every class in the set (sampled: the exact full softmax
 * then) or fully computed (sampled = 0, which a shard cannot be). */
static slide_network *make(uint32_t units, int sampled)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.active_fraction = 1.0f;
    slide_layer_config o;
    slide_layer_config_init(&o);
    o.units = units;
    o.activation = SLIDE_ACT_SOFTMAX;
    o.lsh = sampled ? &lsh : NULL;
    const slide_layer_config *layers[] = {&o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = D;
    cfg.n_layers = 1;
    cfg.layers = layers;
    cfg.seed = 5;
    cfg.threads = 2;
    slide_network *net = NULL;
    OK(slide_network_create(&cfg, NULL, &net));
    return net;
}

static float xs[B * D];
/* Row labels over the whole layer; shard s holds classes [s * HALF, (s + 1) * HALF). */
static const int32_t labels[B][3] = {{3, -1, -1}, {200, 17, -1}, {299, -1, -1}, {150, 149, 5}, {-1, -1, -1}};
static int64_t yptr[3][B + 1]; /* [0]: the whole layer, [1], [2]: shard 0, 1 (local ids) */
static int32_t yind[3][3 * B];
static uint32_t counts[B];

static void make_batch(slide_matrix *X, slide_matrix Y[3])
{
    unsigned r = 777;
    for (int i = 0; i < B * D; i++) {
        r = r * 1103515245u + 12345u;
        xs[i] = (float)((r >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    int64_t k[3] = {0, 0, 0};
    for (int s = 0; s < B; s++) {
        counts[s] = 0;
        for (int v = 0; v < 3; v++)
            yptr[v][s] = k[v];
        for (int j = 0; j < 3 && labels[s][j] >= 0; j++) {
            const int32_t y = labels[s][j], shard = y / HALF;
            yind[0][k[0]++] = y;
            yind[1 + shard][k[1 + shard]++] = y - shard * HALF;
            counts[s]++;
        }
    }
    for (int v = 0; v < 3; v++) {
        yptr[v][B] = k[v];
        Y[v] = (slide_matrix){SLIDE_MATRIX_CSR, B, v ? HALF : C, NULL, yptr[v], yind[v]};
    }
    *X = (slide_matrix){SLIDE_MATRIX_DENSE, B, D, xs, NULL, NULL};
}

static void test_two_shards_equal_the_whole_layer(void)
{
    slide_matrix X, Y[3];
    make_batch(&X, Y);
    slide_network *whole = make(C, 1), *shard[2] = {make(HALF, 1), make(HALF, 1)};
    if (!whole || !shard[0] || !shard[1])
        return;
    float *w = malloc(sizeof(float) * C * D);
    OK(slide_network_get_weights(whole, 0, w, (size_t)C * D));
    for (int s = 0; s < 2; s++)
        OK(slide_network_set_weights(shard[s], 0, w + (size_t)s * HALF * D, (size_t)HALF * D));

    float grad[B * D], part[2][B * D], mx[2][B], se[2][B], log_norm[B];
    slide_batch_stats st = {sizeof st, 0, 0}, sp[2] = {{sizeof sp[0], 0, 0}, {sizeof sp[1], 0, 0}};
    OK(slide_network_train_begin(whole, &X, &Y[0], NULL, B, &st, grad, B * D));
    for (int s = 0; s < 2; s++)
        OK(slide_network_shard_forward(shard[s], &X, &Y[1 + s], NULL, B, counts, mx[s], se[s]));
    for (int i = 0; i < B; i++) {
        const double M = fmax(mx[0][i], mx[1][i]);
        log_norm[i] = (float)(M + log(se[0][i] * exp(mx[0][i] - M) + se[1][i] * exp(mx[1][i] - M)));
    }
    for (int s = 0; s < 2; s++)
        OK(slide_network_shard_backward(shard[s], log_norm, &sp[s], part[s], B * D));
    EXPECT(fabs(sp[0].loss + sp[1].loss - st.loss) <= 1e-5 * (1 + fabs(st.loss)), "loss %.7g + %.7g vs %.7g",
           sp[0].loss, sp[1].loss, st.loss);
    double worst = 0;
    for (int i = 0; i < B * D; i++)
        worst = fmax(worst, fabs(part[0][i] + part[1][i] - grad[i]));
    EXPECT(worst <= 1e-6, "dL/dX differs by %g", worst);

    OK(slide_network_train_apply(whole));
    for (int s = 0; s < 2; s++)
        OK(slide_network_train_apply(shard[s]));
    float *after = malloc(sizeof(float) * C * D), *half = malloc(sizeof(float) * HALF * D);
    OK(slide_network_get_weights(whole, 0, after, (size_t)C * D));
    worst = 0;
    for (int s = 0; s < 2; s++) {
        OK(slide_network_get_weights(shard[s], 0, half, (size_t)HALF * D));
        for (int i = 0; i < HALF * D; i++)
            worst = fmax(worst, fabs(half[i] - after[(size_t)s * HALF * D + i]));
    }
    EXPECT(worst <= 1e-6, "updated rows differ by %g", worst);
    free(w);
    free(after);
    free(half);
    slide_network_free(whole);
    slide_network_free(shard[0]);
    slide_network_free(shard[1]);
}

static void test_misuse_is_refused(void)
{
    slide_matrix X, Y[3];
    make_batch(&X, Y);
    slide_network *net = make(HALF, 1);
    if (!net)
        return;
    float mx[B], se[B], log_norm[B];
    EXPECT(slide_network_shard_backward(net, log_norm, NULL, NULL, 0) == SLIDE_E_INVALID, "backward without forward");
    uint32_t few[B] = {0, 0, 0, 0, 0};
    EXPECT(slide_network_shard_forward(net, &X, &Y[1], NULL, B, few, mx, se) == SLIDE_E_INVALID &&
               strstr(slide_last_error(), "label_counts[0]") != NULL,
           "counts below the shard's labels: %s", slide_last_error());
    EXPECT(slide_network_shard_forward(net, &X, &Y[1], NULL, B, NULL, mx, se) == SLIDE_E_INVALID, "NULL counts");
    OK(slide_network_shard_forward(net, &X, &Y[1], NULL, B, counts, mx, se));
    EXPECT(slide_network_train_apply(net) == SLIDE_E_INVALID && strstr(slide_last_error(), "shard_backward") != NULL,
           "apply before backward: %s", slide_last_error());
    EXPECT(slide_network_save(net, "/nonexistent/x.slide") == SLIDE_E_BUSY, "the step holds the network");
    for (int i = 0; i < B; i++)
        log_norm[i] = mx[i] - 1.0f; /* below this shard's own largest logit */
    EXPECT(slide_network_shard_backward(net, log_norm, NULL, NULL, 0) == SLIDE_E_INVALID, "log_norm too small");
    log_norm[0] = NAN;
    EXPECT(slide_network_shard_backward(net, log_norm, NULL, NULL, 0) == SLIDE_E_INVALID, "NaN log_norm");
    OK(slide_network_train_cancel(net)); /* still pending after the refusals */
    EXPECT(slide_network_train_cancel(net) == SLIDE_E_INVALID, "nothing left to cancel");
    slide_network_free(net);

    /* Only a network of one batch-shared softmax layer can be a shard. */
    slide_network *dense = make(HALF, 0);
    EXPECT(slide_network_shard_forward(dense, &X, &Y[1], NULL, B, counts, mx, se) == SLIDE_E_INVALID,
           "a fully computed layer is refused");
    slide_network_free(dense);
}

int main(void)
{
    test_two_shards_equal_the_whole_layer();
    test_misuse_is_refused();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("shard: all passed\n");
    return 0;
}
