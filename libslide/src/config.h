/*
 * Configuration structs: defaults (the public slide_*_config_init) and the validation shared by network
 * creation, model loading and slide_network_set_learning_rate.
 */
#ifndef SLIDE_CONFIG_H
#define SLIDE_CONFIG_H

#include <stdint.h>
#include <string.h>

#include "slide/slide.h"

/* Copies the caller's struct over the defaults, honouring its struct_size (older, shorter structs). */
#define SLIDE_COPY_CONFIG(dst, src)                                                    \
    do {                                                                               \
        size_t n_ = (src)->struct_size < sizeof *(dst) ? (src)->struct_size : sizeof *(dst); \
        memcpy((dst), (src), n_);                                                      \
        (dst)->struct_size = sizeof *(dst);                                            \
    } while (0)

/* Decoupled weight decay multiplies updated rows by 1 - lr * weight_decay: that factor must stay in (0, 1]. */
int slide_check_weight_decay(float lr, float weight_decay);
/* Checks a complete optimizer config (kind, lr, betas, eps, weight decay). */
int slide_optimizer_config_check(const slide_optimizer_config *opt);
/* Checks the fields of layer `index`'s complete LSH config against its `units` neurons. */
int slide_lsh_config_check(const slide_lsh_config *c, uint32_t units, uint32_t index);

#endif
