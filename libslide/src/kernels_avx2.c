/*
 * AVX2 + FMA kernels (this file alone is compiled with -mavx2 -mfma; cpu.c calls it only when the CPU
 * and OS support both).
 *
 * Dense loops have one shape: a main body over whole 8-float vectors (sometimes unrolled), then one
 * masked step for the last 1..7 elements. vmaskmovps never touches masked-off lanes, so the tail reads
 * and writes exactly [i, n) and cannot fault past the end of a buffer. All loads and stores are
 * unaligned; callers' 64-byte row alignment only makes them faster. The sparse kernels load and store
 * w[idx[i]] / y[idx[i]] one element at a time and finish with a scalar tail.
 *
 * Results differ from kernels_scalar.c only by rounding: FMA contracts a*b+c, and reductions sum in a
 * different order.
 */
#include <immintrin.h>

#include <float.h>
#include <math.h>

#include "kernels.h"

/* Lanes [0, r) set, r in [1, 7]. */
static inline __m256i tail_mask(size_t r)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* {hsum(a), hsum(b), hsum(c), hsum(d)} */
static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

static float dot_avx2(const float *a, const float *b, size_t n)
{
    /* Four independent accumulators hide the FMA latency. */
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, k), _mm256_maskload_ps(b + i, k), s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/*
 * vgatherdps is no faster than scalar loads on AMD: on our EPYC (family 19h) test machine it lost to
 * eight vmovss/vinsertps at nnz = 128 and tied at 4096, where random access into w dominates. So the
 * eight w[idx] values are loaded one by one and only the multiply-add is vectorized; the last 0..7
 * elements are summed in scalar.
 */
static inline __m256 load_sparse8(const float *w, const int32_t *x)
{
    return _mm256_setr_ps(w[x[0]], w[x[1]], w[x[2]], w[x[3]], w[x[4]], w[x[5]], w[x[6]], w[x[7]]);
}

static float dot_sparse_avx2(const float *w, const int32_t *idx, const float *val, size_t nnz)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= nnz; i += 16) {
        s0 = _mm256_fmadd_ps(load_sparse8(w, idx + i), _mm256_loadu_ps(val + i), s0);
        s1 = _mm256_fmadd_ps(load_sparse8(w, idx + i + 8), _mm256_loadu_ps(val + i + 8), s1);
    }
    if (i + 8 <= nnz) {
        s0 = _mm256_fmadd_ps(load_sparse8(w, idx + i), _mm256_loadu_ps(val + i), s0);
        i += 8;
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < nnz; i++)
        s += w[idx[i]] * val[i];
    return s;
}

static void axpy_avx2(float *y, float a, const float *x, size_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        const __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    if (i + 8 <= n) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        i += 8;
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        const __m256 yv = _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, k), _mm256_maskload_ps(y + i, k));
        _mm256_maskstore_ps(y + i, k, yv);
    }
}

/*
 * AVX2 has no scatter: the products a*val are formed eight at a time and each lane is added into y from
 * a register (extracting lanes, not going through a stack buffer, which stalled store forwarding). The
 * adds are scalar, so the result rounds exactly like the scalar version. idx has no duplicates, so the
 * eight read-modify-writes are independent.
 */
static inline void add_lanes4(float *y, const int32_t *x, __m128 p)
{
    y[x[0]] += _mm_cvtss_f32(p);
    y[x[1]] += _mm_cvtss_f32(_mm_movehdup_ps(p));
    y[x[2]] += _mm_cvtss_f32(_mm_movehl_ps(p, p));
    y[x[3]] += _mm_cvtss_f32(_mm_shuffle_ps(p, p, 3));
}

static void axpy_gather_avx2(float *y, float a, const float *w, const int32_t *idx, size_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 wv = _mm256_i32gather_ps(w, _mm256_loadu_si256((const __m256i *)(idx + i)), 4);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, wv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] += a * w[idx[i]];
}

static void axpy_sparse_avx2(float *y, float a, const int32_t *idx, const float *val, size_t nnz)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= nnz; i += 8) {
        const __m256 p = _mm256_mul_ps(va, _mm256_loadu_ps(val + i));
        add_lanes4(y, idx + i, _mm256_castps256_ps128(p));
        add_lanes4(y, idx + i + 4, _mm256_extractf128_ps(p, 1));
    }
    for (; i < nnz; i++)
        y[idx[i]] += a * val[i];
}

/*
 * Same operation order as the scalar version (lr*m, then divide), so only the FMAs in the moment updates
 * change the rounding. vsqrtps and vdivps are correctly rounded (no rsqrt/rcp approximations).
 */
