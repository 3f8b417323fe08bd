/*
 * Asymmetric SimHash for maximum inner product search ("simple LSH"; Neyshabur & Srebro, "On Symmetric
 * and Asymmetric LSHs for Inner Product Search", ICML 2015).
 *
 * A softmax layer wants the neurons with the largest inner product w.x, not the smallest angle. With M
 * the largest weight-row norm, items and queries are mapped into input_dim + 1 dimensions:
 *     item   P(w) = [w / M, sqrt(1 - |w / M|^2)]      (unit norm)
 *     query  Q(x) = [x / |x|, 0]                      (unit norm)
 * so P(w).Q(x) = w.x / (M |x|): the angle between P(w) and Q(x) orders items by inner product, and
 * signed random projections (SimHash) of the transformed vectors make an LSH for it.
 *
 * Projections are sparse {-1, 0, +1} over the first input_dim coordinates, as in hash_simhash.c
 * (hash_sign_projections.h). The extra coordinate, the only one carrying an item's norm, is in every
 * projection: extra[h] = +-sqrt(2/3), the variance of the sparse entries, so each projection is
 * distributed over all input_dim + 1 coordinates alike. (A sparse entry there leaves a third of the bits
 * blind to norms; retrieving the top inner products among 2000 rows of varied norms, that lost about 40%
 * of the gain over plain SimHash.)
 *
 * Items (hash_item): sign(proj_h . w / M + extra[h] * sqrt(1 - |w|^2 / M^2)). M comes from
 * prepare_items (only the first input_dim floats of each row count). Before any prepare_items, M is each
 * row's own norm, which reduces to plain SimHash.
 * Queries (hash_dense / hash_sparse): scaling by 1/|x| and the zero extra coordinate do not change any
 * sign, so the code is sign(proj_h . x). To make dense and sparse queries agree bit for bit, every
 * value is first scaled by a power of two chosen from the query's largest |value| and truncated to a
 * 64-bit integer; integer sums do not depend on order. The scale leaves 62 - ceil(log2(input_dim + 1))
 * bits for the largest value, so the sum cannot overflow, and a sign can differ from the exact one only
 * when |proj_h . x| is below about input_dim * max|x| * 2^-40.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "hash_sign_projections.h"
#include "kernels.h"
#include "rng.h"
#include "slide/slide.h"

typedef struct mips_state {
    uint32_t k, tables;
    int fixed_bits;      /* |scaled value| < 2^fixed_bits; fixed_bits + ceil(log2(dim + 1)) <= 62 */
    float inv_max_norm;  /* 1 / M; 0 until prepare_items sees a non-zero row */
    slide_sign_projections proj;
    float *extra;        /* [proj.count]: coefficient of the extra coordinate, +-sqrt(2/3) */
} mips_state;

static int mips_can_run(void) { return 1; }

static void mips_destroy(void *state)
{
    mips_state *s = state;
    if (!s)
        return;
    slide_sign_projections_free(&s->proj);
    free(s->extra);
    free(s);
}

static int mips_create(const slide_hash_params *p, void **out)
{
    int rc = slide_sign_projections_check(p, "simhash-mips");
    if (rc)
        return rc;
    uint32_t n_hashes = p->k * p->tables;
    if ((uint64_t)p->input_dim * n_hashes > ((uint64_t)3 << 30))
        return slide_fail(SLIDE_E_INVALID, "simhash-mips: input_dim * k * tables is too large");
    mips_state *s = calloc(1, sizeof *s);
    if (!s)
        return slide_fail(SLIDE_E_NOMEM, "simhash-mips: out of memory");
    s->k = p->k;
    s->tables = p->tables;
    int dim_bits = 0;
    while (((uint64_t)1 << dim_bits) < (uint64_t)p->input_dim + 1)
        dim_bits++;
    s->fixed_bits = 62 - dim_bits;
    s->extra = malloc(sizeof(float) * n_hashes);
    if (!s->extra) {
        mips_destroy(s);
        return slide_fail(SLIDE_E_NOMEM, "simhash-mips: out of memory");
    }
    slide_rng rng = {slide_seed3(p->seed, 0x3195, 0, 0)};
    rc = slide_sign_projections_init(&s->proj, p->input_dim, n_hashes, &rng, "simhash-mips");
    if (rc) {
        mips_destroy(s);
        return rc;
    }
    /* The signs follow the projections in one stream: drawing them first would change every code. */
    for (uint32_t h = 0; h < n_hashes; h++)
        s->extra[h] = (slide_rng_next(&rng) & 1u) ? -0.81649658f : 0.81649658f;
    *out = s;
    return SLIDE_OK;
}

static uint32_t mips_code_bits(const void *state) { return ((const mips_state *)state)->k; }

/* Scratch: one accumulator per projection, int64 for queries, float for items. */
static size_t mips_scratch_bytes(const void *state)
{
    return (size_t)((const mips_state *)state)->proj.count * sizeof(int64_t);
}

static size_t mips_memory_bytes(const void *state)
{
    const mips_state *s = state;
    return sizeof *s + slide_sign_projections_bytes(&s->proj) + sizeof(float) * s->proj.count;
}

static void mips_prepare_items(void *state, const float *rows, size_t n, size_t stride)
{
    mips_state *s = state;
    const slide_kernels *K = slide_kernels_get();
    float max2 = 0.0f;
    for (size_t r = 0; r < n; r++) {
        const float *w = rows + r * stride;
        float n2 = K->dot(w, w, s->proj.dim);
        if (n2 > max2)
            max2 = n2;
    }
    s->inv_max_norm = max2 > 0.0f && isfinite(max2) ? 1.0f / sqrtf(max2) : 0.0f;
}

