/*
 * slide_adam_rows from a C program (public header only): against a double-precision AdamW reference on the
 * listed rows (repeated rows summed), unlisted rows untouched, the same bits for 1 and 2 threads, and
 * refused arguments writing nothing; with row_step, the catch-up of missed steps brings lazy rows close to
 * dense AdamW (zero gradients on unlisted rows), much closer than leaving them frozen; with beta1 = 0 (no
 * momentum: skipped steps only decay v and the weights) it is dense AdamW up to float rounding.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

/* R x D and LISTED x D are above the library's threshold for threads (2^16 values), so both paths run parallel. */
enum { N = 3000, LISTED = 2500, D = 37, R = 2500, STEPS = 4 };

static void fill(float *a, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        a[i] = (float)((seed >> 8) % 20001) / 10000.0f - 1.0f;
    }
}

/* AdamW on the listed rows in double: what slide_adam_rows promises, up to float rounding. */
static void reference(double *w, double *m, double *v, const int64_t *rows, size_t n, const float *g, double lr,
                      double b1, double b2, double eps, double wd, uint64_t t)
{
    double *sum = calloc((size_t)N * D, sizeof *sum);
    char *hit = calloc(N, 1);
    for (size_t i = 0; i < n; i++) {
        hit[rows[i]] = 1;
        for (size_t j = 0; j < D; j++)
            sum[(size_t)rows[i] * D + j] += g[i * D + j];
    }
    const double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    for (size_t r = 0; r < N; r++) {
        if (!hit[r])
            continue;
        for (size_t j = 0; j < D; j++) {
            size_t k = r * D + j;
            m[k] = b1 * m[k] + (1 - b1) * sum[k];
            v[k] = b2 * v[k] + (1 - b2) * sum[k] * sum[k];
            w[k] = w[k] * (1 - lr * wd) - lr / c1 * m[k] / (sqrt(v[k] / c2) + eps);
        }
    }
    free(sum);
    free(hit);
}

/* Dense AdamW in double over every row, zero gradients on rows not listed. */
static void dense_reference(double *w, double *m, double *v, const int64_t *rows, size_t n, const float *g, double lr,
                            double b1, double b2, double eps, double wd, uint64_t t)
{
    double *sum = calloc((size_t)N * D, sizeof *sum);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++)
            sum[(size_t)rows[i] * D + j] += g[i * D + j];
    const double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    for (size_t k = 0; k < (size_t)N * D; k++) {
        m[k] = b1 * m[k] + (1 - b1) * sum[k];
        v[k] = b2 * v[k] + (1 - b2) * sum[k] * sum[k];
        w[k] = w[k] * (1 - lr * wd) - lr / c1 * m[k] / (sqrt(v[k] / c2) + eps);
    }
    free(sum);
}

/* One start w0 of an N x D table: two float copies (w, m, v) for the library, and a double reference. */
typedef struct {
    float *w0, *w[2], *m[2], *v[2];
    double *wr, *mr, *vr;
} tables;

static tables tables_new(unsigned seed)
{
    const size_t nd = (size_t)N * D;
    tables T;
    T.w0 = malloc(sizeof(float) * nd);
    fill(T.w0, nd, seed);
    for (int k = 0; k < 2; k++) {
        T.w[k] = malloc(sizeof(float) * nd);
        T.m[k] = calloc(nd, sizeof(float));
        T.v[k] = calloc(nd, sizeof(float));
        memcpy(T.w[k], T.w0, sizeof(float) * nd);
    }
    T.wr = malloc(sizeof(double) * nd);
    T.mr = calloc(nd, sizeof(double));
    T.vr = calloc(nd, sizeof(double));
    for (size_t i = 0; i < nd; i++)
        T.wr[i] = T.w0[i];
    return T;
}

static void tables_free(tables *T)
{
    for (int k = 0; k < 2; k++) {
        free(T->w[k]);
        free(T->m[k]);
        free(T->v[k]);
    }
    free(T->w0);
    free(T->wr);
    free(T->mr);
    free(T->vr);
}

