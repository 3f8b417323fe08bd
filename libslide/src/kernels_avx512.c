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
static void axpy_gather_avx512(float *y, float a, const float *w, const int32_t *idx, size_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 wv = _mm512_i32gather_ps(_mm512_loadu_si512(idx + i), w, 4);
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, wv, _mm512_loadu_ps(y + i)));
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 wv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, _mm512_maskz_loadu_epi32(k, idx + i), w, 4);
        _mm512_mask_storeu_ps(y + i, k, _mm512_fmadd_ps(va, wv, _mm512_maskz_loadu_ps(k, y + i)));
    }
}

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
                             __m512 vc1, __m512 vb2, __m512 vc2, __m512 vlr, __m512 veps, __m512 vdecay)
{
    const __m512 gv = _mm512_maskz_loadu_ps(k, g);
    const __m512 mv = _mm512_fmadd_ps(vb1, _mm512_maskz_loadu_ps(k, m), _mm512_mul_ps(vc1, gv));
    const __m512 g2 = _mm512_mul_ps(_mm512_mul_ps(vc2, gv), gv);
    const __m512 vv = _mm512_fmadd_ps(vb2, _mm512_maskz_loadu_ps(k, v), g2);
    const __m512 den = _mm512_add_ps(_mm512_sqrt_ps(vv), veps);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, mv), den);
    const __m512 wv = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, w), vdecay), step);
    _mm512_mask_storeu_ps(m, k, mv);
    _mm512_mask_storeu_ps(v, k, vv);
    _mm512_mask_storeu_ps(w, k, wv);
}

static void adam_catch_up_avx512(float *w, float *m, float *v, size_t n, float decay, float move, float eps,
                                 float mk, float vk)
{
    const __m512 vd = _mm512_set1_ps(decay), vmove = _mm512_set1_ps(move), veps = _mm512_set1_ps(eps);
    const __m512 vmk = _mm512_set1_ps(mk), vvk = _mm512_set1_ps(vk);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 t = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
        const __m512 wv = _mm512_maskz_loadu_ps(t, w + i), mv = _mm512_maskz_loadu_ps(t, m + i);
        const __m512 vv = _mm512_maskz_loadu_ps(t, v + i);
        const __m512 step = _mm512_div_ps(_mm512_mul_ps(vmove, mv), _mm512_add_ps(_mm512_sqrt_ps(vv), veps));
        _mm512_mask_storeu_ps(w + i, t, _mm512_sub_ps(_mm512_mul_ps(wv, vd), step));
        _mm512_mask_storeu_ps(m + i, t, _mm512_mul_ps(mv, vmk));
        _mm512_mask_storeu_ps(v + i, t, _mm512_mul_ps(vv, vvk));
    }
}

static void adam_avx512(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1,
                        float b2, float eps_t, float decay)
{
    const __m512 vb1 = _mm512_set1_ps(b1), vc1 = _mm512_set1_ps(1.0f - b1);
    const __m512 vb2 = _mm512_set1_ps(b2), vc2 = _mm512_set1_ps(1.0f - b2);
    const __m512 vlr = _mm512_set1_ps(lr_t), veps = _mm512_set1_ps(eps_t), vdecay = _mm512_set1_ps(decay);
    size_t i = 0;
    /* An all-ones mask makes the masked moves plain full-width moves. */
    for (; i + 16 <= n; i += 16)
        adam_step(w + i, m + i, v + i, g + i, (__mmask16)0xFFFF, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
    if (i < n)
        adam_step(w + i, m + i, v + i, g + i, tail_mask(n - i), vb1, vc1, vb2, vc2, vlr, veps, vdecay);
}

static void sgd_avx512(float *w, const float *g, size_t n, float lr, float decay)
{
    const __m512 vlr = _mm512_set1_ps(lr), vd = _mm512_set1_ps(decay);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 w0 = _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i), _mm512_mul_ps(_mm512_loadu_ps(w + i), vd));
        const __m512 w1 = _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i + 16), _mm512_mul_ps(_mm512_loadu_ps(w + i + 16), vd));
        _mm512_storeu_ps(w + i, w0);
        _mm512_storeu_ps(w + i + 16, w1);
    }
    if (i + 16 <= n) {
        _mm512_storeu_ps(w + i, _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i), _mm512_mul_ps(_mm512_loadu_ps(w + i), vd)));
        i += 16;
    }
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        const __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
        const __m512 wv = _mm512_fnmadd_ps(vlr, gv, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, w + i), vd));
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

