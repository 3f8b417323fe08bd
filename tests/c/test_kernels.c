/*
 * Kernel tests: every instruction set this CPU (and SLIDE_ISA) allows is run against the scalar
 * reference, and the scalar reference itself against a double-precision one, on odd sizes, misaligned
 * pointers and buffers that end right at an inaccessible page. `--bench` also times every kernel.
 *
 * Buffers: each lives in a region whose end is followed by a PROT_NONE guard page (when mprotect allows
 * it on heap memory, as on Linux and macOS). The whole region is filled with a sentinel before each case,
 * so a kernel that reads past the end faults, and one that writes outside [p, p + n) is reported.
 * Placements: 64-byte aligned, aligned + 1 float, and flush against the guard page.
 */
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(SLIDE_NO_AVX2)
#  define TEST_AVX2 1
#else
#  define TEST_AVX2 0
#endif
#if TEST_AVX2 && !defined(SLIDE_NO_AVX512)
#  define TEST_AVX512 1
#else
#  define TEST_AVX512 0
#endif

#define TOL 1e-5
#define CAP 16384 /* floats per test buffer: enough for 11 rows of stride 1024 */
#define MAX_REPORTS 5

static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 1000, 1023};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))
static const size_t row_counts[] = {0, 1, 3, 4, 5, 8, 11};
#define N_ROW_COUNTS (sizeof(row_counts) / sizeof(row_counts[0]))

/* ---- random numbers (splitmix64, fixed seed) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() >> 40) * (1.0f / 16777216.0f);
}

static void fill_rand(float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = frand(lo, hi);
}

/* nnz distinct indices in [0, dim) in random order; dim - 1 is always among them, in the last slot. */
static void rand_indices(int32_t *idx, size_t nnz, size_t dim)
{
    static int32_t perm[8 * 4096]; /* the benchmark's largest row */
    for (size_t i = 0; i < dim; i++)
        perm[i] = (int32_t)i;
    for (size_t i = 0; i < nnz; i++) {
        const size_t j = i + (size_t)(rnd() % (dim - i));
        const int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int has_last = 0;
    for (size_t i = 0; i < nnz; i++)
        has_last |= perm[i] == (int32_t)(dim - 1);
    if (nnz && !has_last)
        perm[nnz - 1] = (int32_t)(dim - 1);
    memcpy(idx, perm, nnz * sizeof(*idx));
}

/* ---- guarded buffers ---- */

enum { PLACE_ALIGNED, PLACE_MISALIGNED, PLACE_FLUSH, N_PLACES };
static const char *const place_name[N_PLACES] = {"aligned", "aligned+1", "at-guard"};

typedef struct gbuf {
    unsigned char *base; /* page-aligned; `bytes` of data, then one guard page */
    size_t bytes, page;
    int guarded;
} gbuf;

static const unsigned char sentinel = 0xA5;

static int gbuf_init(gbuf *g)
{
    const long ps = sysconf(_SC_PAGESIZE);
    g->page = ps > 0 ? (size_t)ps : 4096;
    g->bytes = (CAP * sizeof(float) + 64 * sizeof(float) + g->page - 1) / g->page * g->page;
    g->base = aligned_alloc(g->page, g->bytes + g->page);
    if (!g->base)
        return -1;
    g->guarded = mprotect(g->base + g->bytes, g->page, PROT_NONE) == 0;
    return 0;
}

static void gbuf_free(gbuf *g)
{
    if (g->guarded)
        mprotect(g->base + g->bytes, g->page, PROT_READ | PROT_WRITE);
    free(g->base);
}

/*
 * Fills the region with the sentinel and returns room for n elements of `size` bytes (4 or 2) at the
 * given placement ("aligned+1" is one element past a 64-byte boundary).
 */
static void *gbuf_place_sz(gbuf *g, size_t n, int place, size_t size)
{
    memset(g->base, sentinel, g->bytes);
    unsigned char *end = g->base + g->bytes;
    const size_t n64 = (n * size + 63) / 64 * 64;
    unsigned char *aligned = end - (n64 + 128); /* 64-byte aligned: end is page-aligned */
    switch (place) {
    case PLACE_ALIGNED: return aligned;
    case PLACE_MISALIGNED: return aligned + size;
    default: return end - n * size;
    }
}

static void *gbuf_place(gbuf *g, size_t n, int place) { return gbuf_place_sz(g, n, place, 4); }

/* Bytes outside [p, p + size * n) that no longer hold the sentinel. */
static size_t gbuf_stray_sz(const gbuf *g, const void *p, size_t n, size_t size)
{
    const unsigned char *lo = p, *hi = lo + n * size, *end = g->base + g->bytes;
    size_t bad = 0;
    for (const unsigned char *c = g->base; c < lo; c++)
        bad += *c != sentinel;
    for (const unsigned char *c = hi; c < end; c++)
        bad += *c != sentinel;
    return bad;
}

static size_t gbuf_stray(const gbuf *g, const void *p, size_t n) { return gbuf_stray_sz(g, p, n, 4); }

/* ---- crash reports: a fault in a guard page names the case instead of just killing the test ---- */

static const char *volatile cur_isa = "", *volatile cur_kernel = "";
static volatile size_t cur_n, cur_rows;
static volatile int cur_place;

static void set_case(size_t n, size_t rows, int place)
{
    cur_n = n;
    cur_rows = rows;
    cur_place = place;
}

/* async-signal-safe output */
static void put(const char *s)
{
    if (write(STDOUT_FILENO, s, strlen(s)) < 0)
        _exit(3);
}

static void put_num(size_t n)
{
    char buf[24], *p = buf + sizeof(buf);
    *--p = 0;
    do
        *--p = (char)('0' + n % 10);
    while (n /= 10);
    put(p);
}

static void on_fault(int sig)
{
    put("CRASH ");
    put(sig == SIGSEGV ? "(SIGSEGV" : sig == SIGBUS ? "(SIGBUS" : "(SIGILL");
    put(", likely an access past the end of a buffer) in ");
    put(cur_isa);
    put(" ");
    put(cur_kernel);
    put(": n=");
    put_num(cur_n);
    if (cur_rows) {
        put(" rows=");
        put_num(cur_rows);
    }
    put(" ");
    put(cur_place >= 0 && cur_place < N_PLACES ? place_name[cur_place] : "?");
    put("\n");
    _exit(1);
}

static void catch_faults(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

/* ---- double-precision reference (checks the scalar kernels) ---- */

static float dref_dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

static float dref_dot_sparse(const float *w, const int32_t *idx, const float *val, size_t nnz)
{
    double s = 0;
    for (size_t i = 0; i < nnz; i++)
        s += (double)w[idx[i]] * val[i];
    return (float)s;
}

static void dref_axpy(float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)y[i] + (double)a * x[i]);
}

static void dref_axpy_sparse(float *y, float a, const int32_t *idx, const float *val, size_t nnz)
{
    for (size_t i = 0; i < nnz; i++)
        y[idx[i]] = (float)((double)y[idx[i]] + (double)a * val[i]);
}

static void dref_axpy_gather(float *y, float a, const float *w, const int32_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)y[i] + (double)a * w[idx[i]]);
}

static void dref_adam(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1, float b2,
                      float eps_t, float decay)
{
    for (size_t i = 0; i < n; i++) {
        const double mi = (double)b1 * m[i] + (1.0 - b1) * g[i];
        const double vi = (double)b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        m[i] = (float)mi;
        v[i] = (float)vi;
        w[i] = (float)((double)w[i] * decay - lr_t * mi / (sqrt(vi) + eps_t));
    }
}

static void dref_adam_catch_up(float *w, float *m, float *v, size_t n, float decay, float move, float eps, float mk,
                               float vk)
{
    for (size_t i = 0; i < n; i++) {
        w[i] = (float)((double)w[i] * decay - (double)move * m[i] / (sqrt((double)v[i]) + eps));
        m[i] = (float)((double)m[i] * mk);
        v[i] = (float)((double)v[i] * vk);
    }
}

static void dref_sgd(float *w, const float *g, size_t n, float lr, float decay)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((double)w[i] * decay - (double)lr * g[i]);
}

static void dref_dot_rows(const float *rows, size_t stride, size_t m, const float *x, size_t n, float *out)
{
    for (size_t j = 0; j < m; j++)
        out[j] = dref_dot(rows + j * stride, x, n);
}

static void dref_lse_update(float *mx, float *sum, const float *z, float b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double zi = (double)z[i] + b;
        if (zi > mx[i]) {
            sum[i] = (float)(sum[i] * exp(mx[i] - zi) + 1.0);
            mx[i] = (float)zi;
        } else {
            sum[i] = (float)(sum[i] + exp(zi - mx[i]));
        }
    }
}

static float dref_exp_sum(float *z, size_t n, float shift)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = exp((double)z[i] - shift);
        z[i] = (float)e;
        sum += e;
    }
    return (float)sum;
}