static inline void adam_step(float *w, float *m, float *v, const float *g, __m256i k, int masked,
                             __m256 vb1, __m256 vc1, __m256 vb2, __m256 vc2, __m256 vlr, __m256 veps, __m256 vdecay)
{
    __m256 gv, mv, vv, wv;
    if (masked) {
        gv = _mm256_maskload_ps(g, k);
        mv = _mm256_maskload_ps(m, k);
        vv = _mm256_maskload_ps(v, k);
        wv = _mm256_maskload_ps(w, k);
    } else {
        gv = _mm256_loadu_ps(g);
        mv = _mm256_loadu_ps(m);
        vv = _mm256_loadu_ps(v);
        wv = _mm256_loadu_ps(w);
    }
    mv = _mm256_fmadd_ps(vb1, mv, _mm256_mul_ps(vc1, gv));
    vv = _mm256_fmadd_ps(vb2, vv, _mm256_mul_ps(_mm256_mul_ps(vc2, gv), gv));
    const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(vv), veps);
    wv = _mm256_sub_ps(_mm256_mul_ps(wv, vdecay), _mm256_div_ps(_mm256_mul_ps(vlr, mv), den));
    if (masked) {
        _mm256_maskstore_ps(m, k, mv);
        _mm256_maskstore_ps(v, k, vv);
        _mm256_maskstore_ps(w, k, wv);
    } else {
        _mm256_storeu_ps(m, mv);
        _mm256_storeu_ps(v, vv);
        _mm256_storeu_ps(w, wv);
    }
}

static void adam_catch_up_avx2(float *w, float *m, float *v, size_t n, float decay, float move, float eps,
                               float mk, float vk)
{
    const __m256 vd = _mm256_set1_ps(decay), vmove = _mm256_set1_ps(move), veps = _mm256_set1_ps(eps);
    const __m256 vmk = _mm256_set1_ps(mk), vvk = _mm256_set1_ps(vk);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 wv = _mm256_loadu_ps(w + i), mv = _mm256_loadu_ps(m + i), vv = _mm256_loadu_ps(v + i);
        const __m256 step = _mm256_div_ps(_mm256_mul_ps(vmove, mv), _mm256_add_ps(_mm256_sqrt_ps(vv), veps));
        _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_mul_ps(wv, vd), step));
        _mm256_storeu_ps(m + i, _mm256_mul_ps(mv, vmk));
        _mm256_storeu_ps(v + i, _mm256_mul_ps(vv, vvk));
    }
    for (; i < n; i++) {
        w[i] = w[i] * decay - move * m[i] / (sqrtf(v[i]) + eps);
        m[i] *= mk;
        v[i] *= vk;
    }
}

static void adam_avx2(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1,
                      float b2, float eps_t, float decay)
{
    const __m256 vb1 = _mm256_set1_ps(b1), vc1 = _mm256_set1_ps(1.0f - b1);
    const __m256 vb2 = _mm256_set1_ps(b2), vc2 = _mm256_set1_ps(1.0f - b2);
    const __m256 vlr = _mm256_set1_ps(lr_t), veps = _mm256_set1_ps(eps_t), vdecay = _mm256_set1_ps(decay);
    const __m256i all = _mm256_set1_epi32(-1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        adam_step(w + i, m + i, v + i, g + i, all, 0, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
    if (i < n)
        adam_step(w + i, m + i, v + i, g + i, tail_mask(n - i), 1, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
}

static void sgd_avx2(float *w, const float *g, size_t n, float lr, float decay)
{
    const __m256 vlr = _mm256_set1_ps(lr), vd = _mm256_set1_ps(decay);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 w0 = _mm256_fnmadd_ps(vlr, _mm256_loadu_ps(g + i), _mm256_mul_ps(_mm256_loadu_ps(w + i), vd));
        const __m256 w1 = _mm256_fnmadd_ps(vlr, _mm256_loadu_ps(g + i + 8), _mm256_mul_ps(_mm256_loadu_ps(w + i + 8), vd));
        _mm256_storeu_ps(w + i, w0);
        _mm256_storeu_ps(w + i + 8, w1);
    }
    if (i + 8 <= n) {
        _mm256_storeu_ps(w + i, _mm256_fnmadd_ps(vlr, _mm256_loadu_ps(g + i), _mm256_mul_ps(_mm256_loadu_ps(w + i), vd)));
        i += 8;
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        const __m256 wv = _mm256_fnmadd_ps(vlr, _mm256_maskload_ps(g + i, k), _mm256_mul_ps(_mm256_maskload_ps(w + i, k), vd));
        _mm256_maskstore_ps(w + i, k, wv);
    }
}

/*
 * Four rows per pass share each load of x; two accumulators per row (eight FMA chains in all) keep both
 * FMA pipes busy. Leftover rows (m % 4) go through dot_avx2.
 */
static void dot_rows_avx2(const float *rows, size_t stride, size_t m, const float *x, size_t n, float *out)
{
    size_t j = 0;
    for (; j + 4 <= m; j += 4) {
        const float *r0 = rows + j * stride, *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i), x0, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i), x0, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i), x0, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i), x0, a3);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i + 8), x1, b0);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i + 8), x1, b1);
            b2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i + 8), x1, b2);
            b3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i + 8), x1, b3);
        }
        if (i + 8 <= n) {
            const __m256 x0 = _mm256_loadu_ps(x + i);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i), x0, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i), x0, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i), x0, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i), x0, a3);
            i += 8;
        }
        if (i < n) {
            const __m256i k = tail_mask(n - i);
            const __m256 x0 = _mm256_maskload_ps(x + i, k);
            b0 = _mm256_fmadd_ps(_mm256_maskload_ps(r0 + i, k), x0, b0);
            b1 = _mm256_fmadd_ps(_mm256_maskload_ps(r1 + i, k), x0, b1);
            b2 = _mm256_fmadd_ps(_mm256_maskload_ps(r2 + i, k), x0, b2);
            b3 = _mm256_fmadd_ps(_mm256_maskload_ps(r3 + i, k), x0, b3);
        }
        _mm_storeu_ps(out + j, hsum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
                                     _mm256_add_ps(a3, b3)));
    }
    for (; j < m; j++)
        out[j] = dot_avx2(rows + j * stride, x, n);
}