/*
 * Sixteen accumulators to one vector of their sums: lane 4u + r of the result is the sum of v[4u + r]. Three
 * levels of pairwise unpacks and 128-bit lane shuffles (45 instructions for 16 sums, where a separate
 * reduction of each costs ~8).
 */
static inline __m512 sum16(const __m512 *v)
{
    __m512 a[8], b[4];
    for (int i = 0; i < 8; i++) /* per 128-bit lane: v[2i][0]+v[2i][2], v[2i+1][0]+v[2i+1][2], [1]+[3] ... */
        a[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) { /* per 128-bit lane: the lane's sums of v[4i .. 4i+3] */
        const __m512d x = _mm512_castps_pd(a[2 * i]), y = _mm512_castps_pd(a[2 * i + 1]);
        b[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    const __m512 c0 = _mm512_add_ps(_mm512_shuffle_f32x4(b[0], b[1], 0x44), _mm512_shuffle_f32x4(b[0], b[1], 0xEE));
    const __m512 c1 = _mm512_add_ps(_mm512_shuffle_f32x4(b[2], b[3], 0x44), _mm512_shuffle_f32x4(b[2], b[3], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_f32x4(c0, c1, 0x88), _mm512_shuffle_f32x4(c0, c1, 0xDD));
}

/*
 * Tiles of 4 inputs x 4 rows: 16 accumulators, so each row load feeds four FMAs and each input load four
 * (dot_many_avx512: one per row load), and one sum16 reduces the tile. Leftover rows and inputs go through
 * dot_many_avx512.
 */
static void dot_many_multi_avx512(const float *const *rows, size_t m, const float *const *xs, float *const *outs,
                                  size_t nx, size_t n)
{
    size_t j = 0;
    const size_t m4 = m & ~(size_t)3;
    for (; j + 4 <= nx; j += 4) {
        const float *x[4] = {xs[j], xs[j + 1], xs[j + 2], xs[j + 3]};
        for (size_t k = 0; k < m4; k += 4) {
            const float *r[4] = {rows[k], rows[k + 1], rows[k + 2], rows[k + 3]};
            __m512 acc[16];
            for (int q = 0; q < 16; q++)
                acc[q] = _mm512_setzero_ps();
            size_t i = 0;
            for (; i + 16 <= n; i += 16) {
                __m512 xv[4];
                for (int u = 0; u < 4; u++)
                    xv[u] = _mm512_loadu_ps(x[u] + i);
                for (int q = 0; q < 4; q++) {
                    const __m512 w = _mm512_loadu_ps(r[q] + i);
                    for (int u = 0; u < 4; u++)
                        acc[4 * u + q] = _mm512_fmadd_ps(w, xv[u], acc[4 * u + q]);
                }
            }
            if (i < n) {
                const __mmask16 t = tail_mask(n - i);
                __m512 xv[4];
                for (int u = 0; u < 4; u++)
                    xv[u] = _mm512_maskz_loadu_ps(t, x[u] + i);
                for (int q = 0; q < 4; q++) {
                    const __m512 w = _mm512_maskz_loadu_ps(t, r[q] + i);
                    for (int u = 0; u < 4; u++)
                        acc[4 * u + q] = _mm512_fmadd_ps(w, xv[u], acc[4 * u + q]);
                }
            }
            const __m512 sums = sum16(acc); /* lane 4u + q: input u, row q */
            _mm_storeu_ps(outs[j] + k, _mm512_castps512_ps128(sums));
            _mm_storeu_ps(outs[j + 1] + k, _mm512_extractf32x4_ps(sums, 1));
            _mm_storeu_ps(outs[j + 2] + k, _mm512_extractf32x4_ps(sums, 2));
            _mm_storeu_ps(outs[j + 3] + k, _mm512_extractf32x4_ps(sums, 3));
        }
        if (m4 < m)
            for (int u = 0; u < 4; u++)
                dot_many_avx512(rows + m4, m - m4, x[u], n, outs[j + u] + m4);
    }
    for (; j < nx; j++)
        dot_many_avx512(rows, m, xs[j], n, outs[j]);
}

/*
 * Four outputs at a time in blocks of 64 floats: 16 accumulators, each source load feeding four FMAs
 * (axpy_many_avx512: one). Every element adds the sources in k order, as axpy_many_avx512 does, so the
 * results are the same bits. Leftover outputs go through axpy_many_avx512.
 */
static void axpy_many_multi_avx512(float *const *ys, const float *const *cs, size_t ny, const float *const *xs,
                                   size_t m, size_t n)
{
    size_t j = 0;
    for (; j + 4 <= ny; j += 4) {
        float *y[4] = {ys[j], ys[j + 1], ys[j + 2], ys[j + 3]};
        const float *c[4] = {cs[j], cs[j + 1], cs[j + 2], cs[j + 3]};
        size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            __m512 a[4][4];
            for (int u = 0; u < 4; u++)
                for (int q = 0; q < 4; q++)
                    a[u][q] = _mm512_loadu_ps(y[u] + i + 16 * q);
            for (size_t k = 0; k < m; k++) {
                const float *x = xs[k] + i;
                __m512 b[4];
                for (int u = 0; u < 4; u++)
                    b[u] = _mm512_set1_ps(c[u][k]);
                for (int q = 0; q < 4; q++) {
                    const __m512 v = _mm512_loadu_ps(x + 16 * q);
                    for (int u = 0; u < 4; u++)
                        a[u][q] = _mm512_fmadd_ps(b[u], v, a[u][q]);
                }
            }
            for (int u = 0; u < 4; u++)
                for (int q = 0; q < 4; q++)
                    _mm512_storeu_ps(y[u] + i + 16 * q, a[u][q]);
        }
        for (; i < n; i += 16) {
            const __mmask16 t = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
            __m512 a[4];
            for (int u = 0; u < 4; u++)
                a[u] = _mm512_maskz_loadu_ps(t, y[u] + i);
            for (size_t k = 0; k < m; k++) {
                const __m512 v = _mm512_maskz_loadu_ps(t, xs[k] + i);
                for (int u = 0; u < 4; u++)
                    a[u] = _mm512_fmadd_ps(_mm512_set1_ps(c[u][k]), v, a[u]);
            }
            for (int u = 0; u < 4; u++)
                _mm512_mask_storeu_ps(y[u] + i, t, a[u]);
        }
    }
    for (; j < ny; j++)
        axpy_many_avx512(ys[j], cs[j], xs, m, n);
}

/* ------------------------------------------------------------------ bfloat16 rows */

/*
 * bf16 rows are widened sixteen at a time (vpmovzxwd + shift: exact) and narrowed with vpmovdw after
 * rounding in 32-bit lanes. Masked 16-bit loads and stores need AVX-512BW, which this file does not
 * assume, so a tail of 1..15 bf16 values goes through a 16-element stack buffer, zero-filled; only [i, n)
 * of the caller's memory is read or written.
 */
static inline __m512 widen16(const slide_bf16 *p)
{
    const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline __m512 widen_tail(const slide_bf16 *p, size_t r)
{
    slide_bf16 buf[16] = {0};
    for (size_t j = 0; j < r; j++)
        buf[j] = p[j];
    return widen16(buf);
}

/* Sixteen floats to bf16 with slide_bf16_from_f32's rounding. */
static inline __m256i narrow16(__m512 x)
{
    const __m512i b = _mm512_castps_si512(x);
    const __m512i hi = _mm512_srli_epi32(b, 16);
    const __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(r); /* values are <= 0xFFFF: truncation is exact */
}

static inline void store16(slide_bf16 *p, __m512 x)
{
    _mm256_storeu_si256((__m256i *)(void *)p, narrow16(x));
}

static inline void store_tail(slide_bf16 *p, __m512 x, size_t r)
{
    slide_bf16 buf[16];
    store16(buf, x);
    for (size_t j = 0; j < r; j++)
        p[j] = buf[j];
}

static void bf16_to_f32_avx512(float *out, const slide_bf16 *in, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, widen16(in + i));
    if (i < n)
        _mm512_mask_storeu_ps(out + i, tail_mask(n - i), widen_tail(in + i, n - i));
}

static void f32_to_bf16_avx512(slide_bf16 *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        store16(out + i, _mm512_loadu_ps(in + i));
    if (i < n)
        store_tail(out + i, _mm512_maskz_loadu_ps(tail_mask(n - i), in + i), n - i);
}

static float dot_bf16_avx512(const float *x, const slide_bf16 *w, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), widen16(w + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), widen16(w + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), widen16(w + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), widen16(w + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), widen16(w + i), s0);
    if (i < n)
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i), widen_tail(w + i, n - i), s1);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/*
 * A 32-bit gather of bf16 values would read two bytes past w[idx] (out of bounds for the last element of
 * a buffer), so the sixteen values are loaded one by one and widened together.
 */
