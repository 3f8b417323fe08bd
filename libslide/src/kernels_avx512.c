/*
 * AVX-512 kernels (this file alone is compiled with -mavx512f -mavx512dq -mavx512vl -mavx2 -mfma; the
 * compiler may emit any of those, so cpu.c calls it only when the CPU and OS support all of them). The
 * code itself uses AVX-512F intrinsics only.
 *
 * Loops run over whole 16-float vectors, then one masked step for the last 1..15 elements. Masked loads,
 * stores, gathers and scatters never touch masked-off lanes, so the tail stays inside [i, n) and cannot
 * fault past the end of a buffer. All accesses are unaligned.
 *
 * Results differ from kernels_scalar.c only by rounding: FMA contracts a*b+c, and reductions sum in a
 * different order.
 */
#include <immintrin.h>

#include <float.h>

#include "kernels.h"

/* Lanes [0, r) set, r in [1, 15]. */
static inline __mmask16 tail_mask(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
}

static float dot_avx512(const float *a, const float *b, size_t n)
{
    /* Four independent accumulators hide the FMA latency. */
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* Indices are non-negative int32; the gather sign-extends them and scales by 4 in 64-bit arithmetic. */
static float dot_sparse_avx512(const float *w, const int32_t *idx, const float *val, size_t nnz)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= nnz; i += 32) {
        const __m512i i0 = _mm512_loadu_si512(idx + i);
        const __m512i i1 = _mm512_loadu_si512(idx + i + 16);
        s0 = _mm512_fmadd_ps(_mm512_i32gather_ps(i0, w, 4), _mm512_loadu_ps(val + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_i32gather_ps(i1, w, 4), _mm512_loadu_ps(val + i + 16), s1);
    }
    if (i + 16 <= nnz) {
        const __m512i i0 = _mm512_loadu_si512(idx + i);
        s0 = _mm512_fmadd_ps(_mm512_i32gather_ps(i0, w, 4), _mm512_loadu_ps(val + i), s0);
        i += 16;
    }
    if (i < nnz) {
        const __mmask16 k = tail_mask(nnz - i);
        const __m512i i0 = _mm512_maskz_loadu_epi32(k, idx + i);
        const __m512 wv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, i0, w, 4);
        s1 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, val + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void axpy_avx512(float *y, float a, const float *x, size_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 y0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        const __m512 y1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    if (i + 16 <= n) {
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
        i += 16;
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        const __m512 yv = _mm512_fmadd_ps(va, xv, _mm512_maskz_loadu_ps(k, y + i));
        _mm512_mask_storeu_ps(y + i, k, yv);
    }
}

/*
 * Gather y, FMA, scatter back. Correct only because idx has no duplicates: with a repeated index the
 * scatter would keep one of the updates and drop the others.
 */
static void axpy_sparse_avx512(float *y, float a, const int32_t *idx, const float *val, size_t nnz)
{
    const __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= nnz; i += 16) {
        const __m512i iv = _mm512_loadu_si512(idx + i);
        const __m512 yv = _mm512_fmadd_ps(va, _mm512_loadu_ps(val + i), _mm512_i32gather_ps(iv, y, 4));
        _mm512_i32scatter_ps(y, iv, yv, 4);
    }
    if (i < nnz) {
        const __mmask16 k = tail_mask(nnz - i);
        const __m512i iv = _mm512_maskz_loadu_epi32(k, idx + i);
        const __m512 yo = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, iv, y, 4);
        const __m512 yv = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, val + i), yo);
        _mm512_mask_i32scatter_ps(y, k, iv, yv, 4);
    }
}

/*
 * Same operation order as the scalar version (lr*m, then divide); only the FMAs in the moment updates
 * change the rounding. vsqrtps and vdivps are correctly rounded (no rsqrt14/rcp14 approximations).
 * Masked-off lanes load zeros and are never stored; whatever their sqrt/div produce is discarded.
 */