/* Written from the definition (largest eligible value, then its first position), not from the loop. */
static void dref_bins_argmax8(const float *x, const uint32_t *pos8, size_t n_groups, uint32_t bin_size,
                              int32_t *arg)
{
    for (size_t bin = 0; bin < n_groups * 8; bin++) {
        const uint32_t *p = pos8 + bin / 8 * bin_size * 8 + bin % 8;
        double mx = -INFINITY;
        for (uint32_t b = 0; b < bin_size; b++) {
            const float v = x[p[b * 8]];
            if (v != 0.0f && !isnan(v) && v > -FLT_MAX && v > mx)
                mx = v;
        }
        arg[bin] = -1;
        for (uint32_t b = 0; b < bin_size && mx > -INFINITY; b++)
            if ((double)x[p[b * 8]] == mx) {
                arg[bin] = (int32_t)b;
                break;
            }
    }
}

static void dref_dot_many(const float *const *rows, size_t m, const float *x, size_t n, float *out)
{
    for (size_t k = 0; k < m; k++)
        out[k] = dref_dot(rows[k], x, n);
}

static void dref_axpy_many(float *y, const float *c, const float *const *xs, size_t m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double s = y[i];
        for (size_t k = 0; k < m; k++)
            s += (double)c[k] * xs[k][i];
        y[i] = (float)s;
    }
}

static void dref_dot_many_multi(const float *const *rows, size_t m, const float *const *xs, float *const *outs,
                                size_t nx, size_t n)
{
    for (size_t j = 0; j < nx; j++)
        dref_dot_many(rows, m, xs[j], n, outs[j]);
}

static void dref_axpy_many_multi(float *const *ys, const float *const *cs, size_t ny, const float *const *xs,
                                 size_t m, size_t n)
{
    for (size_t j = 0; j < ny; j++)
        dref_axpy_many(ys[j], cs[j], xs, m, n);
}

/*
 * bfloat16 by definition: the two bf16 values that bracket x (x with its low 16 bits cleared, and the next
 * one away from zero), the nearer one in exact double arithmetic, the one with an even last bit on a tie;
 * NaN gives a quiet NaN of the same sign. Independent of the bit trick in slide_bf16_from_f32.
 */
static slide_bf16 dref_narrow1(float x)
{
    union { float f; uint32_t u; } c = {x};
    if (isnan(x))
        return (slide_bf16)(((c.u >> 16) & 0x8000u) | 0x7FC0u);
    const slide_bf16 lo = (slide_bf16)(c.u >> 16), hi = (slide_bf16)(lo + 1u);
    if ((c.u & 0xFFFFu) == 0)
        return lo;
    union { uint32_t u; float f; } a = {(uint32_t)lo << 16}, b = {(uint32_t)hi << 16};
    /* Past the largest finite value the next step is 2^128 with an unbounded exponent; it rounds to Inf. */
    const double db = isinf(b.f) ? copysign(ldexp(1.0, 128), x) : (double)b.f;
    const double dlo = fabs((double)x - a.f), dhi = fabs(db - x);
    if (dlo != dhi)
        return dlo < dhi ? lo : hi;
    return (lo & 1u) ? hi : lo;
}

static float dref_widen1(slide_bf16 h)
{
    /* sign * 1.mantissa * 2^(exp - 127), built with ldexp rather than bit shifts */
    const int sign = h >> 15, e = (h >> 7) & 0xFF, mant = h & 0x7F;
    double v;
    if (e == 0xFF)
        v = mant ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)mant, -126 - 7);
    else
        v = ldexp(128.0 + mant, e - 127 - 7);
    return (float)(sign ? -v : v);
}

static void dref_bf16_to_f32(float *out, const slide_bf16 *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = dref_widen1(in[i]);
}

static void dref_f32_to_bf16(slide_bf16 *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = dref_narrow1(in[i]);
}

static float dref_dot_bf16(const float *x, const slide_bf16 *w, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * dref_widen1(w[i]);
    return (float)s;
}

static float dref_dot_sparse_bf16(const slide_bf16 *w, const int32_t *idx, const float *val, size_t nnz)
{
    double s = 0;
    for (size_t i = 0; i < nnz; i++)
        s += (double)dref_widen1(w[idx[i]]) * val[i];
    return (float)s;
}

static void dref_dot_many_bf16(const slide_bf16 *const *rows, size_t m, const float *x, size_t n, float *out)
{
    for (size_t k = 0; k < m; k++)
        out[k] = dref_dot_bf16(x, rows[k], n);
}

static void dref_axpy_many_bf16(float *y, const float *c, const slide_bf16 *const *xs, size_t m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double s = y[i];
        for (size_t k = 0; k < m; k++)
            s += (double)c[k] * dref_widen1(xs[k][i]);
        y[i] = (float)s;
    }
}

static void dref_adam_bf16(slide_bf16 *w, slide_bf16 *m, slide_bf16 *v, const float *g, size_t n, float lr_t,
                           float b1, float b2, float eps_t, float decay)
{
    for (size_t i = 0; i < n; i++) {
        const double mi = (double)b1 * dref_widen1(m[i]) + (1.0 - b1) * g[i];
        const double vi = (double)b2 * dref_widen1(v[i]) + (1.0 - b2) * g[i] * g[i];
        m[i] = dref_narrow1((float)mi);
        v[i] = dref_narrow1((float)vi);
        w[i] = dref_narrow1((float)(dref_widen1(w[i]) * decay - lr_t * mi / (sqrt(vi) + eps_t)));
    }
}

static void dref_sgd_bf16(slide_bf16 *w, const float *g, size_t n, float lr, float decay)
{
    for (size_t i = 0; i < n; i++)
        w[i] = dref_narrow1((float)((double)dref_widen1(w[i]) * decay - (double)lr * g[i]));
}

/* Written from the definition, one lane at a time: lane r's additions in (d, e) order. */
static void dref_sign_project16(const uint32_t *ptr, const uint16_t *proj, size_t n_dims, const float *xt, float *acc)
{
    for (int r = 0; r < 16; r++)
        for (size_t d = 0; d < n_dims; d++)
            for (uint32_t e = ptr[d]; e < ptr[d + 1]; e++) {
                const float x = xt[d * 16 + r];
                acc[(size_t)(proj[e] & 0x7FFFu) * 16 + r] += (proj[e] & 0x8000u) ? -x : x;
            }
}

static const slide_kernels dref = {
    .dot = dref_dot,
    .dot_sparse = dref_dot_sparse,
    .axpy = dref_axpy,
    .axpy_sparse = dref_axpy_sparse,
    .axpy_gather = dref_axpy_gather,
    .adam = dref_adam,
    .sgd = dref_sgd,
    .adam_catch_up = dref_adam_catch_up,
    .dot_rows = dref_dot_rows,
    .dot_many = dref_dot_many,
    .axpy_many = dref_axpy_many,
    .dot_many_multi = dref_dot_many_multi,
    .axpy_many_multi = dref_axpy_many_multi,
    .lse_update = dref_lse_update,
    .exp_sum = dref_exp_sum,
    .bins_argmax8 = dref_bins_argmax8,
    .sign_project16 = dref_sign_project16,
    .bf16_to_f32 = dref_bf16_to_f32,
    .f32_to_bf16 = dref_f32_to_bf16,
    .dot_bf16 = dref_dot_bf16,
    .dot_sparse_bf16 = dref_dot_sparse_bf16,
    .dot_many_bf16 = dref_dot_many_bf16,
    .axpy_many_bf16 = dref_axpy_many_bf16,
    .adam_bf16 = dref_adam_bf16,
    .sgd_bf16 = dref_sgd_bf16,
};

/* ---- checking ---- */

typedef struct stats {
    const char *isa, *kernel;
    size_t cases, fails, reports;
    double worst; /* max |got - ref| / tolerance over passing and failing elements */
} stats;

/* |got - ref| <= TOL * scale, where scale bounds the magnitudes the result was computed from. */
static int check(stats *st, double got, double ref, double scale, size_t n, int place, size_t at)
{
    const double diff = fabs(got - ref), tol = TOL * scale;
    const double ratio = diff == 0 ? 0 : tol > 0 && !isnan(diff) ? diff / tol : INFINITY;
    if (ratio > st->worst)
        st->worst = ratio;
    if (diff <= tol)
        return 1;
    if (st->reports++ < MAX_REPORTS)
        printf("    %s %s: n=%zu %s, element %zu: got %.9g, want %.9g (tolerance %.3g)\n", st->isa,
               st->kernel, n, place_name[place], at, got, ref, tol);
    return 0;
}

static int check_stray(stats *st, const gbuf *g, const void *p, size_t n, int place, const char *what)
{
    const size_t bad = gbuf_stray(g, p, n);
    if (!bad)
        return 1;
    if (st->reports++ < MAX_REPORTS)
        printf("    %s %s: n=%zu %s: %zu bytes written outside %s\n", st->isa, st->kernel, n,
               place_name[place], bad, what);
    return 0;
}

static void finish_case(stats *st, int ok)
{
    st->cases++;
    st->fails += !ok;
}

typedef struct bufs {
    gbuf g[5];
} bufs;

static float ref_a[CAP], ref_b[CAP], ref_c[CAP], tmp_a[CAP];