static inline __m512 load_sparse16_bf16(const slide_bf16 *w, const int32_t *x)
{
    const __m256i h = _mm256_setr_epi16((short)w[x[0]], (short)w[x[1]], (short)w[x[2]], (short)w[x[3]],
                                        (short)w[x[4]], (short)w[x[5]], (short)w[x[6]], (short)w[x[7]],
                                        (short)w[x[8]], (short)w[x[9]], (short)w[x[10]], (short)w[x[11]],
                                        (short)w[x[12]], (short)w[x[13]], (short)w[x[14]], (short)w[x[15]]);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static float dot_sparse_bf16_avx512(const slide_bf16 *w, const int32_t *idx, const float *val, size_t nnz)
{
    __m512 s0 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= nnz; i += 16)
        s0 = _mm512_fmadd_ps(load_sparse16_bf16(w, idx + i), _mm512_loadu_ps(val + i), s0);
    float s = _mm512_reduce_add_ps(s0);
    for (; i < nnz; i++)
        s += slide_bf16_to_f32(w[idx[i]]) * val[i];
    return s;
}

/* As dot_many_avx512: eight rows per pass share each load of x. */
static void dot_many_bf16_avx512(const slide_bf16 *const *rows, size_t m, const float *x, size_t n, float *out)
{
    size_t k = 0;
    for (; k + 8 <= m; k += 8) {
        const slide_bf16 *const *r = rows + k;
        __m512 s[8];
        for (int j = 0; j < 8; j++)
            s[j] = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m512 xv = _mm512_loadu_ps(x + i);
            for (int j = 0; j < 8; j++)
                s[j] = _mm512_fmadd_ps(widen16(r[j] + i), xv, s[j]);
        }
        if (i < n) {
            const __m512 xv = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
            for (int j = 0; j < 8; j++)
                s[j] = _mm512_fmadd_ps(widen_tail(r[j] + i, n - i), xv, s[j]);
        }
        for (int j = 0; j < 8; j++)
            out[k + j] = _mm512_reduce_add_ps(s[j]);
    }
    for (; k < m; k++)
        out[k] = dot_bf16_avx512(x, rows[k], n);
}

