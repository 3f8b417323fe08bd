/*
 * Training in two phases (slide_network_train_begin / _apply / _cancel), written like a user program:
 * begin + apply equals train_batch to the bit, dL/dX matches finite differences of the loss, a pending step
 * holds the network, cancel changes nothing, and bad calls are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slide/slide.h>

#include "expect.h"

enum { D = 12, C = 400, B = 6 };

/* A softmax head over dense input of width D: every neuron computed (lsh NULL) or sampled by *lsh. */
static slide_network *make(const slide_lsh_config *lsh)
{
    slide_layer_config o;
    slide_layer_config_init(&o);
    o.units = C;
    o.activation = SLIDE_ACT_SOFTMAX;
    o.lsh = lsh;
    const slide_layer_config *layers[] = {&o};
    slide_network_config cfg;
    slide_network_config_init(&cfg);
    cfg.input_dim = D;
    cfg.n_layers = 1;
    cfg.layers = layers;
    cfg.seed = 11;
    cfg.threads = 2;
    slide_network *net = NULL;
    OK(slide_network_create(&cfg, NULL, &net));
    return net;
}

static float xs[B * D];
static int64_t yptr[B + 1];
static int32_t yind[2 * B];

static void make_batch(slide_matrix *X, slide_matrix *Y)
{
    unsigned r = 12345;
    for (int i = 0; i < B * D; i++) {
        r = r * 1103515245u + 12345u;
        xs[i] = (float)((r >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    int64_t k = 0;
    for (int s = 0; s < B; s++) {
        yptr[s] = k;
        yind[k++] = (int32_t)(s * 37 % C);
        if (s % 2)
            yind[k++] = (int32_t)(s * 53 % C + 1);
    }
    yptr[B] = k;
    *X = (slide_matrix){SLIDE_MATRIX_DENSE, B, D, xs, NULL, NULL};
    *Y = (slide_matrix){SLIDE_MATRIX_CSR, B, C, NULL, yptr, yind};
}

static float *weights(slide_network *net)
{
    float *w = malloc(sizeof(float) * C * D);
    OK(slide_network_get_weights(net, 0, w, (size_t)C * D));
    return w;
}

static double loss_of(slide_network *net, const slide_matrix *X, const slide_matrix *Y)
{
    slide_batch_stats st = {sizeof st, 0, 0};
    OK(slide_network_train_begin(net, X, Y, NULL, B, &st, NULL, 0));
    OK(slide_network_train_cancel(net));
    return st.loss;
}

static void test_two_phases_equal_train_batch(const slide_lsh_config *lsh)
{
    slide_matrix X, Y;
    make_batch(&X, &Y);
    slide_network *a = make(lsh), *b = make(lsh);
    if (!a || !b)
        return;
    float grad[B * D];
    for (int step = 0; step < 5; step++) {
        slide_batch_stats sa = {sizeof sa, 0, 0}, sb = {sizeof sb, 0, 0};
        OK(slide_network_train_batch(a, &X, &Y, NULL, B, &sa));
        OK(slide_network_train_begin(b, &X, &Y, NULL, B, &sb, grad, B * D));
        OK(slide_network_train_apply(b));
        EXPECT(sa.loss == sb.loss, "step %d: loss %.9g vs %.9g", step, sa.loss, sb.loss);
    }
    float *wa = weights(a), *wb = weights(b);
    EXPECT(memcmp(wa, wb, sizeof(float) * C * D) == 0, "weights differ after begin + apply");
    EXPECT(slide_network_step_count(a) == 5 && slide_network_step_count(b) == 5, "steps %llu %llu",
           (unsigned long long)slide_network_step_count(a), (unsigned long long)slide_network_step_count(b));
    free(wa);
    free(wb);
    slide_network_free(a);
    slide_network_free(b);
}

static void test_input_gradient_matches_finite_differences(void)
{
    slide_matrix X, Y;
    make_batch(&X, &Y);
    slide_network *net = make(NULL);
    if (!net)
        return;
    float grad[B * D];
    slide_batch_stats st = {sizeof st, 0, 0};
    OK(slide_network_train_begin(net, &X, &Y, NULL, B, &st, grad, B * D));
    OK(slide_network_train_cancel(net));
    double worst = 0.0;
    for (int i = 0; i < B * D; i += 5) {
        const float keep = xs[i], eps = 1e-2f;
        xs[i] = keep + eps;
        double up = loss_of(net, &X, &Y);
        xs[i] = keep - eps;
        double down = loss_of(net, &X, &Y);
        xs[i] = keep;
        double fd = (up - down) / (2.0 * eps), err = fabs(fd - grad[i]) / (fabs(fd) + 1e-3);
        worst = err > worst ? err : worst;
    }
    EXPECT(worst < 0.02, "dL/dX differs from finite differences by %g (relative)", worst);
    slide_network_free(net);
}

static void test_pending_step_holds_the_network(void)
{
    slide_matrix X, Y;
    make_batch(&X, &Y);
    slide_network *net = make(NULL);
    if (!net)
        return;
    float *before = weights(net);
    EXPECT(slide_network_train_apply(net) == SLIDE_E_INVALID, "apply without a pending step");
    EXPECT(slide_network_train_cancel(net) == SLIDE_E_INVALID, "cancel without a pending step");
    OK(slide_network_train_begin(net, &X, &Y, NULL, B, NULL, NULL, 0));
    EXPECT(slide_network_train_batch(net, &X, &Y, NULL, B, NULL) == SLIDE_E_BUSY, "train while pending");
    EXPECT(strstr(slide_last_error(), "pending") != NULL, "message: %s", slide_last_error());
    int32_t ids[B];
    float scores[B];
    EXPECT(slide_network_predict_topk(net, &X, NULL, B, 1, SLIDE_PREDICT_EXACT, ids, scores) == SLIDE_E_BUSY,
           "predict while pending");
    OK(slide_network_train_cancel(net));
    float *after = weights(net);
    EXPECT(memcmp(before, after, sizeof(float) * C * D) == 0, "cancel changed the weights");
    EXPECT(slide_network_step_count(net) == 0, "cancel counted a step");
    OK(slide_network_train_batch(net, &X, &Y, NULL, B, NULL));
    free(before);
    free(after);
    slide_network_free(net);
}

static void test_bad_calls_are_refused(void)
{
    slide_matrix X, Y;
    make_batch(&X, &Y);
    slide_network *net = make(NULL);
    if (!net)
        return;
    float grad[B * D];
    EXPECT(slide_network_train_begin(net, &X, &Y, NULL, B, NULL, grad, B * D - 1) == SLIDE_E_INVALID,
           "grad_input one float short");
    int64_t xptr[B + 1] = {0};
    int32_t xind[1] = {0};
    float xval[1] = {1.0f};
    for (int s = 1; s <= B; s++)
        xptr[s] = 1;
    slide_matrix Xs = {SLIDE_MATRIX_CSR, B, D, xval, xptr, xind};
    EXPECT(slide_network_train_begin(net, &Xs, &Y, NULL, B, NULL, grad, B * D) == SLIDE_E_INVALID,
           "grad_input with a sparse X");
    /* nothing pending after a refusal */
    OK(slide_network_train_batch(net, &X, &Y, NULL, B, NULL));
    slide_network_free(net);
}

int main(void)
{
    slide_lsh_config lsh;
    slide_lsh_config_init(&lsh);
    lsh.max_active = 64;
    test_two_phases_equal_train_batch(NULL);
    test_two_phases_equal_train_batch(&lsh);
    test_input_gradient_matches_finite_differences();
    test_pending_step_holds_the_network();
    test_bad_calls_are_refused();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("train steps: all passed\n");
    return 0;
}
