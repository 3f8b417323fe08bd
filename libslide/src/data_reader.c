/*
 * Shared machinery of the text dataset readers (see data_reader.h), and the dataset object itself.
 *
 * The file is streamed through one fixed-size chunk buffer. A line that lies wholly inside a chunk is
 * parsed in place; only a line that straddles a chunk boundary is assembled in a growable line buffer,
 * so arbitrarily long lines work without ever holding the whole file in memory.
 *
 * Invariant relied on by the parser: for a line handed over as (s, len), the byte s[len] exists and may
 * be overwritten temporarily (it is the '\n', '\r' or '#' that ended the line in the chunk, or a spare
 * byte the line buffer always keeps). The slow float path uses it to NUL-terminate a token for strtof.
 *
 * Every id is checked against the parser's id rules before it is stored, so the CSR arrays handed out
 * by slide_dataset_features/labels only ever hold ids in [0, cols).
 */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SLIDE_HAVE_ZLIB
#  include <zlib.h>
#endif

#include "data_reader.h"

/* Owns all five arrays; indptr arrays have rows + 1 entries. */
struct slide_dataset {
    int64_t rows;
    int64_t n_features;
    int64_t n_labels;
    int64_t *feat_indptr;
    int32_t *feat_indices;
    float *feat_values;
    int64_t *label_indptr;
    int32_t *label_indices;
};

/* ------------------------------------------------------------------ messages */

/*
 * Copies the token [s, e) into buf for quoting: unprintable bytes as \xNN (a byte-order mark shows as
 * \xEF\xBB\xBF, not as '???'), cut with "..." past 40 characters.
 */
const char *dr_show(char buf[DR_SHOW], const char *s, const char *e)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t out = 0;
    for (const char *p = s; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        size_t w = (c >= 0x20 && c < 0x7f) ? 1 : 4;
        if (out + w > 40) {
            memcpy(buf + out, "...", 3);
            out += 3;
            break;
        }
        if (w == 1) {
            buf[out++] = (char)c;
        } else {
            buf[out++] = '\\';
            buf[out++] = 'x';
            buf[out++] = hex[c >> 4];
            buf[out++] = hex[c & 15];
        }
    }
    buf[out] = '\0';
    return buf;
}

/* SLIDE_E_FORMAT with "<path>:<line>: <problem>" for the line being parsed. */
int dr_fail(const dr_parser *ps, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return slide_fail(SLIDE_E_FORMAT, "%s:%" PRId64 ": %s", ps->path, ps->line, msg);
}

static int dr_fail_errno(int err, const char *what, const char *path)
{
    char eb[160];
    if (strerror_r(err, eb, sizeof eb) != 0)
        snprintf(eb, sizeof eb, "error %d", err);
    return slide_fail(SLIDE_E_IO, "%s '%s': %s", what, path, eb);
}

/* ------------------------------------------------------------------ growable arrays */

/* Grows an array of `elem`-byte items to hold at least `need` items (doubling). Returns the new block,
 * or NULL with the old block untouched and *cap unchanged. */
static void *dr_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (n < need)
        n = need;
    if (n < 16)
        n = 16;
    if (n > SIZE_MAX / elem)
        return NULL;
    void *q = realloc(p, n * elem);
    if (q)
        *cap = n;
    return q;
}

/* Returns the block cut down to n items (at least one, so pointers stay non-NULL). */
static void *dr_shrink(void *p, size_t n, size_t elem)
{
    void *q = realloc(p, (n ? n : 1) * elem);
    return q ? q : p;
}

int dr_nomem(const dr_parser *ps, const char *what)
{
    return slide_fail(SLIDE_E_NOMEM, "%s:%" PRId64 ": cannot allocate memory for %s", ps->path, ps->line,
                      what);
}

void dr_parser_free(dr_parser *ps)
{
    free(ps->feat_indptr);
    free(ps->label_indptr);
    free(ps->feat_indices);
    free(ps->feat_values);
    free(ps->label_indices);
    free(ps->scratch);
    if (ps->c_locale != (locale_t)0)
        freelocale(ps->c_locale);
    memset(ps, 0, sizeof *ps);
}

void dr_parser_init(dr_parser *ps, const char *path)
{
    memset(ps, 0, sizeof *ps);
    ps->path = path;
    ps->feat_limit = INT32_MAX;
    ps->label_limit = INT32_MAX;
    ps->feat_max = -1;
    ps->label_max = -1;
    ps->c_locale = (locale_t)0;
}