/* As axpy_many_avx512: y in blocks of 64 floats that every source row adds into. */
static void axpy_many_bf16_avx512(float *y, const float *c, const slide_bf16 *const *xs, size_t m, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 a[4];
        for (int j = 0; j < 4; j++)
            a[j] = _mm512_loadu_ps(y + i + 16 * j);
        for (size_t k = 0; k < m; k++) {
            const __m512 ck = _mm512_set1_ps(c[k]);
            const slide_bf16 *x = xs[k] + i;
            for (int j = 0; j < 4; j++)
                a[j] = _mm512_fmadd_ps(ck, widen16(x + 16 * j), a[j]);
        }
        for (int j = 0; j < 4; j++)
            _mm512_storeu_ps(y + i + 16 * j, a[j]);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_loadu_ps(y + i);
        for (size_t k = 0; k < m; k++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(c[k]), widen16(xs[k] + i), a);
        _mm512_storeu_ps(y + i, a);
    }
    if (i < n) {
        const __mmask16 t = tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(t, y + i);
        for (size_t k = 0; k < m; k++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(c[k]), widen_tail(xs[k] + i, n - i), a);
        _mm512_mask_storeu_ps(y + i, t, a);
    }
}

/* adam_step on widened values (same operation order); the caller narrows the results. */
static inline void adam_math(__m512 gv, __m512 *wv, __m512 *mv, __m512 *vv, __m512 vb1, __m512 vc1, __m512 vb2,
                             __m512 vc2, __m512 vlr, __m512 veps, __m512 vdecay)
{
    *mv = _mm512_fmadd_ps(vb1, *mv, _mm512_mul_ps(vc1, gv));
    *vv = _mm512_fmadd_ps(vb2, *vv, _mm512_mul_ps(_mm512_mul_ps(vc2, gv), gv));
    const __m512 den = _mm512_add_ps(_mm512_sqrt_ps(*vv), veps);
    *wv = _mm512_sub_ps(_mm512_mul_ps(*wv, vdecay), _mm512_div_ps(_mm512_mul_ps(vlr, *mv), den));
}