/*
 * Eight rows per pass share each load of x (eight FMA chains); the eight sums are reduced together with
 * hadd. Leftover rows (m % 8) go through dot_avx2.
 */
static void dot_many_avx2(const float *const *rows, size_t m, const float *x, size_t n, float *out)
{
    size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const float *const *r = rows + k;
        __m256 s[8];
        for (int j = 0; j < 8; j++)
            s[j] = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 xv = _mm256_loadu_ps(x + i);
            for (int j = 0; j < 8; j++)
                s[j] = _mm256_fmadd_ps(_mm256_loadu_ps(r[j] + i), xv, s[j]);
        }
        if (i < n) {
            const __m256i t = tail_mask(n - i);
            const __m256 xv = _mm256_maskload_ps(x + i, t);
            for (int j = 0; j < 8; j++)
                s[j] = _mm256_fmadd_ps(_mm256_maskload_ps(r[j] + i, t), xv, s[j]);
        }
        const __m256 h0 = _mm256_hadd_ps(_mm256_hadd_ps(s[0], s[1]), _mm256_hadd_ps(s[2], s[3]));
        const __m256 h1 = _mm256_hadd_ps(_mm256_hadd_ps(s[4], s[5]), _mm256_hadd_ps(s[6], s[7]));
        /* h0 lanes: rows 0-3 (low half) + rows 0-3 (high half); same for h1 with rows 4-7 */
        const __m256 lo = _mm256_permute2f128_ps(h0, h1, 0x20), hi = _mm256_permute2f128_ps(h0, h1, 0x31);
        _mm256_storeu_ps(out + k, _mm256_add_ps(lo, hi));
    }
    for (; k < m; k++)
        out[k] = dot_avx2(rows[k], x, n);
}

/*
 * y is walked in blocks of 64 floats held in eight registers while every input adds into them, so y is
 * loaded and stored once per block instead of once per input; then blocks of 8 and one masked block.
 */
static void axpy_many_avx2(float *y, const float *c, const float *const *xs, size_t m, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256 a[8];
        for (int j = 0; j < 8; j++)
            a[j] = _mm256_loadu_ps(y + i + 8 * j);
        for (size_t k = 0; k < m; k++) {
            const __m256 ck = _mm256_broadcast_ss(c + k);
            const float *x = xs[k] + i;
            for (int j = 0; j < 8; j++)
                a[j] = _mm256_fmadd_ps(ck, _mm256_loadu_ps(x + 8 * j), a[j]);
        }
        for (int j = 0; j < 8; j++)
            _mm256_storeu_ps(y + i + 8 * j, a[j]);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(y + i);
        for (size_t k = 0; k < m; k++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(c + k), _mm256_loadu_ps(xs[k] + i), a);
        _mm256_storeu_ps(y + i, a);
    }
    if (i < n) {
        const __m256i t = tail_mask(n - i);
        __m256 a = _mm256_maskload_ps(y + i, t);
        for (size_t k = 0; k < m; k++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(c + k), _mm256_maskload_ps(xs[k] + i, t), a);
        _mm256_maskstore_ps(y + i, t, a);
    }
}

/*
 * Tiles of 3 inputs x 4 rows: 12 accumulators, the 3 input vectors and one row vector fill the 16
 * registers, so each row load feeds three FMAs (dot_many_avx2: one). Leftover rows go through dot_avx2,
 * leftover inputs through dot_many_avx2.
 */