int dr_reserve(dr_parser *ps, int64_t rows)
{
    size_t r = (size_t)(rows < 0 ? 0 : rows < DR_RESERVE_ROWS ? rows : DR_RESERVE_ROWS);
    ps->feat_indptr = dr_grow(NULL, &ps->indptr_cap, r + 1, sizeof(int64_t));
    size_t cap2 = 0;
    ps->label_indptr = dr_grow(NULL, &cap2, ps->indptr_cap, sizeof(int64_t));
    ps->feat_indices = dr_grow(NULL, &ps->feat_cap, r * 16 + 16, sizeof(int32_t));
    cap2 = 0;
    ps->feat_values = dr_grow(NULL, &cap2, ps->feat_cap, sizeof(float));
    ps->label_indices = dr_grow(NULL, &ps->label_cap, r * 4 + 16, sizeof(int32_t));
    if (!ps->feat_indptr || !ps->label_indptr || !ps->feat_indices || !ps->feat_values || !ps->label_indices)
        return dr_nomem(ps, "the dataset");
    ps->feat_indptr[0] = 0;
    ps->label_indptr[0] = 0;
    return SLIDE_OK;
}

/* ------------------------------------------------------------------ numbers */

/* Reads decimal digits; the result saturates above 2^40, far beyond any int32 id. */
static inline const char *dr_parse_id(const char *p, const char *end, uint64_t *v)
{
    uint64_t x = 0;
    for (; p < end && dr_is_digit(*p); p++)
        if (x < (UINT64_C(1) << 40))
            x = x * 10 + (uint64_t)(*p - '0');
    *v = x;
    return p;
}

static const float dr_pow10f[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/*
 * Parses a decimal float `[+-]digits[.digits][(e|E)[+-]digits]` (at least one mantissa digit) starting
 * at p. Returns the first byte not consumed; *ok is 0 on a syntax error, -1 when the value overflows
 * float, 1 otherwise. nan, inf and hex floats are syntax errors.
 *
 * Fast path: when the significant digits form an integer m <= 2^24 and the decimal exponent is within
 * +-10, both m and 10^|e| are exact floats, so one IEEE multiply or divide gives the correctly rounded
 * result. Anything else goes to strtof in the "C" locale, which rounds correctly too; it needs the
 * byte after the token to be writable (see the invariant at the top of the file).
 */
static char *dr_parse_float(dr_parser *ps, char *p, char *end, float *out, int *ok)
{
    char *start = p;
    int neg = 0;
    *ok = 0;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    uint64_t m = 0;
    int sig = 0, any = 0, inexact = 0;
    int64_t e10 = 0;
    for (; p < end && dr_is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        any = 1;
        if (m == 0 && d == 0)
            continue; /* leading zero */
        if (sig < 19) {
            m = m * 10 + d;
            sig++;
        } else {
            e10++;
            inexact |= d != 0;
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && dr_is_digit(*p); p++) {
            unsigned d = (unsigned)(*p - '0');
            any = 1;
            if (m == 0 && d == 0) {
                e10--;
            } else if (sig < 19) {
                m = m * 10 + d;
                sig++;
                e10--;
            } else {
                inexact |= d != 0;
            }
        }
    }
    if (!any)
        return p;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !dr_is_digit(*p))
            return p;
        int64_t ev = 0;
        for (; p < end && dr_is_digit(*p); p++)
            if (ev < 100000)
                ev = ev * 10 + (*p - '0');
        e10 += eneg ? -ev : ev;
    }
    if (p < end && !dr_is_space(*p))
        return p; /* trailing garbage: the caller reports the whole token */

    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        *ok = 1;
        return p;
    }
    while (m % 10 == 0) {
        m /= 10;
        e10++;
    }
    if (!inexact && m <= (UINT64_C(1) << 24) && e10 >= -10 && e10 <= 10) {
        float f = (float)m;
        f = e10 < 0 ? f / dr_pow10f[-e10] : f * dr_pow10f[e10];
        *out = neg ? -f : f;
        *ok = 1;
        return p;
    }

    if (ps->c_locale == (locale_t)0) {
        ps->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (ps->c_locale == (locale_t)0) {
            *ok = -2;
            return p;
        }
    }
    char saved = *p;
    *p = '\0';
    locale_t old = uselocale(ps->c_locale);
    char *stop;
    float f = strtof(start, &stop);
    uselocale(old);
    *p = saved;
    if (stop != p)
        return p; /* cannot happen for text our grammar accepted; treat as a syntax error */
    if (isinf(f) || isnan(f)) {
        *ok = -1;
        return p;
    }
    *out = f;
    *ok = 1;
    return p;
}


