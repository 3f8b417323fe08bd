/*
 * Tests for the text dataset readers: Extreme Classification files (slide_dataset_load_xc) and libsvm
 * files (slide_dataset_load_libsvm), which share one streaming parser.
 *
 * Writes small files into a fresh temporary directory and checks exact CSR contents for valid input
 * and status, line number and problem for every kind of malformed input.
 *
 * With a path argument it only loads that file and prints its shape and the load time (for manual
 * benchmarking):  test_xc_reader data/train.txt.gz
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef SLIDE_HAVE_ZLIB
#  include <zlib.h>
#endif

#include "data_reader.h"
#include "error.h"
#include "slide/slide.h"

static int failures;
static int verbose; /* XC_TEST_VERBOSE=1 prints every error message */
static char tmpdir[256];
static int file_counter;

#define CHECK(cond, ...)                                                                                  \
    do {                                                                                                  \
        if (!(cond)) {                                                                                    \
            failures++;                                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                                 \
            fputc('\n', stderr);                                                                          \
        }                                                                                                 \
    } while (0)

/* Writes `len` bytes into a new file in tmpdir; the path goes into `path` (PATH_LEN bytes). */
enum { PATH_LEN = 512 };
static void write_file(char *path, const char *data, size_t len)
{
    snprintf(path, PATH_LEN, "%s/f%03d.txt", tmpdir, file_counter++);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

static void write_text(char *path, const char *text) { write_file(path, text, strlen(text)); }

static float ref_float(const char *s) { return strtof(s, NULL); }

/* ------------------------------------------------------------------ CSR comparison helpers */

static void check_row_ids(const slide_matrix *m, int64_t row, const int32_t *ids, int n, const char *what)
{
    int64_t b = m->indptr[row], e = m->indptr[row + 1];
    CHECK(e - b == n, "%s row %" PRId64 ": %" PRId64 " entries, expected %d", what, row, e - b, n);
    if (e - b != n)
        return;
    for (int i = 0; i < n; i++)
        CHECK(m->indices[b + i] == ids[i], "%s row %" PRId64 " entry %d: id %" PRId32 ", expected %" PRId32,
              what, row, i, m->indices[b + i], ids[i]);
}

static void check_row_values(const slide_matrix *m, int64_t row, const char *const *vals, int n)
{
    int64_t b = m->indptr[row];
    if (m->indptr[row + 1] - b != n)
        return; /* already reported by check_row_ids */
    for (int i = 0; i < n; i++) {
        float want = ref_float(vals[i]);
        CHECK(memcmp(&m->values[b + i], &want, sizeof want) == 0,
              "row %" PRId64 " value %d: %.9g, expected %.9g (from \"%s\")", row, i, (double)m->values[b + i],
              (double)want, vals[i]);
    }
}

#ifdef SLIDE_HAVE_ZLIB
static int same_dataset(const slide_dataset *a, const slide_dataset *b)
{
    slide_matrix fa, fb, la, lb;
    if (slide_dataset_features(a, &fa) || slide_dataset_features(b, &fb) || slide_dataset_labels(a, &la) ||
        slide_dataset_labels(b, &lb))
        return 0;
    if (fa.rows != fb.rows || fa.cols != fb.cols || la.cols != lb.cols)
        return 0;
    size_t r1 = (size_t)fa.rows + 1;
    if (memcmp(fa.indptr, fb.indptr, r1 * sizeof(int64_t)) || memcmp(la.indptr, lb.indptr, r1 * sizeof(int64_t)))
        return 0;
    size_t fn = (size_t)fa.indptr[fa.rows], ln = (size_t)la.indptr[la.rows];
    return !memcmp(fa.indices, fb.indices, fn * sizeof(int32_t)) &&
           !memcmp(fa.values, fb.values, fn * sizeof(float)) &&
           !memcmp(la.indices, lb.indices, ln * sizeof(int32_t));
}
#endif

/* ------------------------------------------------------------------ valid files */

static const char valid_crlf[] =
    "6 10 5\r\n"
    "0,2 1:0.5 3:-2e-1\r\n"
    " 4:1.25\t9:3  \r\n"
    "3\r\n"
    "1,0,4 0:7 2:0.000123456789 5:1E3 8:+.5 7:-0  \r\n"
    " \r\n"
    "4\t6:12345678901234567890"; /* no final newline; value takes the slow path */

static void test_valid(void)
{
    char path[PATH_LEN];
    write_text(path, valid_crlf);
    slide_dataset *ds = NULL;
    int rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_OK, "load: %d %s", rc, slide_last_error());
    if (rc != SLIDE_OK)
        return;
    slide_matrix X, Y;
    memset(&X, 0xff, sizeof X);
    memset(&Y, 0xff, sizeof Y);
    CHECK(slide_dataset_features(ds, &X) == SLIDE_OK, "features");
    CHECK(slide_dataset_labels(ds, &Y) == SLIDE_OK, "labels");
    CHECK(X.kind == SLIDE_MATRIX_CSR && Y.kind == SLIDE_MATRIX_CSR, "kind");
    CHECK(X.rows == 6 && X.cols == 10, "X shape %" PRId64 "x%" PRId64, X.rows, X.cols);
    CHECK(Y.rows == 6 && Y.cols == 5, "Y shape %" PRId64 "x%" PRId64, Y.rows, Y.cols);
    CHECK(Y.values == NULL, "label values must be NULL");
    CHECK(X.indptr[0] == 0 && Y.indptr[0] == 0, "indptr[0]");

    static const int32_t l0[] = {0, 2}, l2[] = {3}, l3[] = {1, 0, 4}, l5[] = {4};
    check_row_ids(&Y, 0, l0, 2, "labels");
    check_row_ids(&Y, 1, NULL, 0, "labels");
    check_row_ids(&Y, 2, l2, 1, "labels");
    check_row_ids(&Y, 3, l3, 3, "labels");
    check_row_ids(&Y, 4, NULL, 0, "labels");
    check_row_ids(&Y, 5, l5, 1, "labels");

    static const int32_t f0[] = {1, 3}, f1[] = {4, 9}, f3[] = {0, 2, 5, 8, 7}, f5[] = {6};
    static const char *const v0[] = {"0.5", "-2e-1"}, *const v1[] = {"1.25", "3"},
                             *const v3[] = {"7", "0.000123456789", "1E3", "+.5", "-0"},
                             *const v5[] = {"12345678901234567890"};
    check_row_ids(&X, 0, f0, 2, "features");
    check_row_values(&X, 0, v0, 2);
    check_row_ids(&X, 1, f1, 2, "features");
    check_row_values(&X, 1, v1, 2);
    check_row_ids(&X, 2, NULL, 0, "features");
    check_row_ids(&X, 3, f3, 5, "features");
    check_row_values(&X, 3, v3, 5);
    check_row_ids(&X, 4, NULL, 0, "features");
    check_row_ids(&X, 5, f5, 1, "features");
    check_row_values(&X, 5, v5, 1);
    slide_dataset_free(ds);

    /* LF, unsorted features kept in file order, trailing empty lines after the last point. */
    write_text(path, "2 3 2\n1 2:1 0:2\n0,1\n\n\n");
    rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_OK, "load LF: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK) {
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        static const int32_t g0[] = {2, 0}, m0[] = {1}, m1[] = {0, 1};
        static const char *const w0[] = {"1", "2"};
        check_row_ids(&X, 0, g0, 2, "features");
        check_row_values(&X, 0, w0, 2);
        check_row_ids(&X, 1, NULL, 0, "features");
        check_row_ids(&Y, 0, m0, 1, "labels");
        check_row_ids(&Y, 1, m1, 2, "labels");
        slide_dataset_free(ds);
    }

    /* Zero points, with and without a newline; CRLF trailing blank lines. */
    static const char *const empty_sets[] = {"0 5 7\n", "0 5 7", "0 5 7\r\n\r\n", "  0\t5 7  \n"};
    for (size_t i = 0; i < sizeof empty_sets / sizeof empty_sets[0]; i++) {
        write_text(path, empty_sets[i]);
        rc = slide_dataset_load_xc(path, &ds);
        CHECK(rc == SLIDE_OK, "load empty set %zu: %d %s", i, rc, slide_last_error());
        if (rc != SLIDE_OK)
            continue;
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        CHECK(X.rows == 0 && X.cols == 5 && Y.cols == 7 && X.indptr[0] == 0 && Y.indptr[0] == 0,
              "empty set %zu shape", i);
        CHECK(X.indices != NULL && X.values != NULL && Y.indices != NULL, "empty set pointers non-NULL");
        slide_dataset_free(ds);
    }
}