static void dot_many_multi_avx2(const float *const *rows, size_t m, const float *const *xs, float *const *outs,
                                size_t nx, size_t n)
{
    size_t j = 0;
    for (; j + 3 <= nx; j += 3) {
        const float *x0 = xs[j], *x1 = xs[j + 1], *x2 = xs[j + 2];
        size_t k = 0;
        for (; k + 4 <= m; k += 4) {
            __m256 a[3][4];
            for (int u = 0; u < 3; u++)
                for (int r = 0; r < 4; r++)
                    a[u][r] = _mm256_setzero_ps();
            size_t i = 0;
            for (; i + 8 <= n; i += 8) {
                const __m256 v0 = _mm256_loadu_ps(x0 + i), v1 = _mm256_loadu_ps(x1 + i), v2 = _mm256_loadu_ps(x2 + i);
                for (int r = 0; r < 4; r++) {
                    const __m256 w = _mm256_loadu_ps(rows[k + r] + i);
                    a[0][r] = _mm256_fmadd_ps(w, v0, a[0][r]);
                    a[1][r] = _mm256_fmadd_ps(w, v1, a[1][r]);
                    a[2][r] = _mm256_fmadd_ps(w, v2, a[2][r]);
                }
            }
            if (i < n) {
                const __m256i t = tail_mask(n - i);
                const __m256 v0 = _mm256_maskload_ps(x0 + i, t), v1 = _mm256_maskload_ps(x1 + i, t);
                const __m256 v2 = _mm256_maskload_ps(x2 + i, t);
                for (int r = 0; r < 4; r++) {
                    const __m256 w = _mm256_maskload_ps(rows[k + r] + i, t);
                    a[0][r] = _mm256_fmadd_ps(w, v0, a[0][r]);
                    a[1][r] = _mm256_fmadd_ps(w, v1, a[1][r]);
                    a[2][r] = _mm256_fmadd_ps(w, v2, a[2][r]);
                }
            }
            for (int u = 0; u < 3; u++)
                _mm_storeu_ps(outs[j + u] + k, hsum4(a[u][0], a[u][1], a[u][2], a[u][3]));
        }
        for (; k < m; k++) {
            outs[j][k] = dot_avx2(rows[k], x0, n);
            outs[j + 1][k] = dot_avx2(rows[k], x1, n);
            outs[j + 2][k] = dot_avx2(rows[k], x2, n);
        }
    }
    for (; j < nx; j++)
        dot_many_avx2(rows, m, xs[j], n, outs[j]);
}

/*
 * Three outputs at a time in blocks of 32 floats: 12 accumulators, 3 broadcast coefficients and one source
 * vector, so each source load feeds three FMAs (axpy_many_avx2: one). Same k order per element as
 * axpy_many_avx2. Leftover outputs go through axpy_many_avx2.
 */
static void axpy_many_multi_avx2(float *const *ys, const float *const *cs, size_t ny, const float *const *xs,
                                 size_t m, size_t n)
{
    size_t j = 0;
    for (; j + 3 <= ny; j += 3) {
        float *y[3] = {ys[j], ys[j + 1], ys[j + 2]};
        const float *c[3] = {cs[j], cs[j + 1], cs[j + 2]};
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
            __m256 a[3][4];
            for (int u = 0; u < 3; u++)
                for (int q = 0; q < 4; q++)
                    a[u][q] = _mm256_loadu_ps(y[u] + i + 8 * q);
            for (size_t k = 0; k < m; k++) {
                const __m256 b0 = _mm256_broadcast_ss(c[0] + k), b1 = _mm256_broadcast_ss(c[1] + k);
                const __m256 b2 = _mm256_broadcast_ss(c[2] + k);
                const float *x = xs[k] + i;
                for (int q = 0; q < 4; q++) {
                    const __m256 v = _mm256_loadu_ps(x + 8 * q);
                    a[0][q] = _mm256_fmadd_ps(b0, v, a[0][q]);
                    a[1][q] = _mm256_fmadd_ps(b1, v, a[1][q]);
                    a[2][q] = _mm256_fmadd_ps(b2, v, a[2][q]);
                }
            }
            for (int u = 0; u < 3; u++)
                for (int q = 0; q < 4; q++)
                    _mm256_storeu_ps(y[u] + i + 8 * q, a[u][q]);
        }
        for (; i < n; i += 8) {
            const __m256i t = tail_mask(n - i < 8 ? n - i : 8);
            __m256 a0 = _mm256_maskload_ps(y[0] + i, t), a1 = _mm256_maskload_ps(y[1] + i, t);
            __m256 a2 = _mm256_maskload_ps(y[2] + i, t);
            for (size_t k = 0; k < m; k++) {
                const __m256 v = _mm256_maskload_ps(xs[k] + i, t);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[0] + k), v, a0);
                a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[1] + k), v, a1);
                a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(c[2] + k), v, a2);
            }
            _mm256_maskstore_ps(y[0] + i, t, a0);
            _mm256_maskstore_ps(y[1] + i, t, a1);
            _mm256_maskstore_ps(y[2] + i, t, a2);
        }
    }
    for (; j < ny; j++)
        axpy_many_avx2(ys[j], cs[j], xs, m, n);
}

/*
 * exp(x) for x <= 0 (inputs below -87 flush to 0, NaN stays NaN): x = k*ln2 + r with |r| <= ln2/2, exp(r) by
 * a degree-6 Taylor polynomial (relative error < 2e-7 on that interval), 2^k by building the float exponent.
 */