/* ------------------------------------------------------------------ points */

static int dr_cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Finds a repeated id in ids[0..n); on success stores it in *dup and returns 1. Short rows are
 * compared pairwise (reporting the first repeat in file order); long ones via a sorted scratch copy. */
static int dr_find_duplicate(dr_parser *ps, const int32_t *ids, size_t n, int32_t *dup, int *nomem)
{
    *nomem = 0;
    if (n <= DR_SMALL_ROW) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (ids[i] == ids[j]) {
                    *dup = ids[i];
                    return 1;
                }
        return 0;
    }
    /* Strictly ascending or descending rows (most files) hold no repeat: one pass, no copy. */
    size_t up = 1, down = 1;
    for (size_t i = 1; i < n && (up == i || down == i); i++) {
        up += up == i && ids[i] > ids[i - 1];
        down += down == i && ids[i] < ids[i - 1];
    }
    if (up == n || down == n)
        return 0;
    int32_t *t = dr_grow(ps->scratch, &ps->scratch_cap, n, sizeof(int32_t));
    if (!t) {
        *nomem = 1;
        return 0;
    }
    ps->scratch = t;
    memcpy(t, ids, n * sizeof(int32_t));
    /* O(n log n) whatever the order (a Shell sort with fixed gaps was quadratic on long descending rows). */
    qsort(t, n, sizeof(int32_t), dr_cmp_i32);
    for (size_t i = 1; i < n; i++)
        if (t[i] == t[i - 1]) {
            *dup = t[i];
            return 1;
        }
    return 0;
}

/* Reports the id token [tok, te) as outside [base, base + limit). An id 0 below base 1 gets a hint
 * naming the option that reads 0-based files. */
static int dr_out_of_range(const dr_parser *ps, const char *kind, const char *tok, const char *te, int64_t base,
                           int64_t limit)
{
    char b[DR_SHOW];
    int zero = te - tok == 1 && tok[0] == '0';
    return dr_fail(ps, "%s id %s out of range [%" PRId64 ", %" PRId64 ")%s%s%s", kind, dr_show(b, tok, te), base,
                   base + limit, zero && base == 1 ? " (ids are 1-based; for a 0-based file set " : "",
                   zero && base == 1 ? kind : "", zero && base == 1 ? "_base to 0)" : "");
}

/* Reports a non-integer id token; a negative integer is reported as out of range instead. */
static int dr_bad_id(const dr_parser *ps, const char *kind, const char *tok, const char *te, int64_t base,
                     int64_t limit, const char *hint)
{
    char b[DR_SHOW];
    int neg_int = te - tok >= 2 && tok[0] == '-';
    for (const char *c = tok + 1; neg_int && c < te; c++)
        neg_int = dr_is_digit(*c);
    if (neg_int)
        return dr_out_of_range(ps, kind, tok, te, base, limit);
    return dr_fail(ps, "bad %s id '%s'%s", kind, dr_show(b, tok, te), hint);
}

