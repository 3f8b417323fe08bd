/* Input matrix views: validation and row access (see matrix.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "matrix.h"
#include "network.h"

slide_vec slide_matrix_row(const slide_matrix *X, int64_t i)
{
    slide_vec v;
    if (X->kind == SLIDE_MATRIX_DENSE) {
        v.idx = NULL;
        v.val = X->values + (size_t)i * (size_t)X->cols;
        v.nnz = (uint32_t)X->cols;
    } else {
        int64_t b = X->indptr[i], e = X->indptr[i + 1];
        v.idx = X->indices + b;
        v.val = X->values ? X->values + b : NULL;
        v.nnz = (uint32_t)(e - b);
    }
    return v;
}

int slide_matrix_check(const slide_matrix *M, const char *name, int64_t want_cols, int labels)
{
    if (!M)
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", name);
    if (M->rows < 0 || M->cols < 0)
        return slide_fail(SLIDE_E_INVALID, "%s has negative shape (%lld, %lld)", name, (long long)M->rows,
                          (long long)M->cols);
    if (want_cols >= 0 && M->cols != want_cols)
        return slide_fail(SLIDE_E_INVALID, "%s has %lld columns, the network expects %lld", name,
                          (long long)M->cols, (long long)want_cols);
    if (M->kind == SLIDE_MATRIX_DENSE) {
        if (labels)
            return slide_fail(SLIDE_E_INVALID, "%s must be a CSR label matrix", name);
        if (!M->values && M->rows > 0 && M->cols > 0)
            return slide_fail(SLIDE_E_INVALID, "%s: dense values are NULL", name);
        if (M->cols > UINT32_MAX)
            return slide_fail(SLIDE_E_INVALID, "%s has too many columns", name);
    } else if (M->kind == SLIDE_MATRIX_CSR) {
        if (!M->indptr)
            return slide_fail(SLIDE_E_INVALID, "%s: CSR indptr is NULL", name);
        if (M->indptr[0] != 0)
            return slide_fail(SLIDE_E_INVALID, "%s: CSR indptr[0] must be 0", name);
        int64_t nnz = M->indptr[M->rows];
        if (nnz < 0 || (nnz > 0 && !M->indices))
            return slide_fail(SLIDE_E_INVALID, "%s: CSR indices are NULL or indptr is corrupt", name);
        if (!labels && nnz > 0 && !M->values)
            return slide_fail(SLIDE_E_INVALID, "%s: CSR values are NULL", name);
    } else {
        return slide_fail(SLIDE_E_INVALID, "%s: unknown matrix kind %d", name, M->kind);
    }
    return SLIDE_OK;
}

int slide_check_rows(const slide_network *net, const slide_matrix *X, const int64_t *rows, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        if (r < 0 || r >= X->rows)
            return slide_fail(SLIDE_E_INVALID, "rows[%lld] = %lld out of range [0, %lld)", (long long)i, (long long)r,
                              (long long)X->rows);
        if (X->kind == SLIDE_MATRIX_CSR) {
            if (X->indptr[r + 1] < X->indptr[r])
                return slide_fail(SLIDE_E_INVALID, "X row %lld: indptr is not non-decreasing", (long long)r);
            for (int64_t p = X->indptr[r]; p < X->indptr[r + 1]; p++) {
                if (X->indices[p] < 0 || (uint32_t)X->indices[p] >= net->input_dim)
                    return slide_fail(SLIDE_E_INVALID, "X row %lld: feature id %d out of range [0, %u)", (long long)r,
                                      X->indices[p], net->input_dim);
                if (!isfinite(X->values[p]))
                    return slide_fail(SLIDE_E_INVALID, "X row %lld: value of feature %d is not finite", (long long)r,
                                      X->indices[p]);
            }
        } else {
            /* The same refusal as training's (train.c): NaN or Inf would make every score NaN or uniform. */
            const float *v = X->values + (size_t)r * (size_t)X->cols;
            for (int64_t c = 0; c < X->cols; c++)
                if (!isfinite(v[c]))
                    return slide_fail(SLIDE_E_INVALID, "X row %lld, column %lld: value is not finite", (long long)r,
                                      (long long)c);
        }
    }
    return SLIDE_OK;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int slide_label_row_duplicate(const int32_t *lab, int64_t n, int32_t *dup)
{
    if (n <= 64) {
        for (int64_t i = 1; i < n; i++)
            for (int64_t j = 0; j < i; j++)
                if (lab[i] == lab[j]) {
                    *dup = lab[i];
                    return 1;
                }
        return 0;
    }
    int32_t *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1;
    memcpy(s, lab, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_i32);
    int found = 0;
    for (int64_t i = 1; i < n && !found; i++)
        if (s[i] == s[i - 1]) {
            *dup = s[i];
            found = 1;
        }
    free(s);
    return found;
}