float slide_hash_mips_item_scale(const void *state) { return ((const mips_state *)state)->inv_max_norm; }

void slide_hash_mips_set_item_scale(void *state, float inv_max_norm)
{
    ((mips_state *)state)->inv_max_norm = inv_max_norm;
}

/* An item's codes from its projections acc[h * lanes] (lanes: 1 alone, the block size in a block) and its row w. */
static void mips_pack_item(const mips_state *s, const float *acc, size_t lanes, const float *w, uint32_t *codes)
{
    const slide_kernels *K = slide_kernels_get();
    float n2 = K->dot(w, w, s->proj.dim);
    float inv = s->inv_max_norm;
    if (inv == 0.0f && n2 > 0.0f)
        inv = 1.0f / sqrtf(n2);
    /* Rows may exceed M by rounding (or if weights changed since prepare_items): clamp the tail at 0. */
    float t2 = 1.0f - n2 * inv * inv;
    float tail = t2 > 0.0f ? sqrtf(t2) : 0.0f;
    for (uint32_t t = 0; t < s->tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->k; j++) {
            uint32_t h = t * s->k + j;
            code |= (uint32_t)(acc[h * lanes] * inv + s->extra[h] * tail > 0.0f) << j;
        }
        codes[t] = code;
    }
}

static void mips_hash_item(const void *state, const float *w, uint32_t *codes, void *scratch)
{
    const mips_state *s = state;
    float *acc = scratch;
    slide_sign_projections_apply(&s->proj, w, acc);
    mips_pack_item(s, acc, 1, w, codes);
}

_Static_assert(SLIDE_HASH_ITEMS_BLOCK == SLIDE_SIGN_PROJECTIONS_BLOCK, "a block of items is a block of projections");

static size_t mips_items_work(const void *state)
{
    return slide_sign_projections_block_work(&((const mips_state *)state)->proj);
}

static void mips_hash_items(const void *state, const float *const *xs, uint32_t m, uint32_t *codes, float *work)
{
    const mips_state *s = state;
    const float *acc = slide_sign_projections_apply_block(&s->proj, xs, m, work);
    for (uint32_t r = 0; r < m; r++)
        mips_pack_item(s, acc + r, SLIDE_SIGN_PROJECTIONS_BLOCK, xs[r], codes + (size_t)r * s->tables);
}

const slide_hash_items_block slide_hash_simhash_mips_items = {.work_floats = mips_items_work, .hash = mips_hash_items};

/* Running max of |v|; a NaN sticks, so the query scale below sees it and no NaN reaches an integer. */
static inline float mips_max_abs(float m, float v)
{
    float a = fabsf(v);
    return (a <= m || m != m) ? m : a;
}

/* Power-of-two factor bringing the largest |value| below 2^fixed_bits, or 0 when no value is usable. */
static double mips_query_scale(const mips_state *s, float maxabs)
{
    if (!(maxabs > 0.0f) || !isfinite(maxabs))
        return 0.0;
    int e;
    frexpf(maxabs, &e); /* maxabs < 2^e */
    return ldexp(1.0, s->fixed_bits - e);
}

static void mips_pack_query(const mips_state *s, const int64_t *acc, uint32_t *codes)
{
    for (uint32_t t = 0; t < s->tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->k; j++)
            code |= (uint32_t)(acc[t * s->k + j] > 0) << j;
        codes[t] = code;
    }
}

static void mips_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const mips_state *s = state;
    int64_t *acc = scratch;
    memset(acc, 0, sizeof(int64_t) * s->proj.count);
    float maxabs = 0.0f;
    for (uint32_t d = 0; d < s->proj.dim; d++)
        maxabs = mips_max_abs(maxabs, x[d]);
    double scale = mips_query_scale(s, maxabs);
    for (uint32_t d = 0; d < s->proj.dim && scale != 0.0; d++)
        if (x[d] != 0.0f)
            slide_sign_projections_add_i64(&s->proj, d, (int64_t)((double)x[d] * scale), acc);
    mips_pack_query(s, acc, codes);
}

static void mips_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                             uint32_t *codes, void *scratch)
{
    const mips_state *s = state;
    int64_t *acc = scratch;
    memset(acc, 0, sizeof(int64_t) * s->proj.count);
    float maxabs = 0.0f;
    for (uint32_t i = 0; i < nnz; i++)
        maxabs = mips_max_abs(maxabs, val[i]);
    double scale = mips_query_scale(s, maxabs);
    for (uint32_t i = 0; i < nnz && scale != 0.0; i++)
        if (val[i] != 0.0f)
            slide_sign_projections_add_i64(&s->proj, (uint32_t)idx[i], (int64_t)((double)val[i] * scale), acc);
    mips_pack_query(s, acc, codes);
}

const slide_hash_family slide_hash_simhash_mips = {
    .api_version = SLIDE_HASH_API_VERSION,
    .name = "simhash-mips",
    .can_run = mips_can_run,
    .create = mips_create,
    .destroy = mips_destroy,
    .code_bits = mips_code_bits,
    .scratch_bytes = mips_scratch_bytes,
    .memory_bytes = mips_memory_bytes,
    .hash_dense = mips_hash_dense,
    .hash_sparse = mips_hash_sparse,
    .hash_item = mips_hash_item,
    .prepare_items = mips_prepare_items,
};
