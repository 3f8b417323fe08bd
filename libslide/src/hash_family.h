/*
 * Hash backend interface. A backend maps a vector (dense or sparse) to L table codes, one uint32 per
 * table, each made of K sub-hashes. Backends are stateless after create(): hash_* may run on many
 * threads at once, each with its own scratch buffer of scratch_bytes() bytes.
 */
#ifndef SLIDE_HASH_FAMILY_H
#define SLIDE_HASH_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#define SLIDE_HASH_API_VERSION 1u

typedef struct slide_hash_params {
    uint32_t input_dim; /* dimension of the vectors hashed (a layer's input width) */
    uint32_t k;         /* sub-hashes per table */
    uint32_t tables;    /* L */
    uint32_t bin_size;  /* DWTA bin size; ignored by other backends */
    uint64_t seed;
} slide_hash_params;

typedef struct slide_hash_family {
    uint32_t api_version; /* SLIDE_HASH_API_VERSION the backend was written against */
    const char *name;
    /* > 0 when the backend can run on this machine. */
    int (*can_run)(void);
    /* Validates params and builds the random functions; returns a slide_status and sets the error. */
    int (*create)(const slide_hash_params *p, void **state);
    void (*destroy)(void *state);
    /* Significant bits of each table code (codes are < 2^code_bits, code_bits <= 32). */
    uint32_t (*code_bits)(const void *state);
    size_t (*scratch_bytes)(const void *state);
    size_t (*memory_bytes)(const void *state);
    /* Writes `tables` codes for a dense vector x[input_dim]. */
    void (*hash_dense)(const void *state, const float *x, uint32_t *codes, void *scratch);
    /* Writes `tables` codes for a sparse vector (ids in [0, input_dim), no duplicates). */
    void (*hash_sparse)(const void *state, const int32_t *idx, const float *val, uint32_t nnz,
                        uint32_t *codes, void *scratch);
} slide_hash_family;

extern const slide_hash_family slide_hash_simhash;
extern const slide_hash_family slide_hash_dwta;

/* Registered backend by name, or NULL (sets the error, listing the available names). */
const slide_hash_family *slide_hash_find(const char *name);

#endif
