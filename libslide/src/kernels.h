/*
 * Leaf numeric kernels: one implementation per instruction set (kernels_scalar.c, kernels_avx2.c,
 * kernels_avx512.c), chosen once at start-up by cpu.c. Kernels never allocate, never start threads and
 * never keep state; they are called from many OpenMP threads at once on disjoint outputs.
 *
 * Alignment: callers pass weight rows that start on 64-byte boundaries, but kernels must accept any
 * alignment (they use unaligned loads) and any length, including 0 and odd tails.
 */
#ifndef SLIDE_KERNELS_H
#define SLIDE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* A bfloat16 value: the high 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits). */
typedef uint16_t slide_bf16;

typedef enum slide_isa {
    SLIDE_ISA_SCALAR = 0,
    SLIDE_ISA_AVX2 = 1,   /* AVX2 + FMA */
    SLIDE_ISA_AVX512 = 2  /* AVX-512F */
} slide_isa;

typedef struct slide_kernels {
    /* sum_i a[i] * b[i] */
    float (*dot)(const float *a, const float *b, size_t n);
    /* sum_i w[idx[i]] * val[i]   (sparse vector against a dense row) */
    float (*dot_sparse)(const float *w, const int32_t *idx, const float *val, size_t nnz);
    /* y[i] += a * x[i] */
    void (*axpy)(float *y, float a, const float *x, size_t n);
    /* y[idx[i]] += a * val[i]; idx has no duplicates */
    void (*axpy_sparse)(float *y, float a, const int32_t *idx, const float *val, size_t nnz);
    /* y[i] += a * w[idx[i]]   (a dense row gathered at a sparse input's positions: sparse back-propagation) */
    void (*axpy_gather)(float *y, float a, const float *w, const int32_t *idx, size_t n);
    /*
     * Adam on one row, gradient g: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
     * w = w * decay - lr_t * m / (sqrt(v) + eps_t). The caller folds bias correction into lr_t and eps_t;
     * decay is 1 - lr * weight_decay (exactly 1 without weight decay, which leaves w * decay == w).
     */
    void (*adam)(float *w, float *m, float *v, const float *g, size_t n, float lr_t, float b1, float b2,
                 float eps_t, float decay);
    /*
     * The k skipped Adam steps of a row in closed form (optimizer.c, catch_up_row): w = w * decay - move * m /
     * (sqrt(v) + eps); then m *= mk, v *= vk. Multiplications and the subtraction are not fused, so every
     * version gives the scalar loop's bits.
     */
    void (*adam_catch_up)(float *w, float *m, float *v, size_t n, float decay, float move, float eps, float mk,
                          float vk);
    /* w[i] = w[i] * decay - lr * g[i] */
    void (*sgd)(float *w, const float *g, size_t n, float lr, float decay);
    /*
     * out[j] = dot(rows + j*stride, x, n) for j in [0, m): one input against m rows. Rows are computed in
     * groups of 4 from the first (the last m % 4 alone), so a call on rows [4a, m) of a larger call gives
     * those rows the same bits (block item hashing relies on it).
     */
    void (*dot_rows)(const float *rows, size_t stride, size_t m, const float *x, size_t n, float *out);
    /* out[k] = dot(rows[k], x, n) for k in [0, m): one input against m rows anywhere in memory */
    void (*dot_many)(const float *const *rows, size_t m, const float *x, size_t n, float *out);
    /*
     * y[i] += sum_k c[k] * xs[k][i] for k in [0, m), added in k order for every i (so the result equals m
     * successive axpy calls up to FMA contraction); y must not overlap any xs[k].
     */
    void (*axpy_many)(float *y, const float *c, const float *const *xs, size_t m, size_t n);
    /*
     * Several inputs against the same rows (batch-shared layers): outs[j][k] = dot(rows[k], xs[j], n) for
     * j < nx, k < m. Register-blocked versions reuse every loaded row for several inputs.
     */
    void (*dot_many_multi)(const float *const *rows, size_t m, const float *const *xs, float *const *outs,
                           size_t nx, size_t n);
    /*
     * Several outputs from the same sources: ys[j][i] += sum_k cs[j][k] * xs[k][i] for j < ny, added in k
     * order for every (j, i), i.e. axpy_many(ys[j], cs[j], xs, m, n) for each j; no ys[j] overlaps another
     * or any xs[k].
     */
    void (*axpy_many_multi)(float *const *ys, const float *const *cs, size_t ny, const float *const *xs, size_t m,
                            size_t n);
    /*
     * Online log-sum-exp, one running (max, sum) pair per lane: for i < n, with zi = z[i] + b,
     * if zi > mx[i]: sum[i] = sum[i] * exp(mx[i] - zi) + 1, mx[i] = zi; else sum[i] += exp(zi - mx[i]).
     * Invariant: sum[i] * exp(mx[i]) = sum of exp over every z seen in lane i. mx may start at -FLT_MAX
     * with sum 0. exp may be a polynomial approximation (relative error < 1e-6).
     */
    void (*lse_update)(float *mx, float *sum, const float *z, float b, size_t n);
    /*
     * The exponentials of softmax: z[i] = exp(z[i] - shift) for i < n; returns the sum of the new z[0..n),
     * added in an order that depends on n alone. The caller passes shift >= every z[i] (their max), so no
     * argument is above 0; arguments below -87 give 0 and NaN gives NaN. exp may be a polynomial
     * approximation (relative error < 1e-6).
     */
    float (*exp_sum)(float *z, size_t n, float shift);
    /*
     * Winner-take-all over bins (the DWTA hashing inner loop). Bins come in groups of 8, stored
     * position-major so that one vector load reads position b of 8 bins: the input dimension read at
     * position b of bin 8*g + j is pos8[(g * bin_size + b) * 8 + j]. For each of the 8 * n_groups bins,
     * arg[bin] = the first position b whose value x[dim] is the bin's largest among values that are
     * non-zero and > -FLT_MAX (NaN never wins), or -1 when there is none. Every result is exact (no
     * rounding is involved), so all versions agree bit for bit.
     */
    void (*bins_argmax8)(const float *x, const uint32_t *pos8, size_t n_groups, uint32_t bin_size,
                         int32_t *arg);
    /*
     * Sparse sign projections of 16 vectors at once (the block item hashing of the SimHash backends,
     * hash_sign_projections.c). xt holds the vectors dimension-major: xt[d * 16 + r] is dimension d of
     * vector r. For d < n_dims in order, and each entry e in [ptr[d], ptr[d + 1]) in order, with p = proj[e]:
     * acc[(p & 0x7FFF) * 16 + r] += (p & 0x8000) ? -xt[d * 16 + r] : xt[d * 16 + r] for every r < 16. Each
     * lane is a plain sequence of float additions in that order (no FMA, no reassociation), so every version
     * gives the scalar loop's bits, lane by lane equal to accumulating one vector alone.
     */
    void (*sign_project16)(const uint32_t *ptr, const uint16_t *proj, size_t n_dims, const float *xt, float *acc);

    /*
     * bfloat16 variants for sampled layers stored as bf16 (SLIDE_STORAGE_BF16). A bf16 value is the high
     * 16 bits of a float32 (slide_bf16); widening is exact, so these kernels compute exactly what their
     * float versions compute on the widened rows, up to FMA contraction and summation order. Only the
     * weight side (and, in the optimizer, the moments) is bf16; inputs, outputs and gradients are float.
     * Narrowing rounds to nearest even (slide_bf16_from_f32): every version narrows the same float to the
     * same bf16 bits, so versions differ only where their float arithmetic differs.
     */
    /* out[i] = (float)in[i] (exact) */
    void (*bf16_to_f32)(float *out, const slide_bf16 *in, size_t n);
    /* out[i] = round-to-nearest-even(in[i]); NaN stays NaN (quiet), +-Inf stays Inf */
    void (*f32_to_bf16)(slide_bf16 *out, const float *in, size_t n);
    /* sum_i x[i] * w[i] */
    float (*dot_bf16)(const float *x, const slide_bf16 *w, size_t n);
    /* sum_i w[idx[i]] * val[i]   (sparse float input against a bf16 row) */
    float (*dot_sparse_bf16)(const slide_bf16 *w, const int32_t *idx, const float *val, size_t nnz);
    /* out[k] = dot_bf16(x, rows[k], n) for k in [0, m) */
    void (*dot_many_bf16)(const slide_bf16 *const *rows, size_t m, const float *x, size_t n, float *out);
    /* y[i] += sum_k c[k] * xs[k][i], added in k order for every i (as axpy_many, bf16 sources) */
    void (*axpy_many_bf16)(float *y, const float *c, const slide_bf16 *const *xs, size_t m, size_t n);
    /*
     * Adam on one bf16 row (w, m, v all bf16, g float): each element is widened, updated exactly as by
     * `adam` in float, and the new w, m, v are narrowed (round to nearest even).
     */
    void (*adam_bf16)(slide_bf16 *w, slide_bf16 *m, slide_bf16 *v, const float *g, size_t n, float lr_t,
                      float b1, float b2, float eps_t, float decay);
    /* w[i] = narrow(widen(w[i]) * decay - lr * g[i]) */
    void (*sgd_bf16)(slide_bf16 *w, const float *g, size_t n, float lr, float decay);

    /*
     * What one gathered multiply-add of dot_sparse costs in multiply-adds of dot_many_multi, rounded down
     * (measured with bench/step_time.py on the batch scoring of preact_batch.c; docs/design.md): the
     * vector tables gather far slower than they stream, the scalar table does both at about one a cycle.
     */
    unsigned gather_cost;
} slide_kernels;

