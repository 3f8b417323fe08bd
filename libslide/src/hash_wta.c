/*
 * Winner-take-all hashing (WTA; Yagnik, Strelow, Ross & Lin, "The Power of Comparative Reasoning",
 * ICCV 2011).
 *
 * H = K * L sub-hashes. Sub-hash h reads `bin_size` distinct input dimensions, the prefix of its own
 * random permutation, and returns the position (0..bin_size-1) of the largest value among them; ties go
 * to the lowest position. Unlike DWTA, nothing is densified: a dimension absent from a sparse vector
 * simply holds 0 and competes like any other value, so a bin that misses the support of a non-negative
 * sparse vector returns position 0. WTA depends only on the order of the values, so it suits dense inputs
 * (hidden activations, weight rows); for very sparse inputs prefer "dwta".
 * Table t's code concatenates sub-hashes t*K .. t*K+K-1, log2(bin_size) bits each.
 *
 * When input_dim < bin_size a bin repeats dimensions; a repeat ties with its first occurrence and so
 * never wins, which makes the bin behave like one of input_dim positions.
 * Bins and their index by dimension: hash_wta_bins.h.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "hash_wta_bins.h"
#include "rng.h"
#include "slide/slide.h"

typedef struct wta_state {
    slide_wta_bins bins;
    uint32_t mask_words;
} wta_state;

/*
 * Sparse-query scratch, per sub-hash: the best value among positions whose dimension is stored in the
 * query ("present"), its lowest position (-1: none present), and a bitmask of present positions, needed
 * when the best present value is <= 0 and an absent position (value 0) may win instead.
 */
typedef struct wta_scratch_view {
    float *best;
    int32_t *arg;
    uint32_t *mask;
} wta_scratch_view;

static int wta_can_run(void) { return 1; }

static void wta_destroy(void *state)
{
    wta_state *s = state;
    if (!s)
        return;
    slide_wta_bins_free(&s->bins);
    free(s);
}

/*
 * Each bin is a uniform random prefix of a permutation: a partial Fisher-Yates pass over `perm`, which
 * stays a permutation between bins, so bins are independent and draw without repetition.
 */
static int wta_draw_bins(slide_wta_bins *bins, uint64_t seed)
{
    uint32_t *perm = malloc(sizeof(uint32_t) * bins->dim);
    if (!perm)
        return slide_fail(SLIDE_E_NOMEM, "wta: out of memory");
    for (uint32_t d = 0; d < bins->dim; d++)
        perm[d] = d;
    slide_rng rng = {slide_seed3(seed, 0x3A7A, 0, 0)};
    for (uint32_t h = 0; h < bins->n_hashes; h++) {
        uint32_t *bin = bins->pos_dim + (size_t)h * bins->bin_size;
        for (uint32_t b = 0; b < bins->bin_size; b++) {
            uint32_t i = b % bins->dim; /* wraps (repeats dimensions) only when dim < bin_size */
            uint32_t j = i + slide_rng_below(&rng, bins->dim - i);
            uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            bin[b] = perm[i];
        }
    }
    free(perm);
    return SLIDE_OK;
}

static int wta_create(const slide_hash_params *p, void **out)
{
    wta_state *s = calloc(1, sizeof *s);
    if (!s)
        return slide_fail(SLIDE_E_NOMEM, "wta: out of memory");
    int rc = slide_wta_bins_init(&s->bins, p, wta_draw_bins, "wta");
    if (rc) {
        wta_destroy(s);
        return rc;
    }
    s->mask_words = (p->bin_size + 31) / 32;
    *out = s;
    return SLIDE_OK;
}

static uint32_t wta_code_bits(const void *state)
{
    const wta_state *s = state;
    return s->bins.k * s->bins.bin_bits;
}

static size_t wta_scratch_bytes(const void *state)
{
    const wta_state *s = state;
    return (size_t)s->bins.n_hashes * (sizeof(float) + sizeof(int32_t) + sizeof(uint32_t) * s->mask_words);
}

static size_t wta_memory_bytes(const void *state)
{
    const wta_state *s = state;
    return sizeof *s + slide_wta_bins_bytes(&s->bins);
}