/* ------------------------------------------------------------------ long lines and many values */

static uint64_t lcg_state = 12345;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 33);
}

/* Appends to a growing heap string. */
typedef struct strbuf { char *s; size_t n, cap; } strbuf;
static void sb_add(strbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        b->cap = (b->n + k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            exit(2);
    }
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

static void format_value(char *out, size_t cap, uint32_t r)
{
    double x = ((double)lcg() / 2147483648.0 - 0.5) * 2.0;
    switch (r % 6) {
    case 0: snprintf(out, cap, "%.5f", x); break;
    case 1: snprintf(out, cap, "%.9g", x * 1e3); break;
    case 2: snprintf(out, cap, "%g", x); break;
    case 3: snprintf(out, cap, "%.3e", x * 1e-20); break;
    case 4: snprintf(out, cap, "%.17g", x); break;
    default: snprintf(out, cap, "%u", lcg() % 100000); break;
    }
}

static void test_long_line(void)
{
    enum { NF = 200000 };
    int32_t *perm = malloc(NF * sizeof *perm);
    char(*vals)[40] = malloc(NF * sizeof *vals);
    if (!perm || !vals)
        exit(2);
    for (int i = 0; i < NF; i++)
        perm[i] = i;
    for (int i = NF - 1; i > 0; i--) {
        int j = (int)(lcg() % (uint32_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    strbuf b = {0};
    char tmp[64];
    snprintf(tmp, sizeof tmp, "2 %d 3\n2,0", NF);
    sb_add(&b, tmp);
    for (int i = 0; i < NF; i++) {
        format_value(vals[i], sizeof vals[i], lcg());
        snprintf(tmp, sizeof tmp, " %d:%s", perm[i], vals[i]);
        sb_add(&b, tmp);
    }
    sb_add(&b, "\n1 7:1\n");
    char path[PATH_LEN];
    write_file(path, b.s, b.n);
    free(b.s);

    slide_dataset *ds;
    int rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_OK, "long line: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK) {
        slide_matrix X, Y;
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        CHECK(X.indptr[1] == NF && X.indptr[2] == NF + 1, "long line nnz %" PRId64, X.indptr[1]);
        int bad = 0;
        for (int i = 0; i < NF && X.indptr[1] == NF; i++) {
            float want = ref_float(vals[i]);
            if (X.indices[i] != perm[i] || memcmp(&X.values[i], &want, sizeof want) != 0) {
                if (bad++ < 5)
                    fprintf(stderr, "long line entry %d: %d:%.9g, expected %d:%.9g (\"%s\")\n", i,
                            X.indices[i], (double)X.values[i], perm[i], (double)want, vals[i]);
            }
        }
        CHECK(bad == 0, "%d long-line entries differ", bad);
        static const int32_t l0[] = {2, 0}, l1[] = {1};
        check_row_ids(&Y, 0, l0, 2, "labels");
        check_row_ids(&Y, 1, l1, 1, "labels");
        slide_dataset_free(ds);
    }

    /* A label list far longer than one read chunk. */
    enum { NL = 120000 };
    b = (strbuf){0};
    snprintf(tmp, sizeof tmp, "1 1 %d\n", NL);
    sb_add(&b, tmp);
    for (int i = 0; i < NL; i++) {
        snprintf(tmp, sizeof tmp, i ? ",%d" : "%d", NL - 1 - i);
        sb_add(&b, tmp);
    }
    sb_add(&b, " 0:1");
    write_file(path, b.s, b.n);
    free(b.s);
    rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_OK, "long label line: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK) {
        slide_matrix Y;
        slide_dataset_labels(ds, &Y);
        int ok = Y.indptr[1] == NL;
        for (int i = 0; ok && i < NL; i++)
            ok = Y.indices[i] == NL - 1 - i;
        CHECK(ok, "long label line contents");
        slide_dataset_free(ds);
    }

    /* The same long label line, with a duplicate far apart (sorted-scratch path). */
    b = (strbuf){0};
    snprintf(tmp, sizeof tmp, "1 1 %d\n", NL);
    sb_add(&b, tmp);
    for (int i = 0; i < NL; i++) {
        snprintf(tmp, sizeof tmp, i ? ",%d" : "%d", i == NL - 1 ? 5 : i);
        sb_add(&b, tmp);
    }
    write_file(path, b.s, b.n);
    free(b.s);
    ds = NULL;
    rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_E_FORMAT && ds == NULL && strstr(slide_last_error(), ":2: duplicate label id 5"),
          "long duplicate label line: %d %s", rc, slide_last_error());
    free(perm);
    free(vals);
}

/* ------------------------------------------------------------------ malformed files */

typedef struct bad_case {
    const char *text;
    int line;
    const char *phrase;
} bad_case;

static const bad_case bad_cases[] = {
    /* header */
    {"", 1, "missing header"},
    {"\n", 1, "bad header"},
    {"abc 1 2\n", 1, "bad header"},
    {"-1 2 3\n", 1, "not a non-negative integer"},
    {"1 2\n0 1:1\n", 1, "bad header"},
    {"1 2 3 4\n", 1, "extra token '4'"},
    {"1 2 3x\n", 1, "bad header"},
    {"1 2.0 3\n", 1, "bad header"},
    {"1 3000000000 5\n", 1, "exceeds"},
    {"1 5 2147483648\n", 1, "exceeds"},
    {"99999999999999999999 5 5\n", 1, "exceeds"},
    /* labels */
    {"1 5 5\nx 1:1\n", 2, "bad label id 'x'"},
    {"1 5 5\n1.5 1:1\n", 2, "bad label id '1.5'"},
    {"1 5 5\n1:0.5 2:1\n", 2, "must start with a space"},
    {"2 5 5\n0 1:1\n5 1:1\n", 3, "label id 5 out of range [0, 5)"},
    {"1 5 17836\n17836 1:1\n", 2, "label id 17836 out of range [0, 17836)"},
    {"1 5 5\n-1 1:1\n", 2, "label id -1 out of range"},
    {"1 5 5\n99999999999999999999999 1:1\n", 2, "out of range"},
    {"1 5 5\n1, 1:1\n", 2, "missing label id after ','"},
    {"1 5 5\n1,,2 1:1\n", 2, "missing label id after ','"},
    {"1 5 5\n,1 1:1\n", 2, "bad label id"},
    {"1 5 5\n1,", 2, "truncated line"},
    {"1 5 5\n1,\r\n", 2, "truncated line"},
    {"1 5 5\n1,2,1 3:1\n", 2, "duplicate label id 1"},
    /* features */
    {"1 5 5\n0 a:1\n", 2, "bad feature id 'a'"},
    {"1 5 5\n0 :1\n", 2, "bad feature id in ':1'"},
    {"1 5 5\n0 1x:1\n", 2, "bad feature id '1x'"},
    {"1 5 5\n0 1:1 5:1\n", 2, "feature id 5 out of range [0, 5)"},
    {"1 5 5\n0 -2:1\n", 2, "feature id -2 out of range"},
    {"1 5 5\n0 99999999999:1\n", 2, "out of range"},
    {"1 5 5\n0 3\n", 2, "missing ':' in feature '3'"},
    {"1 5 5\n0 3 4:1\n", 2, "missing ':' in feature '3'"},
    {"1 5 5\n 3:", 2, "truncated line"},
    {"1 5 5\n 3:\n", 2, "truncated line"},
    {"1 5 5\n 3: 4:1\n", 2, "missing value after '3:'"},
    {"1 5 5\n 3:abc\n", 2, "bad value 'abc'"},
    {"1 5 5\n 3:nan\n", 2, "bad value 'nan'"},
    {"1 5 5\n 3:inf\n", 2, "bad value 'inf'"},
    {"1 5 5\n 3:-Infinity\n", 2, "bad value"},
    {"1 5 5\n 3:0x1p3\n", 2, "bad value"},
    {"1 5 5\n 3:1.5x\n", 2, "bad value '1.5x'"},
    {"1 5 5\n 3:1e\n", 2, "bad value '1e'"},
    {"1 5 5\n 3:.\n", 2, "bad value"},
    {"1 5 5\n 3:1,5\n", 2, "bad value '1,5'"},
    {"1 5 5\n 3:1e39\n", 2, "out of float range"},
    {"1 5 5\n 3:-1e999999999999\n", 2, "out of float range"},
    {"1 5 5\n 3:1:2\n", 2, "bad value '1:2'"},
    {"1 5 5\n 3:1\r2\n", 2, "bad value"},
    {"1 5 5\n 1:1 3:2 1:3\n", 2, "duplicate feature id 1"},
    /* structure */
    {"1 5 5\n0 1:1\n1 2:1\n", 3, "more points than the header says"},
    {"1 5 5\n0 1:1\n\n1 2:1\n", 4, "more points than the header says"},
    {"3 5 5\n0 1:1\n1 2:1\n", 4, "file ends after 2 points, header says 3"},
    {"3 5 5\n0 1:1\n1 2:1", 4, "file ends after 2 points, header says 3"},
    {"3 5 5\n0 1:1\n1 2:1\n\n\n", 4, "file ends after 2 points, header says 3"},
    {"10 5 5\n", 2, "file ends after 0 points, header says 10"},
    {"3 5 5\n0 1:1\n\n1 2:1\n2 1:1\n", 3, "empty line"},
    {"3 5 5\n0 1:1\r\n\r\n1 2:1\n2 1:1\n", 3, "empty line"},
    {"3 5 5\n\n\n0 1:1\n1 2:1\n2 1:1\n", 2, "empty line"},
};

/* Loads `text` as XC (svm_opt NULL) or as libsvm with these options. */
static void check_bad_file(const char *text, size_t len, int line, const char *phrase, const char *name,
                           const slide_libsvm_options *svm_opt)
{
    char path[PATH_LEN];
    write_file(path, text, len);
    slide_dataset *ds = (slide_dataset *)&failures; /* must be reset to NULL on failure */
    int rc = svm_opt ? slide_dataset_load_libsvm(path, svm_opt, &ds) : slide_dataset_load_xc(path, &ds);
    const char *msg = slide_last_error();
    if (verbose)
        printf("%-22s %s\n", name, msg);
    char want[PATH_LEN + 32];
    snprintf(want, sizeof want, "%s:%d: ", path, line);
    CHECK(rc == SLIDE_E_FORMAT, "%s: status %d (%s), expected SLIDE_E_FORMAT", name, rc, msg);
    CHECK(ds == NULL, "%s: *out not NULL after failure", name);
    CHECK(strncmp(msg, want, strlen(want)) == 0, "%s: message \"%s\" does not start with \"%s\"", name, msg,
          want);
    CHECK(strstr(msg, phrase) != NULL, "%s: message \"%s\" lacks \"%s\"", name, msg, phrase);
    if (rc == SLIDE_OK)
        slide_dataset_free(ds);
}

static void check_bad_text(const char *text, size_t len, int line, const char *phrase, const char *name)
{
    check_bad_file(text, len, line, phrase, name, NULL);
}

static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad case %zu", i);
        check_bad_text(bad_cases[i].text, strlen(bad_cases[i].text), bad_cases[i].line, bad_cases[i].phrase,
                       name);
    }
    /* An embedded NUL byte is garbage, not an end of line. */
    static const char nul[] = "1 5 5\n0 1:1\0 2:1\n";
    check_bad_text(nul, sizeof nul - 1, 2, "bad value", "embedded NUL");

    /* A duplicate in a row too long for the pairwise check, far apart. */
    strbuf b = {0};
    char tmp[64];
    sb_add(&b, "2 1000 1\n0 1:1\n ");
    for (int i = 0; i < 500; i++) {
        snprintf(tmp, sizeof tmp, "%d:0.5 ", i == 0 || i == 499 ? 17 : 999 - i);
        sb_add(&b, tmp);
    }
    sb_add(&b, "\n");
    check_bad_text(b.s, b.n, 3, "duplicate feature id 17", "long duplicate row");
    free(b.s);
}

