/*
 * Row helpers: typed access to a layer's weight rows (layout in network.h) and the storage-dispatching
 * wrappers around the kernels. Float layers use slide_row_w / m / v, bf16 layers slide_row_wh / mh / vh;
 * slide_row_dot, slide_rows_* and slide_row_update pick the float or bf16 kernels by L->storage, so no
 * caller does pointer arithmetic on `params` itself.
 */
#ifndef SLIDE_ROWS_H
#define SLIDE_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "kernels.h"
#include "network.h"

/* Bytes per stored weight / moment element. */
static inline size_t slide_elem_bytes(int storage) { return storage == SLIDE_STORAGE_BF16 ? 2 : 4; }
static inline int slide_is_bf16(const slide_layer *L) { return L->storage == SLIDE_STORAGE_BF16; }

/* Float pointers into row r of a float32 layer (never call them on a bf16 layer). */
static inline float *slide_row_w(const slide_layer *L, size_t r) { return (float *)L->params + r * L->block; }
static inline float *slide_row_m(const slide_layer *L, size_t r) { return (float *)L->params + r * L->block + L->stride; }
static inline float *slide_row_v(const slide_layer *L, size_t r) { return (float *)L->params + r * L->block + 2 * L->stride; }
/* bf16 pointers into row r of a bf16 layer. */
static inline slide_bf16 *slide_row_wh(const slide_layer *L, size_t r) { return (slide_bf16 *)L->params + r * L->block; }
static inline slide_bf16 *slide_row_mh(const slide_layer *L, size_t r)
{
    return (slide_bf16 *)L->params + r * L->block + L->stride;
}
static inline slide_bf16 *slide_row_vh(const slide_layer *L, size_t r)
{
    return (slide_bf16 *)L->params + r * L->block + 2 * L->stride;
}

/*
 * Software prefetch of `bytes` from p, one request per 64-byte line. Rows touched by a batch are scattered
 * over a layer far larger than the caches and follow no stride the hardware prefetcher can learn, so the
 * hot loops ask for the next rows while they work on the current one. `write` = the lines will be stored.
 */
static inline void slide_prefetch(const void *p, size_t bytes, int write)
{
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += SLIDE_ALIGN) {
        if (write)
            __builtin_prefetch(c + o, 1, 3);
        else
            __builtin_prefetch(c + o, 0, 3);
    }
}

/* Prefetches row r's whole block (weights and, with Adam, both moments), to be updated. */
static inline void slide_prefetch_block(const slide_layer *L, size_t r)
{
    slide_prefetch((const char *)L->params + r * L->block * slide_elem_bytes(L->storage),
                   L->block * slide_elem_bytes(L->storage), 1);
}

/* Weight i of row r as a float, for either storage. */
static inline float slide_row_get(const slide_layer *L, size_t r, size_t i)
{
    return slide_is_bf16(L) ? slide_bf16_to_f32(slide_row_wh(L, r)[i]) : slide_row_w(L, r)[i];
}

/* dot(row r, x[0..n)) for either storage. */
static inline float slide_row_dot(const slide_kernels *K, const slide_layer *L, size_t r, const float *x, size_t n)
{
    return slide_is_bf16(L) ? K->dot_bf16(x, slide_row_wh(L, r), n) : K->dot(slide_row_w(L, r), x, n);
}

/* Sparse input (idx, val) against row r, for either storage. */
static inline float slide_row_dot_sparse(const slide_kernels *K, const slide_layer *L, size_t r, const int32_t *idx,
                                         const float *val, size_t nnz)
{
    return slide_is_bf16(L) ? K->dot_sparse_bf16(slide_row_wh(L, r), idx, val, nnz)
                            : K->dot_sparse(slide_row_w(L, r), idx, val, nnz);
}

/* Row r's weights widened into out[0..row_len) (a plain copy for float layers). */
static inline void slide_row_to_f32(const slide_kernels *K, const slide_layer *L, size_t r, float *out)
{
    if (slide_is_bf16(L))
        K->bf16_to_f32(out, slide_row_wh(L, r), L->row_len);
    else
        memcpy(out, slide_row_w(L, r), sizeof(float) * L->row_len);
}

/* Row r's weights as floats: the row itself for a float layer, else widened into scratch[0..row_len). */
static inline const float *slide_row_f32_view(const slide_kernels *K, const slide_layer *L, size_t r, float *scratch)
{
    if (!slide_is_bf16(L))
        return slide_row_w(L, r);
    K->bf16_to_f32(scratch, slide_row_wh(L, r), L->row_len);
    return scratch;
}