static inline __m256 exp_nonpos(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, x); /* a NaN x is the second operand, so it is kept */
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

static void lse_update_avx2(float *mx, float *sum, const float *z, float b, size_t n)
{
    const __m256 vb = _mm256_set1_ps(b), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 zi = _mm256_add_ps(_mm256_loadu_ps(z + i), vb);
        __m256 m = _mm256_loadu_ps(mx + i), s = _mm256_loadu_ps(sum + i);
        __m256 up = _mm256_cmp_ps(zi, m, _CMP_GT_OQ);
        __m256 nm = _mm256_max_ps(m, zi);
        /* One exp per lane: of (old max - new max) when the max moves, else of (z - max). */
        __m256 arg = _mm256_blendv_ps(_mm256_sub_ps(zi, m), _mm256_sub_ps(m, zi), up);
        __m256 ex = exp_nonpos(arg);
        __m256 moved = _mm256_fmadd_ps(s, ex, one);
        __m256 kept = _mm256_add_ps(s, ex);
        _mm256_storeu_ps(sum + i, _mm256_blendv_ps(kept, moved, up));
        _mm256_storeu_ps(mx + i, nm);
    }
    for (; i < n; i++) {
        float zi = z[i] + b;
        if (zi > mx[i]) {
            sum[i] = sum[i] * expf(mx[i] - zi) + 1.0f;
            mx[i] = zi;
        } else {
            sum[i] += expf(zi - mx[i]);
        }
    }
}

/* Eight lanes of exponentials and of their running sum; the tail through masked loads and stores. */
static float exp_sum_avx2(float *z, size_t n, float shift)
{
    const __m256 s = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(z + i), s));
        _mm256_storeu_ps(z + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        const __m256i k = tail_mask(n - i);
        /* masked-off lanes load 0, whose exponential is masked off from the sum and the store */
        const __m256 e = _mm256_and_ps(exp_nonpos(_mm256_sub_ps(_mm256_maskload_ps(z + i, k), s)),
                                       _mm256_castsi256_ps(k));
        _mm256_maskstore_ps(z + i, k, e);
        acc = _mm256_add_ps(acc, e);
    }
    return hsum(acc);
}

/*
 * One bin per lane: position b of 8 bins is loaded at once and the running (best, arg) pair updated with
 * a strict '>' in position order, exactly the scalar loop. The 8 values are read with scalar loads, not
 * vpgatherdd: on this project's AMD EPYC machines that is faster (test_kernels --bench, 16 bins of 8:
 * 40 ns against 70 ns with the gather).
 */
static void bins_argmax8_avx2(const float *x, const uint32_t *pos8, size_t n_groups, uint32_t bin_size,
                              int32_t *arg)
{
    const __m256 zero = _mm256_setzero_ps();
    for (size_t g = 0; g < n_groups; g++) {
        const uint32_t *p = pos8 + g * bin_size * 8;
        __m256 best = _mm256_set1_ps(-FLT_MAX);
        __m256i a = _mm256_set1_epi32(-1);
        for (uint32_t b = 0; b < bin_size; b++) {
            const uint32_t *q = p + (size_t)b * 8;
            const __m256 v = _mm256_setr_ps(x[q[0]], x[q[1]], x[q[2]], x[q[3]], x[q[4]], x[q[5]], x[q[6]], x[q[7]]);
            const __m256 win = _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, zero, _CMP_NEQ_OQ));
            best = _mm256_blendv_ps(best, v, win);
            a = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(_mm256_set1_epi32((int)b)), win));
        }
        _mm256_storeu_si256((__m256i *)(arg + g * 8), a);
    }
}

/* ------------------------------------------------------------------ bfloat16 rows */

/*
 * bf16 rows are widened eight at a time (vpmovzxwd + shift: exact). AVX2 has no 16-bit masked loads or
 * stores, so a tail of 1..7 bf16 values is copied through an 8-element stack buffer, zero-filled, and
 * only [i, n) is read from or written back to the caller's memory.
 */
static inline __m256 widen8(const slide_bf16 *p)
{
    const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline __m256 widen_tail(const slide_bf16 *p, size_t r)
{
    slide_bf16 buf[8] = {0};
    for (size_t j = 0; j < r; j++)
        buf[j] = p[j];
    return widen8(buf);
}

/*
 * Widening 16 bf16 values with vpunpck{l,h}wd against zero costs one instruction per 8 floats instead of
 * two (vpmovzxwd + shift), but works within 128-bit lanes: the low result holds elements 0-3 and 8-11,
 * the high one 4-7 and 12-15. The float operand is permuted to the same order once (two vperm2f128),
 * which the eight rows of dot_many or the m rows of axpy_many then share.
 */
static inline void widen16_lanes(const slide_bf16 *p, __m256 *lo, __m256 *hi)
{
    const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
    *lo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), h));
    *hi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), h));
}