/* ------------------------------------------------------------------ other errors */

static void test_errors(void)
{
    char path[PATH_LEN];
    slide_dataset *ds = NULL;
    snprintf(path, sizeof path, "%s/does-not-exist.txt", tmpdir);
    int rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_E_IO, "missing file: %d", rc);
    CHECK(strstr(slide_last_error(), path) && strstr(slide_last_error(), "No such file"), "message: %s",
          slide_last_error());

    rc = slide_dataset_load_xc(tmpdir, &ds); /* a directory opens but cannot be read */
    CHECK(rc == SLIDE_E_IO, "directory: %d (%s)", rc, slide_last_error());

    rc = slide_dataset_load_xc(NULL, &ds);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "path"), "NULL path: %d", rc);
    write_text(path, "1 2 3\n0 1:1\n");
    rc = slide_dataset_load_xc(path, NULL);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "out"), "NULL out: %d", rc);

    rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_OK, "small load: %s", slide_last_error());
    slide_matrix m;
    CHECK(slide_dataset_features(NULL, &m) == SLIDE_E_INVALID && strstr(slide_last_error(), "ds"), "features NULL ds");
    CHECK(slide_dataset_features(ds, NULL) == SLIDE_E_INVALID && strstr(slide_last_error(), "out"), "features NULL out");
    CHECK(slide_dataset_labels(NULL, &m) == SLIDE_E_INVALID && strstr(slide_last_error(), "ds"), "labels NULL ds");
    CHECK(slide_dataset_labels(ds, NULL) == SLIDE_E_INVALID && strstr(slide_last_error(), "out"), "labels NULL out");
    slide_dataset_free(ds);
    slide_dataset_free(NULL);
}

