/* Input matrix views: validation and row access (see matrix.h). */
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
            for (int64_t p = X->indptr[r]; p < X->indptr[r + 1]; p++)
                if (X->indices[p] < 0 || (uint32_t)X->indices[p] >= net->input_dim)
                    return slide_fail(SLIDE_E_INVALID, "X row %lld: feature id %d out of range [0, %u)", (long long)r,
                                      X->indices[p], net->input_dim);
        }
    }
    return SLIDE_OK;
}
