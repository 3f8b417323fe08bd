/*
 * Densified one-permutation MinHash (Shrivastava & Li, "Densifying One Permutation Hashing via
 * Rotation for Fast Near Neighbor Search", ICML 2014; Shrivastava, "Optimal Densification for Fast and
 * Accurate Minwise Hashing", ICML 2017).
 *
 * MinHash sees a vector only through its support, the set of dimensions it contains. Here the support is
 * the set of dimensions with value > 0, in the dense and the sparse path alike, so the two always agree:
 * for non-negative data (bag of words, ReLU activations) that is exactly the non-zeros; for signed data
 * (weight rows) it is the positive half, and magnitudes are ignored. Two vectors collide in a sub-hash
 * with probability about their Jaccard similarity |A & B| / |A | B|.
 *
 * One permutation: each dimension d owns `rep` elements (d, 0..rep-1) of a universe of U = rep * dim,
 * placed by a single random permutation and cut into H = K * L contiguous bins. rep = ceil(4H / dim), so
 * every bin spans >= 4 elements even when dim < H; replicating every element the same number of times
 * leaves the Jaccard similarity unchanged. Sub-hash h is the element of the query's support that lands
 * first in bin h.
 *
 * Empty bins are densified as in the 2017 paper: bin h walks a fixed random sequence of other bins and
 * copies the first non-empty one (after DENSIFY_PROBES misses, it scans onward from the last probe, which
 * keeps the cost bounded and the choice deterministic). A vector with empty support gets all-zero codes.
 *
 * Bits: each sub-hash keeps b = min(8, 32 / K) bits, taken from a random 32-bit tag of the winning
 * element rather than from its position, so different winners collide with probability 2^-b (b-bit
 * minwise hashing; Li & Koenig 2010), where low position bits would be correlated inside narrow bins.
 * Table t's code concatenates sub-hashes t*K .. t*K+K-1, b bits each (K * b <= 32).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash_family.h"
#include "rng.h"
#include "slide/slide.h"

#define MINHASH_MAX_HASHES (1u << 20)
#define MINHASH_MAX_UNIVERSE (1u << 28)
#define MINHASH_BIN_SPAN 4u      /* minimum elements per bin */
#define MINHASH_DENSIFY_PROBES 64u
#define MINHASH_EMPTY UINT64_MAX

typedef struct minhash_state {
    uint32_t dim, k, tables, n_hashes, rep, bits;
    uint64_t seed;
    /*
     * Element e = d * rep + j: key[e] = position in the permuted universe << 32 | random tag. Positions
     * are distinct, so the smallest key in a bin is its first element, and the key carries that
     * element's tag along.
     */
    uint64_t *key;
    uint32_t *bin; /* [dim * rep]: bin of element e */
} minhash_state;

static int minhash_can_run(void) { return 1; }

static void minhash_destroy(void *state)
{
    minhash_state *s = state;
    if (!s)
        return;
    free(s->key);
    free(s->bin);
    free(s);
}

static int minhash_create(const slide_hash_params *p, void **out)
{
    if (p->k == 0 || p->k > 32 || p->tables == 0 || p->input_dim == 0)
        return slide_fail(SLIDE_E_INVALID, "minhash: need 1 <= k <= 32, tables >= 1, input_dim >= 1");
    uint64_t nh = (uint64_t)p->k * p->tables;
    if (nh > MINHASH_MAX_HASHES)
        return slide_fail(SLIDE_E_INVALID, "minhash: k * tables = %llu exceeds %u", (unsigned long long)nh,
                          MINHASH_MAX_HASHES);
    uint64_t rep = (MINHASH_BIN_SPAN * nh + p->input_dim - 1) / p->input_dim;
    if (rep == 0)
        rep = 1;
    uint64_t universe = rep * p->input_dim;
    if (universe > MINHASH_MAX_UNIVERSE)
        return slide_fail(SLIDE_E_INVALID, "minhash: input_dim %u is too large (at most %u)", p->input_dim,
                          MINHASH_MAX_UNIVERSE);

    minhash_state *s = calloc(1, sizeof *s);
    if (!s)
        return slide_fail(SLIDE_E_NOMEM, "minhash: out of memory");
    s->dim = p->input_dim;
    s->k = p->k;
    s->tables = p->tables;
    s->n_hashes = (uint32_t)nh;
    s->rep = (uint32_t)rep;
    s->bits = 32 / p->k < 8 ? 32 / p->k : 8;
    s->seed = p->seed;
    uint32_t u = (uint32_t)universe;
    s->key = malloc(sizeof(uint64_t) * u);
    s->bin = malloc(sizeof(uint32_t) * u);
    uint32_t *perm = malloc(sizeof(uint32_t) * u);
    if (!s->key || !s->bin || !perm) {
        free(perm);
        minhash_destroy(s);
        return slide_fail(SLIDE_E_NOMEM, "minhash: out of memory");
    }
    for (uint32_t e = 0; e < u; e++)
        perm[e] = e;
    slide_rng rng = {slide_seed3(p->seed, 0x313A, 0, 0)};
    slide_shuffle_u32(&rng, perm, u);
    for (uint32_t e = 0; e < u; e++) {
        uint32_t tag = (uint32_t)slide_rng_next(&rng);
        s->key[e] = (uint64_t)perm[e] << 32 | tag;
        s->bin[e] = (uint32_t)((uint64_t)perm[e] * s->n_hashes / u);
    }
    free(perm);
    *out = s;
    return SLIDE_OK;
}

