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

/* Registered backend by name, or NULL (sets the error, listing the available names). */
const slide_hash_family *slide_hash_find(const char *name);

#endif