/* Parses one point line `l1,l2,... f:v f:v ...` (labels absent when the line starts with a blank). */
int dr_point(dr_parser *ps, char *s, size_t len)
{
    char *p = s, *end = s + len;
    char b1[DR_SHOW];

    /* A line of len bytes holds at most (len + 1) / 2 labels and (len + 1) / 4 features, so reserving
     * that much here lets the loops below store without capacity checks. */
    if (ps->points + 2 > (int64_t)ps->indptr_cap) {
        size_t c1 = ps->indptr_cap, c2 = ps->indptr_cap;
        int64_t *a = dr_grow(ps->feat_indptr, &c1, (size_t)ps->points + 2, sizeof(int64_t));
        if (!a)
            return dr_nomem(ps, "row pointers");
        ps->feat_indptr = a;
        int64_t *b = dr_grow(ps->label_indptr, &c2, (size_t)ps->points + 2, sizeof(int64_t));
        if (!b)
            return dr_nomem(ps, "row pointers");
        ps->label_indptr = b;
        ps->indptr_cap = c1 < c2 ? c1 : c2;
    }
    size_t need = ps->label_nnz + len / 2 + 1;
    if (need > ps->label_cap) {
        int32_t *a = dr_grow(ps->label_indices, &ps->label_cap, need, sizeof(int32_t));
        if (!a)
            return dr_nomem(ps, "labels");
        ps->label_indices = a;
    }
    need = ps->feat_nnz + len / 4 + 1;
    if (need > ps->feat_cap) {
        size_t c1 = ps->feat_cap, c2 = ps->feat_cap;
        int32_t *a = dr_grow(ps->feat_indices, &c1, need, sizeof(int32_t));
        if (!a)
            return dr_nomem(ps, "features");
        ps->feat_indices = a;
        float *b = dr_grow(ps->feat_values, &c2, need, sizeof(float));
        if (!b)
            return dr_nomem(ps, "features");
        ps->feat_values = b;
        ps->feat_cap = c1 < c2 ? c1 : c2;
    }

    const size_t label0 = ps->label_nnz, feat0 = ps->feat_nnz;
    int32_t *lab = ps->label_indices;
    size_t nl = label0;

    if (p < end && !dr_is_space(*p)) {
        for (;;) {
            const char *tok = p;
            uint64_t id;
            p = (char *)dr_parse_id(p, end, &id);
            if (p == tok || (p < end && !dr_is_space(*p) && *p != ',')) {
                if (p == tok && tok > s && (p == end || dr_is_space(*p) || *p == ','))
                    return p == end ? dr_fail(ps, "truncated line: label list ends with ','")
                                    : dr_fail(ps, "missing label id after ','");
                const char *te = tok;
                while (te < end && !dr_is_space(*te) && *te != ',')
                    te++;
                if (te == tok)
                    te = dr_token_end(tok, end);
                const char *hint = memchr(tok, ':', (size_t)(te - tok))
                                       ? " (a point without labels must start with a space)"
                                       : "";
                return dr_bad_id(ps, "label", tok, te, ps->label_base, ps->label_limit, hint);
            }
            /* id saturates at 2^40, so the subtraction below cannot wrap into range. */
            if (id < (uint64_t)ps->label_base || id - (uint64_t)ps->label_base >= (uint64_t)ps->label_limit)
                return dr_out_of_range(ps, "label", tok, p, ps->label_base, ps->label_limit);
            int32_t sid = (int32_t)(id - (uint64_t)ps->label_base);
            if (sid > ps->label_max)
                ps->label_max = sid;
            lab[nl++] = sid;
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            break;
        }
    }

    int32_t *fid = ps->feat_indices;
    float *fval = ps->feat_values;
    size_t nf = feat0;
    int qid_allowed = ps->skip_qid;
    for (;;) {
        while (p < end && dr_is_space(*p))
            p++;
        if (p == end)
            break;
        char *tok = p;
        uint64_t id;
        if (qid_allowed && end - p >= 4 && memcmp(p, "qid:", 4) == 0) {
            const char *q = dr_parse_id(p + 4, end, &id);
            if (q == p + 4 || (q < end && !dr_is_space(*q)))
                return dr_fail(ps, "bad query id '%s': expected qid:<non-negative integer>",
                               dr_show(b1, tok, dr_token_end(tok, end)));
            p = (char *)q;
            qid_allowed = 0;
            continue;
        }
        qid_allowed = 0;
        p = (char *)dr_parse_id(p, end, &id);
        if (p == tok || (p < end && *p != ':')) {
            const char *te = dr_token_end(tok, end);
            if (p > tok && (p == end || dr_is_space(*p)))
                return dr_fail(ps, "missing ':' in feature '%s'", dr_show(b1, tok, te));
            const char *colon = memchr(tok, ':', (size_t)(te - tok));
            if (colon && colon > tok)
                return dr_bad_id(ps, "feature", tok, colon, ps->feat_base, ps->feat_limit,
                                 ps->skip_qid && colon - tok == 3 && memcmp(tok, "qid", 3) == 0
                                     ? " (qid:<n> must come right after the labels)"
                                     : "");
            return dr_fail(ps, "bad feature id in '%s'", dr_show(b1, tok, te));
        }
        if (p == end)
            return dr_fail(ps, "missing ':' in feature '%s'", dr_show(b1, tok, end));
        if (id < (uint64_t)ps->feat_base || id - (uint64_t)ps->feat_base >= (uint64_t)ps->feat_limit)
            return dr_out_of_range(ps, "feature", tok, p, ps->feat_base, ps->feat_limit);
        p++; /* ':' */
        if (p == end)
            return dr_fail(ps, "truncated line: no value after '%s'", dr_show(b1, tok, p));
        if (dr_is_space(*p))
            return dr_fail(ps, "missing value after '%s'", dr_show(b1, tok, p));
        char *vs = p;
        int ok;
        float v = 0.0f;
        p = dr_parse_float(ps, p, end, &v, &ok);
        if (ok != 1) {
            if (ok == -2)
                return dr_nomem(ps, "the C locale");
            const char *te = dr_token_end(vs, end);
            return dr_fail(ps, "bad value '%s' for feature %" PRIu64 ": %s", dr_show(b1, vs, te), id,
                           ok < 0 ? "out of float range" : "not a finite decimal number");
        }
        int32_t sid = (int32_t)(id - (uint64_t)ps->feat_base);
        if (sid > ps->feat_max)
            ps->feat_max = sid;
        fid[nf] = sid;
        fval[nf] = v;
        nf++;
    }

    int32_t dup;
    int nomem;
    if (dr_find_duplicate(ps, lab + label0, nl - label0, &dup, &nomem))
        return dr_fail(ps, "duplicate label id %" PRId64, (int64_t)dup + ps->label_base);
    if (!nomem && dr_find_duplicate(ps, fid + feat0, nf - feat0, &dup, &nomem))
        return dr_fail(ps, "duplicate feature id %" PRId64, (int64_t)dup + ps->feat_base);
    if (nomem)
        return dr_nomem(ps, "duplicate detection");

    ps->label_nnz = nl;
    ps->feat_nnz = nf;
    ps->points++;
    ps->feat_indptr[ps->points] = (int64_t)nf;
    ps->label_indptr[ps->points] = (int64_t)nl;
    return SLIDE_OK;
}