static void test_dot(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *a = gbuf_place(&B->g[0], n, pl), *b = gbuf_place(&B->g[1], n, pl);
            fill_rand(a, n, -1, 1);
            fill_rand(b, n, -1, 1);
            double scale = 0;
            for (size_t i = 0; i < n; i++)
                scale += fabs((double)a[i] * b[i]);
            const float got = t->dot(a, b, n), want = r->dot(a, b, n);
            finish_case(st, check(st, got, want, scale, n, pl, 0));
        }
}

static void test_dot_sparse(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t nnz = sizes[s], dim = 2 * nnz + 17;
            set_case(nnz, 0, pl);
            float *w = gbuf_place(&B->g[0], dim, pl), *val = gbuf_place(&B->g[1], nnz, pl);
            int32_t *idx = gbuf_place(&B->g[2], nnz, pl);
            fill_rand(w, dim, -1, 1);
            fill_rand(val, nnz, -1, 1);
            rand_indices(idx, nnz, dim);
            double scale = 0;
            for (size_t i = 0; i < nnz; i++)
                scale += fabs((double)w[idx[i]] * val[i]);
            const float got = t->dot_sparse(w, idx, val, nnz), want = r->dot_sparse(w, idx, val, nnz);
            finish_case(st, check(st, got, want, scale, nnz, pl, 0));
        }
}

static void test_axpy(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *y = gbuf_place(&B->g[0], n, pl), *x = gbuf_place(&B->g[1], n, pl);
            const float a = frand(-2, 2);
            fill_rand(y, n, -1, 1);
            fill_rand(x, n, -1, 1);
            memcpy(ref_a, y, n * sizeof(float));
            memcpy(tmp_a, y, n * sizeof(float));
            r->axpy(ref_a, a, x, n);
            t->axpy(y, a, x, n);
            int ok = check_stray(st, &B->g[0], y, n, pl, "y");
            for (size_t i = 0; i < n && ok; i++)
                ok = check(st, y[i], ref_a[i], fabs(tmp_a[i]) + fabs((double)a * x[i]), n, pl, i);
            finish_case(st, ok);
        }
}

static void test_axpy_sparse(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t nnz = sizes[s], dim = 2 * nnz + 17;
            set_case(nnz, 0, pl);
            float *y = gbuf_place(&B->g[0], dim, pl), *val = gbuf_place(&B->g[1], nnz, pl);
            int32_t *idx = gbuf_place(&B->g[2], nnz, pl);
            const float a = frand(-2, 2);
            fill_rand(y, dim, -1, 1);
            fill_rand(val, nnz, -1, 1);
            rand_indices(idx, nnz, dim);
            memcpy(ref_a, y, dim * sizeof(float));
            memcpy(tmp_a, y, dim * sizeof(float));
            r->axpy_sparse(ref_a, a, idx, val, nnz);
            t->axpy_sparse(y, a, idx, val, nnz);
            /* Untouched elements must come back bit for bit: their scale is 0. */
            for (size_t i = 0; i < dim; i++)
                ref_b[i] = 0;
            for (size_t i = 0; i < nnz; i++)
                ref_b[idx[i]] = (float)(fabs(tmp_a[idx[i]]) + fabs((double)a * val[i]));
            int ok = check_stray(st, &B->g[0], y, dim, pl, "y");
            for (size_t i = 0; i < dim && ok; i++)
                ok = check(st, y[i], ref_a[i], ref_b[i], nnz, pl, i);
            finish_case(st, ok);
        }
}

static void test_axpy_gather(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s], dim = 2 * n + 17;
            set_case(n, 0, pl);
            float *y = gbuf_place(&B->g[0], n, pl), *w = gbuf_place(&B->g[1], dim, pl);
            int32_t *idx = gbuf_place(&B->g[2], n, pl);
            const float a = frand(-2, 2);
            fill_rand(y, n, -1, 1);
            fill_rand(w, dim, -1, 1);
            rand_indices(idx, n, dim);
            memcpy(ref_a, y, n * sizeof(float));
            memcpy(tmp_a, y, n * sizeof(float));
            r->axpy_gather(ref_a, a, w, idx, n);
            t->axpy_gather(y, a, w, idx, n);
            int ok = check_stray(st, &B->g[0], y, n, pl, "y");
            for (size_t i = 0; i < n && ok; i++)
                ok = check(st, y[i], ref_a[i], fabs(tmp_a[i]) + fabs((double)a * w[idx[i]]), n, pl, i);
            finish_case(st, ok);
        }
}

/* Optimizer cases alternate between no weight decay (factor exactly 1) and a decay factor of 0.97. */
#define DECAY_OF(size_index) ((size_index) % 2 ? 0.97f : 1.0f)

static void test_adam(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *w = gbuf_place(&B->g[0], n, pl), *m = gbuf_place(&B->g[1], n, pl);
            float *v = gbuf_place(&B->g[2], n, pl), *g = gbuf_place(&B->g[3], n, pl);
            fill_rand(w, n, -1, 1);
            fill_rand(m, n, -0.1f, 0.1f);
            fill_rand(v, n, 0, 0.01f);
            fill_rand(g, n, -1, 1);
            if (n > 2) { /* a zero gradient on a zero state: the update is 0 / eps */
                g[1] = 0;
                m[1] = 0;
                v[1] = 0;
            }
            memcpy(ref_a, w, n * sizeof(float));
            memcpy(ref_b, m, n * sizeof(float));
            memcpy(ref_c, v, n * sizeof(float));
            memcpy(tmp_a, w, n * sizeof(float));
            r->adam(ref_a, ref_b, ref_c, g, n, lr, b1, b2, eps, DECAY_OF(s));
            /* scales from the inputs, before t->adam overwrites them */
            static double sm[CAP], sv[CAP];
            for (size_t i = 0; i < n; i++) {
                sm[i] = fabs((double)b1 * m[i]) + fabs((1.0 - b1) * g[i]);
                sv[i] = fabs((double)b2 * v[i]) + (1.0 - b2) * g[i] * g[i];
            }
            t->adam(w, m, v, g, n, lr, b1, b2, eps, DECAY_OF(s));
            int ok = check_stray(st, &B->g[0], w, n, pl, "w") && check_stray(st, &B->g[1], m, n, pl, "m") &&
                     check_stray(st, &B->g[2], v, n, pl, "v") && check_stray(st, &B->g[3], g, n, pl, "g");
            for (size_t i = 0; i < n && ok; i++) {
                const double sw = fabs(tmp_a[i]) + lr * sm[i] / (sqrt(ref_c[i]) + eps);
                ok = check(st, m[i], ref_b[i], sm[i], n, pl, i) &&
                     check(st, v[i], ref_c[i], sv[i], n, pl, i) && check(st, w[i], ref_a[i], sw, n, pl, i);
            }
            finish_case(st, ok);
        }
}

static void test_adam_catch_up(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *w = gbuf_place(&B->g[0], n, pl), *m = gbuf_place(&B->g[1], n, pl);
            float *v = gbuf_place(&B->g[2], n, pl);
            const float move = frand(0, 0.01f), eps = 1e-8f, mk = frand(0.3f, 1), vk = frand(0.9f, 1);
            fill_rand(w, n, -1, 1);
            fill_rand(m, n, -0.1f, 0.1f);
            fill_rand(v, n, 0, 0.01f);
            memcpy(ref_a, w, n * sizeof(float));
            memcpy(ref_b, m, n * sizeof(float));
            memcpy(ref_c, v, n * sizeof(float));
            memcpy(tmp_a, w, n * sizeof(float));
            static double sw[CAP];
            for (size_t i = 0; i < n; i++)
                sw[i] = fabs(tmp_a[i]) + move * fabs(m[i]) / (sqrt(v[i]) + eps);
            r->adam_catch_up(ref_a, ref_b, ref_c, n, DECAY_OF(s), move, eps, mk, vk);
            t->adam_catch_up(w, m, v, n, DECAY_OF(s), move, eps, mk, vk);
            int ok = check_stray(st, &B->g[0], w, n, pl, "w") && check_stray(st, &B->g[1], m, n, pl, "m") &&
                     check_stray(st, &B->g[2], v, n, pl, "v");
            for (size_t i = 0; i < n && ok; i++)
                ok = check(st, w[i], ref_a[i], sw[i], n, pl, i) && check(st, m[i], ref_b[i], fabs(ref_b[i]), n, pl, i) &&
                     check(st, v[i], ref_c[i], fabs(ref_c[i]), n, pl, i);
            finish_case(st, ok);
        }
}

static void test_sgd(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *w = gbuf_place(&B->g[0], n, pl), *g = gbuf_place(&B->g[1], n, pl);
            const float lr = frand(0, 0.5f);
            fill_rand(w, n, -1, 1);
            fill_rand(g, n, -1, 1);
            memcpy(ref_a, w, n * sizeof(float));
            memcpy(tmp_a, w, n * sizeof(float));
            r->sgd(ref_a, g, n, lr, DECAY_OF(s));
            t->sgd(w, g, n, lr, DECAY_OF(s));
            int ok = check_stray(st, &B->g[0], w, n, pl, "w");
            for (size_t i = 0; i < n && ok; i++)
                ok = check(st, w[i], ref_a[i], fabs(tmp_a[i]) + fabs((double)lr * g[i]), n, pl, i);
            finish_case(st, ok);
        }
}

