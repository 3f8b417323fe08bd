/*
 * Sparse random sign projections, the random functions of the SimHash backends (hash_simhash.c,
 * hash_simhash_asym.c): `count` projections over `dim` input dimensions, each including each dimension
 * with probability 2/3 and a random sign (Achlioptas-style {-1, 0, +1} entries).
 *
 * Storage is dimension-major: for each dimension d, dim_proj[dim_ptr[d] .. dim_ptr[d + 1]) holds the
 * projections containing it, as uint16 with the sign in the top bit, which serves sparse queries
 * directly. When count * dim <= SLIDE_SIGN_PROJECTIONS_DENSE_LIMIT, `dense` also holds the matrix as
 * floats ([count][dim]) so dense vectors project with SIMD dot products.
 */
#ifndef SLIDE_HASH_SIGN_PROJECTIONS_H
#define SLIDE_HASH_SIGN_PROJECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "slide/hash_plugin.h"

#define SLIDE_SIGN_PROJECTIONS_MAX 32767u               /* a projection id fits in the 15 low bits */
#define SLIDE_SIGN_PROJECTIONS_DENSE_LIMIT (1u << 22)   /* floats in the dense copy */
#define SLIDE_SIGN_PROJECTIONS_NEGATIVE 0x8000u

typedef struct slide_sign_projections {
    uint32_t dim, count;
    uint32_t *dim_ptr;  /* [dim + 1] */
    uint16_t *dim_proj; /* projection id | SLIDE_SIGN_PROJECTIONS_NEGATIVE */
    float *dense;       /* [count][dim] or NULL */
} slide_sign_projections;

/*
 * Checks the parameters of a backend whose table code packs k sign bits (1 <= k <= 32) and which needs
 * k * tables projections (at most SLIDE_SIGN_PROJECTIONS_MAX). Errors name `backend`.
 */
int slide_sign_projections_check(const slide_hash_params *p, const char *backend);

/*
 * Draws the projections from `rng` (dimension by dimension, then projection by projection: one
 * slide_rng_below(rng, 6) each) and fills `pr`, which must be zeroed. On failure `pr` may hold partial
 * allocations, which slide_sign_projections_free releases.
 */
int slide_sign_projections_init(slide_sign_projections *pr, uint32_t dim, uint32_t count, slide_rng *rng,
                                const char *backend);

void slide_sign_projections_free(slide_sign_projections *pr);

/* Heap bytes held by `pr`. */
size_t slide_sign_projections_bytes(const slide_sign_projections *pr);

/* acc[h] += v * entry(h, d) for every projection h containing dimension d. */
static inline void slide_sign_projections_add(const slide_sign_projections *pr, uint32_t d, float v, float *acc)
{
    for (uint32_t e = pr->dim_ptr[d]; e < pr->dim_ptr[d + 1]; e++) {
        uint16_t p = pr->dim_proj[e];
        acc[p & 0x7FFFu] += (p & SLIDE_SIGN_PROJECTIONS_NEGATIVE) ? -v : v;
    }
}

/* The same in integers, whose sums do not depend on the order of the terms. */
static inline void slide_sign_projections_add_i64(const slide_sign_projections *pr, uint32_t d, int64_t q,
                                                  int64_t *acc)
{
    for (uint32_t e = pr->dim_ptr[d]; e < pr->dim_ptr[d + 1]; e++) {
        uint16_t p = pr->dim_proj[e];
        acc[p & 0x7FFFu] += (p & SLIDE_SIGN_PROJECTIONS_NEGATIVE) ? -q : q;
    }
}

/* acc[h] = projection h . x for a dense x[dim], h < count. */
void slide_sign_projections_apply(const slide_sign_projections *pr, const float *x, float *acc);

/*
 * Block application, for hashing many weight rows per pass over the projections (table builds): up to
 * SLIDE_SIGN_PROJECTIONS_BLOCK dense vectors at once, vector r in lane r of acc[h * BLOCK + r].
 */
#define SLIDE_SIGN_PROJECTIONS_BLOCK 16 /* the lanes of the sign_project16 kernel */

/* Floats of working memory slide_sign_projections_apply_block needs: its result and its scratch. */
size_t slide_sign_projections_block_work(const slide_sign_projections *pr);

/*
 * Projects up to BLOCK vectors at once into work (slide_sign_projections_block_work floats) and returns acc,
 * the start of work: acc[h * BLOCK + r] = projection h . xs[r] for r < m <= BLOCK and h < count (lanes
 * r >= m hold 0); lane r is bit for bit what slide_sign_projections_apply gives for xs[r] alone. Without
 * the dense copy the projection entries stream once per block instead of once per vector; with it each
 * vector still goes through dot_rows (its summation order is the kernel's).
 */
const float *slide_sign_projections_apply_block(const slide_sign_projections *pr, const float *const *xs, uint32_t m,
                                                float *work);

#endif