/* ------------------------------------------------------------------ input */

typedef struct dr_source {
    FILE *fp;
#ifdef SLIDE_HAVE_ZLIB
    /*
     * gzip is inflated here rather than with gzread, which silently ignores whatever follows the last gzip
     * member: trailing bytes that do not start another member are an error. `in` holds raw bytes: in plain
     * mode, the first chunk read to look for the gzip magic (handed out before reading on).
     */
    int gz;            /* 1: gzip member(s); 0: plain text */
    int z_ready;       /* inflateInit2 done */
    int member_done;   /* the last inflate call ended a member */
    int eof;           /* fp has no more bytes */
    z_stream z;
    unsigned char *in;
    size_t in_len, in_pos; /* plain mode: bytes of `in` not yet handed out */
#endif
} dr_source;

static int dr_source_open(dr_source *src, const char *path)
{
    memset(src, 0, sizeof *src);
    src->fp = fopen(path, "rb");
    if (!src->fp)
        return dr_fail_errno(errno, "cannot open", path);
#ifdef SLIDE_HAVE_ZLIB
    src->in = malloc(DR_CHUNK);
    if (!src->in) {
        fclose(src->fp);
        return slide_fail(SLIDE_E_NOMEM, "cannot open '%s': out of memory", path);
    }
    src->in_len = fread(src->in, 1, DR_CHUNK, src->fp);
    if (src->in_len < DR_CHUNK && ferror(src->fp)) {
        int err = errno;
        free(src->in);
        fclose(src->fp);
        return dr_fail_errno(err, "cannot read", path);
    }
    src->eof = src->in_len < DR_CHUNK;
    src->gz = src->in_len >= 2 && src->in[0] == 0x1f && src->in[1] == 0x8b;
    if (src->gz) {
        if (inflateInit2(&src->z, 16 + MAX_WBITS) != Z_OK) {
            free(src->in);
            fclose(src->fp);
            return slide_fail(SLIDE_E_NOMEM, "cannot open '%s': out of memory", path);
        }
        src->z_ready = 1;
        src->z.next_in = src->in;
        src->z.avail_in = (uInt)src->in_len;
    }
#endif
    return SLIDE_OK;
}