/* Rows packed (stride n, so most rows are misaligned) and padded to 16 floats, as the network stores them. */
static void test_dot_rows(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < N_ROW_COUNTS; c++)
            for (int padded = 0; padded < 2; padded++)
                for (int pl = 0; pl < N_PLACES; pl++) {
                    const size_t n = sizes[s], m = row_counts[c];
                    set_case(n, m, pl);
                    const size_t stride = padded ? (n + 15) / 16 * 16 : n;
                    const size_t total = m ? (m - 1) * stride + n : 0;
                    float *rows = gbuf_place(&B->g[0], total, pl), *x = gbuf_place(&B->g[1], n, pl);
                    float *out = gbuf_place(&B->g[2], m, pl);
                    fill_rand(rows, total, -1, 1);
                    fill_rand(x, n, -1, 1);
                    r->dot_rows(rows, stride, m, x, n, ref_a);
                    t->dot_rows(rows, stride, m, x, n, out);
                    int ok = check_stray(st, &B->g[2], out, m, pl, "out");
                    for (size_t j = 0; j < m && ok; j++) {
                        double scale = 0;
                        for (size_t i = 0; i < n; i++)
                            scale += fabs((double)rows[j * stride + i] * x[i]);
                        ok = check(st, out[j], ref_a[j], scale, n, pl, j);
                    }
                    finish_case(st, ok);
                }
}

/* Rows are consecutive in one buffer (the last one ends at the guard page) but visited in reverse order. */
static void test_dot_many(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const float *ptrs[17];
    static const size_t counts[] = {0, 1, 3, 7, 8, 9, 16, 17};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (int pl = 0; pl < N_PLACES; pl++) {
                const size_t n = sizes[s], m = counts[c];
                if (m * n > CAP)
                    continue;
                set_case(n, m, pl);
                float *rows = gbuf_place(&B->g[0], m * n, pl), *x = gbuf_place(&B->g[1], n, pl);
                float *out = gbuf_place(&B->g[2], m, pl);
                fill_rand(rows, m * n, -1, 1);
                fill_rand(x, n, -1, 1);
                for (size_t k = 0; k < m; k++)
                    ptrs[k] = rows + (m - 1 - k) * n;
                r->dot_many(ptrs, m, x, n, ref_a);
                t->dot_many(ptrs, m, x, n, out);
                int ok = check_stray(st, &B->g[2], out, m, pl, "out");
                for (size_t k = 0; k < m && ok; k++) {
                    double scale = 0;
                    for (size_t i = 0; i < n; i++)
                        scale += fabs((double)ptrs[k][i] * x[i]);
                    ok = check(st, out[k], ref_a[k], scale, n, pl, k);
                }
                finish_case(st, ok);
            }
}

static void test_axpy_many(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const float *ptrs[17];
    static const size_t counts[] = {0, 1, 2, 5, 17};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (int pl = 0; pl < N_PLACES; pl++) {
                const size_t n = sizes[s], m = counts[c];
                if (m * n > CAP)
                    continue;
                set_case(n, m, pl);
                float *y = gbuf_place(&B->g[0], n, pl), *xs = gbuf_place(&B->g[1], m * n, pl);
                float *coef = gbuf_place(&B->g[2], m, pl);
                fill_rand(y, n, -1, 1);
                fill_rand(xs, m * n, -1, 1);
                fill_rand(coef, m, -2, 2);
                for (size_t k = 0; k < m; k++)
                    ptrs[k] = xs + (m - 1 - k) * n;
                memcpy(ref_a, y, n * sizeof(float));
                r->axpy_many(ref_a, coef, ptrs, m, n);
                t->axpy_many(y, coef, ptrs, m, n);
                int ok = check_stray(st, &B->g[0], y, n, pl, "y");
                for (size_t i = 0; i < n && ok; i++) {
                    double scale = fabs((double)ref_a[i]);
                    for (size_t k = 0; k < m; k++)
                        scale += fabs((double)coef[k] * ptrs[k][i]);
                    ok = check(st, y[i], ref_a[i], scale + 1e-30, m, pl, i);
                }
                finish_case(st, ok);
            }
}

/* Several rounds of updates from a mixed start (fresh lanes at -FLT_MAX, lanes with a running sum). */
static void test_lse_update(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *mx = gbuf_place(&B->g[0], n, pl), *sum = gbuf_place(&B->g[1], n, pl);
            float *z = gbuf_place(&B->g[2], n, pl);
            float *rm = ref_a, *rs = tmp_a;
            for (size_t i = 0; i < n; i++) {
                mx[i] = (i % 3 == 0) ? -FLT_MAX : frand(-5, 5);
                sum[i] = (i % 3 == 0) ? 0.0f : frand(1, 40);
                rm[i] = mx[i];
                rs[i] = sum[i];
            }
            int ok = 1;
            for (int round = 0; round < 6 && ok; round++) {
                fill_rand(z, n, -30, 12);
                const float b = frand(-3, 3);
                r->lse_update(rm, rs, z, b, n);
                t->lse_update(mx, sum, z, b, n);
                for (size_t i = 0; i < n && ok; i++)
                    ok = check(st, mx[i], rm[i], fabs((double)rm[i]) + 1.0, n, pl, i) &&
                         check(st, sum[i] / rs[i], 1.0f, 2e-1, n, pl, i);
            }
            ok = ok && check_stray(st, &B->g[1], sum, n, pl, "sum");
            finish_case(st, ok);
        }
}

/*
 * Softmax's exponentials against the shift of the max: arguments from 0 down to -100 (below -87 the
 * kernels may give 0 where exp gives up to 1.7e-38: the absolute tolerance 2e-38), -inf (0), and NaN,
 * which must come out NaN with a NaN sum rather than vanish.
 */
static void test_exp_sum(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++)
            for (int special = 0; special < 3; special++) {
                const size_t n = sizes[s];
                set_case(n, (size_t)special, pl);
                float *z = gbuf_place(&B->g[0], n, pl);
                fill_rand(z, n, -100, 0);
                const float shift = frand(-3, 3);
                for (size_t i = 0; i < n; i++)
                    z[i] += shift;
                if (n && special == 1)
                    z[n / 2] = -INFINITY;
                if (n && special == 2)
                    z[n - 1] = NAN;
                memcpy(ref_a, z, n * sizeof(float));
                const float want = r->exp_sum(ref_a, n, shift), got = t->exp_sum(z, n, shift);
                int ok = check_stray(st, &B->g[0], z, n, pl, "z");
                for (size_t i = 0; i < n && ok; i++)
                    ok = isnan(ref_a[i]) ? isnan(z[i]) || check(st, z[i], NAN, 1.0, n, pl, i)
                                         : check(st, z[i], ref_a[i], ref_a[i] + 2e-33, n, pl, i);
                if (ok)
                    ok = isnan(want) ? isnan(got) || check(st, got, NAN, 1.0, n, pl, n)
                                     : check(st, got, want, want + 2e-33, n, pl, n);
                finish_case(st, ok);
            }
}

/*
 * Winner-take-all bins over an input full of the hard cases: zeros (never win), ties (first position
 * wins), NaN (never wins), -FLT_MAX and -inf (never win), +inf, negatives; bins whose values are all
 * ineligible must give -1. Results must match exactly; arg must not be written past 8 * n_groups.
 */
static void test_bins_argmax8(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const uint32_t bin_sizes[] = {1, 2, 4, 8, 16, 32};
    static const size_t group_counts[] = {0, 1, 2, 3, 5};
    const size_t dim = 97;
    for (size_t bs = 0; bs < sizeof bin_sizes / sizeof *bin_sizes; bs++)
        for (size_t gc = 0; gc < sizeof group_counts / sizeof *group_counts; gc++)
            for (int pl = 0; pl < N_PLACES; pl++) {
                const uint32_t bin_size = bin_sizes[bs];
                const size_t groups = group_counts[gc], bins = groups * 8, npos = bins * bin_size;
                set_case(bins, bin_size, pl);
                float *x = gbuf_place(&B->g[0], dim, pl);
                uint32_t *pos8 = gbuf_place(&B->g[1], npos, pl);
                int32_t *out = gbuf_place(&B->g[2], bins, pl);
                int32_t *want = (int32_t *)ref_a;
                for (size_t i = 0; i < dim; i++) {
                    const uint32_t kind = rnd() % 16;
                    x[i] = kind < 5   ? 0.0f
                           : kind < 8 ? (float)(int)(rnd() % 5) - 2.0f /* small integers: ties */
                           : kind == 8 ? NAN
                           : kind == 9 ? -FLT_MAX
                           : kind == 10 ? -INFINITY
                           : kind == 11 ? INFINITY
                                        : frand(-3, 3);
                }
                /* the last group only reads ineligible values, so its bins must all be -1 */
                for (size_t i = 0; i < npos; i++) {
                    const size_t group = i / (bin_size * 8);
                    pos8[i] = group + 1 == groups && groups > 1 ? 0 : (uint32_t)(rnd() % dim);
                }
                x[0] = 0.0f;
                r->bins_argmax8(x, pos8, groups, bin_size, want);
                t->bins_argmax8(x, pos8, groups, bin_size, out);
                int ok = check_stray(st, &B->g[2], out, bins, pl, "arg");
                for (size_t i = 0; i < bins && ok; i++)
                    ok = check(st, out[i], want[i], 0, bins, pl, i);
                if (groups > 1)
                    for (size_t i = bins - 8; i < bins && ok; i++)
                        ok = check(st, out[i], -1, 0, bins, pl, i);
                finish_case(st, ok);
            }
}