/* Sets row r's weights from in[0..row_len) (rounded to nearest even for a bf16 layer). */
static inline void slide_row_from_f32(const slide_kernels *K, const slide_layer *L, size_t r, const float *in)
{
    if (slide_is_bf16(L))
        K->f32_to_bf16(slide_row_wh(L, r), in, L->row_len);
    else
        memcpy(slide_row_w(L, r), in, sizeof(float) * L->row_len);
}

/*
 * Up to SLIDE_ROWS_BATCH row pointers of one layer for the *_many kernels, typed by the layer's storage:
 * only the member matching L->storage is ever written or read. SLIDE_ROWS_BATCH is also the number of
 * rows per dot_many / axpy_many call everywhere: the pointer and coefficient arrays live on the stack.
 */
#define SLIDE_ROWS_BATCH 64
typedef union slide_rows {
    const float *f[SLIDE_ROWS_BATCH];
    const slide_bf16 *h[SLIDE_ROWS_BATCH];
} slide_rows;

static inline void slide_rows_set(slide_rows *R, const slide_layer *L, uint32_t k, size_t r)
{
    if (slide_is_bf16(L))
        R->h[k] = slide_row_wh(L, r);
    else
        R->f[k] = slide_row_w(L, r);
}

/* out[k] = dot(row k of R, x) for k < m. */
static inline void slide_rows_dot_many(const slide_kernels *K, const slide_layer *L, const slide_rows *R, size_t m,
                                       const float *x, size_t n, float *out)
{
    if (slide_is_bf16(L))
        K->dot_many_bf16(R->h, m, x, n, out);
    else
        K->dot_many(R->f, m, x, n, out);
}

/* y += sum_k c[k] * (row k of R), k < m. */
static inline void slide_rows_axpy_many(const slide_kernels *K, const slide_layer *L, float *y, const float *c,
                                        const slide_rows *R, size_t m, size_t n)
{
    if (slide_is_bf16(L))
        K->axpy_many_bf16(y, c, R->h, m, n);
    else
        K->axpy_many(y, c, R->f, m, n);
}

/* outs[j][k] = dot(row k of R, xs[j]) for j < nx, k < m: several inputs against the same rows. */
static inline void slide_rows_dot_many_multi(const slide_kernels *K, const slide_layer *L, const slide_rows *R, size_t m,
                                             const float *const *xs, float *const *outs, size_t nx, size_t n)
{
    if (slide_is_bf16(L)) {
        for (size_t j = 0; j < nx; j++)
            K->dot_many_bf16(R->h, m, xs[j], n, outs[j]);
    } else {
        K->dot_many_multi(R->f, m, xs, outs, nx, n);
    }
}

/* ys[j] += sum_k cs[j][k] * (row k of R) for j < ny, k < m: several outputs from the same rows. */
static inline void slide_rows_axpy_many_multi(const slide_kernels *K, const slide_layer *L, float *const *ys,
                                              const float *const *cs, size_t ny, const slide_rows *R, size_t m,
                                              size_t n)
{
    if (slide_is_bf16(L)) {
        for (size_t j = 0; j < ny; j++)
            K->axpy_many_bf16(ys[j], cs[j], R->h, m, n);
    } else {
        K->axpy_many_multi(ys, cs, ny, R->f, m, n);
    }
}

/* The optimizer step on row r with gradient g[0..row_len): Adam (moments in the same block) or SGD. */
static inline void slide_row_update(const slide_kernels *K, const slide_layer *L, size_t r, const float *g, int adam,
                                    float lr_t, float b1, float b2, float eps_t, float decay)
{
    if (slide_is_bf16(L)) {
        if (adam)
            K->adam_bf16(slide_row_wh(L, r), slide_row_mh(L, r), slide_row_vh(L, r), g, L->row_len, lr_t, b1, b2, eps_t,
                         decay);
        else
            K->sgd_bf16(slide_row_wh(L, r), g, L->row_len, lr_t, decay);
    } else if (adam) {
        K->adam(slide_row_w(L, r), slide_row_m(L, r), slide_row_v(L, r), g, L->row_len, lr_t, b1, b2, eps_t, decay);
    } else {
        K->sgd(slide_row_w(L, r), g, L->row_len, lr_t, decay);
    }
}

#endif
