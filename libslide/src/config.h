/*
 * Configuration structs: defaults (the public slide_*_config_init) and the validation shared by network
 * creation, model loading and slide_network_set_learning_rate.
 */
#ifndef SLIDE_CONFIG_H
#define SLIDE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slide/slide.h"

/* End offset of a field: the struct_size of a caller whose struct ends with it. */
#define SLIDE_FIELD_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* The versioned public structs, for slide_whole_fields. */
enum slide_struct_id {
    SLIDE_STRUCT_LSH_CONFIG,
    SLIDE_STRUCT_LAYER_CONFIG,
    SLIDE_STRUCT_OPTIMIZER_CONFIG,
    SLIDE_STRUCT_NETWORK_CONFIG,
    SLIDE_STRUCT_LIBSVM_OPTIONS,
    SLIDE_STRUCT_BATCH_STATS,
    SLIDE_STRUCT_LAYER_INFO,
    SLIDE_STRUCT_LAYER_DIAGNOSIS,
    SLIDE_STRUCT_TABLE_STATS,
    SLIDE_STRUCT_ROW_ADAM_CONFIG,
    SLIDE_STRUCT_COUNT
};

/*
 * The bytes of struct `id` that a caller's `size` covers in whole fields: the end of the last field that
 * lies entirely within min(size, sizeof). A size ending inside a field (or in what used to be padding
 * before 0.5 made it explicit) never lets a partial field be read or written.
 */
size_t slide_whole_fields(int id, size_t size);

/* Copies the caller's struct over the defaults, whole fields within its struct_size only (older callers). */
#define SLIDE_COPY_CONFIG(dst, src, id)                                                \
    do {                                                                               \
        memcpy((dst), (src), slide_whole_fields((id), (src)->struct_size));            \
        (dst)->struct_size = sizeof *(dst);                                            \
    } while (0)

/* Copies a filled output struct to the caller's, whole fields within its struct_size; returns the bytes. */
size_t slide_copy_out(int id, void *dst, const void *full, size_t dst_size);

/* Decoupled weight decay multiplies updated rows by 1 - lr * weight_decay: that factor must stay in (0, 1]. */
int slide_check_weight_decay(float lr, float weight_decay);
/* Checks a complete optimizer config (kind, lr, betas, eps, weight decay). */
int slide_optimizer_config_check(const slide_optimizer_config *opt);
/* Checks the fields of layer `index`'s complete LSH config against its `units` neurons. */
int slide_lsh_config_check(const slide_lsh_config *c, uint32_t units, uint32_t index);

#endif