static void adam_bf16_avx512(slide_bf16 *w, slide_bf16 *m, slide_bf16 *v, const float *g, size_t n, float lr_t,
                             float b1, float b2, float eps_t, float decay)
{
    const __m512 vb1 = _mm512_set1_ps(b1), vc1 = _mm512_set1_ps(1.0f - b1);
    const __m512 vb2 = _mm512_set1_ps(b2), vc2 = _mm512_set1_ps(1.0f - b2);
    const __m512 vlr = _mm512_set1_ps(lr_t), veps = _mm512_set1_ps(eps_t), vdecay = _mm512_set1_ps(decay);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 wv = widen16(w + i), mv = widen16(m + i), vv = widen16(v + i);
        adam_math(_mm512_loadu_ps(g + i), &wv, &mv, &vv, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
        store16(m + i, mv);
        store16(v + i, vv);
        store16(w + i, wv);
    }
    if (i < n) {
        const size_t r = n - i;
        __m512 wv = widen_tail(w + i, r), mv = widen_tail(m + i, r), vv = widen_tail(v + i, r);
        adam_math(_mm512_maskz_loadu_ps(tail_mask(r), g + i), &wv, &mv, &vv, vb1, vc1, vb2, vc2, vlr, veps, vdecay);
        store_tail(m + i, mv, r);
        store_tail(v + i, vv, r);
        store_tail(w + i, wv, r);
    }
}

static void sgd_bf16_avx512(slide_bf16 *w, const float *g, size_t n, float lr, float decay)
{
    const __m512 vlr = _mm512_set1_ps(lr), vd = _mm512_set1_ps(decay);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        store16(w + i, _mm512_fnmadd_ps(vlr, _mm512_loadu_ps(g + i), _mm512_mul_ps(widen16(w + i), vd)));
    if (i < n) {
        const size_t r = n - i;
        const __m512 gv = _mm512_maskz_loadu_ps(tail_mask(r), g + i);
        store_tail(w + i, _mm512_fnmadd_ps(vlr, gv, _mm512_mul_ps(widen_tail(w + i, r), vd)), r);
    }
}

/*
 * One vector per entry; x or its exact negation (sign bit flipped, integer xor: AVX-512F only) is picked
 * from a two-entry table by the entry's top bit, so a random sign costs no branch.
 */
static void sign_project16_avx512(const uint32_t *ptr, const uint16_t *proj, size_t n_dims, const float *xt,
                                  float *acc)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    for (size_t d = 0; d < n_dims; d++) {
        const __m512 x = _mm512_loadu_ps(xt + d * 16);
        const __m512 v[2] = {x, _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), sign))};
        uint32_t e = ptr[d];
        const uint32_t end = ptr[d + 1];
        for (; e + 2 <= end; e += 2) {
            const uint16_t p0 = proj[e], p1 = proj[e + 1];
            float *a0 = acc + (size_t)(p0 & 0x7FFFu) * 16, *a1 = acc + (size_t)(p1 & 0x7FFFu) * 16;
            /* Distinct projections within a dimension: a0 != a1, so the two updates are independent. */
            const __m512 s0 = _mm512_add_ps(_mm512_loadu_ps(a0), v[p0 >> 15]);
            const __m512 s1 = _mm512_add_ps(_mm512_loadu_ps(a1), v[p1 >> 15]);
            _mm512_storeu_ps(a0, s0);
            _mm512_storeu_ps(a1, s1);
        }
        if (e < end) {
            const uint16_t p = proj[e];
            float *a = acc + (size_t)(p & 0x7FFFu) * 16;
            _mm512_storeu_ps(a, _mm512_add_ps(_mm512_loadu_ps(a), v[p >> 15]));
        }
    }
}

void slide_kernels_fill_avx512(slide_kernels *k)
{
    k->dot = dot_avx512;
    k->dot_sparse = dot_sparse_avx512;
    k->axpy = axpy_avx512;
    k->axpy_sparse = axpy_sparse_avx512;
    k->axpy_gather = axpy_gather_avx512;
    k->adam = adam_avx512;
    k->sgd = sgd_avx512;
    k->adam_catch_up = adam_catch_up_avx512;
    k->dot_rows = dot_rows_avx512;
    k->dot_many = dot_many_avx512;
    k->axpy_many = axpy_many_avx512;
    k->dot_many_multi = dot_many_multi_avx512;
    k->gather_cost = 12;
    k->axpy_many_multi = axpy_many_multi_avx512;
    k->bins_argmax8 = bins_argmax8_avx512;
    k->sign_project16 = sign_project16_avx512;
    k->bf16_to_f32 = bf16_to_f32_avx512;
    k->f32_to_bf16 = f32_to_bf16_avx512;
    k->dot_bf16 = dot_bf16_avx512;
    k->dot_sparse_bf16 = dot_sparse_bf16_avx512;
    k->dot_many_bf16 = dot_many_bf16_avx512;
    k->axpy_many_bf16 = axpy_many_bf16_avx512;
    k->adam_bf16 = adam_bf16_avx512;
    k->sgd_bf16 = sgd_bf16_avx512;
}