/*
 * Sign projections of 16 lanes: pure additions, so every version must give the reference's bits exactly.
 * Entries are drawn as the SimHash backends store them (each dimension's projections in increasing order,
 * about 2/3 of them, random signs); inputs include zeros, signed zeros and bf16-exact values; acc starts
 * from random values (the kernel accumulates) and must not be written outside its count * 16 floats.
 */
static void test_sign_project16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const size_t counts[] = {1, 2, 29};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (int pl = 0; pl < N_PLACES; pl++) {
                const size_t n_dims = sizes[s], count = counts[c];
                set_case(n_dims, count, pl);
                uint32_t *ptr = gbuf_place(&B->g[2], n_dims + 1, pl);
                static uint16_t proj[2 * CAP]; /* at most 1023 * 29 entries */
                ptr[0] = 0;
                size_t used = 0;
                for (size_t d = 0; d < n_dims; d++) {
                    for (size_t h = 0; h < count; h++) {
                        const uint64_t u = rnd() % 6;
                        if (u < 4)
                            proj[used++] = (uint16_t)(h | (u >= 2 ? 0x8000u : 0u));
                    }
                    ptr[d + 1] = (uint32_t)used;
                }
                uint16_t *proj_g = gbuf_place_sz(&B->g[3], used, pl, 2);
                memcpy(proj_g, proj, used * sizeof(uint16_t));
                float *xt = gbuf_place(&B->g[0], n_dims * 16, pl), *acc = gbuf_place(&B->g[1], count * 16, pl);
                for (size_t i = 0; i < n_dims * 16; i++) {
                    const uint64_t kind = rnd() % 8;
                    float x = kind == 0 ? 0.0f : kind == 1 ? -0.0f : frand(-4, 4);
                    if (kind == 2)
                        x = slide_bf16_to_f32(slide_bf16_from_f32(x));
                    xt[i] = x;
                }
                fill_rand(acc, count * 16, -1, 1);
                memcpy(ref_a, acc, count * 16 * sizeof(float));
                r->sign_project16(ptr, proj_g, n_dims, xt, ref_a);
                t->sign_project16(ptr, proj_g, n_dims, xt, acc);
                int ok = check_stray(st, &B->g[1], acc, count * 16, pl, "acc");
                for (size_t i = 0; i < count * 16 && ok; i++)
                    ok = check(st, acc[i], ref_a[i], 0, n_dims, pl, i);
                finish_case(st, ok);
            }
}

/* ---- bfloat16 kernels ---- */

static slide_bf16 ref_h[3][CAP], tmp_h[3][CAP];

static void fill_rand_bf16(slide_bf16 *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = slide_bf16_from_f32(frand(lo, hi));
}

/*
 * A narrowed result may land on the other bf16 neighbour when the float value before narrowing differs
 * by rounding (FMA, double reference): allow one bf16 step of the larger magnitude on top of TOL * scale.
 */
static int check_bf16(stats *st, slide_bf16 got, slide_bf16 want, double scale, size_t n, int place, size_t at)
{
    const double g = slide_bf16_to_f32(got), w = slide_bf16_to_f32(want);
    const double mag = fabs(g) > fabs(w) ? fabs(g) : fabs(w);
    int e;
    frexp(mag, &e);
    return check(st, g, w, scale + (mag > 0 ? ldexp(1.0, e - 8) / TOL : 0), n, place, at);
}

static int stray16(stats *st, const gbuf *g, const void *p, size_t n, int place, const char *what)
{
    const size_t bad = gbuf_stray_sz(g, p, n, 2);
    if (bad && st->reports++ < MAX_REPORTS)
        printf("    %s %s: n=%zu %s: %zu bytes written outside %s\n", st->isa, st->kernel, n, place_name[place], bad,
               what);
    return bad == 0;
}

/* Hard cases for narrowing: ties both ways, carries into the exponent, Inf, NaN, subnormals, signed zeros. */
static const uint32_t narrow_bits[] = {
    0x3F808000u, 0x3F818000u, 0x3F808001u, 0x3F807FFFu, 0x3FFF8000u, 0x7F7F8000u, 0x7F7F7FFFu, 0x7F7FFFFFu,
    0x7F800000u, 0xFF800000u, 0x7F800001u, 0x7FC00000u, 0xFF800001u, 0x7FFFFFFFu, 0x00000001u, 0x00008000u,
    0x00018000u, 0x80000000u, 0x00000000u, 0x807FFFFFu, 0xBF808000u, 0xBF818000u,
};

/* Narrowing and widening are exact integer operations: every version must agree with the definition bit
 * for bit (a NaN only has to stay a NaN of the same sign). */
static void test_bf16_convert(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    (void)r;
    const size_t n_hard = sizeof narrow_bits / sizeof *narrow_bits;
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *x = gbuf_place(&B->g[0], n, pl);
            slide_bf16 *h = gbuf_place_sz(&B->g[1], n, pl, 2);
            for (size_t i = 0; i < n; i++) {
                union { uint32_t u; float f; } c = {(uint32_t)rnd()};
                x[i] = rnd() % 3 == 0 ? c.f : frand(-4, 4);
                if (rnd() % 4 == 0)
                    c.u = narrow_bits[rnd() % n_hard], x[i] = c.f;
            }
            t->f32_to_bf16(h, x, n);
            int ok = stray16(st, &B->g[1], h, n, pl, "out");
            for (size_t i = 0; i < n && ok; i++) {
                const slide_bf16 want = dref_narrow1(x[i]);
                ok = isnan(x[i]) ? isnan(slide_bf16_to_f32(h[i])) && (h[i] >> 15) == (want >> 15) : h[i] == want;
                if (!ok && st->reports++ < MAX_REPORTS)
                    printf("    %s %s: n=%zu %s, element %zu: %a narrowed to 0x%04x, want 0x%04x\n", st->isa,
                           st->kernel, n, place_name[pl], i, (double)x[i], h[i], want);
            }
            float *y = gbuf_place(&B->g[2], n, pl);
            t->bf16_to_f32(y, h, n);
            ok = ok && check_stray(st, &B->g[2], y, n, pl, "out");
            for (size_t i = 0; i < n && ok; i++) {
                const float want = dref_widen1(h[i]);
                ok = isnan(want) ? isnan(y[i]) : memcmp(&y[i], &want, sizeof want) == 0;
                if (!ok && st->reports++ < MAX_REPORTS)
                    printf("    %s %s: n=%zu %s, element %zu: 0x%04x widened to %a, want %a\n", st->isa,
                           st->kernel, n, place_name[pl], i, h[i], (double)y[i], (double)want);
            }
            finish_case(st, ok);
        }
}

static void test_dot_bf16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            float *x = gbuf_place(&B->g[0], n, pl);
            slide_bf16 *w = gbuf_place_sz(&B->g[1], n, pl, 2);
            fill_rand(x, n, -1, 1);
            fill_rand_bf16(w, n, -1, 1);
            double scale = 0;
            for (size_t i = 0; i < n; i++)
                scale += fabs((double)x[i] * slide_bf16_to_f32(w[i]));
            const float got = t->dot_bf16(x, w, n), want = r->dot_bf16(x, w, n);
            finish_case(st, check(st, got, want, scale, n, pl, 0));
        }
}

static void test_dot_sparse_bf16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t nnz = sizes[s], dim = 2 * nnz + 17;
            set_case(nnz, 0, pl);
            slide_bf16 *w = gbuf_place_sz(&B->g[0], dim, pl, 2);
            float *val = gbuf_place(&B->g[1], nnz, pl);
            int32_t *idx = gbuf_place(&B->g[2], nnz, pl);
            fill_rand_bf16(w, dim, -1, 1);
            fill_rand(val, nnz, -1, 1);
            rand_indices(idx, nnz, dim); /* dim - 1 is always read: w ends at the guard page */
            double scale = 0;
            for (size_t i = 0; i < nnz; i++)
                scale += fabs((double)slide_bf16_to_f32(w[idx[i]]) * val[i]);
            const float got = t->dot_sparse_bf16(w, idx, val, nnz), want = r->dot_sparse_bf16(w, idx, val, nnz);
            finish_case(st, check(st, got, want, scale, nnz, pl, 0));
        }
}