/* ------------------------------------------------------------------ gzip */

#ifdef SLIDE_HAVE_ZLIB
static void write_gzip(char *path, const char *data, size_t len)
{
    snprintf(path, PATH_LEN, "%s/f%03d.txt.gz", tmpdir, file_counter++);
    gzFile gz = gzopen(path, "wb");
    if (!gz || gzwrite(gz, data, (unsigned)len) != (int)len || gzclose(gz) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}
#endif

static void test_gzip(void)
{
#ifdef SLIDE_HAVE_ZLIB
    char plain[PATH_LEN], gz[PATH_LEN];
    write_text(plain, valid_crlf);
    write_gzip(gz, valid_crlf, strlen(valid_crlf));
    slide_dataset *a = NULL, *b = NULL;
    int ra = slide_dataset_load_xc(plain, &a);
    int rb = slide_dataset_load_xc(gz, &b);
    CHECK(ra == SLIDE_OK && rb == SLIDE_OK, "gzip load: %d %d %s", ra, rb, slide_last_error());
    if (a && b)
        CHECK(same_dataset(a, b), "gzip and plain datasets differ");
    slide_dataset_free(a);
    slide_dataset_free(b);

    /* Errors inside a gzip file carry the same line numbers. */
    static const char bad[] = "2 5 5\n0 1:1\n0 9:1\n";
    write_gzip(gz, bad, sizeof bad - 1);
    b = NULL;
    rb = slide_dataset_load_xc(gz, &b);
    CHECK(rb == SLIDE_E_FORMAT && strstr(slide_last_error(), ":3: feature id 9 out of range"), "gzip bad: %s",
          slide_last_error());

    /* A truncated gzip stream must fail (not silently load a prefix). */
    strbuf s = {0};
    char tmp[64];
    sb_add(&s, "2000 100 10\n");
    for (int i = 0; i < 2000; i++) {
        snprintf(tmp, sizeof tmp, "%d %d:0.%05u %d:1\n", i % 10, i % 50, lcg() % 100000, 50 + i % 50);
        sb_add(&s, tmp);
    }
    write_gzip(gz, s.s, s.n);
    free(s.s);
    FILE *f = fopen(gz, "rb");
    char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    char cut[PATH_LEN];
    write_file(cut, buf, n / 2);
    b = NULL;
    rb = slide_dataset_load_xc(cut, &b);
    CHECK(rb == SLIDE_E_FORMAT && strstr(slide_last_error(), "corrupt gzip data"), "truncated gzip: %d (%s)",
          rb, slide_last_error());
    slide_dataset_free(b);
    /* Only the 4-byte length trailer missing: every line is there, but the stream is still incomplete. */
    write_file(cut, buf, n - 4);
    b = NULL;
    rb = slide_dataset_load_xc(cut, &b);
    CHECK(rb == SLIDE_E_FORMAT && strstr(slide_last_error(), "corrupt gzip data"), "gzip without trailer: %d (%s)",
          rb, slide_last_error());
    slide_dataset_free(b);
    /* A flipped byte in the middle of the stream. */
    buf[n / 2] ^= 0x55;
    write_file(cut, buf, n);
    b = NULL;
    rb = slide_dataset_load_xc(cut, &b);
    CHECK(rb == SLIDE_E_FORMAT && strstr(slide_last_error(), "corrupt gzip data"), "corrupt gzip: %d (%s)", rb,
          slide_last_error());
    slide_dataset_free(b);
#else
    /* Without zlib, gzip input is refused with a clear message. */
    static const char magic[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
    char path[PATH_LEN];
    write_file(path, magic, sizeof magic - 1);
    slide_dataset *ds = NULL;
    int rc = slide_dataset_load_xc(path, &ds);
    CHECK(rc == SLIDE_E_UNSUPPORTED && strstr(slide_last_error(), "gzip input needs libslide built with zlib"),
          "gzip without zlib: %d %s", rc, slide_last_error());
#endif
}

/* ------------------------------------------------------------------ libsvm */

static slide_libsvm_options svm_options(int64_t n_features, int64_t n_labels, int feature_base, int label_base)
{
    slide_libsvm_options o;
    slide_libsvm_options_init(&o);
    o.n_features = n_features;
    o.n_labels = n_labels;
    o.feature_base = feature_base;
    o.label_base = label_base;
    return o;
}

/* Comments, skipped lines, CRLF, tabs, trailing blanks, qid, empty label lists, no final newline. */
static const char svm_valid[] =
    "# a comment line\r\n"
    "0,2 1:0.5 4:-2e-1   # trailing comment\r\n"
    "\r\n"
    " \t 2:1.25\t3:3\t\r\n"
    "   # a comment after blanks\n"
    "3 qid:17 6:12345678901234567890 1:7\n"
    "1\n"
    "\n"
    "1,0,4\t5:+.5"; /* no final newline */

static void test_libsvm_valid(void)
{
    char path[PATH_LEN];
    write_text(path, svm_valid);
    slide_dataset *ds = NULL;
    int rc = slide_dataset_load_libsvm(path, NULL, &ds); /* defaults: features 1-based, labels 0-based */
    CHECK(rc == SLIDE_OK, "libsvm load: %d %s", rc, slide_last_error());
    if (rc != SLIDE_OK)
        return;
    slide_matrix X, Y;
    slide_dataset_features(ds, &X);
    slide_dataset_labels(ds, &Y);
    CHECK(X.rows == 5 && X.cols == 6, "libsvm X shape %" PRId64 "x%" PRId64, X.rows, X.cols);
    CHECK(Y.rows == 5 && Y.cols == 5, "libsvm Y shape %" PRId64 "x%" PRId64, Y.rows, Y.cols);
    static const int32_t l0[] = {0, 2}, l2[] = {3}, l3[] = {1}, l4[] = {1, 0, 4};
    check_row_ids(&Y, 0, l0, 2, "libsvm labels");
    check_row_ids(&Y, 1, NULL, 0, "libsvm labels");
    check_row_ids(&Y, 2, l2, 1, "libsvm labels");
    check_row_ids(&Y, 3, l3, 1, "libsvm labels");
    check_row_ids(&Y, 4, l4, 3, "libsvm labels");
    static const int32_t f0[] = {0, 3}, f1[] = {1, 2}, f2[] = {5, 0}, f4[] = {4};
    static const char *const v0[] = {"0.5", "-2e-1"}, *const v1[] = {"1.25", "3"},
                             *const v2[] = {"12345678901234567890", "7"}, *const v4[] = {"+.5"};
    check_row_ids(&X, 0, f0, 2, "libsvm features");
    check_row_values(&X, 0, v0, 2);
    check_row_ids(&X, 1, f1, 2, "libsvm features");
    check_row_values(&X, 1, v1, 2);
    check_row_ids(&X, 2, f2, 2, "libsvm features");
    check_row_values(&X, 2, v2, 2);
    check_row_ids(&X, 3, NULL, 0, "libsvm features");
    check_row_ids(&X, 4, f4, 1, "libsvm features");
    check_row_values(&X, 4, v4, 1);
    slide_dataset_free(ds);

    /* Explicit widths wider than the ids; both bases 1 (labels 1..5 stored as 0..4). */
    slide_libsvm_options o = svm_options(10, 8, 1, 1);
    write_text(path, "1,5 10:1\n2 1:2\n");
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_OK, "libsvm explicit widths: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK) {
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        CHECK(X.cols == 10 && Y.cols == 8 && X.rows == 2, "libsvm explicit shape");
        static const int32_t g0[] = {9}, g1[] = {0}, m0[] = {0, 4}, m1[] = {1};
        check_row_ids(&X, 0, g0, 1, "libsvm base-1 features");
        check_row_ids(&X, 1, g1, 1, "libsvm base-1 features");
        check_row_ids(&Y, 0, m0, 2, "libsvm base-1 labels");
        check_row_ids(&Y, 1, m1, 1, "libsvm base-1 labels");
        slide_dataset_free(ds);
    }

    /* 0-based features: id 0 is fine and the width is max + 1. */
    o = svm_options(0, 0, 0, 0);
    write_text(path, "0 0:1 7:2\n");
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_OK, "libsvm base 0: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK) {
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        static const int32_t g0[] = {0, 7};
        CHECK(X.cols == 8 && Y.cols == 1, "libsvm base 0 shape %" PRId64 " %" PRId64, X.cols, Y.cols);
        check_row_ids(&X, 0, g0, 2, "libsvm base-0 features");
        slide_dataset_free(ds);
    }

    /* Files without points: empty, blank lines only, comments only. Widths are 0 unless given. */
    static const char *const empty_sets[] = {"", "\n\n", "\r\n  \t\r\n", "# only a comment", "# c\n#\n"};
    for (size_t i = 0; i < sizeof empty_sets / sizeof empty_sets[0]; i++) {
        write_text(path, empty_sets[i]);
        o = svm_options(i % 2 ? 4 : 0, i % 2 ? 3 : 0, 1, 0);
        rc = slide_dataset_load_libsvm(path, &o, &ds);
        CHECK(rc == SLIDE_OK, "libsvm empty set %zu: %d %s", i, rc, slide_last_error());
        if (rc != SLIDE_OK)
            continue;
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        CHECK(X.rows == 0 && Y.rows == 0 && X.cols == o.n_features && Y.cols == o.n_labels && X.indptr[0] == 0 &&
                  Y.indptr[0] == 0 && X.indices != NULL && X.values != NULL && Y.indices != NULL,
              "libsvm empty set %zu shape", i);
        slide_dataset_free(ds);
    }
}