static inline void adam_step(float *w, float *m, float *v, const float *g, __mmask16 k, __m512 vb1,
                             __m512 vc1, __m512 vb2, __m512 vc2, __m512 vlr, __m512 veps)
{
    const __m512 gv = _mm512_maskz_loadu_ps(k, g);
    const __m512 mv = _mm512_fmadd_ps(vb1, _mm512_maskz_loadu_ps(k, m), _mm512_mul_ps(vc1, gv));
    const __m512 g2 = _mm512_mul_ps(_mm512_mul_ps(vc2, gv), gv);
    const __m512 vv = _mm512_fmadd_ps(vb2, _mm512_maskz_loadu_ps(k, v), g2);
    const __m512 den = _mm512_add_ps(_mm512_sqrt_ps(vv), veps);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, mv), den);
    const __m512 wv = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, w), step);
    _mm512_mask_storeu_ps(m, k, mv);
    _mm512_mask_storeu_ps(v, k, vv);
    _mm512_mask_storeu_ps(w, k, wv);
}

static void adam_avx512(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1,
                        float b2, float eps_t)
{
    const __m512 vb1 = _mm512_set1_ps(b1), vc1 = _mm512_set1_ps(1.0f - b1);
    const __m512 vb2 = _mm512_set1_ps(b2), vc2 = _mm512_set1_ps(1.0f - b2);
    const __m512 vlr = _mm512_set1_ps(lr_t), veps = _mm512_set1_ps(eps_t);
    size_t i = 0;
    /* An all-ones mask makes the masked moves plain full-width moves. */
    for (; i + 16 <= n; i += 16)
        adam_step(w + i, m + i, v + i, g + i, (__mmask16)0xFFFF, vb1, vc1, vb2, vc2, vlr, veps);
    if (i < n)
        adam_step(w + i, m + i, v + i, g + i, tail_mask(n - i), vb1, vc1, vb2, vc2, vlr, veps);
}

static void sgd_avx512(float *w, const float *g, size_t n, float lr)
{
    const __m512 vlr = _mm512_set1_ps(lr);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 w0 = _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i), _mm512_loadu_ps(w + i));
        const __m512 w1 = _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i + 16), _mm512_loadu_ps(w + i + 16));
        _mm512_storeu_ps(w + i, w0);
        _mm512_storeu_ps(w + i + 16, w1);
    }
    if (i + 16 <= n) {
        _mm512_storeu_ps(w + i, _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i), _mm512_loadu_ps(w + i)));
        i += 16;
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
        const __m512 wv = _mm512_fnmadd_ps(vlr, gv, _mm512_maskz_loadu_ps(k, w + i));
        _mm512_mask_storeu_ps(w + i, k, wv);
    }
}

/*
 * Four rows per pass share each load of x; two accumulators per row give eight FMA chains. Leftover rows
 * (m % 4) go through dot_avx512.
 */
static void dot_rows_avx512(const float *rows, size_t stride, size_t m, const float *x, size_t n, float *out)
{
    size_t j = 0;
    for (; j + 4 <= m; j += 4) {
        const float *r0 = rows + j * stride, *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
        __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
            const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + i), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + i), x0, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + i), x0, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + i), x0, a3);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + i + 16), x1, b0);
            b1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + i + 16), x1, b1);
            b2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + i + 16), x1, b2);
            b3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + i + 16), x1, b3);
        }
        if (i + 16 <= n) {
            const __m512 x0 = _mm512_loadu_ps(x + i);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + i), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + i), x0, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + i), x0, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + i), x0, a3);
            i += 16;
        }
        if (i < n) {
            const __mmask16 k = tail_mask(n - i);
            const __m512 x0 = _mm512_maskz_loadu_ps(k, x + i);
            b0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r0 + i), x0, b0);
            b1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r1 + i), x0, b1);
            b2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r2 + i), x0, b2);
            b3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, r3 + i), x0, b3);
        }
        out[j + 0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
        out[j + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
        out[j + 2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
        out[j + 3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
    }
    for (; j < m; j++)
        out[j] = dot_avx512(rows + j * stride, x, n);
}

/*
 * Two groups of 8 bins per 16-lane vector (lanes 0-7: group g, 8-15: group g + 1); an odd last group
 * runs with the upper half masked off (masked gathers read nothing for those lanes). Same strict '>'
 * in position order as the scalar loop.
 */
static void bins_argmax8_avx512(const float *x, const uint32_t *pos8, size_t n_groups, uint32_t bin_size,
                                int32_t *arg)
{
    const __m512 zero = _mm512_setzero_ps();
    for (size_t g = 0; g < n_groups; g += 2) {
        const int pair = g + 1 < n_groups;
        const __mmask16 lanes = pair ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
        const uint32_t *p0 = pos8 + g * bin_size * 8, *p1 = p0 + (size_t)bin_size * 8;
        __m512 best = _mm512_set1_ps(-FLT_MAX);
        __m512i a = _mm512_set1_epi32(-1);
        for (uint32_t b = 0; b < bin_size; b++) {
            __m512i idx = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p0 + (size_t)b * 8)));
            if (pair)
                idx = _mm512_inserti64x4(idx, _mm256_loadu_si256((const __m256i *)(p1 + (size_t)b * 8)), 1);
            else
                idx = _mm512_inserti64x4(idx, _mm256_setzero_si256(), 1);
            const __m512 v = _mm512_mask_i32gather_ps(zero, lanes, idx, x, 4);
            const __mmask16 win = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(v, zero, _CMP_NEQ_OQ), v, best,
                                                          _CMP_GT_OQ);
            best = _mm512_mask_blend_ps(win, best, v);
            a = _mm512_mask_blend_epi32(win, a, _mm512_set1_epi32((int)b));
        }
        _mm512_mask_storeu_epi32(arg + g * 8, lanes, a);
    }
}

