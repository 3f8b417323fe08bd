/*
 * Fuzz target for the data readers: slide_dataset_load_xc() and slide_dataset_load_libsvm(), which share
 * data_reader.c.
 *
 * Input layout: one mode byte, then the file contents.
 *   mode bit 0: gzip the contents before writing them (needs zlib; without it the contents are written
 *               as they are). Level = 1 + (mode >> 1) % 9.
 *   mode bit 4: read the file as libsvm (widths inferred) with feature_base = bit 2 and label_base =
 *               bit 3; clear: read it as XC.
 *   mode bit 5: with bit 0, cut the last 1 + (mode >> 6) bytes off the gzip stream (a truncated file).
 * Raw gzip bytes with bit 0 clear reach the reader as they are, so corrupt streams are fuzzed too.
 *
 * Checked: a failed load returns SLIDE_E_FORMAT (or NOMEM, or UNSUPPORTED for gzip without zlib) with a
 * message; a successful load hands out CSR matrices whose row pointers start at 0, never decrease and end
 * at nnz, whose ids lie in [0, cols), and whose values are finite; every array is read in full, so
 * AddressSanitizer sees any short allocation.
 */
#include <math.h>

#include "fuzz_common.h"

#ifdef SLIDE_FUZZ_HAVE_ZLIB
#  include <zlib.h>
#endif

static void check_csr(const slide_matrix *m, int labels, const uint8_t *data, size_t size)
{
    if (m->kind != SLIDE_MATRIX_CSR || m->rows < 0 || m->cols < 0 || m->cols > INT32_MAX)
        fuzz_fail("dataset matrix has a bad kind or shape", data, size);
    if (!m->indptr || m->indptr[0] != 0)
        fuzz_fail("dataset indptr is NULL or does not start at 0", data, size);
    if (labels != (m->values == NULL))
        fuzz_fail("dataset values pointer: labels must have none, features must have some", data, size);
    for (int64_t r = 0; r < m->rows; r++) {
        if (m->indptr[r + 1] < m->indptr[r])
            fuzz_fail("dataset indptr decreases", data, size);
        for (int64_t p = m->indptr[r]; p < m->indptr[r + 1]; p++) {
            if (m->indices[p] < 0 || m->indices[p] >= m->cols)
                fuzz_fail("dataset id out of range", data, size);
            for (int64_t q = m->indptr[r]; q < p; q++)
                if (m->indices[q] == m->indices[p])
                    fuzz_fail("dataset row holds a duplicate id", data, size);
            if (!labels && !isfinite(m->values[p]))
                fuzz_fail("dataset value is not finite", data, size);
        }
    }
}

#ifdef SLIDE_FUZZ_HAVE_ZLIB
/* gzip of src into a malloc'd buffer; returns NULL when zlib fails (out of memory). */
static unsigned char *gzip_bytes(const uint8_t *src, size_t n, int level, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&zs, (uLong)n) + 32;
    unsigned char *dst = malloc(cap);
    if (!dst) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    *out_len = (size_t)zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(dst);
        return NULL;
    }
    return dst;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const unsigned mode = data[0];
    const uint8_t *body = data + 1;
    size_t body_len = size - 1;
    const char *path = NULL;
#ifdef SLIDE_FUZZ_HAVE_ZLIB
    if (mode & 1u) {
        size_t gz_len = 0;
        unsigned char *gz = gzip_bytes(body, body_len, 1 + (int)((mode >> 1) % 9u), &gz_len);
        if (!gz)
            return 0;
        if (mode & 0x20u) {
            size_t cut = 1 + (mode >> 6);
            gz_len = gz_len > cut ? gz_len - cut : 0;
        }
        path = fuzz_write(0, gz, gz_len);
        free(gz);
    }
#endif
    if (!path)
        path = fuzz_write(0, body, body_len);

    slide_dataset *ds = NULL;
    int rc;
    if (mode & 0x10u) {
        slide_libsvm_options opt;
        slide_libsvm_options_init(&opt);
        opt.feature_base = (int)((mode >> 2) & 1u);
        opt.label_base = (int)((mode >> 3) & 1u);
        rc = slide_dataset_load_libsvm(path, &opt, &ds);
    } else {
        rc = slide_dataset_load_xc(path, &ds);
    }
    if (rc != SLIDE_OK) {
        fuzz_check_failure(rc, data, size);
        if (rc != SLIDE_E_FORMAT && rc != SLIDE_E_NOMEM && rc != SLIDE_E_UNSUPPORTED)
            fuzz_fail("unexpected status for an existing, readable file", data, size);
        if (ds)
            fuzz_fail("a failed load left a dataset in *out", data, size);
        return 0;
    }
    if (!ds)
        fuzz_fail("a successful load returned no dataset", data, size);
    slide_matrix X, Y;
    if (slide_dataset_features(ds, &X) != SLIDE_OK || slide_dataset_labels(ds, &Y) != SLIDE_OK)
        fuzz_fail("dataset accessors failed", data, size);
    if (X.rows != Y.rows)
        fuzz_fail("features and labels have different row counts", data, size);
    check_csr(&X, 0, data, size);
    check_csr(&Y, 1, data, size);
    slide_dataset_free(ds);
    return 0;
}