/* Exact widening of one bf16 value. */
static inline float slide_bf16_to_f32(slide_bf16 h)
{
    union { uint32_t u; float f; } c = {(uint32_t)h << 16};
    return c.f;
}

/*
 * Round to nearest, ties to even, of one float: adding 0x7FFF plus the lowest kept bit carries into the
 * kept half exactly when the dropped half is above one half, or equal with an odd kept half. Finite values
 * above the largest bf16 round to Inf, as IEEE rounding does. A NaN keeps its sign and high payload and
 * gets the quiet bit, so it never becomes Inf (its dropped bits may be all that made it a NaN).
 */
static inline slide_bf16 slide_bf16_from_f32(float x)
{
    union { float f; uint32_t u; } c = {x};
    if ((c.u & 0x7FFFFFFFu) > 0x7F800000u)
        return (slide_bf16)((c.u >> 16) | 0x0040u);
    return (slide_bf16)((c.u + 0x7FFFu + ((c.u >> 16) & 1u)) >> 16);
}

/* Implementations; each fills the table for its instruction set. */
void slide_kernels_fill_scalar(slide_kernels *k);
void slide_kernels_fill_avx2(slide_kernels *k);
void slide_kernels_fill_avx512(slide_kernels *k);

/*
 * The kernel table for this CPU, chosen once (thread-safe). The environment variable SLIDE_ISA
 * ("scalar", "avx2", "avx512") caps the instruction set, for tests and comparisons.
 */
const slide_kernels *slide_kernels_get(void);
/* Instruction set behind slide_kernels_get(). */
slide_isa slide_kernels_isa(void);
/* Best instruction set this CPU and build support (ignores SLIDE_ISA). */
slide_isa slide_cpu_best_isa(void);
const char *slide_isa_name(slide_isa isa);

#endif
