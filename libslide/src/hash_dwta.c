/*
 * Densified winner-take-all hashing (DWTA; Chen & Shrivastava, "Densified Winner Take All (WTA)
 * Hashing for Sparse Datasets", UAI 2018).
 *
 * H = K * L sub-hashes. Sub-hash h looks at `bin_size` input dimensions (a "bin") and returns the
 * position (0..bin_size-1) of the largest non-zero value in it. Bins are cut from repeated random
 * permutations of the input dimensions, so every dimension appears in about H * bin_size / dim bins.
 * A bin with no non-zero value is "empty" and borrows the code of another sub-hash chosen by a fixed
 * random probe sequence (densification), so sparse inputs still get full codes.
 * Table t's code concatenates sub-hashes t*K .. t*K+K-1, log2(bin_size) bits each.
 * Exact zeros count as empty in both the dense and the sparse path, so a dense vector and the same
 * vector given sparsely hash identically.
 * Bins and their index by dimension: hash_wta_bins.h.
 */
#include <float.h>
#include <stdlib.h>

#include "error.h"
#include "hash_family.h"
#include "hash_wta_bins.h"
#include "kernels.h"
#include "rng.h"
#include "slide/slide.h"

#define DWTA_PROBES 64

typedef struct dwta_state {
    slide_wta_bins bins;
    uint64_t seed;
    uint32_t n_groups;  /* ceil(n_hashes / 8) */
    uint32_t *pos8;     /* pos_dim regrouped for bins_argmax8 (kernels.h); padding bins read dimension 0 */
} dwta_state;

static int dwta_can_run(void) { return 1; }

static void dwta_destroy(void *state)
{
    dwta_state *s = state;
    if (!s)
        return;
    slide_wta_bins_free(&s->bins);
    free(s->pos8);
    free(s);
}

/* Bins cut from repeated random permutations of the input dimensions. */
static int dwta_draw_bins(slide_wta_bins *bins, uint64_t seed)
{
    uint32_t *perm = malloc(sizeof(uint32_t) * bins->dim);
    if (!perm)
        return slide_fail(SLIDE_E_NOMEM, "dwta: out of memory");
    uint32_t np = bins->n_hashes * bins->bin_size;
    slide_rng rng = {slide_seed3(seed, 0xD37A, 0, 0)};
    for (uint32_t filled = 0; filled < np;) {
        for (uint32_t d = 0; d < bins->dim; d++)
            perm[d] = d;
        slide_shuffle_u32(&rng, perm, bins->dim);
        for (uint32_t d = 0; d < bins->dim && filled < np; d++)
            bins->pos_dim[filled++] = perm[d];
    }
    free(perm);
    return SLIDE_OK;
}

static int dwta_create(const slide_hash_params *p, void **out)
{
    dwta_state *s = calloc(1, sizeof *s);
    if (!s)
        return slide_fail(SLIDE_E_NOMEM, "dwta: out of memory");
    int rc = slide_wta_bins_init(&s->bins, p, dwta_draw_bins, "dwta");
    if (rc) {
        dwta_destroy(s);
        return rc;
    }
    s->seed = p->seed;
    const slide_wta_bins *b = &s->bins;
    s->n_groups = (b->n_hashes + 7) / 8;
    s->pos8 = calloc((size_t)s->n_groups * 8 * b->bin_size, sizeof(uint32_t));
    if (!s->pos8) {
        dwta_destroy(s);
        return slide_fail(SLIDE_E_NOMEM, "dwta: out of memory");
    }
    for (uint32_t h = 0; h < b->n_hashes; h++)
        for (uint32_t i = 0; i < b->bin_size; i++)
            s->pos8[((size_t)(h / 8) * b->bin_size + i) * 8 + h % 8] = b->pos_dim[(size_t)h * b->bin_size + i];
    *out = s;
    return SLIDE_OK;
}

static uint32_t dwta_code_bits(const void *state)
{
    const dwta_state *s = state;
    return s->bins.k * s->bins.bin_bits;
}

/* Scratch: winning position per sub-hash (8 * n_groups of them for the dense path) and, for the sparse
 * path, the best value per sub-hash. */
static size_t dwta_scratch_bytes(const void *state)
{
    const dwta_state *s = state;
    return ((size_t)s->n_groups * 8 + s->bins.n_hashes) * sizeof(int32_t);
}

static size_t dwta_memory_bytes(const void *state)
{
    const dwta_state *s = state;
    return sizeof *s + slide_wta_bins_bytes(&s->bins) +
           sizeof(uint32_t) * (size_t)s->n_groups * 8 * s->bins.bin_size;
}

/* Densifies empty sub-hashes (arg < 0) and packs K sub-hashes per table into codes. */
static void dwta_finish(const dwta_state *s, const int32_t *arg, uint32_t *codes)
{
    for (uint32_t t = 0; t < s->bins.tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->bins.k; j++) {
            uint32_t h = t * s->bins.k + j;
            int32_t a = arg[h];
            for (uint32_t probe = 1; a < 0 && probe <= DWTA_PROBES; probe++) {
                uint32_t other = (uint32_t)(slide_seed3(s->seed, h, probe, 0x0DE5) % s->bins.n_hashes);
                a = arg[other];
            }
            code |= (uint32_t)(a < 0 ? 0 : a) << (j * s->bins.bin_bits);
        }
        codes[t] = code;
    }
}

static void dwta_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const dwta_state *s = state;
    int32_t *arg = scratch;
    slide_kernels_get()->bins_argmax8(x, s->pos8, s->n_groups, s->bins.bin_size, arg);
    dwta_finish(s, arg, codes);
}

static void dwta_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                             uint32_t *codes, void *scratch)
{
    const dwta_state *s = state;
    int32_t *arg = scratch;
    float *best = (float *)(arg + (size_t)s->n_groups * 8);
    for (uint32_t h = 0; h < s->bins.n_hashes; h++) {
        arg[h] = -1;
        best[h] = -FLT_MAX;
    }
    /* Ties are broken towards the lower bin position, as in the dense path. */
    for (uint32_t i = 0; i < nnz; i++) {
        float v = val[i];
        if (v == 0.0f)
            continue;
        uint32_t d = (uint32_t)idx[i];
        for (uint32_t e = s->bins.dim_ptr[d]; e < s->bins.dim_ptr[d + 1]; e++) {
            uint32_t p = s->bins.dim_pos[e];
            uint32_t h = p / s->bins.bin_size, b = p % s->bins.bin_size;
            if (v > best[h] || (v == best[h] && (int32_t)b < arg[h])) {
                best[h] = v;
                arg[h] = (int32_t)b;
            }
        }
    }
    dwta_finish(s, arg, codes);
}

const slide_hash_family slide_hash_dwta = {
    .api_version = SLIDE_HASH_API_VERSION,
    .name = "dwta",
    .can_run = dwta_can_run,
    .create = dwta_create,
    .destroy = dwta_destroy,
    .code_bits = dwta_code_bits,
    .scratch_bytes = dwta_scratch_bytes,
    .memory_bytes = dwta_memory_bytes,
    .hash_dense = dwta_hash_dense,
    .hash_sparse = dwta_hash_sparse,
};
