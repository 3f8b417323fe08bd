/*
 * An example third-party hash backend, "example-srp": sign random projections with dense +-1
 * (Rademacher) directions, written only against <slide/hash_plugin.h> and built as a shared module that
 * does not link libslide. tests/c/test_hash.c and tests/test_plugins.py load it.
 *
 * Table t's code is the K sign bits of projections t*K .. t*K+K-1. The dense path sums dimensions in
 * order and the sparse path in the caller's order, so the two agree whenever the sums are exact in
 * float (small integers, dyadic values) and otherwise differ only for projections within rounding of 0.
 */
#include <stdlib.h>

#include <slide/hash_plugin.h>

typedef struct srp_state {
    uint32_t dim, k, tables, n_proj;
    float *proj; /* [n_proj][dim], entries +1 or -1 */
} srp_state;

/* splitmix64: a small seeded generator, enough for random signs. */
static uint64_t srp_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int srp_can_run(void) { return 1; }

static void srp_destroy(void *state)
{
    srp_state *s = state;
    if (s)
        free(s->proj);
    free(s);
}

static int srp_create(const slide_hash_params *p, void **out)
{
    if (p->k == 0 || p->k > 32 || p->tables == 0 || p->input_dim == 0 ||
        (uint64_t)p->k * p->tables * p->input_dim > ((uint64_t)1 << 28))
        return -1; /* SLIDE_E_INVALID; a plugin has no access to libslide's error message */
    srp_state *s = calloc(1, sizeof *s);
    if (!s)
        return -2; /* SLIDE_E_NOMEM */
    s->dim = p->input_dim;
    s->k = p->k;
    s->tables = p->tables;
    s->n_proj = p->k * p->tables;
    s->proj = malloc(sizeof(float) * (size_t)s->n_proj * s->dim);
    if (!s->proj) {
        free(s);
        return -2;
    }
    uint64_t rng = p->seed ^ 0x5350u;
    uint64_t bits = 0;
    for (size_t i = 0; i < (size_t)s->n_proj * s->dim; i++) {
        if (i % 64 == 0)
            bits = srp_next(&rng);
        s->proj[i] = (bits >> (i % 64)) & 1u ? 1.0f : -1.0f;
    }
    *out = s;
    return 0;
}

static uint32_t srp_code_bits(const void *state) { return ((const srp_state *)state)->k; }

static size_t srp_scratch_bytes(const void *state) { return sizeof(float) * ((const srp_state *)state)->n_proj; }

static size_t srp_memory_bytes(const void *state)
{
    const srp_state *s = state;
    return sizeof *s + sizeof(float) * (size_t)s->n_proj * s->dim;
}

static void srp_pack(const srp_state *s, const float *acc, uint32_t *codes)
{
    for (uint32_t t = 0; t < s->tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->k; j++)
            code |= (uint32_t)(acc[t * s->k + j] > 0.0f) << j;
        codes[t] = code;
    }
}

static void srp_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const srp_state *s = state;
    float *acc = scratch;
    for (uint32_t h = 0; h < s->n_proj; h++) {
        const float *r = s->proj + (size_t)h * s->dim;
        float sum = 0.0f;
        for (uint32_t d = 0; d < s->dim; d++)
            sum += r[d] * x[d];
        acc[h] = sum;
    }
    srp_pack(s, acc, codes);
}

static void srp_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                            uint32_t *codes, void *scratch)
{
    const srp_state *s = state;
    float *acc = scratch;
    for (uint32_t h = 0; h < s->n_proj; h++) {
        const float *r = s->proj + (size_t)h * s->dim;
        float sum = 0.0f;
        for (uint32_t i = 0; i < nnz; i++)
            sum += r[idx[i]] * val[i];
        acc[h] = sum;
    }
    srp_pack(s, acc, codes);
}

static const slide_hash_family example_srp = {
    .api_version = SLIDE_HASH_API_VERSION,
    .name = "example-srp",
    .can_run = srp_can_run,
    .create = srp_create,
    .destroy = srp_destroy,
    .code_bits = srp_code_bits,
    .scratch_bytes = srp_scratch_bytes,
    .memory_bytes = srp_memory_bytes,
    .hash_dense = srp_hash_dense,
    .hash_sparse = srp_hash_sparse,
};

SLIDE_HASH_PLUGIN_EXPORT const slide_hash_family *slide_hash_plugin_entry(void);
SLIDE_HASH_PLUGIN_EXPORT const slide_hash_family *slide_hash_plugin_entry(void) { return &example_srp; }
