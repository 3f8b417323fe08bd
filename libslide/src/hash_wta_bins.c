/* Bins of the winner-take-all backends; see hash_wta_bins.h. */
#include "hash_wta_bins.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "slide/slide.h"

static int wta_bins_alloc(slide_wta_bins *bins, const slide_hash_params *p, const char *backend)
{
    /* Bounded: for bin_size > 2^31 an unbounded loop would shift by 32 (undefined; spins on x86). */
    uint32_t bits = 0;
    while (bits < 8 && (1u << bits) < p->bin_size)
        bits++;
    if (p->bin_size < 2 || p->bin_size > 256 || (1u << bits) != p->bin_size)
        return slide_fail(SLIDE_E_INVALID, "%s: bin_size must be a power of two in [2, 256], got %u", backend,
                          p->bin_size);
    if (p->k == 0 || p->tables == 0 || p->input_dim == 0)
        return slide_fail(SLIDE_E_INVALID, "%s: k, tables and input_dim must be positive", backend);
    if ((uint64_t)p->k * bits > 32)
        return slide_fail(SLIDE_E_INVALID, "%s: k * log2(bin_size) = %llu bits exceeds 32", backend,
                          (unsigned long long)p->k * bits);
    uint64_t positions = (uint64_t)p->k * p->tables * p->bin_size;
    if (positions > (1u << 26))
        return slide_fail(SLIDE_E_INVALID, "%s: k * tables * bin_size = %llu is too large", backend,
                          (unsigned long long)positions);

    bins->dim = p->input_dim;
    bins->k = p->k;
    bins->tables = p->tables;
    bins->bin_size = p->bin_size;
    bins->bin_bits = bits;
    bins->n_hashes = p->k * p->tables;
    bins->pos_dim = malloc(sizeof(uint32_t) * positions);
    bins->dim_ptr = calloc((size_t)bins->dim + 1, sizeof(uint32_t));
    bins->dim_pos = malloc(sizeof(uint32_t) * positions);
    if (!bins->pos_dim || !bins->dim_ptr || !bins->dim_pos)
        return slide_fail(SLIDE_E_NOMEM, "%s: out of memory", backend);
    return SLIDE_OK;
}

/* Builds dim_ptr and dim_pos from pos_dim. */
static int wta_bins_index(slide_wta_bins *bins, const char *backend)
{
    uint32_t np = bins->n_hashes * bins->bin_size;
    uint32_t *cursor = malloc(sizeof(uint32_t) * bins->dim);
    if (!cursor)
        return slide_fail(SLIDE_E_NOMEM, "%s: out of memory", backend);
    for (uint32_t i = 0; i < np; i++)
        bins->dim_ptr[bins->pos_dim[i] + 1]++;
    for (uint32_t d = 0; d < bins->dim; d++)
        bins->dim_ptr[d + 1] += bins->dim_ptr[d];
    /* Visiting positions in increasing order keeps each dimension's list ascending. */
    memcpy(cursor, bins->dim_ptr, sizeof(uint32_t) * bins->dim);
    for (uint32_t i = 0; i < np; i++)
        bins->dim_pos[cursor[bins->pos_dim[i]]++] = i;
    free(cursor);
    return SLIDE_OK;
}

int slide_wta_bins_init(slide_wta_bins *bins, const slide_hash_params *p, slide_wta_bins_draw_fn draw,
                        const char *backend)
{
    int rc = wta_bins_alloc(bins, p, backend);
    if (!rc)
        rc = draw(bins, p->seed);
    if (!rc)
        rc = wta_bins_index(bins, backend);
    return rc;
}

void slide_wta_bins_free(slide_wta_bins *bins)
{
    free(bins->pos_dim);
    free(bins->dim_ptr);
    free(bins->dim_pos);
}

size_t slide_wta_bins_bytes(const slide_wta_bins *bins)
{
    return sizeof(uint32_t) * ((size_t)bins->n_hashes * bins->bin_size * 2 + bins->dim + 1);
}