/* Rows are consecutive in one buffer (the last one ends at the guard page), visited in reverse order. */
static void test_dot_many_bf16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const slide_bf16 *ptrs[17];
    static const size_t counts[] = {0, 1, 3, 7, 8, 9, 16, 17};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (int pl = 0; pl < N_PLACES; pl++) {
                const size_t n = sizes[s], m = counts[c];
                if (m * n > CAP)
                    continue;
                set_case(n, m, pl);
                slide_bf16 *rows = gbuf_place_sz(&B->g[0], m * n, pl, 2);
                float *x = gbuf_place(&B->g[1], n, pl), *out = gbuf_place(&B->g[2], m, pl);
                fill_rand_bf16(rows, m * n, -1, 1);
                fill_rand(x, n, -1, 1);
                for (size_t k = 0; k < m; k++)
                    ptrs[k] = rows + (m - 1 - k) * n;
                r->dot_many_bf16(ptrs, m, x, n, ref_a);
                t->dot_many_bf16(ptrs, m, x, n, out);
                int ok = check_stray(st, &B->g[2], out, m, pl, "out");
                for (size_t k = 0; k < m && ok; k++) {
                    double scale = 0;
                    for (size_t i = 0; i < n; i++)
                        scale += fabs((double)slide_bf16_to_f32(ptrs[k][i]) * x[i]);
                    ok = check(st, out[k], ref_a[k], scale, n, pl, k);
                }
                finish_case(st, ok);
            }
}

static void test_axpy_many_bf16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const slide_bf16 *ptrs[17];
    static const size_t counts[] = {0, 1, 2, 5, 17};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (int pl = 0; pl < N_PLACES; pl++) {
                const size_t n = sizes[s], m = counts[c];
                if (m * n > CAP)
                    continue;
                set_case(n, m, pl);
                float *y = gbuf_place(&B->g[0], n, pl), *coef = gbuf_place(&B->g[2], m, pl);
                slide_bf16 *xs = gbuf_place_sz(&B->g[1], m * n, pl, 2);
                fill_rand(y, n, -1, 1);
                fill_rand_bf16(xs, m * n, -1, 1);
                fill_rand(coef, m, -2, 2);
                for (size_t k = 0; k < m; k++)
                    ptrs[k] = xs + (m - 1 - k) * n;
                memcpy(ref_a, y, n * sizeof(float));
                r->axpy_many_bf16(ref_a, coef, ptrs, m, n);
                t->axpy_many_bf16(y, coef, ptrs, m, n);
                int ok = check_stray(st, &B->g[0], y, n, pl, "y");
                for (size_t i = 0; i < n && ok; i++) {
                    double scale = fabs((double)ref_a[i]);
                    for (size_t k = 0; k < m; k++)
                        scale += fabs((double)coef[k] * slide_bf16_to_f32(ptrs[k][i]));
                    ok = check(st, y[i], ref_a[i], scale + 1e-30, m, pl, i);
                }
                finish_case(st, ok);
            }
}

static void test_adam_bf16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            slide_bf16 *w = gbuf_place_sz(&B->g[0], n, pl, 2), *m = gbuf_place_sz(&B->g[1], n, pl, 2);
            slide_bf16 *v = gbuf_place_sz(&B->g[2], n, pl, 2);
            float *g = gbuf_place(&B->g[3], n, pl);
            fill_rand_bf16(w, n, -1, 1);
            fill_rand_bf16(m, n, -0.1f, 0.1f);
            fill_rand_bf16(v, n, 0, 0.01f);
            fill_rand(g, n, -1, 1);
            if (n > 2) { /* a zero gradient on a zero state: the update is 0 / eps */
                g[1] = 0;
                m[1] = v[1] = 0;
            }
            memcpy(ref_h[0], w, n * 2);
            memcpy(ref_h[1], m, n * 2);
            memcpy(ref_h[2], v, n * 2);
            memcpy(tmp_h[0], w, n * 2);
            r->adam_bf16(ref_h[0], ref_h[1], ref_h[2], g, n, lr, b1, b2, eps, DECAY_OF(s));
            static double sm[CAP], sv[CAP];
            for (size_t i = 0; i < n; i++) {
                sm[i] = fabs((double)b1 * slide_bf16_to_f32(m[i])) + fabs((1.0 - b1) * g[i]);
                sv[i] = fabs((double)b2 * slide_bf16_to_f32(v[i])) + (1.0 - b2) * g[i] * g[i];
            }
            t->adam_bf16(w, m, v, g, n, lr, b1, b2, eps, DECAY_OF(s));
            int ok = stray16(st, &B->g[0], w, n, pl, "w") && stray16(st, &B->g[1], m, n, pl, "m") &&
                     stray16(st, &B->g[2], v, n, pl, "v") && check_stray(st, &B->g[3], g, n, pl, "g");
            for (size_t i = 0; i < n && ok; i++) {
                const double sw =
                    fabs(slide_bf16_to_f32(tmp_h[0][i])) + lr * sm[i] / (sqrt(slide_bf16_to_f32(ref_h[2][i])) + eps);
                ok = check_bf16(st, m[i], ref_h[1][i], sm[i], n, pl, i) &&
                     check_bf16(st, v[i], ref_h[2][i], sv[i], n, pl, i) &&
                     check_bf16(st, w[i], ref_h[0][i], sw, n, pl, i);
            }
            finish_case(st, ok);
        }
}

static void test_sgd_bf16(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    for (size_t s = 0; s < N_SIZES; s++)
        for (int pl = 0; pl < N_PLACES; pl++) {
            const size_t n = sizes[s];
            set_case(n, 0, pl);
            slide_bf16 *w = gbuf_place_sz(&B->g[0], n, pl, 2);
            float *g = gbuf_place(&B->g[1], n, pl);
            const float lr = frand(0, 0.5f);
            fill_rand_bf16(w, n, -1, 1);
            fill_rand(g, n, -1, 1);
            memcpy(ref_h[0], w, n * 2);
            memcpy(tmp_h[0], w, n * 2);
            r->sgd_bf16(ref_h[0], g, n, lr, DECAY_OF(s));
            t->sgd_bf16(w, g, n, lr, DECAY_OF(s));
            int ok = stray16(st, &B->g[0], w, n, pl, "w");
            for (size_t i = 0; i < n && ok; i++)
                ok = check_bf16(st, w[i], ref_h[0][i], fabs(slide_bf16_to_f32(tmp_h[0][i])) + fabs((double)lr * g[i]),
                                n, pl, i);
            finish_case(st, ok);
        }
}

/*
 * nx inputs against m rows: rows, inputs and outputs each share one guarded buffer, visited out of order,
 * so every tile shape and leftover of the blocked versions (3 inputs x 4 rows on AVX2) is exercised.
 */
static void test_dot_many_multi(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const float *rptr[9], *xptr[7];
    static float *optr[7], *refp[7];
    static const size_t row_counts[] = {0, 1, 3, 4, 5, 9}, input_counts[] = {0, 1, 2, 3, 4, 7};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof row_counts / sizeof *row_counts; c++)
            for (size_t d = 0; d < sizeof input_counts / sizeof *input_counts; d++)
                for (int pl = 0; pl < N_PLACES; pl++) {
                    const size_t n = sizes[s], m = row_counts[c], nx = input_counts[d];
                    if (m * n > CAP || nx * n > CAP || nx * m > CAP)
                        continue;
                    set_case(n, m * 10 + nx, pl);
                    float *rows = gbuf_place(&B->g[0], m * n, pl), *xs = gbuf_place(&B->g[1], nx * n, pl);
                    float *out = gbuf_place(&B->g[2], nx * m, pl);
                    fill_rand(rows, m * n, -1, 1);
                    fill_rand(xs, nx * n, -1, 1);
                    for (size_t k = 0; k < m; k++)
                        rptr[k] = rows + (m - 1 - k) * n;
                    for (size_t j = 0; j < nx; j++) {
                        xptr[j] = xs + (nx - 1 - j) * n;
                        optr[j] = out + j * m;
                        refp[j] = ref_a + j * m;
                    }
                    r->dot_many_multi(rptr, m, xptr, refp, nx, n);
                    t->dot_many_multi(rptr, m, xptr, optr, nx, n);
                    int ok = check_stray(st, &B->g[2], out, nx * m, pl, "outs");
                    for (size_t j = 0; j < nx && ok; j++)
                        for (size_t k = 0; k < m && ok; k++) {
                            double scale = 0;
                            for (size_t i = 0; i < n; i++)
                                scale += fabs((double)rptr[k][i] * xptr[j][i]);
                            ok = check(st, optr[j][k], refp[j][k], scale, n, pl, j * m + k);
                        }
                    finish_case(st, ok);
                }
}

