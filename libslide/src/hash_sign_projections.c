/* Sparse random sign projections; see hash_sign_projections.h. */
#include "hash_sign_projections.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels.h"
#include "slide/slide.h"

int slide_sign_projections_check(const slide_hash_params *p, const char *backend)
{
    if (p->k == 0 || p->k > 32 || p->tables == 0 || p->input_dim == 0)
        return slide_fail(SLIDE_E_INVALID, "%s: need 1 <= k <= 32, tables >= 1, input_dim >= 1", backend);
    uint64_t count = (uint64_t)p->k * p->tables;
    if (count > SLIDE_SIGN_PROJECTIONS_MAX)
        return slide_fail(SLIDE_E_INVALID, "%s: k * tables = %llu exceeds %u", backend, (unsigned long long)count,
                          SLIDE_SIGN_PROJECTIONS_MAX);
    return SLIDE_OK;
}

int slide_sign_projections_init(slide_sign_projections *pr, uint32_t dim, uint32_t count, slide_rng *rng,
                                const char *backend)
{
    pr->dim = dim;
    pr->count = count;
    pr->dim_ptr = calloc((size_t)dim + 1, sizeof(uint32_t));
    /* Expected entries: dim * count * 2 / 3; reserve with slack and grow if a pathological draw needs it. */
    size_t cap = (size_t)dim * count * 2 / 3 + 1024, used = 0;
    pr->dim_proj = malloc(cap * sizeof(uint16_t));
    if (!pr->dim_ptr || !pr->dim_proj)
        return slide_fail(SLIDE_E_NOMEM, "%s: out of memory", backend);
    for (uint32_t d = 0; d < dim; d++) {
        for (uint32_t h = 0; h < count; h++) {
            uint32_t r = slide_rng_below(rng, 6); /* 0,1: +1; 2,3: -1; 4,5: absent */
            if (r >= 4)
                continue;
            if (used == cap) {
                size_t ncap = cap + cap / 2;
                uint16_t *np = realloc(pr->dim_proj, ncap * sizeof(uint16_t));
                if (!np)
                    return slide_fail(SLIDE_E_NOMEM, "%s: out of memory", backend);
                pr->dim_proj = np;
                cap = ncap;
            }
            pr->dim_proj[used++] = (uint16_t)(h | (r >= 2 ? SLIDE_SIGN_PROJECTIONS_NEGATIVE : 0u));
        }
        pr->dim_ptr[d + 1] = (uint32_t)used;
    }
    if ((uint64_t)count * dim <= SLIDE_SIGN_PROJECTIONS_DENSE_LIMIT) {
        pr->dense = calloc((size_t)count * dim, sizeof(float));
        if (!pr->dense)
            return slide_fail(SLIDE_E_NOMEM, "%s: out of memory", backend);
        for (uint32_t d = 0; d < dim; d++)
            for (uint32_t e = pr->dim_ptr[d]; e < pr->dim_ptr[d + 1]; e++) {
                uint16_t v = pr->dim_proj[e];
                pr->dense[(size_t)(v & 0x7FFFu) * dim + d] = (v & SLIDE_SIGN_PROJECTIONS_NEGATIVE) ? -1.0f : 1.0f;
            }
    }
    return SLIDE_OK;
}

void slide_sign_projections_free(slide_sign_projections *pr)
{
    free(pr->dim_ptr);
    free(pr->dim_proj);
    free(pr->dense);
}

size_t slide_sign_projections_bytes(const slide_sign_projections *pr)
{
    size_t b = sizeof(uint32_t) * ((size_t)pr->dim + 1) + sizeof(uint16_t) * pr->dim_ptr[pr->dim];
    if (pr->dense)
        b += sizeof(float) * (size_t)pr->count * pr->dim;
    return b;
}

void slide_sign_projections_apply(const slide_sign_projections *pr, const float *x, float *acc)
{
    if (pr->dense) {
        slide_kernels_get()->dot_rows(pr->dense, pr->dim, pr->count, x, pr->dim, acc);
    } else {
        memset(acc, 0, sizeof(float) * pr->count);
        for (uint32_t d = 0; d < pr->dim; d++)
            if (x[d] != 0.0f)
                slide_sign_projections_add(pr, d, x[d], acc);
    }
}

/* Dimensions transposed into the kernel's lane layout per pass: 16 KiB of `work`, which stays in L1. */
enum { BLOCK_DIMS = 256 };

/* Scratch of apply_block besides acc: a dense projection chunk's scores, or the block's transposed inputs. */
static size_t block_scratch(const slide_sign_projections *pr)
{
    const size_t transposed = (size_t)BLOCK_DIMS * SLIDE_SIGN_PROJECTIONS_BLOCK;
    return pr->dense && pr->count > transposed ? pr->count : transposed;
}

size_t slide_sign_projections_block_work(const slide_sign_projections *pr)
{
    return (size_t)pr->count * SLIDE_SIGN_PROJECTIONS_BLOCK + block_scratch(pr);
}

const float *slide_sign_projections_apply_block(const slide_sign_projections *pr, const float *const *xs, uint32_t m,
                                                float *work_all)
{
    enum { B = SLIDE_SIGN_PROJECTIONS_BLOCK };
    const slide_kernels *K = slide_kernels_get();
    float *acc = work_all, *work = work_all + (size_t)pr->count * B;
    memset(acc, 0, sizeof(float) * pr->count * B);
    if (pr->dense) {
        /*
         * Chunks of projections small enough to stay in L2 while every vector of the block passes. Chunks start
         * at multiples of 4: dot_rows computes rows in groups of 4 from its first row (the last count % 4
         * alone), so each projection gets the bits of the whole-matrix call in slide_sign_projections_apply.
         */
        uint32_t chunk = (uint32_t)((128u << 10) / (sizeof(float) * pr->dim)) & ~3u;
        chunk = chunk < 4 ? 4 : chunk;
        for (uint32_t h0 = 0; h0 < pr->count; h0 += chunk) {
            const uint32_t mh = pr->count - h0 < chunk ? pr->count - h0 : chunk;
            for (uint32_t r = 0; r < m; r++) {
                K->dot_rows(pr->dense + (size_t)h0 * pr->dim, pr->dim, mh, xs[r], pr->dim, work);
                for (uint32_t h = 0; h < mh; h++)
                    acc[(size_t)(h0 + h) * B + r] = work[h];
            }
        }
        return acc;
    }
    /*
     * The one-vector loop skips zero inputs; adding them instead changes nothing: acc starts at +0 and a
     * sum of floats is -0 only when both terms are, so acc is never -0, and acc + (+-0) == acc otherwise.
     * Lanes r >= m therefore read zeros.
     */
    for (uint32_t d0 = 0; d0 < pr->dim; d0 += BLOCK_DIMS) {
        const uint32_t nd = pr->dim - d0 < BLOCK_DIMS ? pr->dim - d0 : BLOCK_DIMS;
        for (uint32_t r = 0; r < B; r++) {
            if (r < m) {
                const float *x = xs[r] + d0;
                for (uint32_t d = 0; d < nd; d++)
                    work[(size_t)d * B + r] = x[d];
            } else {
                for (uint32_t d = 0; d < nd; d++)
                    work[(size_t)d * B + r] = 0.0f;
            }
        }
        K->sign_project16(pr->dim_ptr + d0, pr->dim_proj, nd, work, acc);
    }
    return acc;
}
