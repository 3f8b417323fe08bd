/*
 * Bins of the winner-take-all backends (hash_wta.c, hash_dwta.c): H = K * L sub-hashes, each reading
 * `bin_size` input dimensions. Bin position i = h * bin_size + b (sub-hash h, position b in its bin)
 * reads dimension pos_dim[i]; each backend draws pos_dim its own way. dim_ptr / dim_pos index the
 * positions by dimension for sparse queries: dim_pos[dim_ptr[d] .. dim_ptr[d + 1]) are the positions
 * reading d, in increasing order.
 * A sub-hash is a position within its bin, bin_bits = log2(bin_size) bits; table t's code concatenates
 * sub-hashes t*K .. t*K+K-1, so code_bits = K * bin_bits <= 32.
 */
#ifndef SLIDE_HASH_WTA_BINS_H
#define SLIDE_HASH_WTA_BINS_H

#include <stddef.h>
#include <stdint.h>

#include "slide/hash_plugin.h"

typedef struct slide_wta_bins {
    uint32_t dim, k, tables, bin_size, bin_bits, n_hashes;
    uint32_t *pos_dim; /* [n_hashes * bin_size] */
    uint32_t *dim_ptr; /* [dim + 1] */
    uint32_t *dim_pos; /* [n_hashes * bin_size] */
} slide_wta_bins;

/* Fills bins->pos_dim (every other field is set) with dimensions drawn from `seed`; 0 or a slide_status. */
typedef int (*slide_wta_bins_draw_fn)(slide_wta_bins *bins, uint64_t seed);

/*
 * Checks p (bin_size a power of two in [2, 256], k, tables and input_dim positive, K * bin_bits <= 32,
 * at most 2^26 positions), allocates the arrays of `bins` (which must be zeroed), has `draw` fill pos_dim
 * from p->seed, and indexes the positions by dimension. Errors name `backend`. On failure `bins` may hold
 * partial allocations, which slide_wta_bins_free releases.
 */
int slide_wta_bins_init(slide_wta_bins *bins, const slide_hash_params *p, slide_wta_bins_draw_fn draw,
                        const char *backend);

void slide_wta_bins_free(slide_wta_bins *bins);

/* Heap bytes held by `bins`. */
size_t slide_wta_bins_bytes(const slide_wta_bins *bins);

#endif
