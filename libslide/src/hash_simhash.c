/*
 * SimHash / signed random projections (Charikar 2002) with sparse {-1, 0, +1} projections: each of the
 * H = K * L projections includes each input dimension with probability 2/3 and a random sign
 * (Achlioptas-style). Sub-hash h is the sign bit of the projection; table t's code is the K bits
 * t*K .. t*K+K-1.
 *
 * Storage is dimension-major (for each dimension, the projections containing it, as uint16 with the
 * sign in the top bit), which serves sparse queries directly. When H * dim is small, a dense float
 * copy of the projection matrix is also kept so dense vectors hash with SIMD dot products.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "kernels.h"
#include "rng.h"
#include "slide/slide.h"

#define SIMHASH_MAX_HASHES 32767u
#define SIMHASH_DENSE_LIMIT (1u << 22) /* floats in the dense projection copy */

typedef struct simhash_state {
    uint32_t dim, k, tables, n_hashes;
    uint32_t *dim_ptr;   /* [dim + 1] */
    uint16_t *dim_proj;  /* projection id | 0x8000 when the sign is negative */
    float *dense;        /* [n_hashes][dim] or NULL */
} simhash_state;

static int simhash_can_run(void) { return 1; }

static void simhash_destroy(void *state)
{
    simhash_state *s = state;
    if (!s)
        return;
    free(s->dim_ptr);
    free(s->dim_proj);
    free(s->dense);
    free(s);
}

static int simhash_create(const slide_hash_params *p, void **out)
{
    if (p->k == 0 || p->k > 32 || p->tables == 0 || p->input_dim == 0)
        return slide_fail(SLIDE_E_INVALID, "simhash: need 1 <= k <= 32, tables >= 1, input_dim >= 1");
    uint64_t nh = (uint64_t)p->k * p->tables;
    if (nh > SIMHASH_MAX_HASHES)
        return slide_fail(SLIDE_E_INVALID, "simhash: k * tables = %llu exceeds %u", (unsigned long long)nh,
                          SIMHASH_MAX_HASHES);
    simhash_state *s = calloc(1, sizeof *s);
    if (!s)
        return slide_fail(SLIDE_E_NOMEM, "simhash: out of memory");
    s->dim = p->input_dim;
    s->k = p->k;
    s->tables = p->tables;
    s->n_hashes = (uint32_t)nh;
    s->dim_ptr = calloc((size_t)s->dim + 1, sizeof(uint32_t));
    /* Expected entries: dim * H * 2 / 3; reserve with slack and grow if a pathological draw needs it. */
    size_t cap = (size_t)s->dim * s->n_hashes / 3 * 2 + 1024, used = 0;
    s->dim_proj = malloc(cap * sizeof(uint16_t));
    if (!s->dim_ptr || !s->dim_proj) {
        simhash_destroy(s);
        return slide_fail(SLIDE_E_NOMEM, "simhash: out of memory");
    }
    slide_rng rng = {slide_seed3(p->seed, 0x51A4, 0, 0)};
    for (uint32_t d = 0; d < s->dim; d++) {
        for (uint32_t h = 0; h < s->n_hashes; h++) {
            uint32_t r = slide_rng_below(&rng, 6); /* 0,1: +1; 2,3: -1; 4,5: absent */
            if (r >= 4)
                continue;
            if (used == cap) {
                size_t ncap = cap + cap / 2;
                uint16_t *np = realloc(s->dim_proj, ncap * sizeof(uint16_t));
                if (!np) {
                    simhash_destroy(s);
                    return slide_fail(SLIDE_E_NOMEM, "simhash: out of memory");
                }
                s->dim_proj = np;
                cap = ncap;
            }
            s->dim_proj[used++] = (uint16_t)(h | (r >= 2 ? 0x8000u : 0u));
        }
        s->dim_ptr[d + 1] = (uint32_t)used;
    }
    if ((uint64_t)s->n_hashes * s->dim <= SIMHASH_DENSE_LIMIT) {
        s->dense = calloc((size_t)s->n_hashes * s->dim, sizeof(float));
        if (!s->dense) {
            simhash_destroy(s);
            return slide_fail(SLIDE_E_NOMEM, "simhash: out of memory");
        }
        for (uint32_t d = 0; d < s->dim; d++)
            for (uint32_t e = s->dim_ptr[d]; e < s->dim_ptr[d + 1]; e++) {
                uint16_t v = s->dim_proj[e];
                s->dense[(size_t)(v & 0x7FFFu) * s->dim + d] = (v & 0x8000u) ? -1.0f : 1.0f;
            }
    }
    *out = s;
    return SLIDE_OK;
}

static uint32_t simhash_code_bits(const void *state) { return ((const simhash_state *)state)->k; }

static size_t simhash_scratch_bytes(const void *state)
{
    return (size_t)((const simhash_state *)state)->n_hashes * sizeof(float);
}

static size_t simhash_memory_bytes(const void *state)
{
    const simhash_state *s = state;
    size_t b = sizeof *s + sizeof(uint32_t) * ((size_t)s->dim + 1) + sizeof(uint16_t) * s->dim_ptr[s->dim];
    if (s->dense)
        b += sizeof(float) * (size_t)s->n_hashes * s->dim;
    return b;
}

static void simhash_pack(const simhash_state *s, const float *acc, uint32_t *codes)
{
    for (uint32_t t = 0; t < s->tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->k; j++)
            code |= (uint32_t)(acc[t * s->k + j] > 0.0f) << j;
        codes[t] = code;
    }
}

static void simhash_accumulate(const simhash_state *s, uint32_t d, float v, float *acc)
{
    for (uint32_t e = s->dim_ptr[d]; e < s->dim_ptr[d + 1]; e++) {
        uint16_t p = s->dim_proj[e];
        acc[p & 0x7FFFu] += (p & 0x8000u) ? -v : v;
    }
}

static void simhash_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const simhash_state *s = state;
    float *acc = scratch;
    if (s->dense) {
        slide_kernels_get()->dot_rows(s->dense, s->dim, s->n_hashes, x, s->dim, acc);
    } else {
        memset(acc, 0, sizeof(float) * s->n_hashes);
        for (uint32_t d = 0; d < s->dim; d++)
            if (x[d] != 0.0f)
                simhash_accumulate(s, d, x[d], acc);
    }
    simhash_pack(s, acc, codes);
}

static void simhash_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                                uint32_t *codes, void *scratch)
{
    const simhash_state *s = state;
    float *acc = scratch;
    memset(acc, 0, sizeof(float) * s->n_hashes);
    for (uint32_t i = 0; i < nnz; i++)
        simhash_accumulate(s, (uint32_t)idx[i], val[i], acc);
    simhash_pack(s, acc, codes);
}

const slide_hash_family slide_hash_simhash = {
    .api_version = SLIDE_HASH_API_VERSION,
    .name = "simhash",
    .can_run = simhash_can_run,
    .create = simhash_create,
    .destroy = simhash_destroy,
    .code_bits = simhash_code_bits,
    .scratch_bytes = simhash_scratch_bytes,
    .memory_bytes = simhash_memory_bytes,
    .hash_dense = simhash_hash_dense,
    .hash_sparse = simhash_hash_sparse,
};
