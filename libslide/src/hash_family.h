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

/* Registered backend by name, or NULL (sets the error, listing the available names). */
const slide_hash_family *slide_hash_find(const char *name);

#endif
