/* Ranking metrics computed against CSR label rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "matrix.h"

/* Arguments shared by the metrics: Y valid, out and pred present, 1 <= k_max <= k_pred, rows in range. */
static int check_metric_args(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred,
                             uint32_t k_pred, uint32_t k_max, const double *out, const char *out_name)
{
    int rc = slide_matrix_check(Y, "Y", -1, 1);
    if (rc)
        return rc;
    if (!out || (n > 0 && !pred))
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", out ? "pred" : out_name);
    if (k_max == 0 || k_max > k_pred)
        return slide_fail(SLIDE_E_INVALID, "k_max = %u must be in [1, k_pred = %u]", k_max, k_pred);
    if (n < 0 || (!rows && n > Y->rows))
        return slide_fail(SLIDE_E_INVALID, "n = %lld out of range for Y with %lld rows", (long long)n,
                          (long long)Y->rows);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        if (r < 0 || r >= Y->rows)
            return slide_fail(SLIDE_E_INVALID, "rows[%lld] = %lld out of range [0, %lld)", (long long)i,
                              (long long)r, (long long)Y->rows);
        if (Y->indptr[r + 1] < Y->indptr[r])
            return slide_fail(SLIDE_E_INVALID, "Y row %lld: indptr is not non-decreasing", (long long)r);
        int32_t dup;
        int d = slide_label_row_duplicate(Y->indices + Y->indptr[r], Y->indptr[r + 1] - Y->indptr[r], &dup);
        if (d < 0)
            return slide_fail(SLIDE_E_NOMEM, "out of memory");
        if (d)
            return slide_fail(SLIDE_E_INVALID, "Y row %lld: label id %d appears more than once", (long long)r, dup);
    }
    return SLIDE_OK;
}

/* 1 if id is one of the nl labels in lab (a label row has no duplicates; a padding id -1 never is). */
static int is_label(const int32_t *lab, int64_t nl, int32_t id)
{
    for (int64_t q = 0; q < nl && id >= 0; q++)
        if (lab[q] == id)
            return 1;
    return 0;
}

int slide_precision_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred,
                         uint32_t k_pred, uint32_t k_max, double *out_hits)
{
    int rc = check_metric_args(Y, rows, n, pred, k_pred, k_max, out_hits, "out_hits");
    if (rc)
        return rc;
    double *hits = calloc(k_max, sizeof(double));
    if (!hits)
        return slide_fail(SLIDE_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        const int32_t *lab = Y->indices + Y->indptr[r];
        int64_t nl = Y->indptr[r + 1] - Y->indptr[r];
        uint32_t cum = 0;
        for (uint32_t j = 0; j < k_max; j++) {
            cum += (uint32_t)is_label(lab, nl, pred[(size_t)i * k_pred + j]);
            hits[j] += cum;
        }
    }
    memcpy(out_hits, hits, sizeof(double) * k_max);
    free(hits);
    return SLIDE_OK;
}

int slide_ndcg_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred, uint32_t k_pred,
                    uint32_t k_max, double *out_ndcg)
{
    int rc = check_metric_args(Y, rows, n, pred, k_pred, k_max, out_ndcg, "out_ndcg");
    if (rc)
        return rc;
    /* disc[j] = 1 / log2(j + 2): the gain of a hit at rank j + 1; ideal[j] = sum of disc[0..j]. */
    double *buf = calloc(3 * (size_t)k_max, sizeof(double));
    if (!buf)
        return slide_fail(SLIDE_E_NOMEM, "out of memory");
    double *disc = buf, *ideal = buf + k_max, *sums = buf + 2 * (size_t)k_max;
    for (uint32_t j = 0; j < k_max; j++) {
        disc[j] = 1.0 / log2((double)j + 2.0);
        ideal[j] = disc[j] + (j ? ideal[j - 1] : 0.0);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        const int32_t *lab = Y->indices + Y->indptr[r];
        int64_t nl = Y->indptr[r + 1] - Y->indptr[r];
        if (nl == 0)
            continue; /* no relevant label: nDCG 0, as P@k counts 0 hits */
        double dcg = 0.0;
        for (uint32_t j = 0; j < k_max; j++) {
            if (is_label(lab, nl, pred[(size_t)i * k_pred + j]))
                dcg += disc[j];
            sums[j] += dcg / ideal[(int64_t)j < nl ? j : nl - 1];
        }
    }
    memcpy(out_ndcg, sums, sizeof(double) * k_max);
    free(buf);
    return SLIDE_OK;
}