static wta_scratch_view wta_view(const wta_state *s, void *scratch)
{
    wta_scratch_view v;
    v.best = scratch;
    v.arg = (int32_t *)(v.best + s->bins.n_hashes);
    v.mask = (uint32_t *)(v.arg + s->bins.n_hashes);
    return v;
}

static void wta_pack(const wta_state *s, const int32_t *arg, uint32_t *codes)
{
    for (uint32_t t = 0; t < s->bins.tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; j < s->bins.k; j++)
            code |= (uint32_t)arg[t * s->bins.k + j] << (j * s->bins.bin_bits);
        codes[t] = code;
    }
}

static void wta_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const wta_state *s = state;
    int32_t *arg = wta_view(s, scratch).arg;
    for (uint32_t h = 0; h < s->bins.n_hashes; h++) {
        const uint32_t *bin = s->bins.pos_dim + (size_t)h * s->bins.bin_size;
        float best = x[bin[0]];
        int32_t a = 0;
        for (uint32_t b = 1; b < s->bins.bin_size; b++) {
            float v = x[bin[b]];
            if (v > best) {
                best = v;
                a = (int32_t)b;
            }
        }
        arg[h] = a;
    }
    wta_pack(s, arg, codes);
}

/* Lowest position of sub-hash h not marked present, or bin_size if every position is present. */
static uint32_t wta_first_absent(const wta_state *s, const uint32_t *mask)
{
    for (uint32_t w = 0; w < s->mask_words; w++) {
        uint32_t free_bits = ~mask[w];
        if (s->bins.bin_size < 32)
            free_bits &= (1u << s->bins.bin_size) - 1u;
        if (free_bits) {
            uint32_t b = 0;
            while (!(free_bits & 1u)) {
                free_bits >>= 1;
                b++;
            }
            return w * 32 + b;
        }
    }
    return s->bins.bin_size;
}

/*
 * Gives exactly the dense result: the dense winner is the lowest position holding the bin's maximum,
 * where absent positions hold 0. Only the positions of the query's dimensions are visited.
 */
static void wta_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                            uint32_t *codes, void *scratch)
{
    const wta_state *s = state;
    wta_scratch_view sv = wta_view(s, scratch);
    for (uint32_t h = 0; h < s->bins.n_hashes; h++)
        sv.arg[h] = -1;
    for (uint32_t i = 0; i < nnz; i++) {
        float v = val[i];
        uint32_t d = (uint32_t)idx[i];
        for (uint32_t e = s->bins.dim_ptr[d]; e < s->bins.dim_ptr[d + 1]; e++) {
            uint32_t p = s->bins.dim_pos[e];
            uint32_t h = p / s->bins.bin_size, b = p % s->bins.bin_size;
            uint32_t *mask = sv.mask + (size_t)h * s->mask_words;
            if (sv.arg[h] < 0) {
                memset(mask, 0, sizeof(uint32_t) * s->mask_words);
                sv.best[h] = v;
                sv.arg[h] = (int32_t)b;
            } else if (v > sv.best[h] || (v == sv.best[h] && (int32_t)b < sv.arg[h])) {
                sv.best[h] = v;
                sv.arg[h] = (int32_t)b;
            }
            mask[b / 32] |= 1u << (b % 32);
        }
    }
    for (uint32_t h = 0; h < s->bins.n_hashes; h++) {
        if (sv.arg[h] < 0) { /* no dimension of the query: all values 0, position 0 wins */
            sv.arg[h] = 0;
            continue;
        }
        if (sv.best[h] > 0.0f)
            continue;
        uint32_t z = wta_first_absent(s, sv.mask + (size_t)h * s->mask_words);
        if (z == s->bins.bin_size)
            continue;
        if (sv.best[h] < 0.0f || (int32_t)z < sv.arg[h])
            sv.arg[h] = (int32_t)z;
    }
    wta_pack(s, sv.arg, codes);
}

const slide_hash_family slide_hash_wta = {
    .api_version = SLIDE_HASH_API_VERSION,
    .name = "wta",
    .can_run = wta_can_run,
    .create = wta_create,
    .destroy = wta_destroy,
    .code_bits = wta_code_bits,
    .scratch_bytes = wta_scratch_bytes,
    .memory_bytes = wta_memory_bytes,
    .hash_dense = wta_hash_dense,
    .hash_sparse = wta_hash_sparse,
};