/* Eight rows per pass share each load of x; the masked step covers the last 1..15 elements. */
static void dot_many_avx512(const float *const *rows, size_t m, const float *x, size_t n, float *out)
{
    size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const float *const *r = rows + k;
        __m512 s[8];
        for (int j = 0; j < 8; j++)
            s[j] = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m512 xv = _mm512_loadu_ps(x + i);
            for (int j = 0; j < 8; j++)
                s[j] = _mm512_fmadd_ps(_mm512_loadu_ps(r[j] + i), xv, s[j]);
        }
        if (i < n) {
            const __mmask16 t = tail_mask(n - i);
            const __m512 xv = _mm512_maskz_loadu_ps(t, x + i);
            for (int j = 0; j < 8; j++)
                s[j] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(t, r[j] + i), xv, s[j]);
        }
        for (int j = 0; j < 8; j++)
            out[k + j] = _mm512_reduce_add_ps(s[j]);
    }
    for (; k < m; k++)
        out[k] = dot_avx512(rows[k], x, n);
}

/* y in blocks of 64 floats (four registers) that every input adds into; then one masked block at a time. */
static void axpy_many_avx512(float *y, const float *c, const float *const *xs, size_t m, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 a[4];
        for (int j = 0; j < 4; j++)
            a[j] = _mm512_loadu_ps(y + i + 16 * j);
        for (size_t k = 0; k < m; k++) {
            const __m512 ck = _mm512_set1_ps(c[k]);
            const float *x = xs[k] + i;
            for (int j = 0; j < 4; j++)
                a[j] = _mm512_fmadd_ps(ck, _mm512_loadu_ps(x + 16 * j), a[j]);
        }
        for (int j = 0; j < 4; j++)
            _mm512_storeu_ps(y + i + 16 * j, a[j]);
    }
    for (; i < n; i += 16) {
        const __mmask16 t = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(t, y + i);
        for (size_t k = 0; k < m; k++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(c[k]), _mm512_maskz_loadu_ps(t, xs[k] + i), a);
        _mm512_mask_storeu_ps(y + i, t, a);
    }
}

void slide_kernels_fill_avx512(slide_kernels *k)
{
    k->dot = dot_avx512;
    k->dot_sparse = dot_sparse_avx512;
    k->axpy = axpy_avx512;
    k->axpy_sparse = axpy_sparse_avx512;
    k->adam = adam_avx512;
    k->sgd = sgd_avx512;
    k->dot_rows = dot_rows_avx512;
    k->dot_many = dot_many_avx512;
    k->axpy_many = axpy_many_avx512;
    k->bins_argmax8 = bins_argmax8_avx512;
}
