/*
 * Synthetic multi-label data shared by the C tests: label y owns features [y*F, y*F+F); each point has
 * one label skewed towards small ids, maybe a second one, and about half of each label's features.
 * The caller supplies its own random source `below(n)` (uniform in [0, n)), so each test keeps its stream.
 */
#ifndef SLIDE_TEST_SYNTHETIC_DATA_H
#define SLIDE_TEST_SYNTHETIC_DATA_H

#include <stdint.h>
#include <stdlib.h>

#include "slide/slide.h"

typedef struct data {
    int64_t n, d, L;
    int64_t *xp, *yp;
    int32_t *xi, *yi;
    float *xv;
    slide_matrix X, Y;
} data;

static void make_data(data *D, int64_t n, int64_t L, int64_t F, uint32_t (*below)(uint32_t))
{
    D->n = n;
    D->L = L;
    D->d = L * F;
    D->xp = malloc(sizeof(int64_t) * (size_t)(n + 1));
    D->yp = malloc(sizeof(int64_t) * (size_t)(n + 1));
    D->xi = malloc(sizeof(int32_t) * (size_t)(n * 3 * F));
    D->xv = malloc(sizeof(float) * (size_t)(n * 3 * F));
    D->yi = malloc(sizeof(int32_t) * (size_t)(n * 2));
    if (!D->xp || !D->yp || !D->xi || !D->xv || !D->yi)
        abort(); /* a test program, not the library */
    D->xp[0] = D->yp[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t ny = 0, nx = D->xp[i];
        int32_t y0 = (int32_t)(below((uint32_t)L) * below((uint32_t)L) / L); /* skewed towards small ids */
        D->yi[D->yp[i] + ny++] = y0;
        int32_t y1 = (int32_t)below((uint32_t)L);
        if (below(2) && y1 != y0)
            D->yi[D->yp[i] + ny++] = y1;
        for (int64_t k = 0; k < ny; k++) {
            int32_t y = D->yi[D->yp[i] + k];
            for (int64_t f = 0; f < F; f++)
                if (below(2)) {
                    D->xi[nx] = (int32_t)(y * F + f);
                    D->xv[nx++] = 1.0f;
                }
        }
        D->xp[i + 1] = nx;
        D->yp[i + 1] = D->yp[i] + ny;
    }
    D->X = (slide_matrix){SLIDE_MATRIX_CSR, n, D->d, D->xv, D->xp, D->xi};
    D->Y = (slide_matrix){SLIDE_MATRIX_CSR, n, L, NULL, D->yp, D->yi};
}

static void free_data(data *D)
{
    free(D->xp);
    free(D->yp);
    free(D->xi);
    free(D->xv);
    free(D->yi);
}

#endif
