/*
 * Plain C reference kernels. Every SIMD version is tested against these, so they stay simple: one pass,
 * in index order, float accumulation. Any alignment and any length (including 0) is fine.
 */
#include <float.h>
#include <math.h>

#include "kernels.h"

static float dot_scalar(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static float dot_sparse_scalar(const float *w, const int32_t *idx, const float *val, size_t nnz)
{
    float s = 0.0f;
    for (size_t i = 0; i < nnz; i++)
        s += w[idx[i]] * val[i];
    return s;
}

static void axpy_scalar(float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void axpy_sparse_scalar(float *y, float a, const int32_t *idx, const float *val, size_t nnz)
{
    for (size_t i = 0; i < nnz; i++)
        y[idx[i]] += a * val[i];
}

static void axpy_gather_scalar(float *y, float a, const float *w, const int32_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * w[idx[i]];
}

static void adam_catch_up_scalar(float *w, float *m, float *v, size_t n, float decay, float move, float eps,
                                 float mk, float vk)
{
    for (size_t i = 0; i < n; i++) {
        w[i] = w[i] * decay - move * m[i] / (sqrtf(v[i]) + eps);
        m[i] *= mk;
        v[i] *= vk;
    }
}

static void adam_scalar(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1,
                        float b2, float eps_t, float decay)
{
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        const float mi = b1 * m[i] + c1 * g[i];
        const float vi = b2 * v[i] + c2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - lr_t * mi / (sqrtf(vi) + eps_t);
    }
}

static void sgd_scalar(float *w, const float *g, size_t n, float lr, float decay)
{
    for (size_t i = 0; i < n; i++)
        w[i] = w[i] * decay - lr * g[i];
}

static void dot_rows_scalar(const float *rows, size_t stride, size_t m, const float *x, size_t n,
                            float *out)
{
    for (size_t j = 0; j < m; j++)
        out[j] = dot_scalar(rows + j * stride, x, n);
}

static void dot_many_scalar(const float *const *rows, size_t m, const float *x, size_t n, float *out)
{
    for (size_t k = 0; k < m; k++)
        out[k] = dot_scalar(rows[k], x, n);
}

static void axpy_many_scalar(float *y, const float *c, const float *const *xs, size_t m, size_t n)
{
    for (size_t k = 0; k < m; k++)
        axpy_scalar(y, c[k], xs[k], n);
}

static void dot_many_multi_scalar(const float *const *rows, size_t m, const float *const *xs, float *const *outs,
                                  size_t nx, size_t n)
{
    for (size_t j = 0; j < nx; j++)
        dot_many_scalar(rows, m, xs[j], n, outs[j]);
}

static void axpy_many_multi_scalar(float *const *ys, const float *const *cs, size_t ny, const float *const *xs,
                                   size_t m, size_t n)
{
    for (size_t j = 0; j < ny; j++)
        axpy_many_scalar(ys[j], cs[j], xs, m, n);
}

static void lse_update_scalar(float *mx, float *sum, const float *z, float b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float zi = z[i] + b;
        if (zi > mx[i]) {
            sum[i] = sum[i] * expf(mx[i] - zi) + 1.0f;
            mx[i] = zi;
        } else {
            sum[i] += expf(zi - mx[i]);
        }
    }
}

static float exp_sum_scalar(float *z, size_t n, float shift)
{
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        z[i] = expf(z[i] - shift);
        sum += z[i];
    }
    return sum;
}

static void bins_argmax8_scalar(const float *x, const uint32_t *pos8, size_t n_groups, uint32_t bin_size,
                                int32_t *arg)
{
    for (size_t g = 0; g < n_groups; g++)
        for (uint32_t j = 0; j < 8; j++) {
            float best = -FLT_MAX;
            int32_t a = -1;
            for (uint32_t b = 0; b < bin_size; b++) {
                const float v = x[pos8[(g * bin_size + b) * 8 + j]];
                if (v != 0.0f && v > best) {
                    best = v;
                    a = (int32_t)b;
                }
            }
            arg[g * 8 + j] = a;
        }
}

/* ------------------------------------------------------------------ bfloat16 rows */

static void bf16_to_f32_scalar(float *out, const slide_bf16 *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = slide_bf16_to_f32(in[i]);
}