/*
 * Every row at steps 1 and 12, a fifth of them at steps 2..11: caught up vs frozen vs dense. The catch-up
 * takes the bias correction of a row's first skipped step for all of them, an approximation of the moving
 * term only: with beta1 = 0 that term is 0 and the caught-up rows, v included, must be dense AdamW's.
 */
static void test_catch_up(float beta1)
{
    const size_t nd = (size_t)N * D;
    tables T = tables_new(3);
    float **w = T.w, **m = T.m, **v = T.v;
    double *wr = T.wr, *mr = T.mr, *vr = T.vr;
    float *g = malloc(sizeof(float) * nd);
    uint64_t *row_step = calloc(N, sizeof *row_step);
    int64_t *rows = malloc(sizeof(int64_t) * N);
    slide_row_adam_config cfg;
    OK(slide_row_adam_config_init(&cfg));
    cfg.lr = 0.01f;
    cfg.weight_decay = 0.5f;
    cfg.beta1 = beta1;
    for (uint64_t t = 1; t <= 12; t++) {
        size_t n = 0;
        for (int r = 0; r < N; r++)
            if (t == 1 || t == 12 || (unsigned)(r * 7 + (int)t) % 5 == 0)
                rows[n++] = r;
        fill(g, n * D, (unsigned)t * 31u);
        cfg.step = t;
        OK(slide_adam_rows(w[0], m[0], v[0], row_step, N, D, rows, n, g, &cfg));
        OK(slide_adam_rows(w[1], m[1], v[1], NULL, N, D, rows, n, g, &cfg));
        dense_reference(wr, mr, vr, rows, n, g, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, t);
        if (t == 1)
            EXPECT(memcmp(w[0], w[1], sizeof(float) * nd) == 0, "row_step changed a step without missed steps");
    }
    double err_caught = 0, err_frozen = 0, max_w = 0, max_v = 0;
    for (size_t i = 0; i < nd; i++) {
        err_caught += fabs(w[0][i] - wr[i]);
        err_frozen += fabs(w[1][i] - wr[i]);
        max_w = fmax(max_w, fabs(w[0][i] - wr[i]));
        max_v = fmax(max_v, fabs(v[0][i] - vr[i]) / (vr[i] + 1e-30));
    }
    EXPECT(err_caught < 0.15 * err_frozen, "beta1 %g: catch-up error %g is not well below the frozen rule's %g",
           beta1, err_caught, err_frozen);
    if (beta1 == 0.0f)
        EXPECT(max_w < 1e-5 && max_v < 1e-5, "beta1 0: caught-up rows differ from dense AdamW (weights by %g, v by "
               "a relative %g)", max_w, max_v);
    EXPECT(row_step[0] == 12 && row_step[N - 1] == 12, "row_step holds the last update");
    cfg.step = 12; /* the same step again: row_step says every row already took it */
    EXPECT(slide_adam_rows(w[0], m[0], v[0], row_step, N, D, rows, 1, g, &cfg) == SLIDE_E_INVALID,
           "a row_step entry at or after cfg->step");
    tables_free(&T);
    free(g);
    free(row_step);
    free(rows);
}