typedef struct svm_bad_case {
    const char *text;
    int64_t n_features, n_labels; /* 0: inferred */
    int feature_base, label_base;
    int line;
    const char *phrase;
} svm_bad_case;

static const svm_bad_case svm_bad_cases[] = {
    {"0 1:abc\n", 0, 0, 1, 0, 1, "bad value 'abc' for feature 1"},
    {"0 1:nan\n", 0, 0, 1, 0, 1, "bad value 'nan'"},
    {"0 1:-inf\n", 0, 0, 1, 0, 1, "bad value '-inf'"},
    {"0 1:1e39\n", 0, 0, 1, 0, 1, "out of float range"},
    {"0 1:1\n0 0:1\n", 0, 0, 1, 0, 2, "feature id 0 out of range [1, 2147483648) (ids are 1-based; for a 0-based "
                                      "file set feature_base to 0)"},
    {"0 1:1\n0 7:1\n", 6, 0, 1, 0, 2, "feature id 7 out of range [1, 7)"},
    {"0 6:1\n", 6, 0, 0, 0, 1, "feature id 6 out of range [0, 6)"},
    {"0 -1:1\n", 0, 0, 1, 0, 1, "feature id -1 out of range [1, 2147483648)"},
    {"0 2147483648:1\n", 0, 0, 1, 0, 1, "feature id 2147483648 out of range"},
    {"0 99999999999999999999:1\n", 0, 0, 0, 0, 1, "out of range"},
    {"5 1:1\n", 0, 5, 1, 0, 1, "label id 5 out of range [0, 5)"},
    {"0 1:1\n", 0, 0, 1, 1, 1, "label id 0 out of range [1, 2147483648) (ids are 1-based; for a 0-based file set "
                               "label_base to 0)"},
    {"-1 1:1\n", 0, 0, 1, 0, 1, "label id -1 out of range"},
    {"+1 1:1\n", 0, 0, 1, 0, 1, "bad label id '+1'"},
    {"1.0 1:1\n", 0, 0, 1, 0, 1, "bad label id '1.0'"},
    {"1:1 2:1\n", 0, 0, 1, 0, 1, "must start with a space"},
    {"1, 2:1\n", 0, 0, 1, 0, 1, "missing label id after ','"},
    {"1,\r\n", 0, 0, 1, 0, 1, "truncated line"},
    {"1,1 2:1\n", 0, 0, 1, 0, 1, "duplicate label id 1"},
    {"0 3:1 1:2 3:3\n", 0, 0, 1, 0, 1, "duplicate feature id 3"},
    {"0 3\n", 0, 0, 1, 0, 1, "missing ':' in feature '3'"},
    {"0 3:\n", 0, 0, 1, 0, 1, "truncated line: no value after '3:'"},
    {"0 3: 4:1\n", 0, 0, 1, 0, 1, "missing value after '3:'"},
    {"0 3:1 qid:2\n", 0, 0, 1, 0, 1, "bad feature id 'qid' (qid:<n> must come right after the labels)"},
    {"0 qid:x 1:1\n", 0, 0, 1, 0, 1, "bad query id 'qid:x'"},
    {"0 qid: 1:1\n", 0, 0, 1, 0, 1, "bad query id 'qid:'"},
    {"0 qid:1 qid:2 1:1\n", 0, 0, 1, 0, 1, "bad feature id 'qid'"},
    {"3 6 4\n0 1:1\n", 0, 0, 1, 0, 1, "missing ':' in feature '6' (is line 1 an Extreme Classification header"},
    {"# c\n\n0 1:1\n\n0 1:1 x\n", 0, 0, 1, 0, 5, "bad feature id in 'x'"},
    {"0 1:1\r\n0 1:1\r2\r\n", 0, 0, 1, 0, 2, "bad value"},
};