static void f32_to_bf16_scalar(slide_bf16 *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = slide_bf16_from_f32(in[i]);
}

static float dot_bf16_scalar(const float *x, const slide_bf16 *w, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += x[i] * slide_bf16_to_f32(w[i]);
    return s;
}

static float dot_sparse_bf16_scalar(const slide_bf16 *w, const int32_t *idx, const float *val, size_t nnz)
{
    float s = 0.0f;
    for (size_t i = 0; i < nnz; i++)
        s += slide_bf16_to_f32(w[idx[i]]) * val[i];
    return s;
}

static void dot_many_bf16_scalar(const slide_bf16 *const *rows, size_t m, const float *x, size_t n, float *out)
{
    for (size_t k = 0; k < m; k++)
        out[k] = dot_bf16_scalar(x, rows[k], n);
}

static void axpy_many_bf16_scalar(float *y, const float *c, const slide_bf16 *const *xs, size_t m, size_t n)
{
    for (size_t k = 0; k < m; k++)
        for (size_t i = 0; i < n; i++)
            y[i] += c[k] * slide_bf16_to_f32(xs[k][i]);
}

static void adam_bf16_scalar(slide_bf16 *w, slide_bf16 *m, slide_bf16 *v, const float *g, size_t n, float lr_t,
                             float b1, float b2, float eps_t, float decay)
{
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        const float mi = b1 * slide_bf16_to_f32(m[i]) + c1 * g[i];
        const float vi = b2 * slide_bf16_to_f32(v[i]) + c2 * g[i] * g[i];
        m[i] = slide_bf16_from_f32(mi);
        v[i] = slide_bf16_from_f32(vi);
        w[i] = slide_bf16_from_f32(slide_bf16_to_f32(w[i]) * decay - lr_t * mi / (sqrtf(vi) + eps_t));
    }
}

static void sgd_bf16_scalar(slide_bf16 *w, const float *g, size_t n, float lr, float decay)
{
    for (size_t i = 0; i < n; i++)
        w[i] = slide_bf16_from_f32(slide_bf16_to_f32(w[i]) * decay - lr * g[i]);
}

static void sign_project16_scalar(const uint32_t *ptr, const uint16_t *proj, size_t n_dims, const float *xt,
                                  float *acc)
{
    for (size_t d = 0; d < n_dims; d++) {
        const float *x = xt + d * 16;
        for (uint32_t e = ptr[d]; e < ptr[d + 1]; e++) {
            const uint16_t p = proj[e];
            float *a = acc + (size_t)(p & 0x7FFFu) * 16;
            if (p & 0x8000u)
                for (int r = 0; r < 16; r++)
                    a[r] += -x[r];
            else
                for (int r = 0; r < 16; r++)
                    a[r] += x[r];
        }
    }
}

void slide_kernels_fill_scalar(slide_kernels *k)
{
    k->dot = dot_scalar;
    k->dot_sparse = dot_sparse_scalar;
    k->axpy = axpy_scalar;
    k->axpy_sparse = axpy_sparse_scalar;
    k->axpy_gather = axpy_gather_scalar;
    k->adam = adam_scalar;
    k->sgd = sgd_scalar;
    k->adam_catch_up = adam_catch_up_scalar;
    k->dot_rows = dot_rows_scalar;
    k->dot_many = dot_many_scalar;
    k->axpy_many = axpy_many_scalar;
    k->dot_many_multi = dot_many_multi_scalar;
    k->gather_cost = 1;
    k->axpy_many_multi = axpy_many_multi_scalar;
    k->lse_update = lse_update_scalar;
    k->exp_sum = exp_sum_scalar;
    k->bins_argmax8 = bins_argmax8_scalar;
    k->sign_project16 = sign_project16_scalar;
    k->bf16_to_f32 = bf16_to_f32_scalar;
    k->f32_to_bf16 = f32_to_bf16_scalar;
    k->dot_bf16 = dot_bf16_scalar;
    k->dot_sparse_bf16 = dot_sparse_bf16_scalar;
    k->dot_many_bf16 = dot_many_bf16_scalar;
    k->axpy_many_bf16 = axpy_many_bf16_scalar;
    k->adam_bf16 = adam_bf16_scalar;
    k->sgd_bf16 = sgd_bf16_scalar;
}