/* ny outputs from m sources; every output must equal axpy_many on it alone (checked against the reference). */
static void test_axpy_many_multi(stats *st, const slide_kernels *t, const slide_kernels *r, bufs *B)
{
    static const float *xptr[17], *cptr[7];
    static float *yptr[7], *refp[7];
    static const size_t src_counts[] = {0, 1, 2, 5, 17}, out_counts[] = {0, 1, 2, 3, 4, 7};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t c = 0; c < sizeof src_counts / sizeof *src_counts; c++)
            for (size_t d = 0; d < sizeof out_counts / sizeof *out_counts; d++)
                for (int pl = 0; pl < N_PLACES; pl++) {
                    const size_t n = sizes[s], m = src_counts[c], ny = out_counts[d];
                    if (m * n > CAP || ny * n > CAP || ny * m > CAP)
                        continue;
                    set_case(n, m * 10 + ny, pl);
                    float *ys = gbuf_place(&B->g[0], ny * n, pl), *xs = gbuf_place(&B->g[1], m * n, pl);
                    float *coef = gbuf_place(&B->g[2], ny * m, pl);
                    fill_rand(ys, ny * n, -1, 1);
                    fill_rand(xs, m * n, -1, 1);
                    fill_rand(coef, ny * m, -2, 2);
                    memcpy(ref_a, ys, ny * n * sizeof(float));
                    for (size_t k = 0; k < m; k++)
                        xptr[k] = xs + (m - 1 - k) * n;
                    for (size_t j = 0; j < ny; j++) {
                        yptr[j] = ys + (ny - 1 - j) * n;
                        refp[j] = ref_a + (ny - 1 - j) * n;
                        cptr[j] = coef + j * m;
                    }
                    r->axpy_many_multi(refp, cptr, ny, xptr, m, n);
                    t->axpy_many_multi(yptr, cptr, ny, xptr, m, n);
                    int ok = check_stray(st, &B->g[0], ys, ny * n, pl, "ys");
                    for (size_t j = 0; j < ny && ok; j++)
                        for (size_t i = 0; i < n && ok; i++) {
                            double scale = fabs((double)refp[j][i]);
                            for (size_t k = 0; k < m; k++)
                                scale += fabs((double)cptr[j][k] * xptr[k][i]);
                            ok = check(st, yptr[j][i], refp[j][i], scale + 1e-30, m, pl, j * n + i);
                        }
                    finish_case(st, ok);
                }
}

typedef void (*test_fn)(stats *, const slide_kernels *, const slide_kernels *, bufs *);
static const struct {
    const char *name;
    test_fn fn;
} tests[] = {
    {"dot", test_dot},
    {"dot_sparse", test_dot_sparse},
    {"axpy", test_axpy},
    {"axpy_sparse", test_axpy_sparse},
    {"axpy_gather", test_axpy_gather},
    {"adam", test_adam},
    {"sgd", test_sgd},
    {"adam_catch_up", test_adam_catch_up},
    {"dot_rows", test_dot_rows},
    {"dot_many", test_dot_many},
    {"axpy_many", test_axpy_many},
    {"dot_many_multi", test_dot_many_multi},
    {"axpy_many_multi", test_axpy_many_multi},
    {"lse_update", test_lse_update},
    {"exp_sum", test_exp_sum},
    {"bins_argmax8", test_bins_argmax8},
    {"sign_project16", test_sign_project16},
    {"bf16_convert", test_bf16_convert},
    {"dot_bf16", test_dot_bf16},
    {"dot_sparse_bf16", test_dot_sparse_bf16},
    {"dot_many_bf16", test_dot_many_bf16},
    {"axpy_many_bf16", test_axpy_many_bf16},
    {"adam_bf16", test_adam_bf16},
    {"sgd_bf16", test_sgd_bf16},
};
#define N_TESTS (sizeof(tests) / sizeof(tests[0]))

/* Fills k for isa; 0 when this build has no such kernels. */
static int fill_isa(slide_isa isa, slide_kernels *k)
{
    slide_kernels_fill_scalar(k);
    switch (isa) {
    case SLIDE_ISA_SCALAR: return 1;
    case SLIDE_ISA_AVX2:
#if TEST_AVX2
        slide_kernels_fill_avx2(k);
        return 1;
#else
        return 0;
#endif
    case SLIDE_ISA_AVX512:
#if TEST_AVX512
        /* The same ladder as cpu.c: AVX-512 overwrites the AVX2 table, which keeps what AVX-512 lacks. */
        slide_kernels_fill_avx2(k);
        slide_kernels_fill_avx512(k);
        return 1;
#else
        return 0;
#endif
    }
    return 0;
}

static int fill_isa_built(slide_isa isa)
{
    return isa == SLIDE_ISA_SCALAR || (isa == SLIDE_ISA_AVX2 && TEST_AVX2) || (isa == SLIDE_ISA_AVX512 && TEST_AVX512);
}

static int same_table(const slide_kernels *a, const slide_kernels *b)
{
    return a->dot == b->dot && a->dot_sparse == b->dot_sparse && a->axpy == b->axpy &&
           a->axpy_sparse == b->axpy_sparse && a->axpy_gather == b->axpy_gather && a->adam == b->adam && a->sgd == b->sgd &&
           a->dot_rows == b->dot_rows && a->dot_many == b->dot_many && a->axpy_many == b->axpy_many &&
           a->lse_update == b->lse_update && a->bins_argmax8 == b->bins_argmax8 &&
           a->sign_project16 == b->sign_project16 &&
           a->bf16_to_f32 == b->bf16_to_f32 && a->f32_to_bf16 == b->f32_to_bf16 && a->dot_bf16 == b->dot_bf16 &&
           a->dot_sparse_bf16 == b->dot_sparse_bf16 && a->dot_many_bf16 == b->dot_many_bf16 &&
           a->axpy_many_bf16 == b->axpy_many_bf16 && a->adam_bf16 == b->adam_bf16 && a->sgd_bf16 == b->sgd_bf16;
}

/* slide_kernels_get() must hold the table of slide_kernels_isa(), which is the best ISA under the cap. */
static int test_dispatch(slide_isa best)
{
    const char *env = getenv("SLIDE_ISA");
    slide_isa cap = SLIDE_ISA_AVX512;
    if (env && !strcmp(env, "scalar"))
        cap = SLIDE_ISA_SCALAR;
    else if (env && !strcmp(env, "avx2"))
        cap = SLIDE_ISA_AVX2;
    const slide_isa want = best < cap ? best : cap, got = slide_kernels_isa();
    slide_kernels k;
    fill_isa(got, &k);
    const int ok = got == want && same_table(slide_kernels_get(), &k) &&
                   slide_kernels_get() == slide_kernels_get();
    printf("%-7s %-12s %s (best %s, SLIDE_ISA=%s)\n", "dispatch", slide_isa_name(got), ok ? "PASS" : "FAIL",
           slide_isa_name(best), env ? env : "(unset)");
    return ok;
}

/* ---- benchmark ---- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define BENCH_ROWS 32
#define BENCH_TRIALS 5
#define BENCH_MULTI 3
static volatile float bench_sink;
static const float *bench_ptrs[BENCH_ROWS];
/* bf16 copies of a (ah), of the rows (rowsh), and bf16 moment buffers (mh, vh) for the bf16 kernels */
static slide_bf16 *bench_ah, *bench_rowsh, *bench_mh, *bench_vh;
static const slide_bf16 *bench_ptrsh[BENCH_ROWS];

/* Best of BENCH_TRIALS timings of `reps` calls of kernel `which`; returns ns per call. */
static double bench_one(const slide_kernels *k, size_t which, size_t n, size_t reps, float *a, float *b,
                        float *c, float *d, int32_t *idx, float *rows, float *out)
{
    double best = INFINITY;
    float sink = 0;
    for (int trial = 0; trial < BENCH_TRIALS; trial++) {
        const double t0 = now_ns();
        for (size_t r = 0; r < reps; r++) {
            switch (which) {
            case 0: sink += k->dot(a, b, n); break;
            case 1: sink += k->dot_sparse(a, idx, b, n); break;
            case 2: k->axpy(a, 1e-7f, b, n); break;
            case 3: k->axpy_sparse(a, 1e-7f, idx, b, n); break;
            case 4: k->adam(a, b, c, d, n, 1e-6f, 0.9f, 0.999f, 1e-8f, 1.0f); break;
            case 5: k->sgd(a, b, n, 1e-7f, 1.0f); break;
            case 6: k->dot_rows(rows, n, BENCH_ROWS, a, n, out); sink += out[0]; break;
            case 7: k->dot_many(bench_ptrs, BENCH_ROWS, a, n, out); sink += out[0]; break;
            case 8: k->axpy_many(a, c, bench_ptrs, BENCH_ROWS, n); break;
            /* BENCH_MULTI inputs (outputs) x BENCH_ROWS rows (sources) per call */
            case 9: {
                const float *xs[BENCH_MULTI] = {a, a + n, a + 2 * n};
                float *outs[BENCH_MULTI] = {out, out + BENCH_ROWS, out + 2 * BENCH_ROWS};
                k->dot_many_multi(bench_ptrs, BENCH_ROWS, xs, outs, BENCH_MULTI, n);
                sink += out[0];
                break;
            }
            case 10: {
                float *ys[BENCH_MULTI] = {a, a + n, a + 2 * n};
                const float *cs[BENCH_MULTI] = {c, c + BENCH_ROWS, c + 2 * BENCH_ROWS};
                k->axpy_many_multi(ys, cs, BENCH_MULTI, bench_ptrs, BENCH_ROWS, n);
                break;
            }
            case 11: k->lse_update(c, d, b, 0.5f, n); break;
            /* n positions: n / 64 groups of 8 bins of 8, reading a row of 8n */
            case 12: k->bins_argmax8(a, (const uint32_t *)idx, n / 64, 8, (int32_t *)d); sink += (float)d[0]; break;
            /* bf16_convert: one narrowing and one widening of n values */
            case 13: k->f32_to_bf16(bench_mh, b, n); k->bf16_to_f32(d, bench_mh, n); sink += d[0]; break;
            case 14: sink += k->dot_bf16(b, bench_ah, n); break;
            case 15: sink += k->dot_sparse_bf16(bench_ah, idx, b, n); break;
            case 16: k->dot_many_bf16(bench_ptrsh, BENCH_ROWS, b, n, out); sink += out[0]; break;
            case 17: k->axpy_many_bf16(d, c, bench_ptrsh, BENCH_ROWS, n); break;
            case 18: k->adam_bf16(bench_ah, bench_mh, bench_vh, b, n, 1e-6f, 0.9f, 0.999f, 1e-8f, 1.0f); break;
            case 19: k->sgd_bf16(bench_ah, b, n, 1e-7f, 1.0f); break;
            case 20: k->axpy_gather(d, 1e-7f, a, idx, n); sink += d[0]; break;
            /* the values stay in (exp(-1), 1] over the repetitions */
            default: sink += k->exp_sum(d, n, 1.0f); break;
            }
        }
        const double dt = (now_ns() - t0) / (double)reps;
        if (dt < best)
            best = dt;
    }
    bench_sink = sink;
    return best;
}