static void test_libsvm_malformed(void)
{
    for (size_t i = 0; i < sizeof svm_bad_cases / sizeof svm_bad_cases[0]; i++) {
        const svm_bad_case *c = &svm_bad_cases[i];
        char name[64];
        snprintf(name, sizeof name, "libsvm bad case %zu", i);
        slide_libsvm_options o = svm_options(c->n_features, c->n_labels, c->feature_base, c->label_base);
        check_bad_file(c->text, strlen(c->text), c->line, c->phrase, name, &o);
    }
    /* A duplicate in a row too long for the pairwise check. */
    strbuf b = {0};
    char tmp[64];
    sb_add(&b, "0 1:1\n\n# c\n ");
    for (int i = 0; i < 500; i++) {
        snprintf(tmp, sizeof tmp, "%d:0.5 ", i == 3 || i == 400 ? 17 : 1000 - i);
        sb_add(&b, tmp);
    }
    slide_libsvm_options o = svm_options(0, 0, 1, 0);
    check_bad_file(b.s, b.n, 4, "duplicate feature id 17", "libsvm long duplicate row", &o);
    free(b.s);
}

static void test_libsvm_long_line(void)
{
    /* One line of NF features (1-based ids in shuffled order) spans several 256 KiB read chunks. */
    enum { NF = 150000 };
    int32_t *perm = malloc(NF * sizeof *perm);
    if (!perm)
        exit(2);
    for (int i = 0; i < NF; i++)
        perm[i] = i;
    for (int i = NF - 1; i > 0; i--) {
        int j = (int)(lcg() % (uint32_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    strbuf b = {0};
    char tmp[64];
    sb_add(&b, "# long\n3,1");
    for (int i = 0; i < NF; i++) {
        snprintf(tmp, sizeof tmp, " %d:%d.5", perm[i] + 1, i % 1000);
        sb_add(&b, tmp);
    }
    sb_add(&b, " # end\r\n 2:1");
    CHECK(b.n > 3 * DR_CHUNK, "long libsvm line is only %zu bytes", b.n);
    char path[PATH_LEN];
    write_file(path, b.s, b.n);
    free(b.s);
    slide_dataset *ds = NULL;
    int rc = slide_dataset_load_libsvm(path, NULL, &ds);
    CHECK(rc == SLIDE_OK, "libsvm long line: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK) {
        slide_matrix X, Y;
        slide_dataset_features(ds, &X);
        slide_dataset_labels(ds, &Y);
        CHECK(X.rows == 2 && X.cols == NF && Y.cols == 4 && X.indptr[1] == NF && X.indptr[2] == NF + 1,
              "libsvm long line shape");
        int bad = 0;
        for (int i = 0; i < NF && X.indptr[1] == NF; i++) {
            float want = (float)(i % 1000) + 0.5f;
            bad += X.indices[i] != perm[i] || X.values[i] != want;
        }
        CHECK(bad == 0, "%d libsvm long-line entries differ", bad);
        static const int32_t l0[] = {3, 1}, g1[] = {1};
        check_row_ids(&Y, 0, l0, 2, "libsvm long labels");
        check_row_ids(&Y, 1, NULL, 0, "libsvm long labels");
        check_row_ids(&X, 1, g1, 1, "libsvm long features");
        slide_dataset_free(ds);
    }
    free(perm);
}

static void test_libsvm_errors(void)
{
    char path[PATH_LEN];
    write_text(path, "0 1:1\n");
    slide_dataset *ds = NULL;
    int rc = slide_dataset_load_libsvm(path, NULL, NULL);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "out is NULL"), "libsvm NULL out: %d", rc);
    rc = slide_dataset_load_libsvm(NULL, NULL, &ds);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "path is NULL"), "libsvm NULL path: %d", rc);

    slide_libsvm_options o = svm_options(0, 0, 2, 0);
    ds = (slide_dataset *)&failures;
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_E_INVALID && ds == NULL && strstr(slide_last_error(), "feature_base = 2 must be 0 or 1"),
          "libsvm base 2: %d %s", rc, slide_last_error());
    o = svm_options(0, 0, 1, -1);
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "label_base = -1"), "libsvm label base: %s",
          slide_last_error());
    o = svm_options(-3, 0, 1, 0);
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "n_features = -3 is not in [0, 2147483647]"),
          "libsvm negative width: %s", slide_last_error());
    o = svm_options(0, (int64_t)INT32_MAX + 1, 1, 0);
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "n_labels = 2147483648"), "libsvm wide: %s",
          slide_last_error());
    o = svm_options(0, 0, 1, 0);
    o.struct_size = sizeof(size_t) + sizeof(int64_t);
    rc = slide_dataset_load_libsvm(path, &o, &ds);
    CHECK(rc == SLIDE_E_INVALID && strstr(slide_last_error(), "struct_size"), "libsvm short struct: %s",
          slide_last_error());

    /* A struct from a newer header (larger struct_size, unknown tail) is accepted. */
    struct {
        slide_libsvm_options o;
        int future_field;
    } newer;
    memset(&newer, 0x7f, sizeof newer);
    slide_libsvm_options_init(&newer.o);
    newer.o.struct_size = sizeof newer;
    rc = slide_dataset_load_libsvm(path, &newer.o, &ds);
    CHECK(rc == SLIDE_OK, "libsvm newer struct: %d %s", rc, slide_last_error());
    if (rc == SLIDE_OK)
        slide_dataset_free(ds);
    slide_libsvm_options_init(NULL); /* a no-op */

    snprintf(path, sizeof path, "%s/does-not-exist.svm", tmpdir);
    rc = slide_dataset_load_libsvm(path, NULL, &ds);
    CHECK(rc == SLIDE_E_IO && strstr(slide_last_error(), "No such file"), "libsvm missing file: %d", rc);
}