int main(void)
{
    test_catch_up(0.9f);
    test_catch_up(0.0f);
    tables T = tables_new(1);
    float **w = T.w, **m = T.m, **v = T.v, *w0 = T.w0;
    double *wr = T.wr, *mr = T.mr, *vr = T.vr;
    float *g = malloc(sizeof(float) * R * D);
    int64_t rows[R];

    slide_row_adam_config cfg;
    OK(slide_row_adam_config_init(&cfg));
    EXPECT(cfg.lr == 1e-3f && cfg.beta1 == 0.9f && cfg.beta2 == 0.999f && cfg.step == 0, "defaults");
    cfg.lr = 0.01f;
    cfg.weight_decay = 0.5f;
    unsigned seed = 7;
    for (uint64_t t = 1; t <= STEPS; t++) {
        /* rows LISTED.. are never listed; odd steps list rows 0..LISTED-1 in order, even steps draw with repeats */
        for (int i = 0; i < R; i++) {
            seed = seed * 1103515245u + 12345u;
            rows[i] = t % 2 ? (int64_t)i : (int64_t)((seed >> 8) % LISTED);
        }
        size_t n = R;
        fill(g, (size_t)R * D, (unsigned)t * 17u);
        cfg.step = t;
        for (int k = 0; k < 2; k++) {
            cfg.threads = k + 1;
            OK(slide_adam_rows(w[k], m[k], v[k], NULL, N, D, rows, n, g, &cfg));
        }
        reference(wr, mr, vr, rows, n, g, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, t);
    }
    EXPECT(memcmp(w[0], w[1], sizeof(float) * N * D) == 0 && memcmp(v[0], v[1], sizeof(float) * N * D) == 0,
           "1 and 2 threads give different bits");
    double worst = 0, moved = 0;
    for (size_t i = 0; i < (size_t)N * D; i++) {
        worst = fmax(worst, fabs(w[0][i] - wr[i]) + fabs(m[0][i] - mr[i]) + fabs(v[0][i] - vr[i]));
        moved = fmax(moved, fabs(w[0][i] - w0[i]));
    }
    EXPECT(worst < 1e-5, "differs from the AdamW reference by %g", worst);
    EXPECT(moved > 0.02, "the weights hardly moved (%g)", moved);
    EXPECT(memcmp(w[0] + (size_t)LISTED * D, w0 + (size_t)LISTED * D, sizeof(float) * (N - LISTED) * D) == 0,
           "an unlisted row moved");

    /* Refused arguments: an error message, nothing written. */
    float *before = malloc(sizeof(float) * N * D);
    memcpy(before, w[0], sizeof(float) * N * D);
    rows[0] = 1;
    rows[1] = N; /* out of range, after a valid row */
    cfg.step = STEPS + 1;
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 2, g, &cfg) == SLIDE_E_INVALID, "row out of range");
    EXPECT(strstr(slide_last_error(), "rows[1]") != NULL, "message names the entry: %s", slide_last_error());
    rows[1] = -1;
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 2, g, &cfg) == SLIDE_E_INVALID, "negative row");
    cfg.step = 0;
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 1, g, &cfg) == SLIDE_E_INVALID, "step 0");
    cfg.step = 1;
    cfg.beta2 = 1.0f;
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 1, g, &cfg) == SLIDE_E_INVALID, "beta2 1");
    cfg.beta2 = 0.999f;
    cfg.weight_decay = 1000.0f;
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 1, g, &cfg) == SLIDE_E_INVALID, "lr * wd >= 1");
    cfg.weight_decay = 0.0f;
    EXPECT(slide_adam_rows(w[0], NULL, v[0], NULL, N, D, rows, 1, g, &cfg) == SLIDE_E_INVALID, "NULL moments");
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, 0, rows, 1, g, &cfg) == SLIDE_E_INVALID, "dim 0");
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 1, g, NULL) == SLIDE_E_INVALID, "NULL config");
    slide_row_adam_config small = cfg;
    small.struct_size = sizeof(size_t) + sizeof(float);
    EXPECT(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, rows, 1, g, &small) == SLIDE_E_INVALID, "short struct");
    EXPECT(slide_row_adam_config_init_v(&small, 4) == SLIDE_E_INVALID, "init with a size below the struct");
    OK(slide_adam_rows(w[0], m[0], v[0], NULL, N, D, NULL, 0, NULL, &cfg)); /* nothing to do */
    EXPECT(memcmp(before, w[0], sizeof(float) * N * D) == 0, "a refused call wrote weights");

    tables_free(&T);
    free(before);
    free(g);
    if (failures)
        fprintf(stderr, "test_row_adam: %d failure(s)\n", failures);
    return failures != 0;
}