static uint32_t minhash_code_bits(const void *state)
{
    const minhash_state *s = state;
    return s->k * s->bits;
}

/* Scratch: the smallest key seen per bin. */
static size_t minhash_scratch_bytes(const void *state)
{
    return (size_t)((const minhash_state *)state)->n_hashes * sizeof(uint64_t);
}

static size_t minhash_memory_bytes(const void *state)
{
    const minhash_state *s = state;
    return sizeof *s + (sizeof(uint64_t) + sizeof(uint32_t)) * (size_t)s->dim * s->rep;
}

static inline void minhash_add(const minhash_state *s, uint32_t d, uint64_t *minkey)
{
    for (uint32_t e = d * s->rep, end = e + s->rep; e < end; e++) {
        uint32_t b = s->bin[e];
        if (s->key[e] < minkey[b])
            minkey[b] = s->key[e];
    }
}

static void minhash_finish(const minhash_state *s, const uint64_t *minkey, uint32_t *codes)
{
    uint32_t mask = (1u << s->bits) - 1u; /* bits <= 8 */
    int any = 0;
    for (uint32_t h = 0; h < s->n_hashes && !any; h++)
        any = minkey[h] != MINHASH_EMPTY;
    for (uint32_t t = 0; t < s->tables; t++) {
        uint32_t code = 0;
        for (uint32_t j = 0; any && j < s->k; j++) {
            uint32_t h = t * s->k + j;
            uint64_t key = minkey[h];
            uint32_t other = h;
            for (uint32_t probe = 1; key == MINHASH_EMPTY && probe <= MINHASH_DENSIFY_PROBES; probe++) {
                other = (uint32_t)(slide_seed3(s->seed, h, probe, 0xDE45) % s->n_hashes);
                key = minkey[other];
            }
            while (key == MINHASH_EMPTY) { /* terminates: some bin is non-empty */
                other = other + 1 == s->n_hashes ? 0 : other + 1;
                key = minkey[other];
            }
            code |= ((uint32_t)key & mask) << (j * s->bits);
        }
        codes[t] = code;
    }
}

static void minhash_hash_dense(const void *state, const float *x, uint32_t *codes, void *scratch)
{
    const minhash_state *s = state;
    uint64_t *minkey = scratch;
    for (uint32_t h = 0; h < s->n_hashes; h++)
        minkey[h] = MINHASH_EMPTY;
    for (uint32_t d = 0; d < s->dim; d++)
        if (x[d] > 0.0f)
            minhash_add(s, d, minkey);
    minhash_finish(s, minkey, codes);
}

static void minhash_hash_sparse(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                                uint32_t *codes, void *scratch)
{
    const minhash_state *s = state;
    uint64_t *minkey = scratch;
    for (uint32_t h = 0; h < s->n_hashes; h++)
        minkey[h] = MINHASH_EMPTY;
    for (uint32_t i = 0; i < nnz; i++)
        if (val[i] > 0.0f)
            minhash_add(s, (uint32_t)idx[i], minkey);
    minhash_finish(s, minkey, codes);
}

const slide_hash_family slide_hash_minhash = {
    .api_version = SLIDE_HASH_API_VERSION,
    .name = "minhash",
    .can_run = minhash_can_run,
    .create = minhash_create,
    .destroy = minhash_destroy,
    .code_bits = minhash_code_bits,
    .scratch_bytes = minhash_scratch_bytes,
    .memory_bytes = minhash_memory_bytes,
    .hash_dense = minhash_hash_dense,
    .hash_sparse = minhash_hash_sparse,
};