static void test_libsvm_gzip(void)
{
#ifdef SLIDE_HAVE_ZLIB
    char plain[PATH_LEN], gz[PATH_LEN];
    write_text(plain, svm_valid);
    write_gzip(gz, svm_valid, strlen(svm_valid));
    slide_dataset *a = NULL, *b = NULL;
    int ra = slide_dataset_load_libsvm(plain, NULL, &a);
    int rb = slide_dataset_load_libsvm(gz, NULL, &b);
    CHECK(ra == SLIDE_OK && rb == SLIDE_OK, "libsvm gzip load: %d %d %s", ra, rb, slide_last_error());
    if (a && b)
        CHECK(same_dataset(a, b), "libsvm gzip and plain datasets differ");
    slide_dataset_free(a);
    slide_dataset_free(b);

    strbuf s = {0};
    char tmp[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(tmp, sizeof tmp, "%d %d:0.%05u %d:1\n", i % 10, 1 + i % 50, lcg() % 100000, 51 + i % 50);
        sb_add(&s, tmp);
    }
    write_gzip(gz, s.s, s.n);
    free(s.s);
    FILE *f = fopen(gz, "rb");
    char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    char cut[PATH_LEN];
    write_file(cut, buf, n / 2);
    b = NULL;
    rb = slide_dataset_load_libsvm(cut, NULL, &b);
    CHECK(rb == SLIDE_E_FORMAT && b == NULL && strstr(slide_last_error(), "corrupt gzip data"),
          "libsvm truncated gzip: %d (%s)", rb, slide_last_error());
    write_file(cut, buf, n - 4);
    rb = slide_dataset_load_libsvm(cut, NULL, &b);
    CHECK(rb == SLIDE_E_FORMAT && strstr(slide_last_error(), "corrupt gzip data"), "libsvm gzip without trailer: %d",
          rb);
#else
    static const char magic[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
    char path[PATH_LEN];
    write_file(path, magic, sizeof magic - 1);
    slide_dataset *ds = NULL;
    int rc = slide_dataset_load_libsvm(path, NULL, &ds);
    CHECK(rc == SLIDE_E_UNSUPPORTED && strstr(slide_last_error(), "gzip input needs libslide built with zlib"),
          "libsvm gzip without zlib: %d %s", rc, slide_last_error());
#endif
}

/* ------------------------------------------------------------------ main */

static int load_and_report(const char *path)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    slide_dataset *ds;
    int rc = slide_dataset_load_xc(path, &ds);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != SLIDE_OK) {
        fprintf(stderr, "%s (%s)\n", slide_last_error(), slide_status_string(rc));
        return 1;
    }
    slide_matrix X, Y;
    slide_dataset_features(ds, &X);
    slide_dataset_labels(ds, &Y);
    printf("%s: %" PRId64 " points x %" PRId64 " features, %" PRId64 " labels; feature nnz %" PRId64
           ", label nnz %" PRId64 "; loaded in %.3f s\n",
           path, X.rows, X.cols, Y.cols, X.indptr[X.rows], Y.indptr[Y.rows],
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    slide_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return load_and_report(argv[1]);

    verbose = getenv("XC_TEST_VERBOSE") != NULL;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/slide_xc_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    test_valid();
    test_long_line();
    test_malformed();
    test_errors();
    test_gzip();
    test_libsvm_valid();
    test_libsvm_malformed();
    test_libsvm_long_line();
    test_libsvm_errors();
    test_libsvm_gzip();

    for (int i = 0; i < file_counter; i++) {
        char path[PATH_LEN];
        snprintf(path, sizeof path, "%s/f%03d.txt", tmpdir, i);
        unlink(path);
        snprintf(path, sizeof path, "%s/f%03d.txt.gz", tmpdir, i);
        unlink(path);
    }
    if (rmdir(tmpdir) != 0)
        fprintf(stderr, "warning: cannot remove %s: %s\n", tmpdir, strerror(errno));

    if (failures) {
        fprintf(stderr, "test_xc_reader: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_xc_reader: all checks passed\n");
    return 0;
}
