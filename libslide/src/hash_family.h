/* Built-in hash backends and the registry; the interface itself is public (slide/hash_plugin.h). */
#ifndef SLIDE_HASH_FAMILY_H
#define SLIDE_HASH_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "slide/hash_plugin.h"

extern const slide_hash_family slide_hash_simhash;
extern const slide_hash_family slide_hash_dwta;
extern const slide_hash_family slide_hash_wta;
extern const slide_hash_family slide_hash_minhash;
extern const slide_hash_family slide_hash_simhash_mips;

/*
 * simhash-mips's item scale 1 / M (M: the largest row norm its last prepare_items saw; 0 before any), which
 * item hashes between rebuilds depend on: model files keep it so a resumed network re-hashes as the saved one.
 */
float slide_hash_mips_item_scale(const void *state);
void slide_hash_mips_set_item_scale(void *state, float inv_max_norm);

/*
 * Block item hashing: built-in backends may hash many weight rows per pass over their random functions,
 * beside the public interface (plugins are always hashed row by row through hash_item / hash_dense).
 * hash() writes codes[r * tables + t] for the rows xs[0..m), m <= SLIDE_HASH_ITEMS_BLOCK: bit for bit
 * what the backend's hash_item (hash_dense when it has none) gives each row alone. work holds
 * work_floats(state) floats; calls on disjoint codes and work may run in parallel.
 */
#define SLIDE_HASH_ITEMS_BLOCK 16
typedef struct slide_hash_items_block {
    size_t (*work_floats)(const void *state);
    void (*hash)(const void *state, const float *const *xs, uint32_t m, uint32_t *codes, float *work);
} slide_hash_items_block;

extern const slide_hash_items_block slide_hash_simhash_items;
extern const slide_hash_items_block slide_hash_simhash_mips_items;

/* The block item hashing of a built-in backend, or NULL (plugins and backends without one). */
const slide_hash_items_block *slide_hash_items_block_of(const slide_hash_family *family);

/* Registered backend by name, or NULL (sets the error, listing the available names). */
const slide_hash_family *slide_hash_find(const char *name);

#endif
