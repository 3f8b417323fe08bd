/*
 * SimHash / signed random projections (Charikar 2002) with sparse {-1, 0, +1} projections: each of the
 * H = K * L projections includes each input dimension with probability 2/3 and a random sign
 * (Achlioptas-style). Sub-hash h is the sign bit of the projection; table t's code is the K bits
 * t*K .. t*K+K-1.
 *
 * The projections and their storage: hash_sign_projections.h.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "hash_sign_projections.h"
#include "rng.h"
#include "slide/slide.h"

typedef struct simhash_state {
    uint32_t k, tables;
    slide_sign_projections proj;
} simhash_state;

static int simhash_can_run(void) { return 1; }

static void simhash_destroy(void *state)
{
    simhash_state *s = state;
    if (!s)
        return;
    slide_sign_projections_free(&s->proj);
    free(s);
}

static int simhash_create(const slide_hash_params *p, void **out)
{
    int rc = slide_sign_projections_check(p, "simhash");
    if (rc)
        return rc;
    simhash_state *s = calloc(1, sizeof *s);
    if (!s)
        return slide_fail(SLIDE_E_NOMEM, "simhash: out of memory");
    s->k = p->k;
    s->tables = p->tables;
    slide_rng rng = {slide_seed3(p->seed, 0x51A4, 0, 0)};
    rc = slide_sign_projections_init(&s->proj, p->input_dim, p->k * p->tables, &rng, "simhash");
    if (rc) {
        simhash_destroy(s);
        return rc;
    }
    *out = s;
    return SLIDE_OK;
}

static uint32_t simhash_code_bits(const void *state) { return ((const simhash_state *)state)->k; }

static size_t simhash_scratch_bytes(const void *state)
{
    return (size_t)((const simhash_state *)state)->proj.count * sizeof(float);
}

static size_t simhash_memory_bytes(const void *state)
{
    const simhash_state *s = state;
    return sizeof *s + slide_sign_projections_bytes(&s->proj);
}

/* Table codes from the projections acc[h * lanes] (lanes: 1 for one vector, the block size for a block lane). */
static void simhash_pack(const simhash_state *s, const float *acc, size_t lanes, uint32_t *codes)
{
    for (uint32_t t = 0; t < s->tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->k; j++)
            code |= (uint32_t)(acc[(size_t)(t * s->k + j) * lanes] > 0.0f) << j;
        codes[t] = code;
    }
}

static void simhash_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const simhash_state *s = state;
    float *acc = scratch;
    slide_sign_projections_apply(&s->proj, x, acc);
    simhash_pack(s, acc, 1, codes);
}

static void simhash_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                                uint32_t *codes, void *scratch)
{
    const simhash_state *s = state;
    float *acc = scratch;
    memset(acc, 0, sizeof(float) * s->proj.count);
    for (uint32_t i = 0; i < nnz; i++)
        slide_sign_projections_add(&s->proj, (uint32_t)idx[i], val[i], acc);
    simhash_pack(s, acc, 1, codes);
}

_Static_assert(SLIDE_HASH_ITEMS_BLOCK == SLIDE_SIGN_PROJECTIONS_BLOCK, "a block of items is a block of projections");

static size_t simhash_items_work(const void *state)
{
    return slide_sign_projections_block_work(&((const simhash_state *)state)->proj);
}

/* Items hash as dense queries (hash_dense): the block gives each row the same projections. */
static void simhash_hash_items(const void *state, const float *const *xs, uint32_t m, uint32_t *codes, float *work)
{
    const simhash_state *s = state;
    const float *acc = slide_sign_projections_apply_block(&s->proj, xs, m, work);
    for (uint32_t r = 0; r < m; r++)
        simhash_pack(s, acc + r, SLIDE_SIGN_PROJECTIONS_BLOCK, codes + (size_t)r * s->tables);
}

const slide_hash_items_block slide_hash_simhash_items = {.work_floats = simhash_items_work, .hash = simhash_hash_items};

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