static void dr_source_close(dr_source *src)
{
#ifdef SLIDE_HAVE_ZLIB
    if (src->z_ready)
        inflateEnd(&src->z);
    free(src->in);
#endif
    fclose(src->fp);
}

#ifdef SLIDE_HAVE_ZLIB
static int dr_gzip_fail(const dr_parser *ps, const char *what)
{
    /* The line number is where reading stood, accurate to one chunk. */
    return slide_fail(SLIDE_E_FORMAT, "%s:%" PRId64 ": corrupt gzip data: %s", ps->path, ps->line + 1, what);
}

/* Inflates into buf; *got == 0 only at the clean end of the last member. */
static int dr_gzip_read(dr_source *src, const dr_parser *ps, char *buf, size_t cap, size_t *got)
{
    z_stream *z = &src->z;
    z->next_out = (Bytef *)buf;
    z->avail_out = (uInt)cap;
    while (z->avail_out == cap) {
        if (z->avail_in == 0 && !src->eof) {
            size_t n = fread(src->in, 1, DR_CHUNK, src->fp);
            if (n < DR_CHUNK && ferror(src->fp))
                return dr_fail_errno(errno, "cannot read", ps->path);
            src->eof = n == 0;
            z->next_in = src->in;
            z->avail_in = (uInt)n;
            continue;
        }
        if (z->avail_in == 0) { /* end of file */
            if (src->member_done)
                break;
            return dr_gzip_fail(ps, "unexpected end of file");
        }
        if (src->member_done) {
            /* More bytes after a complete member: only another member may follow (as `cat a.gz b.gz`). */
            if (z->next_in[0] != 0x1f)
                return dr_gzip_fail(ps, "trailing data after the end of the gzip stream");
            inflateReset(z);
            src->member_done = 0;
        }
        int r = inflate(z, Z_NO_FLUSH);
        if (r == Z_STREAM_END)
            src->member_done = 1;
        else if (r == Z_MEM_ERROR)
            return slide_fail(SLIDE_E_NOMEM, "%s: out of memory while decompressing", ps->path);
        else if (r != Z_OK && r != Z_BUF_ERROR)
            return dr_gzip_fail(ps, r == Z_DATA_ERROR && src->member_done == 0 && z->msg &&
                                            strcmp(z->msg, "incorrect header check") == 0
                                        ? "trailing data after the end of the gzip stream"
                                        : z->msg ? z->msg : "inflate failed");
    }
    *got = cap - z->avail_out;
    return SLIDE_OK;
}
#endif

/* Reads up to cap bytes; *got == 0 means end of file. */
static int dr_source_read(dr_source *src, const dr_parser *ps, char *buf, size_t cap, size_t *got)
{
#ifdef SLIDE_HAVE_ZLIB
    if (src->gz)
        return dr_gzip_read(src, ps, buf, cap, got);
    if (src->in_pos < src->in_len) { /* the bytes read to look for the gzip magic */
        size_t n = src->in_len - src->in_pos < cap ? src->in_len - src->in_pos : cap;
        memcpy(buf, src->in + src->in_pos, n);
        src->in_pos += n;
        *got = n;
        return SLIDE_OK;
    }
    if (src->eof) {
        *got = 0;
        return SLIDE_OK;
    }
#endif
    *got = fread(buf, 1, cap, src->fp);
    if (*got < cap && ferror(src->fp))
        return dr_fail_errno(errno, "cannot read", ps->path);
    return SLIDE_OK;
}

/* Counts the line, drops one trailing '\r' (CRLF files) and hands it to the format. */
static int dr_line(dr_parser *ps, dr_line_fn fn, char *s, size_t len)
{
    ps->line++;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    return fn(ps, s, len);
}