/* slide_bf16_from_f32 of eight floats, each result in the low 16 bits of its 32-bit lane. */
static inline __m256i round8(__m256 x)
{
    const __m256i b = _mm256_castps_si256(x);
    const __m256i hi = _mm256_srli_epi32(b, 16);
    const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    return _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
}

/* Eight floats to bf16 with slide_bf16_from_f32's rounding, in lane order. */
static inline __m128i narrow8(__m256 x)
{
    const __m256i r = round8(x);
    /* Values are <= 0xFFFF, so the unsigned-saturating pack is exact; it packs within 128-bit lanes. */
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xD8);
    return _mm256_castsi256_si128(p);
}

/*
 * Sixteen values held in widen16_lanes order (lo: elements 0-3 and 8-11, hi: 4-7 and 12-15) narrowed and
 * stored in element order: vpackusdw packs within lanes, which is exactly the inverse of that order.
 */
static inline void store16_lanes(slide_bf16 *p, __m256 lo, __m256 hi)
{
    _mm256_storeu_si256((__m256i *)(void *)p, _mm256_packus_epi32(round8(lo), round8(hi)));
}

static inline void store8(slide_bf16 *p, __m256 x)
{
    _mm_storeu_si128((__m128i *)(void *)p, narrow8(x));
}

static inline void store_tail(slide_bf16 *p, __m256 x, size_t r)
{
    slide_bf16 buf[8];
    store8(buf, x);
    for (size_t j = 0; j < r; j++)
        p[j] = buf[j];
}

static void bf16_to_f32_avx2(float *out, const slide_bf16 *in, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, widen8(in + i));
    if (i < n)
        _mm256_maskstore_ps(out + i, tail_mask(n - i), widen_tail(in + i, n - i));
}

static void f32_to_bf16_avx2(slide_bf16 *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x0 = _mm256_loadu_ps(in + i), x1 = _mm256_loadu_ps(in + i + 8);
        store16_lanes(out + i, _mm256_permute2f128_ps(x0, x1, 0x20), _mm256_permute2f128_ps(x0, x1, 0x31));
    }
    for (; i + 8 <= n; i += 8)
        store8(out + i, _mm256_loadu_ps(in + i));
    if (i < n)
        store_tail(out + i, _mm256_maskload_ps(in + i, tail_mask(n - i)), n - i);
}

static float dot_bf16_avx2(const float *x, const slide_bf16 *w, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), widen8(w + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), widen8(w + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), widen8(w + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), widen8(w + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), widen8(w + i), s0);
    if (i < n)
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, tail_mask(n - i)), widen_tail(w + i, n - i), s1);
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* Scalar loads of eight w[idx] (see load_sparse8), widened together. */
static inline __m256 load_sparse8_bf16(const slide_bf16 *w, const int32_t *x)
{
    const __m128i h = _mm_setr_epi16((short)w[x[0]], (short)w[x[1]], (short)w[x[2]], (short)w[x[3]],
                                     (short)w[x[4]], (short)w[x[5]], (short)w[x[6]], (short)w[x[7]]);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static float dot_sparse_bf16_avx2(const slide_bf16 *w, const int32_t *idx, const float *val, size_t nnz)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= nnz; i += 16) {
        s0 = _mm256_fmadd_ps(load_sparse8_bf16(w, idx + i), _mm256_loadu_ps(val + i), s0);
        s1 = _mm256_fmadd_ps(load_sparse8_bf16(w, idx + i + 8), _mm256_loadu_ps(val + i + 8), s1);
    }
    if (i + 8 <= nnz) {
        s0 = _mm256_fmadd_ps(load_sparse8_bf16(w, idx + i), _mm256_loadu_ps(val + i), s0);
        i += 8;
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < nnz; i++)
        s += slide_bf16_to_f32(w[idx[i]]) * val[i];
    return s;
}

/* As dot_many_avx2: eight rows per pass share each load of x; leftover rows go through dot_bf16_avx2. */
static void dot_many_bf16_avx2(const slide_bf16 *const *rows, size_t m, const float *x, size_t n, float *out)
{
    size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const slide_bf16 *const *r = rows + k;
        __m256 s[8];
        for (int j = 0; j < 8; j++)
            s[j] = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
            const __m256 xa = _mm256_permute2f128_ps(x0, x1, 0x20), xb = _mm256_permute2f128_ps(x0, x1, 0x31);
            for (int j = 0; j < 8; j++) {
                __m256 wa, wb;
                widen16_lanes(r[j] + i, &wa, &wb);
                s[j] = _mm256_fmadd_ps(wb, xb, _mm256_fmadd_ps(wa, xa, s[j]));
            }
        }
        if (i + 8 <= n) {
            const __m256 xv = _mm256_loadu_ps(x + i);
            for (int j = 0; j < 8; j++)
                s[j] = _mm256_fmadd_ps(widen8(r[j] + i), xv, s[j]);
            i += 8;
        }
        if (i < n) {
            const __m256 xv = _mm256_maskload_ps(x + i, tail_mask(n - i));
            for (int j = 0; j < 8; j++)
                s[j] = _mm256_fmadd_ps(widen_tail(r[j] + i, n - i), xv, s[j]);
        }
        const __m256 h0 = _mm256_hadd_ps(_mm256_hadd_ps(s[0], s[1]), _mm256_hadd_ps(s[2], s[3]));
        const __m256 h1 = _mm256_hadd_ps(_mm256_hadd_ps(s[4], s[5]), _mm256_hadd_ps(s[6], s[7]));
        const __m256 lo = _mm256_permute2f128_ps(h0, h1, 0x20), hi = _mm256_permute2f128_ps(h0, h1, 0x31);
        _mm256_storeu_ps(out + k, _mm256_add_ps(lo, hi));
    }
    for (; k < m; k++)
        out[k] = dot_bf16_avx2(x, rows[k], n);
}