static int bench(slide_isa top)
{
    static const size_t bench_n[] = {128, 4096};
    /*
     * The timed kernels, in bench_one's case order, with their floating-point operations per element (per
     * row element for the kernels that take several rows or inputs; lse_update: one exp and about six more; exp_sum: an exp of about fifteen;
     * bins_argmax8: two comparisons per bin position) and the rows (x inputs) each call handles.
     */
    static const struct {
        const char *name;
        double flops;
        double rows;
    } timed[] = {
        {"dot", 2, 1}, {"dot_sparse", 2, 1}, {"axpy", 2, 1}, {"axpy_sparse", 2, 1}, {"adam", 12, 1}, {"sgd", 2, 1},
        {"dot_rows", 2, BENCH_ROWS}, {"dot_many", 2, BENCH_ROWS}, {"axpy_many", 2, BENCH_ROWS},
        {"dot_many_multi", 2, BENCH_ROWS * BENCH_MULTI}, {"axpy_many_multi", 2, BENCH_ROWS * BENCH_MULTI},
        {"lse_update", 7, 1}, {"bins_argmax8", 2, 1}, {"bf16_convert", 2, 1}, {"dot_bf16", 2, 1},
        {"dot_sparse_bf16", 2, 1}, {"dot_many_bf16", 2, BENCH_ROWS}, {"axpy_many_bf16", 2, BENCH_ROWS},
        {"adam_bf16", 12, 1}, {"sgd_bf16", 2, 1}, {"axpy_gather", 2, 1}, {"exp_sum", 15, 1},
    };
    const size_t nmax = 4096, dim = 8 * nmax;
    float *a = aligned_alloc(64, dim * sizeof(float)), *b = aligned_alloc(64, nmax * sizeof(float));
    float *c = aligned_alloc(64, nmax * sizeof(float)), *d = aligned_alloc(64, nmax * sizeof(float));
    float *rows = aligned_alloc(64, BENCH_ROWS * nmax * sizeof(float));
    float *out = aligned_alloc(64, BENCH_MULTI * BENCH_ROWS * sizeof(float));
    int32_t *idx = aligned_alloc(64, nmax * sizeof(int32_t));
    bench_ah = aligned_alloc(64, dim * sizeof(slide_bf16));
    bench_rowsh = aligned_alloc(64, BENCH_ROWS * nmax * sizeof(slide_bf16));
    bench_mh = aligned_alloc(64, nmax * sizeof(slide_bf16));
    bench_vh = aligned_alloc(64, nmax * sizeof(slide_bf16));
    if (!a || !b || !c || !d || !rows || !out || !idx || !bench_ah || !bench_rowsh || !bench_mh || !bench_vh) {
        printf("bench: out of memory\n");
        return 0;
    }
    printf("\nbench: best of %d trials; dot_rows, dot_many(_bf16) and axpy_many(_bf16) do %d rows per call, the "
           "_multi kernels %d rows x %d inputs; sparse kernels index a row of 8n\n",
           BENCH_TRIALS, BENCH_ROWS, BENCH_ROWS, BENCH_MULTI);
    printf("%-7s %-15s %6s %12s %10s\n", "isa", "kernel", "n", "ns/call", "GFLOP/s");
    for (int isa = 0; isa <= (int)top; isa++) {
        slide_kernels k;
        if (!fill_isa((slide_isa)isa, &k))
            continue;
        for (size_t t = 0; t < sizeof timed / sizeof timed[0]; t++)
            for (size_t s = 0; s < 2; s++) {
                const size_t n = bench_n[s];
                rng_state = 42;
                fill_rand(a, dim, -1, 1);
                fill_rand(b, nmax, -1, 1);
                fill_rand(c, nmax, 0, 0.01f);
                fill_rand(d, nmax, -1, 1);
                fill_rand(rows, BENCH_ROWS * nmax, -1, 1);
                rand_indices(idx, n, 8 * n);
                const double work = (double)n * timed[t].rows;
                for (size_t j = 0; j < BENCH_ROWS; j++) {
                    bench_ptrs[j] = rows + (BENCH_ROWS - 1 - j) * n;
                    bench_ptrsh[j] = bench_rowsh + (BENCH_ROWS - 1 - j) * n;
                }
                for (size_t i = 0; i < dim; i++)
                    bench_ah[i] = slide_bf16_from_f32(a[i]);
                for (size_t i = 0; i < BENCH_ROWS * nmax; i++)
                    bench_rowsh[i] = slide_bf16_from_f32(rows[i]);
                for (size_t i = 0; i < nmax; i++) {
                    bench_mh[i] = slide_bf16_from_f32(0.1f * d[i]);
                    bench_vh[i] = slide_bf16_from_f32(c[i]);
                }
                size_t reps = (size_t)(2e7 / work);
                if (reps < 100)
                    reps = 100;
                const double ns = bench_one(&k, t, n, reps, a, b, c, d, idx, rows, out);
                printf("%-7s %-15s %6zu %12.1f %10.2f\n", slide_isa_name((slide_isa)isa), timed[t].name, n,
                       ns, timed[t].flops * work / ns);
            }
    }
    free(a);
    free(b);
    free(c);
    free(d);
    free(rows);
    free(out);
    free(idx);
    free(bench_ah);
    free(bench_rowsh);
    free(bench_mh);
    free(bench_vh);
    return 1;
}

int main(int argc, char **argv)
{
    int do_bench = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench")) {
            do_bench = 1;
        } else {
            fprintf(stderr, "usage: %s [--bench]\n", argv[0]);
            return 2;
        }
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    catch_faults();

    bufs B;
    for (int i = 0; i < 5; i++)
        if (gbuf_init(&B.g[i])) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
    if (!B.g[0].guarded)
        printf("note: mprotect failed, no guard pages: over-reads will go unnoticed\n");

    const slide_isa best = slide_cpu_best_isa(), top = slide_kernels_isa();
    int failed = !test_dispatch(best);

    slide_kernels scalar;
    slide_kernels_fill_scalar(&scalar);
    for (int isa = 0; isa <= (int)SLIDE_ISA_AVX512; isa++) {
        const char *name = slide_isa_name((slide_isa)isa);
        slide_kernels k;
        /* Checked before filling: a fill function may itself use its instruction set. */
        if (isa > (int)best) {
            printf("%-7s %-12s SKIP (%s)\n", name, "*",
                   fill_isa_built((slide_isa)isa) ? "not supported by this CPU" : "not built");
            continue;
        }
        if (!fill_isa((slide_isa)isa, &k)) {
            printf("%-7s %-12s SKIP (not built)\n", name, "*");
            continue;
        }
        if (isa > (int)top) {
            printf("%-7s %-12s SKIP (capped by SLIDE_ISA)\n", name, "*");
            continue;
        }
        /* scalar is checked against double precision, everything else against scalar */
        const slide_kernels *ref = isa == SLIDE_ISA_SCALAR ? &dref : &scalar;
        for (size_t t = 0; t < N_TESTS; t++) {
            stats st = {name, tests[t].name, 0, 0, 0, 0};
            cur_isa = name;
            cur_kernel = tests[t].name;
            rng_state = 0x5EED0000u + t;
            tests[t].fn(&st, &k, ref, &B);
            printf("%-7s %-12s %s (%zu cases, %zu failed, worst error %.3g of tolerance)\n", name,
                   tests[t].name, st.fails ? "FAIL" : "PASS", st.cases, st.fails, st.worst);
            failed |= st.fails != 0;
        }
    }

    if (do_bench)
        bench(top);
    for (int i = 0; i < 5; i++)
        gbuf_free(&B.g[i]);
    printf("%s\n", failed ? "FAILED" : "all passed");
    return failed ? 1 : 0;
}