int dr_read(dr_parser *ps, dr_line_fn fn)
{
    dr_source src;
    int rc = dr_source_open(&src, ps->path);
    if (rc != SLIDE_OK)
        return rc;

    /* `line` collects a line that straddles chunks; it always keeps one spare byte past line_len. */
    char *chunk = malloc(DR_CHUNK);
    char *line = NULL;
    size_t line_len = 0, line_cap = 0;
#ifndef SLIDE_HAVE_ZLIB
    int first = 1;
#endif
    if (!chunk)
        rc = dr_nomem(ps, "the read buffer");

    while (rc == SLIDE_OK) {
        size_t got = 0;
        rc = dr_source_read(&src, ps, chunk, DR_CHUNK, &got);
        if (rc != SLIDE_OK || got == 0)
            break;
#ifndef SLIDE_HAVE_ZLIB
        if (first && got >= 2 && (unsigned char)chunk[0] == 0x1f && (unsigned char)chunk[1] == 0x8b) {
            rc = slide_fail(SLIDE_E_UNSUPPORTED, "%s: gzip input needs libslide built with zlib", ps->path);
            break;
        }
        first = 0;
#endif
        char *p = chunk, *end = chunk + got;
        while (p < end && rc == SLIDE_OK) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *stop = nl ? nl : end;
            if (line_len > 0 || !nl) {
                size_t add = (size_t)(stop - p);
                if (add > SIZE_MAX - 1 - line_len) {
                    rc = dr_nomem(ps, "a line");
                    break;
                }
                char *t = dr_grow(line, &line_cap, line_len + add + 1, 1);
                if (!t) {
                    rc = dr_nomem(ps, "a line");
                    break;
                }
                line = t;
                memcpy(line + line_len, p, add);
                line_len += add;
                if (nl) {
                    rc = dr_line(ps, fn, line, line_len);
                    line_len = 0;
                }
            } else {
                rc = dr_line(ps, fn, p, (size_t)(nl - p));
            }
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    if (rc == SLIDE_OK && line_len > 0)
        rc = dr_line(ps, fn, line, line_len); /* last line without a final newline */
    free(line);
    free(chunk);
    dr_source_close(&src);
    return rc;
}

/* ------------------------------------------------------------------ the dataset */

int dr_make_dataset(dr_parser *ps, int64_t n_features, int64_t n_labels, slide_dataset **out)
{
    int rc = ps->feat_indptr ? SLIDE_OK : dr_reserve(ps, 0);
    slide_dataset *ds = NULL;
    if (rc == SLIDE_OK) {
        ds = malloc(sizeof *ds);
        if (!ds)
            rc = dr_nomem(ps, "the dataset");
    }
    if (rc != SLIDE_OK) {
        dr_parser_free(ps);
        return rc;
    }
    size_t rows1 = (size_t)ps->points + 1;
    ds->rows = ps->points;
    ds->n_features = n_features;
    ds->n_labels = n_labels;
    ds->feat_indptr = dr_shrink(ps->feat_indptr, rows1, sizeof(int64_t));
    ds->label_indptr = dr_shrink(ps->label_indptr, rows1, sizeof(int64_t));
    ds->feat_indices = dr_shrink(ps->feat_indices, ps->feat_nnz, sizeof(int32_t));
    ds->feat_values = dr_shrink(ps->feat_values, ps->feat_nnz, sizeof(float));
    ds->label_indices = dr_shrink(ps->label_indices, ps->label_nnz, sizeof(int32_t));
    ps->feat_indptr = ps->label_indptr = NULL;
    ps->feat_indices = ps->label_indices = NULL;
    ps->feat_values = NULL;
    dr_parser_free(ps);
    *out = ds;
    return SLIDE_OK;
}

void slide_dataset_free(slide_dataset *ds)
{
    if (!ds)
        return;
    free(ds->feat_indptr);
    free(ds->feat_indices);
    free(ds->feat_values);
    free(ds->label_indptr);
    free(ds->label_indices);
    free(ds);
}

int slide_dataset_features(const slide_dataset *ds, slide_matrix *out)
{
    if (!ds)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_features: ds is NULL");
    if (!out)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_features: out is NULL");
    out->kind = SLIDE_MATRIX_CSR;
    out->rows = ds->rows;
    out->cols = ds->n_features;
    out->values = ds->feat_values;
    out->indptr = ds->feat_indptr;
    out->indices = ds->feat_indices;
    return SLIDE_OK;
}

int slide_dataset_labels(const slide_dataset *ds, slide_matrix *out)
{
    if (!ds)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_labels: ds is NULL");
    if (!out)
        return slide_fail(SLIDE_E_INVALID, "slide_dataset_labels: out is NULL");
    out->kind = SLIDE_MATRIX_CSR;
    out->rows = ds->rows;
    out->cols = ds->n_labels;
    out->values = NULL;
    out->indptr = ds->label_indptr;
    out->indices = ds->label_indices;
    return SLIDE_OK;
}
