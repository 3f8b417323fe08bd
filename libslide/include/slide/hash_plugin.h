/*
 * libslide hash backend interface, for built-in backends and third-party plugins.
 *
 * A backend maps a vector (dense or sparse) to L table codes, one uint32 per table, each made of K
 * sub-hashes. After create() (and prepare_items(), if present) a backend is read-only: the hash_*
 * functions may run on many threads at once, each with its own scratch buffer of scratch_bytes(). A
 * scratch buffer holds arbitrary bytes on entry (threads reuse it across layers and backends).
 *
 * A plugin is a shared module exporting
 *     const slide_hash_family *slide_hash_plugin_entry(void);
 * returning a static family whose api_version equals SLIDE_HASH_API_VERSION. slide_hash_backend_load()
 * refuses modules with a missing entry point, a different api_version, an empty or duplicate name, or
 * can_run() <= 0.
 */
#ifndef SLIDE_HASH_PLUGIN_H
#define SLIDE_HASH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLIDE_HASH_API_VERSION 1u
#define SLIDE_HASH_PLUGIN_ENTRY "slide_hash_plugin_entry"

/**
 * A backend name has at most SLIDE_HASH_NAME_MAX - 1 bytes (63), the longest a plugin may use; longer
 * names are refused. Model files store names in a field of SLIDE_HASH_NAME_MAX bytes, so the value is
 * part of the file format.
 */
#define SLIDE_HASH_NAME_MAX 64

/** Marks a plugin's entry point as exported, also when the module is built with -fvisibility=hidden. */
#if defined(_WIN32)
#  define SLIDE_HASH_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#  define SLIDE_HASH_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#  define SLIDE_HASH_PLUGIN_EXPORT
#endif

typedef struct slide_hash_params {
    uint32_t input_dim; /**< dimension of the vectors hashed (the layer's input width) */
    uint32_t k;         /**< sub-hashes per table */
    uint32_t tables;    /**< L */
    uint32_t bin_size;  /**< DWTA / WTA bin size; other backends may ignore it */
    uint64_t seed;      /**< derive every random choice from it */
} slide_hash_params;

typedef struct slide_hash_family {
    uint32_t api_version; /**< SLIDE_HASH_API_VERSION the backend was written against */
    const char *name;     /**< unique name users select the backend by */
    /** > 0 when the backend can run on this machine (a plugin may check CPU features). */
    int (*can_run)(void);
    /** Validates params and builds the random functions. Returns 0 or a negative slide_status. */
    int (*create)(const slide_hash_params *p, void **state);
    void (*destroy)(void *state);
    /** Significant bits of each table code (codes are < 2^code_bits, code_bits <= 32). */
    uint32_t (*code_bits)(const void *state);
    size_t (*scratch_bytes)(const void *state);
    size_t (*memory_bytes)(const void *state);
    /** Writes `tables` codes for a dense query vector x[input_dim]. */
    void (*hash_dense)(const void *state, const float *x, uint32_t *codes, void *scratch);
    /** Writes `tables` codes for a sparse query (ids in [0, input_dim), no duplicates). */
    void (*hash_sparse)(const void *state, const int32_t *idx, const float *val, uint32_t nnz, uint32_t *codes,
                        void *scratch);
    /**
     * Optional (NULL: use hash_dense). Codes of a neuron's weight row, for backends that hash items and
     * queries differently (asymmetric MIPS transforms).
     */
    void (*hash_item)(const void *state, const float *w, uint32_t *codes, void *scratch);
    /**
     * Optional. Called before every table rebuild with all n weight rows (`stride` floats apart), e.g.
     * to compute the largest row norm. Not called concurrently with hashing.
     */
    void (*prepare_items)(void *state, const float *rows, size_t n, size_t stride);
} slide_hash_family;

/**
 * Type of the entry point a plugin exports under the name SLIDE_HASH_PLUGIN_ENTRY. It must not call
 * slide_hash_backend_register or slide_hash_backend_load (nor may can_run).
 */
typedef const slide_hash_family *(*slide_hash_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* SLIDE_HASH_PLUGIN_H */