/*
 * As axpy_many_avx2: y in blocks of 64 floats held in registers while every source row adds into them.
 * The registers hold y in widen16_lanes order (permuted once on load and back on store).
 */
static void axpy_many_bf16_avx2(float *y, const float *c, const slide_bf16 *const *xs, size_t m, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256 a[8];
        for (int j = 0; j < 4; j++) {
            const __m256 y0 = _mm256_loadu_ps(y + i + 16 * j), y1 = _mm256_loadu_ps(y + i + 16 * j + 8);
            a[2 * j] = _mm256_permute2f128_ps(y0, y1, 0x20);
            a[2 * j + 1] = _mm256_permute2f128_ps(y0, y1, 0x31);
        }
        for (size_t k = 0; k < m; k++) {
            const __m256 ck = _mm256_broadcast_ss(c + k);
            const slide_bf16 *x = xs[k] + i;
            for (int j = 0; j < 4; j++) {
                __m256 wa, wb;
                widen16_lanes(x + 16 * j, &wa, &wb);
                a[2 * j] = _mm256_fmadd_ps(ck, wa, a[2 * j]);
                a[2 * j + 1] = _mm256_fmadd_ps(ck, wb, a[2 * j + 1]);
            }
        }
        for (int j = 0; j < 4; j++) {
            _mm256_storeu_ps(y + i + 16 * j, _mm256_permute2f128_ps(a[2 * j], a[2 * j + 1], 0x20));
            _mm256_storeu_ps(y + i + 16 * j + 8, _mm256_permute2f128_ps(a[2 * j], a[2 * j + 1], 0x31));
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(y + i);
        for (size_t k = 0; k < m; k++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(c + k), widen8(xs[k] + i), a);
        _mm256_storeu_ps(y + i, a);
    }
    if (i < n) {
        const __m256i t = tail_mask(n - i);
        __m256 a = _mm256_maskload_ps(y + i, t);
        for (size_t k = 0; k < m; k++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(c + k), widen_tail(xs[k] + i, n - i), a);
        _mm256_maskstore_ps(y + i, t, a);
    }
}

/* adam_step on widened values; the caller narrows the results. Same operation order as adam_step. */
static inline void adam_math(__m256 gv, __m256 *wv, __m256 *mv, __m256 *vv, __m256 vb1, __m256 vc1, __m256 vb2,
                             __m256 vc2, __m256 vlr, __m256 veps, __m256 vdecay)
{
    *mv = _mm256_fmadd_ps(vb1, *mv, _mm256_mul_ps(vc1, gv));
    *vv = _mm256_fmadd_ps(vb2, *vv, _mm256_mul_ps(_mm256_mul_ps(vc2, gv), gv));
    const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(*vv), veps);
    *wv = _mm256_sub_ps(_mm256_mul_ps(*wv, vdecay), _mm256_div_ps(_mm256_mul_ps(vlr, *mv), den));
}

