/* Ranking metrics computed against CSR label rows. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "network.h"

int slide_precision_at_k(const slide_matrix *Y, const int64_t *rows, int64_t n, const int32_t *pred,
                         uint32_t k_pred, uint32_t k_max, double *out_hits)
{
    int rc = slide_matrix_check(Y, "Y", -1, 1);
    if (rc)
        return rc;
    if (!out_hits || (n > 0 && !pred))
        return slide_fail(SLIDE_E_INVALID, "%s is NULL", out_hits ? "pred" : "out_hits");
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
    }
    double *hits = calloc(k_max, sizeof(double));
    if (!hits)
        return slide_fail(SLIDE_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i;
        const int32_t *lab = Y->indices + Y->indptr[r];
        int64_t nl = Y->indptr[r + 1] - Y->indptr[r];
        uint32_t cum = 0;
        for (uint32_t j = 0; j < k_max; j++) {
            int32_t p = pred[(size_t)i * k_pred + j];
            for (int64_t q = 0; q < nl && p >= 0; q++)
                if (lab[q] == p) {
                    cum++;
                    break;
                }
            hits[j] += cum;
        }
    }
    memcpy(out_hits, hits, sizeof(double) * k_max);
    free(hits);
    return SLIDE_OK;
}