static void adam_bf16_avx2(slide_bf16 *w, slide_bf16 *m, slide_bf16 *v, const float *g, size_t n, float lr_t,
                           float b1, float b2, float eps_t, float decay)
{
    const __m256 vb1 = _mm256_set1_ps(b1), vc1 = _mm256_set1_ps(1.0f - b1);
    const __m256 vb2 = _mm256_set1_ps(b2), vc2 = _mm256_set1_ps(1.0f - b2);
    const __m256 vlr = _mm256_set1_ps(lr_t), veps = _mm256_set1_ps(eps_t), vdecay = _mm256_set1_ps(decay);
    size_t i = 0;
    /* Sixteen at a time in widen16_lanes order: the gradient is permuted to match, results pack back. */
    for (; i + 16 <= n; i += 16) {
        __m256 wv[2], mv[2], vv[2];
        widen16_lanes(w + i, &wv[0], &wv[1]);
        widen16_lanes(m + i, &mv[0], &mv[1]);
        widen16_lanes(v + i, &vv[0], &vv[1]);
        const __m256 g0 = _mm256_loadu_ps(g + i), g1 = _mm256_loadu_ps(g + i + 8);
        const __m256 gv[2] = {_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31)};
        for (int h = 0; h < 2; h++)
            adam_math(gv[h], &wv[h], &mv[h], &vv[h], vb1, vc1, vb2, vc2, vlr, veps, vdecay);
        store16_lanes(m + i, mv[0], mv[1]);
        store16_lanes(v + i, vv[0], vv[1]);
        store16_lanes(w + i, wv[0], wv[1]);
    }
    if (i + 8 <= n) {
        __m256 wv = widen8(w + i), mv = widen8(m + i), vv = widen8(v + i);
        adam_math(_mm256_loadu_ps(g + i), &wv, &mv, &vv, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
        store8(m + i, mv);
        store8(v + i, vv);
        store8(w + i, wv);
        i += 8;
    }
    if (i < n) {
        const size_t r = n - i;
        __m256 wv = widen_tail(w + i, r), mv = widen_tail(m + i, r), vv = widen_tail(v + i, r);
        adam_math(_mm256_maskload_ps(g + i, tail_mask(r)), &wv, &mv, &vv, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
        store_tail(m + i, mv, r);
        store_tail(v + i, vv, r);
        store_tail(w + i, wv, r);
    }
}

static void sgd_bf16_avx2(slide_bf16 *w, const float *g, size_t n, float lr, float decay)
{
    const __m256 vlr = _mm256_set1_ps(lr), vd = _mm256_set1_ps(decay);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 lo, hi;
        widen16_lanes(w + i, &lo, &hi);
        const __m256 g0 = _mm256_loadu_ps(g + i), g1 = _mm256_loadu_ps(g + i + 8);
        lo = _mm256_fnmadd_ps(vlr, _mm256_permute2f128_ps(g0, g1, 0x20), _mm256_mul_ps(lo, vd));
        hi = _mm256_fnmadd_ps(vlr, _mm256_permute2f128_ps(g0, g1, 0x31), _mm256_mul_ps(hi, vd));
        store16_lanes(w + i, lo, hi);
    }
    if (i + 8 <= n) {
        store8(w + i, _mm256_fnmadd_ps(vlr, _mm256_loadu_ps(g + i), _mm256_mul_ps(widen8(w + i), vd)));
        i += 8;
    }
    if (i < n) {
        const size_t r = n - i;
        store_tail(w + i, _mm256_fnmadd_ps(vlr, _mm256_maskload_ps(g + i, tail_mask(r)), _mm256_mul_ps(widen_tail(w + i, r), vd)), r);
    }
}

/*
 * Two 8-lane halves per entry. The sign is applied by picking x or its exact negation (sign bit flipped)
 * from a two-entry table indexed by the entry's top bit: no branch on a random sign.
 */
static void sign_project16_avx2(const uint32_t *ptr, const uint16_t *proj, size_t n_dims, const float *xt, float *acc)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t d = 0; d < n_dims; d++) {
        const __m256 lo = _mm256_loadu_ps(xt + d * 16), hi = _mm256_loadu_ps(xt + d * 16 + 8);
        const __m256 v[2][2] = {{lo, hi}, {_mm256_xor_ps(lo, sign), _mm256_xor_ps(hi, sign)}};
        for (uint32_t e = ptr[d]; e < ptr[d + 1]; e++) {
            const uint16_t p = proj[e];
            float *a = acc + (size_t)(p & 0x7FFFu) * 16;
            const __m256 *x = v[p >> 15];
            _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), x[0]));
            _mm256_storeu_ps(a + 8, _mm256_add_ps(_mm256_loadu_ps(a + 8), x[1]));
        }
    }
}

void slide_kernels_fill_avx2(slide_kernels *k)
{
    k->dot = dot_avx2;
    k->dot_sparse = dot_sparse_avx2;
    k->axpy = axpy_avx2;
    k->axpy_sparse = axpy_sparse_avx2;
    k->axpy_gather = axpy_gather_avx2;
    k->adam = adam_avx2;
    k->sgd = sgd_avx2;
    k->adam_catch_up = adam_catch_up_avx2;
    k->dot_rows = dot_rows_avx2;
    k->dot_many = dot_many_avx2;
    k->axpy_many = axpy_many_avx2;
    k->dot_many_multi = dot_many_multi_avx2;
    k->gather_cost = 12;
    k->axpy_many_multi = axpy_many_multi_avx2;
    k->lse_update = lse_update_avx2;
    k->exp_sum = exp_sum_avx2;
    k->bins_argmax8 = bins_argmax8_avx2;
    k->sign_project16 = sign_project16_avx2;
    k->bf16_to_f32 = bf16_to_f32_avx2;
    k->f32_to_bf16 = f32_to_bf16_avx2;
    k->dot_bf16 = dot_bf16_avx2;
    k->dot_sparse_bf16 = dot_sparse_bf16_avx2;
    k->dot_many_bf16 = dot_many_bf16_avx2;
    k->axpy_many_bf16 = axpy_many_bf16_avx2;
    k->adam_bf16 = adam_bf16_avx2;
    k->sgd_bf16 = sgd_bf16_avx2;
}
